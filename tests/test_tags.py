"""Tags: one name per tag whatever its case, staff add and remove them (service, API,
audit, event), auto-tag rules on every channel, bounded rule patterns, counts per tag."""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import AutoTagRule, Tag, Ticket, TicketEvent, TicketTag, utcnow
from support_app.security import roles
from support_app.tickets import events, tags
from support_app.tickets.errors import Forbidden, ValidationFailed

from .inbound_payloads import deliver, payload
from .test_contact import browser  # noqa: F401 (fixture)


def names(ticket_id: int) -> list[str]:
    db.session.expire_all()
    return tags.names_of(ticket_id)


def rule(tag: str, expression: str, *, match: str = "keywords", field: str = "both") -> None:
    found = tags.ensure_tags([tag])[0]
    db.session.add(AutoTagRule(name=f"rule {tag}", match=match, expression=expression,
                               field=field, tag_id=found.id))
    db.session.commit()


# --------------------------------------------------------------------------- names


def test_tag_names_are_unique_case_insensitively(factory):
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    one, two = factory.ticket(customer), factory.ticket(customer)
    assert tags.add_tags(admin.actor, one.id, ["Refund"]) == ["Refund"]
    # Another case, extra spaces: the same tag, spelled as first typed.
    assert tags.add_tags(admin.actor, two.id, ["  REFUND ", "refund", "Late  delivery"]) == \
        ["Late delivery", "Refund"]
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 2
    # Adding again changes nothing and audits nothing.
    before = db.session.scalar(select(func.count()).select_from(TicketEvent))
    assert tags.add_tags(admin.actor, one.id, ["rEfUnD"]) == ["Refund"]
    assert db.session.scalar(select(func.count()).select_from(TicketEvent)) == before


@pytest.mark.parametrize("letter", ["ß", "ﬃ"])  # fold to "ss" and "ffi"
def test_a_50_character_name_whose_folded_key_is_longer_is_a_tag(client, factory, letter):
    """"A tag is 1 to 50 characters", whatever its case-folded key's length: the key
    column holds three times a name (PostgreSQL refused a longer key: a 500)."""
    manager = factory.staff(roles.STORE_MANAGER)
    ticket = factory.ticket(factory.customer())
    name = letter * 50
    r = client.put(f"/api/tickets/{ticket.id}/tags/{quote(name)}", headers=manager.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"success": True, "data": {"ticket_id": ticket.id, "tags": [name]}}
    assert db.session.scalar(select(Tag.name_key)) == name.casefold()


@pytest.mark.parametrize("bad", ["", "   ", "a,b", "x/y", "bell\x07", "n\x00l", "x" * 51, 7,
                                 "caf\ufffd"])
def test_bad_tag_names_are_refused_and_nothing_written(factory, bad):
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    with pytest.raises(ValidationFailed):
        tags.add_tags(admin.actor, ticket.id, [bad])
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 0


def test_add_and_remove_are_audited_with_one_event(factory, recorded_events):
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    recorded_events.clear()
    tags.add_tags(admin.actor, ticket.id, ["vip", "refund"])
    assert tags.remove_tags(admin.actor, ticket.id, ["VIP", "not-there"]) == ["refund"]
    kinds = db.session.execute(select(TicketEvent.kind, TicketEvent.old_value, TicketEvent.new_value)
                               .where(TicketEvent.ticket_id == ticket.id,
                                      TicketEvent.kind.like("tag%"))
                               .order_by(TicketEvent.id)).all()
    assert [tuple(k) for k in kinds] == [("tag_added", None, "refund"), ("tag_added", None, "vip"),
                                         ("tag_removed", "vip", None)]
    changed = [e for e in recorded_events if e.name == events.TAGS_CHANGED]
    assert [(e.data["added"], e.data["removed"]) for e in changed] == \
        [(["refund", "vip"], []), ([], ["vip"])]


def test_customers_and_agents_not_on_the_ticket_may_not_tag(factory):
    customer = factory.customer()
    ticket = factory.ticket(customer)
    other_agent = factory.agent()
    factory.agent()
    with pytest.raises(Forbidden):
        tags.add_tags(customer.actor, ticket.id, ["mine"])
    with pytest.raises(Forbidden):
        tags.add_tags(other_agent.actor, ticket.id, ["pool"])  # not assigned to them
    assert names(ticket.id) == []


# --------------------------------------------------------------------------- API


def test_api_put_and_delete_tag(client, factory):
    manager = factory.staff(roles.STORE_MANAGER)
    ticket = factory.ticket(factory.customer())
    r = client.put(f"/api/tickets/{ticket.id}/tags/Wrong%20item", headers=manager.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"success": True, "data": {"ticket_id": ticket.id, "tags": ["Wrong item"]}}
    r = client.put(f"/api/tickets/{ticket.id}/tags/WRONG%20ITEM", headers=manager.headers)
    assert r.get_json()["data"]["tags"] == ["Wrong item"]
    r = client.delete(f"/api/tickets/{ticket.id}/tags/wrong%20item", headers=manager.headers)
    assert r.status_code == 200 and r.get_json()["data"]["tags"] == []


def test_api_refuses_customers_bad_names_and_unknown_tickets(client, factory):
    owner = factory.customer()
    manager = factory.staff(roles.STORE_MANAGER)
    ticket = factory.ticket(owner)
    r = client.put(f"/api/tickets/{ticket.id}/tags/mine", headers=owner.headers)
    assert r.status_code == 403 and r.get_json()["success"] is False
    r = client.put(f"/api/tickets/{ticket.id}/tags/a,b", headers=manager.headers)
    assert r.status_code == 422 and r.get_json()["success"] is False
    r = client.put(f"/api/tickets/{ticket.id}/tags/" + "x" * 60, headers=manager.headers)
    assert r.status_code == 422
    r = client.put(f"/api/tickets/{ticket.id}/tags/caf%C3", headers=manager.headers)
    assert r.status_code == 422  # undecodable bytes in the path
    r = client.put("/api/tickets/999999/tags/x", headers=manager.headers)
    assert r.status_code == 404
    r = client.put(f"/api/tickets/{ticket.id}/tags/x")
    assert r.status_code == 401
    assert names(ticket.id) == []


# --------------------------------------------------------------------------- rules


def test_rule_keywords_and_pattern_tag_new_tickets(factory):
    rule("refund", "refund, money back")
    rule("order-number", r"\bORD-\d{4}\b", match="pattern", field="first_message")
    rule("subject-only", "urgent", field="subject")
    customer = factory.customer()
    a = factory.ticket(customer, subject="Where is my MONEY BACK?", description="Please help.")
    b = factory.ticket(customer, subject="Hello", description="Order ORD-1042 is late, urgent")
    c = factory.ticket(customer, subject="Nothing", description="Nothing to see")
    assert names(a.id) == ["refund"]
    assert names(b.id) == ["order-number"]  # "urgent" is in the message, not the subject
    assert names(c.id) == []
    audit = db.session.execute(select(TicketEvent.actor_type, TicketEvent.new_value)
                               .where(TicketEvent.ticket_id == a.id,
                                      TicketEvent.kind == "tag_added")).all()
    assert [tuple(row) for row in audit] == [("system", "refund")]


def test_inactive_rule_does_nothing(factory):
    rule("refund", "refund")
    db.session.execute(AutoTagRule.__table__.update().values(is_active=False))
    db.session.commit()
    assert names(factory.ticket(factory.customer(), subject="refund please").id) == []


def test_rules_are_read_once_per_process_and_dropped_by_a_change(app, factory):
    """Every ticket that opens reads the rules: a process keeps a copy. Its own
    committed change applies at once; another process's, once the copy is old."""
    customer = factory.customer()
    assert names(factory.ticket(customer, subject="refund please").id) == []  # copy made: none
    rule("refund", "refund")  # committed here: the copy goes
    assert names(factory.ticket(customer, subject="refund please").id) == ["refund"]

    late = tags.ensure_tags(["late"])[0]
    db.session.commit()
    with db.engine.begin() as other_process:  # not through this process's session
        other_process.execute(AutoTagRule.__table__.insert().values(
            name="rule late", match="keywords", expression="late", field="both",
            is_active=True, tag_id=late.id, created_at=utcnow()))
    assert names(factory.ticket(customer, subject="late refund").id) == ["refund"]
    app.config["AUTO_TAG_CACHE_SECONDS"] = 0
    try:
        assert names(factory.ticket(customer, subject="late refund").id) == ["late", "refund"]
    finally:
        app.config["AUTO_TAG_CACHE_SECONDS"] = 30


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)*b", r"(.*)*", r"(\w)\1", r"(?=x)y",
                                     r".*a.*b", r"a{1,500}", "x" * 201, "(", ""])
def test_risky_or_broken_patterns_are_refused(pattern):
    with pytest.raises(ValidationFailed):
        tags.check_pattern(pattern)


@pytest.mark.parametrize("pattern, text", [
    (r"\border\s+\d{1,20}x", "about order 12345x please"),
    (r"(refund|chargeback)\s*please", "Chargeback please"),
    (r"a*b", "aaab"),
])
def test_useful_patterns_are_allowed_and_match(pattern, text):
    """The shapes rules need (a word, alternatives, one open-ended repeat) pass the
    checks; what the checks refuse (nested or many repeats) is what backtracks."""
    compiled = tags.check_pattern(pattern)
    assert compiled.search(text)
    assert not compiled.search("nothing to see")


def _opened(model_filter) -> Ticket:
    db.session.expire_all()
    return db.session.scalars(select(Ticket).where(model_filter).order_by(Ticket.id.desc())).first()


def test_auto_tag_on_every_channel(client, factory, browser):  # noqa: F811
    rule("broken", "broken, damaged")
    customer = factory.customer(email="ada@example.com")
    order = factory.order(customer.customer)
    admin = factory.staff(roles.ADMIN)
    text = "The item arrived broken and the box was damaged."
    # 002 support tickets
    r = client.post("/api/support-tickets", headers=customer.headers, json={
        "subject": "Broken item", "description": text, "priority": "high", "category": "order"})
    assert r.status_code == 201, r.get_json()
    # 001 munch
    r = client.post("/api/customer/munch/support/ticket", headers=customer.headers, json={
        "orderId": order.id, "issueType": "FOOD_QUALITY", "description": text})
    assert r.status_code == 200, r.get_json()
    # 004 mtxi
    r = client.post("/api/customer/mtxi/support/", headers=customer.headers, json={
        "serviceType": "order", "orderId": order.id, "issueType": "OTHER", "description": text})
    assert r.status_code == 200, r.get_json()
    # 003 agent desk (customers create there)
    r = client.post("/api/support/tickets/create/", headers=customer.headers, json={
        "subject": "Damaged parcel", "description": text, "category": "Damaged"})
    assert r.status_code == 201, r.get_json()
    # the public contact form
    r = browser.post("/api/contact", json={"name": "Gina", "email": "gina@example.com",
                                           "subject": "Broken lid", "message": text})
    assert r.status_code == 201, r.get_json()
    # inbound email ("Order ORD-1042 arrived with a broken lid")
    r = deliver(client, payload("new_request", address="mail@example.net"))
    assert r.status_code == 200, r.get_json()
    # the dashboard opens through the same service
    from support_app.tickets import service
    dashboard = service.open_ticket(admin.actor, customer_id=customer.customer.id,
                                    subject="Broken", description=text, channel="admin").ticket
    db.session.expire_all()
    channels = {}
    for ticket in db.session.scalars(select(Ticket)):
        channels.setdefault(ticket.channel, []).append(tags.names_of(ticket.id))
    assert {"api", "contact_form", "email", "admin"} <= set(channels)
    for channel, found in channels.items():
        assert all(names_ == ["broken"] for names_ in found), (channel, found)
    assert len(channels["api"]) == 4  # 002, munch, mtxi and 003
    assert names(dashboard.id) == ["broken"]


# --------------------------------------------------------------------------- counts


def test_counts_per_tag_over_a_date_range(factory):
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    old, a, b = (factory.ticket(customer) for _ in range(3))
    db.session.execute(Ticket.__table__.update().where(Ticket.id == old.id)
                       .values(created_at=utcnow() - dt.timedelta(days=40)))
    db.session.commit()
    for ticket in (old, a, b):
        tags.add_tags(admin.actor, ticket.id, ["refund"])
    tags.add_tags(admin.actor, a.id, ["vip"])
    now = utcnow()
    assert tags.counts(now - dt.timedelta(days=30), now + dt.timedelta(days=1)) == \
        [("refund", 2), ("vip", 1)]
    assert tags.counts(now - dt.timedelta(days=60), now + dt.timedelta(days=1))[0] == ("refund", 3)


def test_deleting_a_ticket_tag_row_keeps_the_tag(factory):
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    tags.add_tags(admin.actor, ticket.id, ["keep"])
    tags.remove_tags(admin.actor, ticket.id, ["keep"])
    assert db.session.scalar(select(func.count()).select_from(TicketTag)) == 0
    assert db.session.scalar(select(Tag.name)) == "keep"
