"""The SLA clock on tickets (`tickets/sla.py` through the ticket service): policy on
opening, first response met by a staff reply, next response after a customer
message, pause on hold and resume, resolution, re-application on a priority change.

Time is moved with time-machine. The default calendar is Monday to Friday 09:00-17:00
UTC and the default policy 240 / 480 / 2400 business minutes (`support init`'s).
Monday 2026-12-07 10:00 UTC opens every ticket.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from support_app.bootstrap import ensure_sla_defaults
from support_app.extensions import db
from support_app.models import SlaCalendar, SlaPolicy, Ticket, TicketEvent
from support_app.tickets import service, sla
from support_app.tickets.errors import ValidationFailed

from .querycount import count_queries
from .sla_helpers import at, fresh, move


def test_a_new_ticket_gets_the_default_policy_and_its_due_times(desk, factory):
    ticket = fresh(factory.ticket(desk.alice).id)
    policy = db.session.scalar(select(SlaPolicy))
    assert ticket.sla_policy_id == policy.id
    assert ticket.first_response_due_at == at("2026-12-07 14:00")  # 240 minutes
    assert ticket.resolution_due_at == at("2026-12-14 10:00")  # five business days
    assert ticket.next_response_due_at is None and ticket.next_response_state is None
    assert (ticket.first_response_state, ticket.resolution_state) == ("running", "running")
    assert ticket.sla_due_at == at("2026-12-07 14:00") and ticket.sla_state == "running"
    assert ticket.sla_check_at == at("2026-12-07 13:12")  # 80% of 240 minutes used


def test_without_a_policy_a_ticket_has_no_clock(factory, clock):
    alice = factory.customer()
    ticket = fresh(factory.ticket(alice).id)
    assert ticket.sla_policy_id is None and ticket.first_response_due_at is None
    assert ticket.sla_due_at is None and ticket.sla_state is None


def test_opening_and_replying_cost_no_query_for_the_policy_once_cached(desk, factory):
    factory.ticket(desk.alice)  # loads the rules
    with count_queries() as seen:
        ticket = factory.ticket(desk.alice)
        service.add_message(desk.admin.actor, ticket.id, "On it.")
        service.add_message(desk.alice.actor, ticket.id, "Thanks.")
    assert not [q for q in seen if "FROM sla_" in q]


def test_a_reply_that_moves_no_clock_writes_no_sla_column_and_walks_no_calendar(
        desk, factory, clock, monkeypatch):
    """Most replies (a customer's while the first response is still owed) change no
    target: the stored summary stands, with no business-time arithmetic for it."""
    ticket = factory.ticket(desk.alice)
    before = {name: getattr(fresh(ticket.id), name) for name in sla._COLUMNS}
    move(clock, "2026-12-07 11:00")

    def walked(*args, **kwargs):
        raise AssertionError("the calendar was walked")
    monkeypatch.setattr(sla, "business_minutes_between", walked)
    monkeypatch.setattr(sla, "add_business_minutes", walked)
    service.add_message(desk.alice.actor, ticket.id, "Any news?")
    assert {name: getattr(fresh(ticket.id), name) for name in sla._COLUMNS} == before


@pytest.mark.parametrize("reply_at,breached", [("2026-12-07 11:00", False),
                                               ("2026-12-08 09:30", True)])
def test_the_first_staff_reply_meets_the_first_response_target(desk, factory, clock,
                                                               reply_at, breached):
    ticket = factory.ticket(desk.alice)
    move(clock, reply_at)
    service.add_message(desk.admin.actor, ticket.id, "We are on it.")
    ticket = fresh(ticket.id)
    assert ticket.first_response_state == "met"
    assert ticket.first_response_breached is breached
    assert ticket.sla_due_at == ticket.resolution_due_at  # the one clock still running


def test_a_customer_message_after_the_first_response_starts_the_next_response_clock(
        desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    service.add_message(desk.alice.actor, ticket.id, "Any news?")
    assert fresh(ticket.id).next_response_state is None  # first response still owed
    move(clock, "2026-12-07 11:00")
    service.add_message(desk.admin.actor, ticket.id, "Looking.")
    move(clock, "2026-12-08 10:00")
    service.add_message(desk.alice.actor, ticket.id, "Still broken.")
    ticket = fresh(ticket.id)
    assert ticket.next_response_state == "running"
    assert ticket.next_response_due_at == at("2026-12-09 10:00")  # 480 minutes
    move(clock, "2026-12-08 12:00")
    service.add_message(desk.alice.actor, ticket.id, "Hello?")  # the oldest one counts
    assert fresh(ticket.id).next_response_due_at == at("2026-12-09 10:00")
    move(clock, "2026-12-08 13:00")
    service.add_message(desk.admin.actor, ticket.id, "Replacement shipped.")
    ticket = fresh(ticket.id)
    assert ticket.next_response_state == "met" and not ticket.next_response_breached


def test_on_hold_pauses_and_leaving_it_shifts_the_due_times(desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 11:00")
    service.update_ticket(desk.admin.actor, ticket.id, status="on_hold")
    paused = fresh(ticket.id)
    assert paused.sla_paused_at == at("2026-12-07 11:00")
    assert paused.sla_due_at is None and paused.sla_check_at is None  # nothing to check
    assert paused.first_response_due_at == at("2026-12-07 14:00")  # kept as it was
    move(clock, "2026-12-08 11:00")  # Monday 11-17 and Tuesday 9-11: 480 minutes paused
    service.update_ticket(desk.admin.actor, ticket.id, status="in_progress")
    ticket = fresh(ticket.id)
    assert ticket.sla_paused_at is None
    assert ticket.first_response_due_at == at("2026-12-08 14:00")
    assert ticket.resolution_due_at == at("2026-12-15 10:00")
    assert ticket.sla_due_at == at("2026-12-08 14:00") and ticket.sla_state == "running"


def test_a_customer_reply_resumes_a_clock_paused_on_hold(desk, factory, clock):
    """The status stays on hold (seed 002: a reply reopens only finished tickets), but
    the desk owes an answer again, so the clock runs."""
    ticket = factory.ticket(desk.alice)
    service.add_message(desk.admin.actor, ticket.id, "Which size did you order?")
    service.update_ticket(desk.admin.actor, ticket.id, status="on_hold")
    move(clock, "2026-12-07 15:00")
    service.add_message(desk.alice.actor, ticket.id, "Size M.")
    ticket = fresh(ticket.id)
    assert ticket.status == "on_hold" and ticket.sla_paused_at is None
    assert ticket.resolution_due_at == at("2026-12-14 15:00")  # moved by the 5 hours paused
    assert ticket.next_response_due_at == at("2026-12-08 15:00")
    assert ticket.sla_due_at == at("2026-12-08 15:00")


def test_resolving_stops_the_clocks_and_a_reopening_runs_resolution_again(desk, factory,
                                                                          clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 16:00")  # first response never given, and it is late
    service.update_ticket(desk.admin.actor, ticket.id, status="resolved")
    resolved = fresh(ticket.id)
    assert (resolved.first_response_state, resolved.resolution_state) == ("met", "met")
    assert resolved.first_response_breached and not resolved.resolution_breached
    assert resolved.sla_due_at is None and resolved.sla_paused_at == at("2026-12-07 16:00")
    move(clock, "2026-12-08 10:00")  # paused 16-17 and 9-10: 120 minutes
    service.add_message(desk.alice.actor, ticket.id, "It broke again.")
    ticket = fresh(ticket.id)
    assert ticket.status == "open" and ticket.resolution_state == "running"
    assert ticket.resolution_due_at == at("2026-12-14 12:00")
    assert ticket.next_response_due_at == at("2026-12-09 10:00")


def test_a_priority_change_reapplies_the_policy_and_records_it(desk, factory, clock):
    db.session.add(SlaPolicy(name="Urgent", position=10, priority="urgent",
                             first_response_minutes=60, resolution_minutes=480))
    db.session.commit()
    ticket = factory.ticket(desk.alice)
    assert fresh(ticket.id).first_response_due_at == at("2026-12-07 14:00")  # Default
    move(clock, "2026-12-07 10:30")
    service.update_ticket(desk.admin.actor, ticket.id, priority="urgent")
    ticket = fresh(ticket.id)
    urgent = db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == "Urgent"))
    assert ticket.sla_policy_id == urgent.id
    # 30 business minutes already used of the 60.
    assert ticket.first_response_due_at == at("2026-12-07 11:00")
    assert ticket.resolution_due_at == at("2026-12-08 10:00")  # 480 from 10:00
    events = db.session.execute(
        select(TicketEvent.kind, TicketEvent.old_value, TicketEvent.new_value)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "sla_policy")).all()
    assert events == [("sla_policy", "Default", "Urgent")]
    move(clock, "2026-12-07 10:45")
    service.update_ticket(desk.admin.actor, ticket.id, priority="high")  # back to Default
    assert fresh(ticket.id).first_response_due_at == at("2026-12-07 14:00")


def test_an_escalation_that_raises_the_priority_reapplies_too(desk, factory):
    db.session.add(SlaPolicy(name="High", position=10, priority="high",
                             first_response_minutes=30))
    db.session.commit()
    ticket = factory.ticket(desk.alice)
    service.escalate(desk.admin.actor, ticket.id)  # medium -> high
    ticket = fresh(ticket.id)
    assert ticket.first_response_due_at == at("2026-12-07 10:30")
    assert ticket.resolution_due_at is None and ticket.resolution_state is None


def test_policies_match_in_position_order_on_every_field(desk, factory):
    calendar = SlaCalendar(name="Always", time_zone="UTC",
                           hours={d: [["00:00", "24:00"]] for d in
                                  ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    db.session.add_all([
        calendar,
        SlaPolicy(name="Email billing", position=5, category="billing", channel="email",
                  first_response_minutes=15),
        SlaPolicy(name="Billing", position=6, category="billing", calendar=calendar,
                  first_response_minutes=20),
        SlaPolicy(name="Inactive", position=1, active=False, first_response_minutes=1),
    ])
    db.session.commit()
    billing = fresh(factory.ticket(desk.alice, category="billing").id)
    assert billing.first_response_due_at == at("2026-12-07 10:20")
    other = fresh(factory.ticket(desk.alice, category="order").id)
    assert other.first_response_due_at == at("2026-12-07 14:00")


def test_an_edited_policy_applies_to_the_next_ticket_at_once(desk, factory):
    factory.ticket(desk.alice)  # the rules are cached now
    policy = db.session.scalar(select(SlaPolicy))
    policy.first_response_minutes = 30
    db.session.commit()
    assert fresh(factory.ticket(desk.alice).id).first_response_due_at == at("2026-12-07 10:30")


def test_support_init_defaults_are_created_once_and_edits_survive(desk):
    policy = db.session.scalar(select(SlaPolicy))
    policy.first_response_minutes = 99
    db.session.commit()
    ensure_sla_defaults()
    assert db.session.scalar(select(SlaPolicy)).first_response_minutes == 99
    assert len(db.session.scalars(select(SlaCalendar)).all()) == 1


def test_a_policy_deleted_by_another_process_does_not_fail_an_opening(desk, factory):
    """This process still holds the deleted policy in its cache (a Core DELETE, as
    another process's, does not drop it): the ticket opens, and once the cache is
    refreshed the dangling id reads as no policy."""
    factory.ticket(desk.alice)  # cached now
    db.session.execute(SlaPolicy.__table__.delete())
    db.session.commit()
    ticket = factory.ticket(desk.alice)
    assert fresh(ticket.id).sla_policy_id is not None
    sla.rules.clear()
    assert sla.policy_of(fresh(ticket.id)) is None


def test_a_breached_target_stays_breached_under_a_new_policy(desk, factory, clock):
    """The breach already happened (stored by the background check): a priority change
    that gives more time must not make it run, and later breach, a second time."""
    db.session.add(SlaPolicy(name="Low", position=10, priority="low",
                             first_response_minutes=600))
    db.session.commit()
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 15:00")
    db.session.execute(Ticket.__table__.update().where(Ticket.id == ticket.id)
                       .values(first_response_state="breached", first_response_breached=True))
    db.session.commit()
    service.update_ticket(desk.admin.actor, ticket.id, priority="low")
    ticket = fresh(ticket.id)
    assert ticket.first_response_due_at == at("2026-12-08 12:00")  # 600 from 10:00
    assert ticket.first_response_state == "breached" and ticket.sla_state == "breached"


@pytest.mark.parametrize("row,field", [
    (lambda: SlaCalendar(name="Closed", time_zone="UTC", hours={"sat": []}), "hours"),
    (lambda: SlaCalendar(name="Nowhere", time_zone="Mars/Base",
                         hours={"mon": [["09:00", "17:00"]]}), "time_zone"),
    (lambda: SlaPolicy(name="Typo", priority="High", first_response_minutes=60), "priority"),
    (lambda: SlaPolicy(name="Web", channel="web", first_response_minutes=60), "channel"),
])
def test_unusable_calendars_and_policies_are_refused_and_nothing_is_written(desk, row, field):
    db.session.add(row())
    with pytest.raises(ValidationFailed) as err:
        db.session.commit()
    db.session.rollback()
    assert field in err.value.errors
    assert db.session.scalar(select(func.count(SlaCalendar.id))) == 1  # the default only
    assert db.session.scalar(select(func.count(SlaPolicy.id))) == 1
