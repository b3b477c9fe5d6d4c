"""The ticket service's changes (status, priority, closing, escalation) pinned where the
mutation run (tests/mutation/REPORT.md, target tickets-service-changes) needs it: what
is stamped, audited and announced, and what each refusal says."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from support_app.extensions import db
from support_app.models import Feedback, InternalNote, PointsTransaction, Ticket
from support_app.security import roles
from support_app.tickets import Actor, events, service
from support_app.tickets.errors import (
    AlreadyEscalated,
    CannotEscalate,
    Conflict,
    Forbidden,
    InvalidTransition,
    ValidationFailed,
)
from tests.lock_reads import reads_of

from .service_helpers import LATER, OPENED, fresh, history, later


def points(customer_id: int) -> list[tuple]:
    """The customer's awards: (action, points, ticket)."""
    return [tuple(row) for row in db.session.execute(
        select(PointsTransaction.action, PointsTransaction.points, PointsTransaction.ticket_id)
        .where(PointsTransaction.customer_id == customer_id))]


# ------------------------------------------------------------------------ update


@pytest.mark.parametrize("field,value", [("status", "done"), ("priority", "asap")])
def test_an_unknown_status_or_priority_is_refused_by_name(factory, alice, admin, field, value):
    ticket = factory.ticket(alice)
    with pytest.raises(ValidationFailed) as refused:
        service.update_ticket(admin.actor, ticket.id, **{field: value})
    assert refused.value.details["errors"] == {field: [f"The selected {field} is invalid."]}
    assert history(ticket.id) == []


def test_resolving_stamps_the_time_keeps_the_details_and_announces_them(
        factory, alice, admin, recorded_events, morning):
    ticket = factory.ticket(alice)
    assert fresh(ticket.id).is_customer_read is True
    later(morning)
    service.update_ticket(admin.actor, ticket.id, status="resolved",
                          resolution_details="Refunded", origin="admin")
    stored = fresh(ticket.id)
    assert (stored.status, stored.resolved_at, stored.closed_at, stored.resolution_details) == (
        "resolved", LATER, None, "Refunded")
    assert (stored.updated_at, stored.is_customer_read) == (LATER, False)
    event = recorded_events[-1]
    assert (event.name, event.origin, event.actor_user_id) == (
        events.STATUS_CHANGED, "admin", admin.id)
    assert event.data == {"old_status": "open", "new_status": "resolved",
                          "resolution": "Refunded"}
    assert event.ticket.status == "resolved"
    assert history(ticket.id) == [("status", admin.id, "open", "resolved")]


def test_closing_stamps_both_ends_and_is_announced_as_closed(factory, alice, admin,
                                                            recorded_events, morning):
    ticket = factory.ticket(alice)
    later(morning)
    service.update_ticket(admin.actor, ticket.id, status="closed")
    stored = fresh(ticket.id)
    assert (stored.status, stored.resolved_at, stored.closed_at) == ("closed", LATER, LATER)
    assert (recorded_events[-1].name, recorded_events[-1].data) == (
        events.CLOSED, {"old_status": "open", "new_status": "closed"})


def test_closing_a_resolved_ticket_keeps_when_it_was_resolved(factory, alice, admin, morning):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, status="resolved")
    later(morning)
    service.update_ticket(admin.actor, ticket.id, status="closed")
    stored = fresh(ticket.id)
    assert (stored.resolved_at, stored.closed_at) == (OPENED, LATER)


def test_reopening_clears_both_ends(factory, alice, admin, recorded_events):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, status="closed")
    service.update_ticket(admin.actor, ticket.id, status="in_progress")
    stored = fresh(ticket.id)
    assert (stored.status, stored.resolved_at, stored.closed_at) == ("in_progress", None, None)
    assert (recorded_events[-1].name, recorded_events[-1].data) == (
        events.STATUS_CHANGED, {"old_status": "closed", "new_status": "in_progress"})


def test_details_alone_or_with_the_same_status_change_only_the_details(
        factory, alice, admin, recorded_events, morning):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, status="resolved", resolution_details="First")
    announced = len(recorded_events)
    later(morning)
    service.update_ticket(admin.actor, ticket.id, status="resolved", resolution_details="Second")
    assert fresh(ticket.id).resolution_details == "Second"
    service.update_ticket(admin.actor, ticket.id, resolution_details="Third")
    stored = fresh(ticket.id)
    assert (stored.resolution_details, stored.resolved_at, stored.updated_at) == (
        "Third", OPENED, LATER)
    assert len(recorded_events) == announced
    assert history(ticket.id) == [("status", admin.id, "open", "resolved")]


def test_an_impossible_move_names_both_statuses(factory, alice, admin):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, status="closed")
    with pytest.raises(InvalidTransition) as refused:
        service.update_ticket(admin.actor, ticket.id, status="on_hold")
    assert refused.value.message == "Cannot change status from closed to on_hold"
    assert refused.value.details == {"old": "closed", "new": "on_hold"}


def test_a_status_changed_behind_the_loaded_ticket_is_a_conflict(factory, alice, admin):
    """The conditional UPDATE finds the row no longer in the status that was read."""
    ticket = db.session.get(Ticket, factory.ticket(alice).id)
    db.session.execute(text("UPDATE tickets SET status = 'on_hold' WHERE id = :id"),
                       {"id": ticket.id})
    with pytest.raises(Conflict) as refused:
        service._apply_status(ticket, admin.actor, "resolved", "api")
    assert refused.value.message == "The ticket was changed meanwhile; reload it and try again"
    db.session.rollback()


def test_a_priority_change_is_audited_and_announced_with_the_new_priority(
        factory, alice, admin, recorded_events, morning):
    ticket = factory.ticket(alice, priority="low")
    later(morning)
    service.update_ticket(admin.actor, ticket.id, priority="urgent", origin="admin")
    event = recorded_events[-1]
    assert (event.name, event.origin, event.actor_user_id, event.data) == (
        events.PRIORITY_CHANGED, "admin", admin.id, {"priority": "urgent"})
    assert event.ticket.priority == "urgent"
    stored = fresh(ticket.id)
    assert (stored.priority, stored.updated_at, stored.status) == ("urgent", LATER, "open")
    assert history(ticket.id) == [("priority", admin.id, "low", "urgent")]
    service.update_ticket(admin.actor, ticket.id, priority="urgent")
    assert history(ticket.id) == [("priority", admin.id, "low", "urgent")]


def test_a_note_left_with_an_update_is_kept_audited_and_announced(factory, alice, admin,
                                                                 recorded_events):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, status="on_hold", note="Waiting for stock",
                          origin="admin")
    note = db.session.scalars(select(InternalNote)).one()
    assert (note.ticket_id, note.author_id, note.note) == (ticket.id, admin.id,
                                                           "Waiting for stock")
    assert [(e.name, e.origin, e.data) for e in recorded_events[-2:]] == [
        (events.STATUS_CHANGED, "admin", {"old_status": "open", "new_status": "on_hold"}),
        (events.NOTE_ADDED, "admin", {"note_id": note.id}),
    ]
    assert history(ticket.id) == [("status", admin.id, "open", "on_hold"),
                                  ("note", admin.id, None, None)]
    service.update_ticket(admin.actor, ticket.id, note="")
    assert db.session.query(InternalNote).count() == 1


def test_an_agent_updates_only_the_tickets_they_work(factory, alice):
    ticket = factory.ticket(alice)
    agent = factory.agent(approved=True)
    with pytest.raises(Forbidden):
        service.update_ticket(agent.actor, ticket.id, status="on_hold")
    service.assign_self(agent.actor, ticket.id)
    assert service.update_ticket(agent.actor, ticket.id, status="on_hold").status == "on_hold"


# ----------------------------------------------------------------------- closing


def test_a_customer_closing_their_resolved_ticket_earns_the_closure_points_if_asked(
        factory, alice, admin, recorded_events, morning):
    first, second = factory.ticket(alice), factory.ticket(alice)
    for ticket in (first, second):
        service.update_ticket(admin.actor, ticket.id, status="resolved")
    later(morning)
    outcome = service.close_ticket(alice.actor, first.id, origin="web", award_points=True)
    assert (outcome.ticket.id, outcome.gamification_error) == (first.id, None)
    stored = fresh(first.id)
    assert (stored.status, stored.closed_at, stored.updated_at) == ("closed", LATER, LATER)
    event = recorded_events[-1]
    assert (event.name, event.origin, event.actor_user_id) == (events.CLOSED, "web", alice.id)
    assert history(first.id)[-1] == ("status", alice.id, "resolved", "closed")
    assert points(alice.customer.id) == [("ticket_closure", 5, first.id)]
    service.close_ticket(alice.actor, second.id)
    assert points(alice.customer.id) == [("ticket_closure", 5, first.id)]


def test_closure_points_over_the_daily_cap_are_refused_and_said(factory, alice, admin, app,
                                                                 monkeypatch):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, status="resolved")
    monkeypatch.setitem(app.config, "GAMIFICATION_DAILY_CAP", 0)
    outcome = service.close_ticket(alice.actor, ticket.id, award_points=True)
    assert (outcome.ticket.status, outcome.gamification_error) == ("closed",
                                                                   "DAILY_LIMIT_REACHED")


def test_staff_close_any_open_ticket_and_never_earn_points(factory, alice, admin):
    ticket = factory.ticket(alice)
    outcome = service.close_ticket(admin.actor, ticket.id, award_points=True)
    assert (outcome.ticket.status, outcome.gamification_error) == ("closed", None)
    assert points(alice.customer.id) == []


def test_staff_who_own_the_ticket_close_it_as_its_customer(factory, alice):
    """A staff account with its own customer record (an admin who shops) is the customer
    on their own ticket: it may close it only once resolved."""
    owner = Actor(user_id=alice.id, customer_id=alice.customer.id,
                  permissions=alice.actor.permissions | {roles.MANAGE})
    ticket = factory.ticket(alice)
    with pytest.raises(InvalidTransition) as refused:
        service.close_ticket(owner, ticket.id)
    assert refused.value.message == "Only resolved tickets can be closed"


@pytest.mark.parametrize("who", ["group member", "revoked"])
def test_who_may_not_close_is_told_so(factory, alice, who):
    """A group member sees the ticket but only its customer closes it."""
    bob = factory.customer(name="Bob")
    ticket = factory.ticket(alice, participant_customer_ids=[bob.customer.id])
    service.update_ticket(factory.staff(roles.ADMIN).actor, ticket.id, status="resolved")
    if who == "group member":
        with pytest.raises(Forbidden) as refused:
            service.close_ticket(bob.actor, ticket.id)
    else:
        with factory.revoked(roles.CLOSE), pytest.raises(Forbidden) as refused:
            service.close_ticket(alice.actor, ticket.id)
    assert refused.value.message == "You are not allowed to close this ticket"
    assert fresh(ticket.id).status == "resolved"


def test_closing_twice_or_too_early_says_why(factory, alice, admin):
    ticket = factory.ticket(alice)
    with pytest.raises(InvalidTransition) as early:
        service.close_ticket(alice.actor, ticket.id)
    assert early.value.message == "Only resolved tickets can be closed"
    service.close_ticket(admin.actor, ticket.id)
    for actor in (alice.actor, admin.actor):
        with pytest.raises(InvalidTransition) as twice:
            service.close_ticket(actor, ticket.id)
        assert twice.value.message == "Ticket is already closed"


def test_an_unassigned_agent_may_not_close(factory, alice):
    ticket = factory.ticket(alice)
    with pytest.raises(Forbidden):
        service.close_ticket(factory.agent(approved=True).actor, ticket.id)
    assert fresh(ticket.id).status == "open"


# -------------------------------------------------------------------- escalation


def test_an_escalation_raises_level_and_priority_audits_both_and_announces_the_level(
        factory, alice, admin, recorded_events, morning):
    ticket = factory.ticket(alice, priority="medium")
    service.mark_ticket_read(admin.actor, ticket.id)
    assert fresh(ticket.id).is_admin_read is True
    later(morning)
    outcome = service.escalate(alice.actor, ticket.id, origin="web", award_points=True)
    assert outcome.gamification_error is None
    stored = fresh(ticket.id)
    assert (stored.escalation_level, stored.priority, stored.escalated_at, stored.updated_at) == (
        1, "high", LATER, LATER)
    assert stored.is_admin_read is False
    assert history(ticket.id) == [("priority", alice.id, "medium", "high"),
                                  ("escalated", alice.id, "0", "1")]
    event = recorded_events[-1]
    assert (event.name, event.origin, event.actor_user_id, event.data) == (
        events.ESCALATED, "web", alice.id, {"level": 1})
    assert event.ticket.priority == "high"
    assert points(alice.customer.id) == [("support_interaction", 10, ticket.id)]


def test_an_urgent_tickets_escalation_keeps_the_priority_and_staff_earn_nothing(
        factory, alice, admin):
    ticket = factory.ticket(alice, priority="urgent")
    service.escalate(admin.actor, ticket.id, award_points=True)
    service.escalate(admin.actor, ticket.id, award_points=True)
    assert history(ticket.id) == [("escalated", admin.id, "0", "1"),
                                  ("escalated", admin.id, "1", "2")]
    assert fresh(ticket.id).priority == "urgent"
    assert points(alice.customer.id) == []


def test_a_customer_escalating_without_asking_for_points_earns_none(factory, alice):
    ticket = factory.ticket(alice)
    service.escalate(alice.actor, ticket.id)
    assert points(alice.customer.id) == []


def test_escalation_refusals_say_why(factory, alice, admin):
    ticket = factory.ticket(alice)
    service.escalate(alice.actor, ticket.id)
    with pytest.raises(AlreadyEscalated) as again:
        service.escalate(alice.actor, ticket.id)
    assert again.value.message == "Ticket already escalated"
    bob = factory.customer(name="Bob")
    shared = factory.ticket(alice, participant_customer_ids=[bob.customer.id])
    with pytest.raises(Forbidden) as member:
        service.escalate(bob.actor, shared.id)
    assert member.value.message == "You are not allowed to escalate this ticket"
    service.update_ticket(admin.actor, ticket.id, status="resolved")
    with pytest.raises(CannotEscalate) as finished:
        service.escalate(admin.actor, ticket.id)
    assert finished.value.message == "Cannot escalate ticket"
    assert fresh(ticket.id).escalation_level == 1


def test_a_customer_whose_role_may_not_escalate_is_refused(factory, alice):
    ticket = factory.ticket(alice)
    with factory.revoked(roles.ESCALATE), pytest.raises(Forbidden):
        service.escalate(alice.actor, ticket.id)
    assert fresh(ticket.id).escalation_level == 0


# ---------------------------------------------------------------------- feedback


def test_feedback_keeps_the_comment_and_where_it_came_from(factory, alice, admin,
                                                           recorded_events):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, status="resolved")
    feedback = service.submit_feedback(alice.actor, ticket.id, 4, "Quick", origin="email")
    stored = db.session.get(Feedback, feedback.id)
    assert (stored.ticket_id, stored.rating, stored.comment) == (ticket.id, 4, "Quick")
    assert recorded_events[-1].origin == "email"


# ----------------------------------------------------------------------- defaults


@pytest.mark.parametrize("change", ["update", "close", "escalate"])
def test_a_change_locks_the_ticket_first_and_comes_from_the_api_unless_told(
        factory, alice, admin, recorded_events, change):
    ticket_id, actor = factory.ticket(alice).id, admin.actor
    call = {"update": lambda: service.update_ticket(actor, ticket_id, priority="high"),
            "close": lambda: service.close_ticket(actor, ticket_id),
            "escalate": lambda: service.escalate(actor, ticket_id)}[change]
    with reads_of("tickets") as reads:
        call()
    assert reads[0] is True
    assert recorded_events[-1].origin == "api"


def test_feedback_comes_from_the_api_unless_told(factory, alice, admin, recorded_events):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, status="resolved")
    service.submit_feedback(alice.actor, ticket.id, 5)
    assert recorded_events[-1].origin == "api"


def test_staff_reopening_a_resolved_ticket_runs_its_resolution_clock_again(desk, factory):
    """On the SLA policy `support init` makes: resolving meets the resolution target;
    reopening from a finished status restarts it."""
    ticket = factory.ticket(desk.alice)
    service.update_ticket(desk.admin.actor, ticket.id, status="resolved")
    assert fresh(ticket.id).resolution_state == "met"
    service.update_ticket(desk.admin.actor, ticket.id, status="in_progress")
    assert fresh(ticket.id).resolution_state == "running"
