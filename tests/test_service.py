"""The ticket service: each function's effect and every refusal."""
from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import (
    Customer, Feedback, InternalNote, Message, PointsTransaction, Ticket, TicketEvent,
    TicketParticipant,
)
from support_app.security import roles
from support_app.tickets import Actor, events, service
from support_app.tickets.errors import (
    AlreadyAssigned, AlreadyEscalated, CannotEscalate, Conflict, Forbidden,
    InvalidTransition, NotFound, ValidationFailed,
)


@pytest.fixture
def people(factory):
    class P:
        alice = factory.customer(name="Alice")
        bob = factory.customer(name="Bob")
        admin = factory.staff(roles.ADMIN)
        manager = factory.staff(roles.STORE_MANAGER)
        agent = factory.agent(approved=True)
        other_agent = factory.agent(approved=True)
        rookie = factory.agent(approved=False)
    return P


def kinds(ticket_id: int) -> list[str]:
    return list(db.session.scalars(
        select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)))


# ----------------------------------------------------------------------------- open


def test_open_ticket_defaults_audit_and_event(people, recorded_events):
    ticket = service.open_ticket(people.alice.actor, subject="Wrong item",
                                 description="The shirt is red, I ordered blue.").ticket
    assert re.fullmatch(r"TKT-[0-9A-F]{13}", ticket.number)
    assert (ticket.status, ticket.priority, ticket.category, ticket.channel) == (
        "open", "medium", "other", "api")
    assert ticket.is_customer_read is True and ticket.is_admin_read is False
    assert kinds(ticket.id) == ["created"]
    assert [e.name for e in recorded_events] == [events.TICKET_CREATED]
    snap = recorded_events[0].ticket
    assert snap.number == ticket.number and snap.customer_user_id == people.alice.id


@pytest.mark.parametrize("fields,bad", [
    ({"subject": ""}, "subject"),
    ({"subject": "x" * 256}, "subject"),
    ({"description": "   "}, "description"),
    ({"priority": "critical"}, "priority"),
    ({"category": "weird"}, "category"),
    ({"subject": "nul\x00byte"}, "subject"),
])
def test_open_ticket_validation(people, fields, bad):
    body = {"subject": "Subject", "description": "A long enough description", **fields}
    with pytest.raises(ValidationFailed) as err:
        service.open_ticket(people.alice.actor, **body)
    assert bad in err.value.errors
    assert db.session.scalar(select(func.count(Ticket.id))) == 0


def test_customers_open_only_for_themselves_staff_for_anyone(people):
    with pytest.raises(Forbidden):
        service.open_ticket(people.alice.actor, customer_id=people.bob.customer.id,
                            subject="s", description="d")
    ticket = service.open_ticket(people.manager.actor, customer_id=people.bob.customer.id,
                                 subject="Phoned in", description="Customer called", channel="admin").ticket
    assert ticket.customer_id == people.bob.customer.id and ticket.created_by_id == people.manager.id


def test_references_must_belong_to_the_customer(people, factory):
    bobs_order = factory.order(people.bob.customer)
    with pytest.raises(NotFound) as err:
        service.open_ticket(people.alice.actor, subject="s", description="d", order_id=bobs_order.id)
    assert err.value.resource == "order"
    with pytest.raises(NotFound):
        service.open_ticket(people.alice.actor, subject="s", description="d", ride_id=999)
    ride = factory.ride(people.alice.customer)
    ticket = service.open_ticket(people.alice.actor, subject="s", description="d", ride_id=ride.id).ticket
    assert ticket.service_type == "ride"


def test_group_participants(people, factory):
    ride = factory.ride(people.alice.customer, members=[people.bob.customer.id])
    ticket = service.open_ticket(people.alice.actor, subject="Shared ride", description="d",
                                 ride_id=ride.id,
                                 participant_customer_ids=[people.bob.customer.id]).ticket
    assert db.session.scalar(select(TicketParticipant.customer_id)) == people.bob.customer.id
    assert service.get_ticket(people.bob.actor, ticket.id).id == ticket.id
    with pytest.raises(NotFound):
        service.open_ticket(people.alice.actor, subject="s", description="d",
                            participant_customer_ids=[424242])


def test_gamification_award_and_daily_cap(people, app):
    app.config["GAMIFICATION_DAILY_CAP"] = 2
    try:
        results = [service.open_ticket(people.alice.actor, subject="s", description="d",
                                       award_points=True).gamification_error for _ in range(3)]
    finally:
        app.config["GAMIFICATION_DAILY_CAP"] = 3
    assert results == [None, None, "DAILY_LIMIT_REACHED"]
    customer = db.session.get(Customer, people.alice.customer.id)
    db.session.refresh(customer)
    assert customer.points == 20 and str(customer.credit_balance) == "0.40"
    assert db.session.scalar(select(func.count(PointsTransaction.id))) == 2
    assert db.session.scalar(select(func.count(Ticket.id))) == 3  # the cap never blocks a ticket


# ----------------------------------------------------------------------------- thread


def test_customer_and_staff_replies_follow_the_002_notes(people, factory):
    ticket = factory.ticket(people.alice)
    service.add_message(people.alice.actor, ticket.id, "Any news?")
    db.session.refresh(ticket)
    assert (ticket.message_count, ticket.is_admin_read, ticket.is_customer_read) == (1, False, True)
    assert ticket.last_replied_at is None

    msg = service.add_message(people.admin.actor, ticket.id, "On it.")
    db.session.refresh(ticket)
    assert msg.sender_type == "admin" and msg.admin_id == people.admin.id
    assert (ticket.message_count, ticket.is_admin_read, ticket.is_customer_read) == (2, True, False)
    assert ticket.last_replied_by_id == people.admin.id and ticket.first_response_at is not None


@pytest.mark.parametrize("finished", ["resolved", "closed"])
def test_replies_reopen_finished_tickets(people, factory, finished):
    ticket = factory.ticket(people.alice)
    service.update_ticket(people.admin.actor, ticket.id, status=finished)
    service.add_message(people.alice.actor, ticket.id, "It broke again")
    db.session.refresh(ticket)
    assert ticket.status == "open" and ticket.resolved_at is None and ticket.closed_at is None
    service.update_ticket(people.admin.actor, ticket.id, status="resolved")
    service.add_message(people.admin.actor, ticket.id, "Looking again")
    db.session.refresh(ticket)
    assert ticket.status == "in_progress"


def test_strangers_and_unassigned_agents_cannot_reply(people, factory):
    ticket = factory.ticket(people.alice)
    with pytest.raises(Forbidden):
        service.add_message(people.bob.actor, ticket.id, "hi")
    with pytest.raises(Forbidden):  # agents may see the pool but work only their own tickets
        service.add_message(people.agent.actor, ticket.id, "hi")
    with pytest.raises(Forbidden):
        service.add_message(people.rookie.actor, ticket.id, "hi")
    service.assign_self(people.agent.actor, ticket.id)
    service.add_message(people.agent.actor, ticket.id, "Mine now")
    with pytest.raises(Forbidden):
        service.get_ticket(people.other_agent.actor, ticket.id)
    with pytest.raises(ValidationFailed):
        service.add_message(people.alice.actor, ticket.id, "")
    with pytest.raises(NotFound):
        service.add_message(people.alice.actor, 999999, "hello")


def test_reading_marks_the_other_sides_messages(people, factory):
    ticket = factory.ticket(people.alice)
    service.add_message(people.alice.actor, ticket.id, "question")
    staff_msg = service.add_message(people.admin.actor, ticket.id, "answer")
    service.mark_ticket_read(people.alice.actor, ticket.id)
    db.session.refresh(ticket)
    rows = {m.sender_type: m for m in db.session.scalars(select(Message))}
    assert ticket.is_customer_read is True
    assert rows["admin"].is_read and rows["admin"].read_at is not None
    assert rows["customer"].is_read is False
    with pytest.raises(Forbidden):
        service.mark_message_read(people.bob.actor, staff_msg.id)
    with pytest.raises(NotFound):
        service.mark_message_read(people.alice.actor, 987654)


def test_internal_notes_are_staff_only(people, factory):
    ticket = factory.ticket(people.alice)
    with pytest.raises(Forbidden):
        service.add_note(people.alice.actor, ticket.id, "I am not staff")
    with pytest.raises(Forbidden):
        service.add_note(people.agent.actor, ticket.id, "not assigned yet")
    service.assign_self(people.agent.actor, ticket.id)
    note = service.add_note(people.agent.actor, ticket.id, "Awaiting photos")
    assert db.session.get(InternalNote, note.id).author_id == people.agent.id


# ----------------------------------------------------------------------------- status


def test_update_ticket_status_and_priority(people, factory, recorded_events):
    ticket = factory.ticket(people.alice)
    service.update_ticket(people.manager.actor, ticket.id, status="resolved", priority="high",
                          resolution_details="Refunded")
    db.session.refresh(ticket)
    assert (ticket.status, ticket.priority, ticket.resolution_details) == ("resolved", "high", "Refunded")
    assert ticket.resolved_at is not None
    assert kinds(ticket.id) == ["created", "status", "priority"]
    assert events.STATUS_CHANGED in [e.name for e in recorded_events]
    with pytest.raises(Forbidden):
        service.update_ticket(people.alice.actor, ticket.id, status="closed")
    with pytest.raises(ValidationFailed):
        service.update_ticket(people.manager.actor, ticket.id, status="done")
    service.update_ticket(people.manager.actor, ticket.id, status="closed")
    with pytest.raises(InvalidTransition):
        service.update_ticket(people.manager.actor, ticket.id, status="on_hold")


def test_customer_closes_only_resolved_tickets(people, factory, recorded_events):
    ticket = factory.ticket(people.alice)
    with pytest.raises(InvalidTransition):
        service.close_ticket(people.alice.actor, ticket.id)
    with pytest.raises(Forbidden):
        service.close_ticket(people.bob.actor, ticket.id)
    service.update_ticket(people.admin.actor, ticket.id, status="resolved")
    outcome = service.close_ticket(people.alice.actor, ticket.id, award_points=True)
    assert outcome.ticket.status == "closed" and outcome.gamification_error is None
    assert db.session.scalar(select(PointsTransaction.points)) == 5
    assert events.CLOSED in [e.name for e in recorded_events]
    with pytest.raises(InvalidTransition, match="already closed"):
        service.close_ticket(people.admin.actor, ticket.id)


def test_escalation_rules(people, factory):
    ticket = factory.ticket(people.alice, priority="medium")
    outcome = service.escalate(people.alice.actor, ticket.id, award_points=True)
    assert outcome.ticket.escalation_level == 1 and outcome.ticket.priority == "high"
    with pytest.raises(AlreadyEscalated):
        service.escalate(people.alice.actor, ticket.id)
    assert service.escalate(people.admin.actor, ticket.id).ticket.escalation_level == 2
    with pytest.raises(Forbidden):
        service.escalate(people.bob.actor, ticket.id)
    service.update_ticket(people.admin.actor, ticket.id, status="resolved")
    with pytest.raises(CannotEscalate):
        service.escalate(people.alice.actor, ticket.id)


def test_feedback_once_after_resolution(people, factory):
    ticket = factory.ticket(people.alice)
    with pytest.raises(Conflict):
        service.submit_feedback(people.alice.actor, ticket.id, 5)
    service.update_ticket(people.admin.actor, ticket.id, status="resolved")
    with pytest.raises(ValidationFailed):
        service.submit_feedback(people.alice.actor, ticket.id, 6)
    with pytest.raises(Forbidden):
        service.submit_feedback(people.bob.actor, ticket.id, 4)
    service.submit_feedback(people.alice.actor, ticket.id, 5, "Great")
    with pytest.raises(Conflict):
        service.submit_feedback(people.alice.actor, ticket.id, 4)
    assert db.session.scalar(select(Feedback.rating)) == 5


# ----------------------------------------------------------------------------- assignment


def test_assignment(people, factory):
    ticket = factory.ticket(people.alice)
    with pytest.raises(Forbidden):
        service.assign_self(people.rookie.actor, ticket.id)
    taken = service.assign_self(people.agent.actor, ticket.id)
    assert taken.assigned_to_id == people.agent.id and taken.status == "in_progress"
    with pytest.raises(AlreadyAssigned):
        service.assign_self(people.other_agent.actor, ticket.id)
    with pytest.raises(Forbidden):
        service.reassign(people.manager.actor, ticket.id, people.other_agent.id)
    with pytest.raises(NotFound):
        service.reassign(people.admin.actor, ticket.id, people.rookie.id)
    assert service.reassign(people.admin.actor, ticket.id, people.other_agent.id).assigned_to_id == people.other_agent.id
    assert "assigned" in kinds(ticket.id)


def test_approve_and_revoke_agents(people):
    with pytest.raises(Forbidden):
        service.approve_agent(people.manager.actor, people.rookie.id)
    profile = service.approve_agent(people.admin.actor, people.rookie.id)
    assert profile.is_approved and profile.approved_by_id == people.admin.id
    assert people.rookie.actor.is_approved_agent
    assert not service.approve_agent(people.admin.actor, people.rookie.id, approved=False).is_approved
    with pytest.raises(NotFound):
        service.approve_agent(people.admin.actor, people.alice.id)


# ----------------------------------------------------------------------------- orders


@pytest.mark.parametrize("status,ok", [("pending", True), ("processing", True), ("shipped", False),
                                       ("delivered", False), ("cancelled", False)])
def test_cancel_order(people, factory, status, ok):
    order = factory.order(people.alice.customer, status=status)
    if ok:
        done = service.cancel_order(people.alice.actor, order.id, "Changed my mind")
        assert done.status == "cancelled" and done.cancelled_at is not None
    else:
        with pytest.raises(InvalidTransition, match=f"already been {status}"):
            service.cancel_order(people.alice.actor, order.id)


def test_cancel_order_access(people, factory):
    order = factory.order(people.alice.customer)
    with pytest.raises(Forbidden):
        service.cancel_order(people.bob.actor, order.id)
    with pytest.raises(ValidationFailed):
        service.cancel_order(people.alice.actor, order.id, "x" * 501)
    with pytest.raises(NotFound):
        service.cancel_order(people.alice.actor, 99999)
    assert service.cancel_order(people.manager.actor, order.id).status == "cancelled"


# ----------------------------------------------------------------------------- transactions


def test_events_are_not_published_when_the_transaction_rolls_back(people, recorded_events):
    def explode(event):
        if event.name == events.TICKET_CREATED:
            raise RuntimeError("subscriber failed inside the transaction")

    events.publisher.subscribe_in_transaction(explode)
    try:
        with pytest.raises(RuntimeError):
            service.open_ticket(people.alice.actor, subject="s", description="d")
    finally:
        events.publisher.unsubscribe(explode)
    assert recorded_events == []
    assert db.session.scalar(select(func.count(Ticket.id))) == 0
    assert db.session.scalar(select(func.count(TicketEvent.id))) == 0
    # and nothing stale leaks into the next commit
    service.open_ticket(people.alice.actor, subject="s", description="d")
    assert [e.name for e in recorded_events] == [events.TICKET_CREATED]


def test_concurrent_replies_keep_message_count_exact(app, people, factory):
    """20 writers at once: message_count equals stored messages (SQLite waits, PG locks rows)."""
    ticket_id = factory.ticket(people.alice).id
    actor = people.alice.actor
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def reply(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                service.add_message(actor, ticket_id, f"reply {i}")
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=reply, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id).message_count == 20
    assert db.session.scalar(select(func.count(Message.id)).where(Message.ticket_id == ticket_id)) == 20
    from support_app.tickets import counters

    assert counters.read(counters.ADMIN_UNREAD, counters.TOTAL) == {
        counters.ADMIN_UNREAD: 1, counters.TOTAL: 1}


def test_system_actor_opens_for_guests(factory):
    guest = factory.guest(email="walkin@example.com")
    ticket = service.open_ticket(Actor.system(), customer_id=guest.id, subject="Contact form",
                                 description="Where is my parcel?", channel="contact_form").ticket
    assert ticket.channel == "contact_form" and ticket.created_by_id is None


def test_counters_stay_exact_through_the_lifecycle(people, factory):
    from support_app.tickets import counters

    def assert_exact():
        kept = counters.read(*[counters.status_key(s) for s in ("open", "in_progress", "on_hold",
                                                                "resolved", "closed")],
                             counters.TOTAL, counters.ADMIN_UNREAD)
        assert kept == counters.recount()

    first = factory.ticket(people.alice)
    second = factory.ticket(people.bob)
    assert_exact()
    service.add_message(people.admin.actor, first.id, "hello")       # admin read, unread -1
    service.update_ticket(people.admin.actor, first.id, status="resolved")
    service.add_message(people.alice.actor, first.id, "still broken")  # reopens, unread +1
    service.escalate(people.bob.actor, second.id)
    service.mark_ticket_read(people.manager.actor, second.id)
    service.assign_self(people.agent.actor, second.id)                 # open -> in_progress
    service.close_ticket(people.admin.actor, second.id)
    assert_exact()
    assert counters.read(counters.TOTAL)[counters.TOTAL] == 2
