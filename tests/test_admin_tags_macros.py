"""Tags and macros in the dashboard: the ticket page's tag box and macro preview/send,
the bulk "Tag" action, the list's tag filter, the per-tag counts, and the screens
that hold tags, rules and macros as data."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import AutoTagRule, Macro, Message, Tag, Ticket
from support_app.security import roles
from support_app.tickets import service, tags

from .admin_helpers import desk_client, login, page_token


def _signed_in(app, person):
    client = desk_client(app)
    login(client, person.user.email)
    return client


def _names(ticket_id: int) -> list[str]:
    db.session.expire_all()
    return tags.names_of(ticket_id)


def test_ticket_page_adds_and_removes_tags(app, factory):
    manager = factory.staff(roles.STORE_MANAGER)
    ticket = factory.ticket(factory.customer())
    client = _signed_in(app, manager)
    token = page_token(client, f"/tickets/show/{ticket.id}")
    response = client.post(f"/tickets/tags/{ticket.id}", data={"add": "Refund, vip", "csrf_token": token})
    assert response.status_code == 302
    assert _names(ticket.id) == ["Refund", "vip"]
    html = client.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    assert 'id="ticket-tags"' in html and ">Refund</bdi>" in html
    client.post(f"/tickets/tags/{ticket.id}", data={"remove": "REFUND", "csrf_token": token})
    assert _names(ticket.id) == ["vip"]
    bad = client.post(f"/tickets/tags/{ticket.id}", data={"add": "a/b", "csrf_token": token},
                      follow_redirects=True)
    assert bad.status_code == 200 and "without commas, slashes" in bad.get_data(as_text=True)
    assert _names(ticket.id) == ["vip"]


def test_agent_without_the_ticket_may_not_tag_it(app, factory):
    agent = factory.agent()
    other = factory.agent()
    ticket = factory.ticket(factory.customer())
    service.assign_self(other.actor, ticket.id)
    own = factory.ticket(factory.customer())
    service.assign_self(agent.actor, own.id)
    client = _signed_in(app, agent)
    token = page_token(client, f"/tickets/show/{own.id}")
    client.post(f"/tickets/tags/{own.id}", data={"add": "mine", "csrf_token": token})
    assert _names(own.id) == ["mine"]  # their own ticket: yes
    client.post(f"/tickets/tags/{ticket.id}", data={"add": "mine", "csrf_token": token})
    client.post("/tickets/tag/", data={"ids": [ticket.id], "add": "mine", "csrf_token": token})
    assert _names(ticket.id) == []


def test_bulk_tag_from_the_list_and_filter_by_tag(app, factory):
    manager = factory.staff(roles.STORE_MANAGER)
    owner = factory.customer()
    first, second, third = (factory.ticket(owner) for _ in range(3))
    client = _signed_in(app, manager)
    token = page_token(client, "/tickets/list/")
    chooser = client.post("/tickets/action_post", data={
        "action": "tag", "rowid": [first.id, second.id], "csrf_token": token})
    form_page = client.get(chooser.headers["Location"]).get_data(as_text=True)
    assert first.number in form_page and second.number in form_page and 'name="add"' in form_page
    client.post("/tickets/tag/", data={"ids": [first.id, second.id], "add": "Wismo",
                                       "csrf_token": token})
    assert _names(first.id) == _names(second.id) == ["Wismo"] and _names(third.id) == []
    tag_id = db.session.scalar(select(Tag.id))
    html = client.get(f"/tickets/list/?_flt_0_tags={tag_id}").get_data(as_text=True)
    assert first.number in html and second.number in html and third.number not in html
    assert 'class="label label-info desk-tag">Wismo</span>' in html
    # Removing in bulk too.
    client.post("/tickets/tag/", data={"ids": [first.id], "remove": "wismo", "csrf_token": token})
    assert _names(first.id) == []


def test_dashboard_counts_tickets_per_tag(app, factory):
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    for name in ("refund", "refund", "vip"):
        tags.add_tags(admin.actor, factory.ticket(owner).id, [name])
    client = _signed_in(app, admin)
    html = client.get("/dashboard/").get_data(as_text=True)
    rows = re.findall(r"<tr><td><bdi>([^<]+)</bdi></td><td>(\d+)</td></tr>", html)
    assert rows == [("refund", "2"), ("vip", "1")]
    html = client.get("/dashboard/?from=2001-01-01&to=2001-01-31").get_data(as_text=True)
    assert 'id="no-tag-counts"' in html
    html = client.get("/dashboard/?from=2001-13-01&to=x").get_data(as_text=True)
    assert 'id="tag-range-refused"' in html and "refund" in html


def test_macro_preview_then_send_on_the_ticket_page(app, factory):
    manager = factory.staff(roles.STORE_MANAGER, name="Mia Manager")
    customer = factory.customer(name="ليلى", locale="ar")
    order = factory.order(customer.customer)
    ticket = factory.ticket(customer, order_id=order.id)
    macro = Macro(name="WISMO", body_en="Hi {customer_name}, order {order_number}.",
                  body_ar="مرحبا {customer_name}، الطلب {order_number}. {ride_number}",
                  set_status="on_hold", add_tags="wismo")
    db.session.add(macro)
    db.session.commit()
    client = _signed_in(app, manager)
    page = client.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    assert 'id="macro-form"' in page and ">WISMO</option>" in page
    preview = client.get(f"/tickets/macro/{ticket.id}?macro={macro.id}").get_data(as_text=True)
    assert f"مرحبا ليلى، الطلب {order.order_number}. [[ride_number]]" in preview
    assert 'id="macro-missing"' in preview and 'data-code="ar"' in preview
    token = page_token(client, f"/tickets/show/{ticket.id}")
    # Sent as rendered: the placeholder blocks it, nothing is written.
    refused = client.post(f"/tickets/macro/{ticket.id}", data={
        "macro": macro.id, "body": f"مرحبا ليلى، الطلب {order.order_number}. [[ride_number]]",
        "csrf_token": token}, follow_redirects=True)
    assert refused.status_code == 200 and "[[ride_number]]" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    sent = client.post(f"/tickets/macro/{ticket.id}", data={
        "macro": macro.id, "body": f"مرحبا ليلى، الطلب {order.order_number}.", "csrf_token": token})
    assert sent.status_code == 302
    db.session.expire_all()
    message = db.session.scalar(select(Message))
    assert message.body == f"مرحبا ليلى، الطلب {order.order_number}." and message.channel == "admin"
    assert db.session.get(Ticket, ticket.id).status == "on_hold"
    assert _names(ticket.id) == ["wismo"]


def test_manager_manages_tags_rules_and_macros_agents_do_not(app, factory):
    manager = factory.staff(roles.STORE_MANAGER)
    client = _signed_in(app, manager)
    token = page_token(client, "/tags/add")
    assert client.post("/tags/add", data={"name": " Late  delivery ", "csrf_token": token}).status_code == 302
    duplicate = client.post("/tags/add", data={"name": "LATE DELIVERY", "csrf_token": token})
    assert "exists already" in duplicate.get_data(as_text=True)
    tag = db.session.scalar(select(Tag))
    assert (tag.name, tag.name_key) == ("Late delivery", "late delivery")
    refused = client.post("/auto-tag-rules/add", data={
        "name": "Risky", "match": "pattern", "expression": "(a+)+$", "field": "both",
        "tag": tag.id, "is_active": "y", "csrf_token": token})
    assert "no nested repeats" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AutoTagRule)) == 0
    client.post("/auto-tag-rules/add", data={
        "name": "Late", "match": "keywords", "expression": "late, delayed", "field": "both",
        "tag": tag.id, "is_active": "y", "csrf_token": token})
    assert db.session.scalar(select(AutoTagRule.expression)) == "late, delayed"
    client.post("/macros/add", data={
        "name": "Sorry", "body_en": "Sorry {customer_name}", "set_status": "", "set_priority": "high",
        "add_tags": "apology", "assign_to_me": "y", "is_active": "y", "csrf_token": token})
    macro = db.session.scalar(select(Macro))
    assert (macro.set_status, macro.set_priority, macro.assign_to_me, macro.body_fr) == \
        (None, "high", True, None)
    listed = client.get("/macros/list/").get_data(as_text=True)
    assert "None" not in re.sub(r"<script.*?</script>", "", listed, flags=re.S)
    # A new ticket whose subject is late gets the tag.
    ticket = factory.ticket(factory.customer(), subject="My parcel is delayed")
    assert _names(ticket.id) == ["Late delivery"]
    agent_client = _signed_in(app, factory.agent())
    for path in ("/tags/list/", "/auto-tag-rules/list/", "/macros/list/"):
        assert agent_client.get(path).status_code in (302, 403), path
