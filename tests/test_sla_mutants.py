"""Tests that kill tickets-sla mutation survivors (`tickets/sla.py` and
`tickets/business_time.py`): the SLA view at its boundaries, due times exactly at a
reply or a pause, targets re-opened, kept or dropped across pauses and status changes,
and the business time each target keeps when a priority change re-applies the policies.

As in test_sla_clock.py: the default calendar is Monday to Friday 09:00-17:00 UTC, the
default policy 240 / 480 / 2400 business minutes, at risk at 80%, and every ticket opens
on Monday 2026-12-07 10:00 UTC (first response due 14:00, resolution Monday 12-14 10:00).
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import SlaCalendar, SlaPolicy, TicketEvent
from support_app.tickets import service, sla, sla_checks
from support_app.tickets.business_time import Calendar, CalendarError, add_business_minutes
from support_app.tickets.errors import ValidationFailed

from .sla_helpers import at, fresh, move

EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _policy(**fields) -> SlaPolicy:
    fields.setdefault("position", 10)
    policy = SlaPolicy(**fields)
    db.session.add(policy)
    db.session.commit()
    return policy


def _default() -> SlaPolicy:
    return db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == "Default"))


def _policy_events(ticket_id: int) -> list[tuple[str | None, str | None]]:
    return [tuple(row) for row in db.session.execute(
        select(TicketEvent.old_value, TicketEvent.new_value)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "sla_policy")
        .order_by(TicketEvent.id))]


def _status(desk, ticket_id: int, status: str) -> None:
    service.update_ticket(desk.admin.actor, ticket_id, status=status)


def _priority(desk, ticket_id: int, priority: str) -> None:
    service.update_ticket(desk.admin.actor, ticket_id, priority=priority)


# --------------------------------------------------------------------------- calendars


def test_a_calendar_error_names_the_field_and_says_why():
    with pytest.raises(CalendarError) as err:
        Calendar.build("UTC", {"sat": []})
    assert err.value.field == "hours"
    assert err.value.message == "the calendar has no open hours"
    assert str(err.value) == "hours: the calendar has no open hours"


def test_a_refused_calendar_reports_the_reason_under_its_field(desk):
    db.session.add(SlaCalendar(name="Closed", time_zone="UTC", hours={"sat": []}))
    with pytest.raises(ValidationFailed) as err:
        db.session.commit()
    db.session.rollback()
    assert err.value.errors == {"hours": ["the calendar has no open hours"]}


@pytest.mark.parametrize("hours,message", [
    ({"mon": [["09:00", "12:00", "17:00"]]}, 'mon: each range is ["HH:MM", "HH:MM"]'),
    ({"tue": [900]}, 'tue: each range is ["HH:MM", "HH:MM"]'),
    ({"wed": [["09:00", "09:00"]]}, "wed: a range must end after it starts"),
    ({"thu": [["09:00", "13:00"], ["12:00", "17:00"]]}, "thu: ranges overlap"),
    ({"fri": [["09:60", "17:00"]]}, "fri: '09:60' is not a time HH:MM from 00:00 to 24:00"),
])
def test_refused_opening_hours_say_which_day_and_what_is_wrong(hours, message):
    with pytest.raises(CalendarError) as err:
        Calendar.build("UTC", hours)
    assert (err.value.field, err.value.message) == ("hours", message)


@pytest.mark.parametrize("hours,message", [
    ({"thu": [["09:00", "13:00"], ["12:00", "17:00"]]}, "thu: ranges overlap"),
    ({"fri": [["09:60", "17:00"]]}, "fri: '09:60' is not a time HH:MM from 00:00 to 24:00"),
])
def test_the_form_shows_the_refusal_with_its_day_and_value(app_ctx, hours, message):
    """What the dashboard shows (sla.errors_of, translated): the values filled in."""
    assert sla.errors_of(SlaCalendar(name="Shop", time_zone="UTC", hours=hours)) == {
        "hours": [message]}


def test_half_hours_and_back_to_back_ranges_are_opening_hours():
    calendar = Calendar.build("UTC", {"mon": [["09:30", "12:00"], ["12:00", "17:45"]]})
    assert calendar.weekly_minutes == 8 * 60 + 15
    assert add_business_minutes(calendar, at("2026-12-07 08:00"), 30) == at("2026-12-07 10:00")
    assert add_business_minutes(calendar, at("2026-12-07 11:30"), 60) == at("2026-12-07 12:30")
    assert add_business_minutes(calendar, at("2026-12-07 17:00"), 45) == at("2026-12-07 17:45")


def test_a_calendar_with_an_impossible_holiday_is_refused_before_it_is_written(desk):
    db.session.add(SlaCalendar(name="Odd", time_zone="UTC", hours={"mon": [["09:00", "17:00"]]},
                               holidays=[{"date": "2026-02-30"}]))
    with pytest.raises(ValidationFailed) as err:
        db.session.commit()
    db.session.rollback()
    assert err.value.errors == {"holidays": ["each holiday needs a date YYYY-MM-DD"]}


def test_a_refused_policy_lists_the_values_it_could_match(desk):
    db.session.add(SlaPolicy(name="Typo", priority="High", first_response_minutes=60))
    with pytest.raises(ValidationFailed) as err:
        db.session.commit()
    db.session.rollback()
    assert err.value.errors == {"priority": ["'High' is not one of low, medium, high, urgent"]}


# --------------------------------------------------------------------------- the view


@pytest.mark.parametrize("now,state,breached,left", [
    ("2026-12-07 12:59", "running", False, 61),
    ("2026-12-07 13:00", "at_risk", False, 60),  # exactly 75% used
    ("2026-12-07 13:59:30", "at_risk", False, 0),  # half a minute left
    ("2026-12-07 14:00", "breached", True, 0),  # due this instant
])
def test_the_view_turns_at_risk_and_breached_exactly_at_the_boundaries(
        desk, factory, now, state, breached, left):
    """At risk at 75% (a share whose margin, 60 of 240 minutes, is exact in binary)."""
    _default().at_risk_percent = 75
    db.session.commit()
    ticket = fresh(factory.ticket(desk.alice).id)
    [first, _resolution] = sla.view(ticket, at(now))
    assert (first.target, first.due_at) == ("first_response", at("2026-12-07 14:00"))
    assert (first.state, first.breached, first.business_minutes_left) == (state, breached, left)


def test_a_target_its_policy_no_longer_sets_is_never_shown_at_risk(desk, factory):
    """The policy dropped the first-response target after the ticket opened: the
    running target keeps its due time with no at-risk margin (running until due)."""
    ticket = factory.ticket(desk.alice)
    _default().first_response_minutes = None
    db.session.commit()
    [first, _resolution] = sla.view(fresh(ticket.id), at("2026-12-07 13:59:54"))
    assert (first.state, first.business_minutes_left) == ("running", 0)
    assert sla.view(fresh(ticket.id), at("2026-12-07 14:00"))[0].state == "breached"


# --------------------------------------------------------------------------- the clock


def test_a_short_target_is_at_risk_after_its_share_even_under_a_minute(desk, factory):
    _policy(name="Quick", priority="urgent", first_response_minutes=1, at_risk_percent=50)
    ticket = fresh(factory.ticket(desk.alice, priority="urgent").id)
    assert ticket.first_response_due_at == at("2026-12-07 10:01")
    assert ticket.sla_check_at == at("2026-12-07 10:00:30")


def test_a_reply_exactly_at_the_due_time_meets_the_target_in_time(desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 14:00")
    service.add_message(desk.admin.actor, ticket.id, "Right on time.")
    ticket = fresh(ticket.id)
    assert ticket.first_response_state == "met" and ticket.first_response_breached is False


def test_a_staff_reply_on_hold_leaves_the_clock_paused(desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 11:00")
    _status(desk, ticket.id, "on_hold")
    move(clock, "2026-12-07 12:00")
    service.add_message(desk.admin.actor, ticket.id, "Still waiting for your photo.")
    ticket = fresh(ticket.id)
    assert ticket.status == "on_hold" and ticket.sla_paused_at == at("2026-12-07 11:00")
    assert ticket.first_response_state == "met" and not ticket.first_response_breached
    assert ticket.resolution_due_at == at("2026-12-14 10:00")  # not moved
    assert ticket.sla_due_at is None and ticket.sla_check_at is None


def test_a_met_target_keeps_its_due_time_across_a_pause(desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 11:00")
    service.add_message(desk.admin.actor, ticket.id, "Which size?")
    _status(desk, ticket.id, "on_hold")
    move(clock, "2026-12-08 11:00")  # 480 business minutes paused
    _status(desk, ticket.id, "in_progress")
    ticket = fresh(ticket.id)
    assert ticket.first_response_state == "met"
    assert ticket.first_response_due_at == at("2026-12-07 14:00")
    assert ticket.resolution_due_at == at("2026-12-15 10:00")


def test_a_target_due_at_the_instant_of_the_pause_stays_due_then(desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 14:00")
    _status(desk, ticket.id, "on_hold")
    move(clock, "2026-12-08 10:00")  # 14-17 and 9-10: 240 minutes paused
    _status(desk, ticket.id, "in_progress")
    ticket = fresh(ticket.id)
    assert ticket.first_response_due_at == at("2026-12-07 14:00")  # not moved
    assert ticket.resolution_due_at == at("2026-12-14 14:00")  # moved by 240
    assert ticket.sla_due_at == at("2026-12-07 14:00")


def test_a_target_past_its_at_risk_point_is_checked_at_once_on_resume(desk, factory, clock):
    """Paused and resumed after 80% was used but before any check ran: the check is
    due the moment the clock runs again."""
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 13:30")
    _status(desk, ticket.id, "on_hold")
    paused = fresh(ticket.id)
    assert (paused.sla_state, paused.sla_due_at, paused.sla_check_at) == (None, None, None)
    move(clock, "2026-12-07 13:40")
    _status(desk, ticket.id, "in_progress")
    ticket = fresh(ticket.id)
    assert ticket.first_response_due_at == at("2026-12-07 14:10")
    assert ticket.sla_state == "running" and ticket.sla_check_at == at("2026-12-07 13:40")


def test_a_customer_reply_on_hold_keeps_a_resolution_at_risk(desk, factory, clock):
    """Resuming moves the due time; the warning already sent is not forgotten."""
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 10:30")
    service.add_message(desk.admin.actor, ticket.id, "Which size?")
    move(clock, "2026-12-11 10:00")  # 1920 of 2400 minutes used
    assert sla_checks.check_due() == 1
    assert fresh(ticket.id).resolution_state == "at_risk"
    _status(desk, ticket.id, "on_hold")
    move(clock, "2026-12-11 11:00")
    service.add_message(desk.alice.actor, ticket.id, "Size M.")
    ticket = fresh(ticket.id)
    assert ticket.sla_paused_at is None
    assert ticket.resolution_state == "at_risk" and ticket.sla_state == "at_risk"
    assert ticket.resolution_due_at == at("2026-12-14 11:00")  # moved by the hour paused


def test_reopening_a_ticket_resolved_late_shows_its_resolution_breached(desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-15 10:00")  # a business day past the resolution target
    _status(desk, ticket.id, "resolved")
    assert fresh(ticket.id).resolution_breached is True
    move(clock, "2026-12-15 11:00")
    service.add_message(desk.alice.actor, ticket.id, "It broke again.")
    ticket = fresh(ticket.id)
    assert ticket.status == "open"
    assert ticket.resolution_state == "breached" and ticket.sla_state == "breached"
    assert ticket.resolution_due_at == at("2026-12-14 10:00")  # past due when paused
    assert ticket.sla_due_at == at("2026-12-14 10:00")


def test_staff_reopening_a_resolved_ticket_runs_its_resolution_again(desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 16:00")
    _status(desk, ticket.id, "resolved")
    move(clock, "2026-12-08 10:00")  # paused 16-17 and 9-10: 120 minutes
    _status(desk, ticket.id, "in_progress")
    ticket = fresh(ticket.id)
    assert ticket.resolution_state == "running" and ticket.sla_paused_at is None
    assert ticket.resolution_due_at == at("2026-12-14 12:00")
    assert ticket.first_response_state == "met"  # only the resolution runs again
    assert ticket.sla_due_at == at("2026-12-14 12:00") and ticket.sla_state == "running"


# --------------------------------------------------------------------------- re-applied policies


def test_a_priority_change_under_the_same_policy_changes_and_records_nothing(
        desk, factory, clock):
    ticket = factory.ticket(desk.alice)
    before = {name: getattr(fresh(ticket.id), name) for name in sla._COLUMNS}
    move(clock, "2026-12-07 11:00")
    _priority(desk, ticket.id, "high")  # the Default policy still matches
    assert {name: getattr(fresh(ticket.id), name) for name in sla._COLUMNS} == before
    assert _policy_events(ticket.id) == []


def test_a_new_policy_counts_its_targets_on_its_own_calendar(desk, factory, clock):
    always = SlaCalendar(name="Always", time_zone="UTC",
                         hours={day: [["00:00", "24:00"]] for day in EVERY_DAY})
    _policy(name="Round the clock", priority="urgent", calendar=always,
            first_response_minutes=600)
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 10:30")
    _priority(desk, ticket.id, "urgent")
    ticket = fresh(ticket.id)
    # 30 of the 600 minutes used; the other 570 run through the evening.
    assert ticket.first_response_due_at == at("2026-12-07 20:00")
    assert ticket.resolution_due_at is None and ticket.resolution_state is None


def test_a_target_already_overdue_under_the_new_policy_is_due_at_once(desk, factory, clock):
    _policy(name="Urgent", priority="urgent", first_response_minutes=30)
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 11:00")  # 60 minutes used, the new target is 30
    _priority(desk, ticket.id, "urgent")
    ticket = fresh(ticket.id)
    assert ticket.first_response_due_at == at("2026-12-07 11:00")
    assert sla.view(ticket, at("2026-12-07 11:00"))[0].state == "breached"


def _opened_with_only_an_urgent_policy(desk, factory, **minutes):
    """Default switched off and an "Urgent" policy (first response 60 and `minutes`):
    a medium ticket opens with no policy."""
    _default().active = False
    db.session.commit()
    _policy(name="Urgent", priority="urgent", first_response_minutes=60, **minutes)
    return factory.ticket(desk.alice)


def test_a_ticket_without_a_policy_gets_one_counted_from_its_opening(desk, factory, clock):
    ticket = _opened_with_only_an_urgent_policy(desk, factory, next_response_minutes=30,
                                                resolution_minutes=480)
    assert fresh(ticket.id).sla_policy_id is None
    move(clock, "2026-12-07 10:20")
    _priority(desk, ticket.id, "urgent")
    ticket = fresh(ticket.id)
    assert ticket.sla_paused_at is None  # an open ticket's clock runs
    assert ticket.first_response_due_at == at("2026-12-07 11:00")  # 20 of 60 used
    assert ticket.resolution_due_at == at("2026-12-08 10:00")  # 20 of 480 used
    # No customer message waits for an answer: no next-response target yet.
    assert ticket.next_response_due_at is None and ticket.next_response_state is None
    assert ticket.sla_due_at == at("2026-12-07 11:00") and ticket.sla_state == "running"
    assert ticket.sla_check_at == at("2026-12-07 10:48")  # 48 of 60 used
    assert _policy_events(ticket.id) == [(None, "Urgent")]


def test_a_first_response_given_before_any_policy_is_not_owed_again(desk, factory, clock):
    ticket = _opened_with_only_an_urgent_policy(desk, factory, resolution_minutes=480)
    move(clock, "2026-12-07 10:10")
    service.add_message(desk.admin.actor, ticket.id, "Looking into it.")
    move(clock, "2026-12-07 10:20")
    _priority(desk, ticket.id, "urgent")
    ticket = fresh(ticket.id)
    assert ticket.first_response_due_at is None and ticket.first_response_state is None
    assert ticket.resolution_due_at == at("2026-12-08 10:00")


def test_a_ticket_on_hold_that_gets_a_policy_starts_paused(desk, factory, clock):
    ticket = _opened_with_only_an_urgent_policy(desk, factory, resolution_minutes=480)
    move(clock, "2026-12-07 10:30")
    service.update_ticket(desk.admin.actor, ticket.id, status="on_hold", priority="urgent")
    paused = fresh(ticket.id)
    assert paused.sla_paused_at == at("2026-12-07 10:30")
    assert paused.first_response_due_at == at("2026-12-07 11:00")  # 30 of 60 used
    assert paused.sla_due_at is None and paused.sla_check_at is None
    move(clock, "2026-12-08 10:30")  # 480 business minutes paused
    _status(desk, ticket.id, "in_progress")
    ticket = fresh(ticket.id)
    assert ticket.first_response_due_at == at("2026-12-08 11:00")
    assert ticket.resolution_due_at == at("2026-12-09 10:00")


def _asked_after_an_answer(desk, factory, clock):
    """An "Urgent" policy (60 / 120 / 480) beside Default; a Default ticket answered at
    10:30 whose customer writes again at 11:00 (next response due Tuesday 11:00)."""
    _policy(name="Urgent", priority="urgent", first_response_minutes=60,
            next_response_minutes=120, resolution_minutes=480)
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 10:30")
    service.add_message(desk.admin.actor, ticket.id, "Which size?")
    move(clock, "2026-12-07 11:00")
    service.add_message(desk.alice.actor, ticket.id, "Size M.")
    return ticket


def test_when_no_policy_matches_any_more_the_open_targets_stop_and_met_ones_stay(
        desk, factory, clock):
    default = _default()
    default.priority = "medium"  # no catch-all any more (Urgent is for urgent)
    db.session.commit()
    ticket = _asked_after_an_answer(desk, factory, clock)
    assert fresh(ticket.id).next_response_state == "running"
    move(clock, "2026-12-07 12:00")
    _priority(desk, ticket.id, "high")
    ticket = fresh(ticket.id)
    assert ticket.sla_policy_id is None
    assert (ticket.first_response_state, ticket.first_response_due_at) == (
        "met", at("2026-12-07 14:00"))
    assert (ticket.next_response_state, ticket.next_response_due_at) == (None, None)
    assert (ticket.resolution_state, ticket.resolution_due_at) == (None, None)
    assert ticket.sla_due_at is None and ticket.sla_state is None
    assert _policy_events(ticket.id) == [("Default", None)]


def test_a_running_next_response_keeps_its_used_time_under_a_new_policy(desk, factory, clock):
    ticket = _asked_after_an_answer(desk, factory, clock)
    assert fresh(ticket.id).next_response_due_at == at("2026-12-08 11:00")
    move(clock, "2026-12-07 11:30")
    _priority(desk, ticket.id, "urgent")
    ticket = fresh(ticket.id)
    assert ticket.next_response_due_at == at("2026-12-07 13:00")  # 30 of 120 used
    assert ticket.resolution_due_at == at("2026-12-08 10:00")  # 90 of 480 used
    assert ticket.first_response_state == "met"
    assert ticket.first_response_due_at == at("2026-12-07 14:00")
    assert ticket.sla_due_at == at("2026-12-07 13:00")


def test_a_met_next_response_stays_met_under_a_new_policy(desk, factory, clock):
    ticket = _asked_after_an_answer(desk, factory, clock)
    move(clock, "2026-12-07 12:00")
    service.add_message(desk.admin.actor, ticket.id, "Shipped.")
    assert fresh(ticket.id).next_response_state == "met"
    move(clock, "2026-12-07 12:30")
    _priority(desk, ticket.id, "urgent")
    ticket = fresh(ticket.id)
    assert ticket.next_response_state == "met"
    assert ticket.next_response_due_at == at("2026-12-08 11:00")
    assert ticket.resolution_due_at == at("2026-12-08 10:00")  # 150 of 480 used
    assert ticket.sla_due_at == at("2026-12-08 10:00")


def test_a_target_the_old_policy_lacked_counts_from_the_opening(desk, factory, clock):
    _policy(name="Medium", priority="medium", first_response_minutes=30)
    ticket = factory.ticket(desk.alice)
    opened = fresh(ticket.id)
    assert opened.first_response_due_at == at("2026-12-07 10:30")
    assert opened.resolution_state is None
    move(clock, "2026-12-07 10:20")
    _priority(desk, ticket.id, "high")  # Default now
    ticket = fresh(ticket.id)
    assert ticket.first_response_due_at == at("2026-12-07 14:00")  # 20 of 240 used
    assert ticket.resolution_state == "running"
    assert ticket.resolution_due_at == at("2026-12-14 10:00")  # 20 of 2400 used
    assert ticket.next_response_state is None
    assert _policy_events(ticket.id) == [("Medium", "Default")]


def test_a_ticket_reopened_while_its_policy_was_inactive_runs_its_resolution_again(
        desk, factory, clock):
    """README: a reopened ticket's resolution target runs again, and switching a policy
    off does not stop the clocks of the tickets already on it: the reopen is recorded
    while it is off, and the clock pauses and resumes once it is back on."""
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 11:00")
    _status(desk, ticket.id, "resolved")
    _default().active = False
    db.session.commit()
    move(clock, "2026-12-07 12:00")
    _status(desk, ticket.id, "in_progress")  # reopened with no active policy
    _default().active = True
    db.session.commit()
    move(clock, "2026-12-07 13:00")
    _status(desk, ticket.id, "on_hold")
    move(clock, "2026-12-08 10:00")
    _status(desk, ticket.id, "in_progress")
    ticket = fresh(ticket.id)
    assert ticket.sla_paused_at is None
    assert ticket.resolution_state == "running"


def test_a_switched_off_policy_goes_to_no_new_ticket_and_keeps_its_tickets_clocks(
        desk, factory, clock):
    """Switching a policy off stops it being given: a ticket opened afterwards gets
    none, while one already on it keeps its targets, its time left and its checks, until
    a change re-applies the policies (then no active policy matches: the clock stops)."""
    on_it = factory.ticket(desk.alice)
    _default().active = False
    db.session.commit()
    after = factory.ticket(desk.alice)
    assert fresh(after.id).sla_policy_id is None
    assert sla.policy_of(fresh(on_it.id)).name == "Default"
    move(clock, "2026-12-07 13:12")  # 80% of the 240-minute first response used
    first = sla.view(fresh(on_it.id), at("2026-12-07 13:12"))[0]
    assert (first.target, first.state, first.business_minutes_left) == (
        "first_response", "at_risk", 48)
    assert sla_checks.check_due() == 1
    assert fresh(on_it.id).first_response_state == "at_risk"
    _priority(desk, on_it.id, "high")
    assert fresh(on_it.id).sla_policy_id is None
    assert _policy_events(on_it.id) == [("Default", None)]
