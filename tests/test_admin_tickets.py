"""Ticket work in the dashboard: forms and actions go through the service layer,
refusals come back as flash messages, and the screens show what staff need."""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import (
    FAQ,
    AgentProfile,
    EmailLog,
    Feedback,
    InternalNote,
    Message,
    Order,
    Ticket,
    TicketEvent,
)
from support_app.security import roles
from support_app.tickets import service

from .admin_helpers import desk_client, login, page_token


def _signed_in(app, person):
    client = desk_client(app)
    login(client, person.user.email)
    return client


def _ticket(ticket_id: int) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)


@pytest.fixture
def manager(factory):
    return factory.staff(roles.STORE_MANAGER)


def test_ticket_page_shows_customer_reference_thread_notes_and_history(app, factory, manager):
    owner = factory.customer(name="Lucia Garcia")
    order = factory.order(owner.customer)
    ticket = factory.ticket(owner, subject="Wrong size", order_id=order.id)
    service.add_message(manager.actor, ticket.id, "We are on it.")
    service.add_note(manager.actor, ticket.id, "Check the warehouse stock.")
    client = _signed_in(app, manager)
    html = client.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    for expected in ("Lucia Garcia", order.order_number, "We are on it.",
                     "Check the warehouse stock.", "created", 'id="reply-form"', 'id="note-form"'):
        assert expected in html, expected
    assert _ticket(ticket.id).is_admin_read  # opening the page marks it read for staff


def test_reply_and_note_forms_call_the_service(app, factory, manager):
    ticket = factory.ticket(factory.customer())
    client = _signed_in(app, manager)
    token = page_token(client, f"/tickets/show/{ticket.id}")
    client.post(f"/tickets/reply/{ticket.id}", data={"body": "Replacement is on its way.",
                                                     "csrf_token": token})
    client.post(f"/tickets/note/{ticket.id}", data={"note": "Courier: DHL", "csrf_token": token})
    message = db.session.scalar(select(Message).where(Message.ticket_id == ticket.id))
    assert message.body == "Replacement is on its way." and message.sender_type == "admin"
    assert message.channel == "admin"
    assert db.session.scalar(select(InternalNote.note)) == "Courier: DHL"
    updated = _ticket(ticket.id)
    assert updated.message_count == 1 and updated.first_response_at is not None
    assert not updated.is_customer_read


def test_status_form_changes_status_and_priority(app, factory, manager):
    ticket = factory.ticket(factory.customer())
    client = _signed_in(app, manager)
    token = page_token(client, f"/tickets/show/{ticket.id}")
    response = client.post("/tickets/status/", data={
        "ids": [ticket.id], "status": "resolved", "priority": "high",
        "resolution_details": "Refunded", "csrf_token": token})
    assert response.status_code == 302
    updated = _ticket(ticket.id)
    assert (updated.status, updated.priority, updated.resolution_details) == (
        "resolved", "high", "Refunded")
    kinds = set(db.session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)))
    assert {"status", "priority"} <= kinds


def test_bulk_actions_apply_to_every_selected_ticket(app, factory, manager):
    owner = factory.customer()
    first, second = factory.ticket(owner), factory.ticket(owner)
    client = _signed_in(app, manager)
    token = page_token(client, "/tickets/list/")
    for name in ("assign_to_me", "escalate", "resolve", "close"):
        response = client.post("/tickets/action_post", data={
            "action": name, "rowid": [first.id, second.id], "csrf_token": token})
        assert response.status_code == 302, name
    for ticket_id in (first.id, second.id):
        ticket = _ticket(ticket_id)
        assert ticket.assigned_to_id == manager.user.id
        assert ticket.escalation_level == 1
        assert ticket.status == "closed" and ticket.resolved_at and ticket.closed_at


def test_refusal_becomes_a_flash_message(app, factory, manager):
    ticket = factory.ticket(factory.customer())
    service.close_ticket(manager.actor, ticket.id)
    client = _signed_in(app, manager)
    token = page_token(client, f"/tickets/show/{ticket.id}")
    response = client.post(f"/tickets/action/escalate/{ticket.id}", data={"csrf_token": token},
                           follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"{ticket.number}: Cannot escalate ticket" in html
    assert _ticket(ticket.id).escalation_level == 0


def test_bulk_status_form_lists_the_selection_then_applies(app, factory, manager):
    owner = factory.customer()
    first, second = factory.ticket(owner), factory.ticket(owner)
    client = _signed_in(app, manager)
    token = page_token(client, "/tickets/list/")
    chooser = client.post("/tickets/action_post", data={
        "action": "change_status", "rowid": [first.id, second.id], "csrf_token": token})
    form_page = client.get(chooser.headers["Location"]).get_data(as_text=True)
    assert first.number in form_page and second.number in form_page
    client.post("/tickets/status/", data={"ids": [first.id, second.id], "status": "on_hold",
                                          "csrf_token": token})
    assert {_ticket(first.id).status, _ticket(second.id).status} == {"on_hold"}


def test_admin_reassigns_to_an_agent_and_back_to_the_pool(app, factory):
    admin, agent = factory.staff(roles.ADMIN), factory.agent()
    ticket = factory.ticket(factory.customer())
    client = _signed_in(app, admin)
    token = page_token(client, f"/tickets/show/{ticket.id}")
    client.post("/tickets/reassign/", data={"ids": [ticket.id], "agent": str(agent.user.id),
                                            "csrf_token": token})
    assert _ticket(ticket.id).assigned_to_id == agent.user.id
    client.post("/tickets/reassign/", data={"ids": [ticket.id], "agent": "", "csrf_token": token})
    assert _ticket(ticket.id).assigned_to_id is None


def test_manager_may_not_reassign(app, factory, manager):
    ticket = factory.ticket(factory.customer())
    client = _signed_in(app, manager)
    token = page_token(client, f"/tickets/show/{ticket.id}")
    assert 'id="reassign-form"' not in client.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    assert client.post("/tickets/reassign/", data={"ids": [ticket.id], "agent": "",
                                                    "csrf_token": token}).status_code == 403


def test_agent_takes_a_pool_ticket_then_replies(app, factory):
    agent = factory.agent()
    ticket = factory.ticket(factory.customer())
    client = _signed_in(app, agent)
    page = client.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    assert 'id="reply-form"' not in page and "Assign this ticket to yourself" in page
    token = page_token(client, f"/tickets/show/{ticket.id}")
    client.post(f"/tickets/action/assign_to_me/{ticket.id}", data={"csrf_token": token})
    assert _ticket(ticket.id).assigned_to_id == agent.user.id
    assert _ticket(ticket.id).status == "in_progress"
    client.post(f"/tickets/reply/{ticket.id}", data={"body": "Hello!", "csrf_token": token})
    assert _ticket(ticket.id).message_count == 1


def test_new_ticket_for_customer_uses_the_admin_channel(app, factory, manager):
    owner = factory.customer()
    client = _signed_in(app, manager)
    token = page_token(client, "/tickets/new/")
    response = client.post("/tickets/new/", data={
        "customer": str(owner.customer.id), "subject": "Called about a refund",
        "description": "Customer phoned in.", "priority": "high", "category": "billing",
        "csrf_token": token})
    assert response.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert (ticket.channel, ticket.customer_id, ticket.created_by_id) == (
        "admin", owner.customer.id, manager.user.id)


def test_ticket_list_filters_and_search(app, factory, manager):
    owner = factory.customer()
    urgent = factory.ticket(owner, subject="Charged twice", priority="urgent", category="billing")
    calm = factory.ticket(owner, subject="Question about sizes")
    service.escalate(manager.actor, urgent.id)
    client = _signed_in(app, manager)

    def listed(query: str) -> set[str]:
        html = client.get(f"/tickets/list/?{query}").get_data(as_text=True)
        return {n for n in (urgent.number, calm.number) if n in html}

    assert listed("_flt_0_number=twice") == {urgent.number}
    assert listed(f"_flt_0_number={calm.number.lower()}") == {calm.number}
    assert listed("_flt_3_category=billing") == {urgent.number}
    assert listed("_flt_1_escalation_level=0") == {urgent.number}
    html = client.get("/tickets/list/").get_data(as_text=True)
    for label in ("Mine", "Unassigned", "Unread", "Escalated"):
        assert f">{label}</a>" in html
    ordered = client.get("/tickets/list/?_oc_TicketView=subject&_od_TicketView=asc").get_data(as_text=True)
    assert ordered.index(urgent.number) < ordered.index(calm.number)


def test_approve_and_revoke_agents(app, factory):
    admin, applicant = factory.staff(roles.ADMIN), factory.agent(approved=False)
    profile_id = db.session.scalar(select(AgentProfile.id).where(AgentProfile.user_id == applicant.user.id))
    client = _signed_in(app, admin)
    token = page_token(client, "/agents/list/")
    client.post(f"/agents/action/approve/{profile_id}", data={"csrf_token": token})
    db.session.expire_all()
    profile = db.session.get(AgentProfile, profile_id)
    assert profile.is_approved and profile.approved_by_id == admin.user.id
    client.post("/agents/action_post", data={"action": "revoke", "rowid": [profile_id],
                                             "csrf_token": token})
    db.session.expire_all()
    assert not db.session.get(AgentProfile, profile_id).is_approved


def test_faq_crud(app, factory, manager):
    client = _signed_in(app, manager)
    token = page_token(client, "/faqs/add")
    client.post("/faqs/add", data={"question": "¿Dónde está mi pedido?", "answer": "Mire el seguimiento.",
                                   "category": "delivery", "language": "es", "is_published": "y",
                                   "position": "1", "csrf_token": token})
    faq = db.session.scalar(select(FAQ))
    assert (faq.category, faq.language, faq.is_published) == ("delivery", "es", True)
    client.post(f"/faqs/edit/{faq.id}", data={"question": faq.question, "answer": "Nuevo.",
                                              "category": "delivery", "language": "es",
                                              "position": "1", "csrf_token": token})
    db.session.expire_all()
    assert db.session.get(FAQ, faq.id).answer == "Nuevo."
    assert db.session.get(FAQ, faq.id).is_published is False
    client.post(f"/faqs/delete/{faq.id}", data={"csrf_token": token})
    assert db.session.scalar(select(FAQ)) is None


def test_email_logs_link_to_tickets_and_feedback_shows_average(app, factory, manager):
    owner = factory.customer()
    ticket, other = factory.ticket(owner), factory.ticket(owner)
    for t in (ticket, other):
        service.update_ticket(manager.actor, t.id, status="resolved")
    service.submit_feedback(owner.actor, ticket.id, 5)
    service.submit_feedback(owner.actor, other.id, 2)
    db.session.add(EmailLog(ticket_id=ticket.id, direction="out", status="sent",
                            to_address=owner.customer.email, subject="Your ticket"))
    db.session.commit()
    client = _signed_in(app, manager)
    logs = client.get("/email-logs/list/").get_data(as_text=True)
    assert f'href="/tickets/show/{ticket.id}"' in logs
    feedback = client.get("/feedback/list/").get_data(as_text=True)
    assert "3.50 / 5" in feedback and db.session.query(Feedback).count() == 2


def test_customer_page_lists_their_tickets_and_orders(app, factory, manager):
    owner, stranger = factory.customer(), factory.customer()
    order = factory.order(owner.customer)
    mine, theirs = factory.ticket(owner), factory.ticket(stranger)
    html = _signed_in(app, manager).get(f"/customers/show/{owner.customer.id}").get_data(as_text=True)
    assert mine.number in html and order.order_number in html and theirs.number not in html


def test_cancel_order_action_goes_through_the_service(app, factory):
    fulfillment = factory.staff(roles.FULFILLMENT)
    owner = factory.customer()
    pending, shipped = factory.order(owner.customer), factory.order(owner.customer, status="shipped")
    client = _signed_in(app, fulfillment)
    token = page_token(client, "/orders/list/")
    html = client.post("/orders/action_post", data={"action": "cancel", "rowid": [pending.id, shipped.id],
                                                    "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Order, pending.id).status == "cancelled"
    assert db.session.get(Order, shipped.id).status == "shipped"
    assert "already been shipped" in html


def test_dashboard_numbers_are_aggregated_in_sql(app_ctx, factory, manager):
    from support_app.admin.dashboard import desk_stats
    from support_app.models import utcnow

    owner, agent = factory.customer(), factory.agent(name="Sam Agent")
    tickets = [factory.ticket(owner) for _ in range(4)]
    now = utcnow()
    # First responses after 10, 20 and 60 minutes: the median is 20 minutes.
    for ticket, minutes in zip(tickets, (10, 20, 60)):
        db.session.get(Ticket, ticket.id).created_at = now - dt.timedelta(minutes=minutes)
        db.session.get(Ticket, ticket.id).first_response_at = now
    db.session.commit()
    service.assign_self(agent.actor, tickets[3].id)
    service.update_ticket(manager.actor, tickets[0].id, status="resolved")
    service.submit_feedback(owner.actor, tickets[0].id, 4)

    stats = desk_stats(today=now.date())
    assert stats["total"] == 4 and stats["open"] == 3
    assert dict(zip(stats["by_status"]["labels"], stats["by_status"]["values"])) == {
        "open": 2, "in_progress": 1, "on_hold": 0, "resolved": 1, "closed": 0}
    # Counted by each ticket's UTC day: within an hour after midnight the older ones
    # were created yesterday.
    created_on = Counter(db.session.get(Ticket, t.id).created_at.date().isoformat() for t in tickets)
    per_day = stats["per_day"]
    assert len(per_day["values"]) == 30 and per_day["labels"][-1] == now.date().isoformat()
    assert {d: n for d, n in zip(per_day["labels"], per_day["values"]) if n} == created_on
    assert stats["per_agent"] == {"labels": ["Sam Agent"], "values": [1]}
    assert abs(stats["median_first_response_seconds"] - 20 * 60) < 2
    assert stats["average_rating"] == 4.0


def test_navbar_badge_counts_unread_tickets_for_the_user(app, factory):
    agent = factory.agent()
    owner = factory.customer()
    factory.ticket(owner)
    factory.ticket(owner)
    html = _signed_in(app, agent).get("/tickets/list/").get_data(as_text=True)
    assert 'id="support-badge"' in html and 'data-count="2"' in html
    assert "vendor/socket.io/socket.io.min.js" in html
    # The badge links to the "Unread" quick filter, which lists exactly those tickets.
    unread = re.search(r'id="support-badge-link" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert f'href="{unread}">Unread</a>' in html.replace("&amp;", "&")


def test_staff_navbar_counts_follow_the_002_staff_shape(app_ctx, factory, manager):
    from support_app.tickets.badges import navbar_counts as staff_navbar_counts

    owner, agent = factory.customer(), factory.agent()
    first, second, third = (factory.ticket(owner) for _ in range(3))
    service.add_message(manager.actor, first.id, "Looking.")   # read by staff
    service.assign_self(agent.actor, second.id)                # in progress, agent's
    assert staff_navbar_counts(manager.actor) == {
        "success": True, "total_tickets": 3, "open_tickets": 2, "in_progress_tickets": 1,
        "unread_count": 2, "count": 2}
    # The agent counts only their own tickets and the pool.
    assert staff_navbar_counts(agent.actor)["total_tickets"] == 3
    service.reassign(factory.staff(roles.ADMIN).actor, third.id, factory.agent().user.id)
    assert staff_navbar_counts(agent.actor)["total_tickets"] == 2
