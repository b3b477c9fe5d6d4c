"""Tests that kill the second batch of tickets-sla mutation survivors: stored calendars
as the SLA clock reads them (`_load_rules`: their holidays, a calendar broken past the
ORM's check, the default calendar of a policy without one, policies at the same
position), the messages and fields of a refused calendar or an unreachable target, a
target with no time left, and business time that does not depend on the time zone
the server process runs in (`tickets/business_time.py`).

As in test_sla_clock.py: the default calendar is Monday to Friday 09:00-17:00 UTC, the
default policy 240 / 480 / 2400 business minutes, at risk at 80%, and every ticket opens
on Monday 2026-12-07 10:00 UTC (first response due 14:00). Calendars of the pure tests
are built inside each test, never at import.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import time

import pytest
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import SlaCalendar, SlaPolicy
from support_app.tickets import service, sla
from support_app.tickets.business_time import (
    Calendar,
    CalendarError,
    add_business_minutes,
    business_minutes_between,
)
from support_app.tickets.errors import ValidationFailed

from .sla_helpers import at, fresh, move

EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NINE_TO_FIVE = {day: [["09:00", "17:00"]] for day in EVERY_DAY[:5]}
ALWAYS = {day: [["00:00", "24:00"]] for day in EVERY_DAY}


def _policy(**fields) -> SlaPolicy:
    fields.setdefault("position", 10)
    policy = SlaPolicy(**fields)
    db.session.add(policy)
    db.session.commit()
    return policy


def _calendar(**fields) -> SlaCalendar:
    calendar = SlaCalendar(**fields)
    db.session.add(calendar)
    db.session.commit()
    return calendar


def _office_hours() -> SlaCalendar:
    return db.session.scalar(select(SlaCalendar).where(SlaCalendar.is_default))


def _policy_name(ticket_id: int) -> str | None:
    policy_id = fresh(ticket_id).sla_policy_id
    return db.session.get(SlaPolicy, policy_id).name if policy_id else None


# --------------------------------------------------------------------------- stored calendars


def test_a_stored_calendars_holidays_stop_the_clock(desk, factory):
    """The holidays an admin stores on a calendar reach the clock: Monday (a dated
    holiday) and Tuesday (8 December every year, entered with a past year) are closed,
    so the 240 minutes run on Wednesday."""
    _office_hours().holidays = [{"date": "2026-12-07", "name": "Closing day"},
                                {"date": "2020-12-08", "name": "Feast", "yearly": True}]
    db.session.commit()
    ticket = fresh(factory.ticket(desk.alice).id)
    assert ticket.first_response_due_at == at("2026-12-09 13:00")
    assert ticket.sla_check_at == at("2026-12-09 12:12")  # 80% of 240: Wednesday 9:00 + 192


def test_a_calendar_broken_past_the_orm_check_is_skipped_with_a_warning(
        desk, factory, caplog):
    """A calendar row written by hand (a Core UPDATE, no ORM check) that cannot be
    built: a warning names it and says why, its policies are given to no ticket, and
    the calendars and policies after it still load (the next matching policy wins)."""
    broken = _calendar(name="Broken", time_zone="UTC", hours=ALWAYS)
    _policy(name="On broken", position=5, priority="urgent", calendar=broken,
            first_response_minutes=30)
    db.session.execute(SlaCalendar.__table__.update().where(SlaCalendar.id == broken.id)
                       .values(hours={"sat": []}))
    db.session.commit()
    # Made after the broken row (read after it): still loaded.
    always = _calendar(name="Always", time_zone="UTC", hours=ALWAYS)
    _policy(name="Round the clock", position=10, priority="urgent", calendar=always,
            first_response_minutes=600)
    sla.rules.clear()
    caplog.set_level(logging.WARNING, logger=sla.log.name)
    ticket = factory.ticket(desk.alice, priority="urgent")
    assert _policy_name(ticket.id) == "Round the clock"
    assert fresh(ticket.id).first_response_due_at == at("2026-12-07 20:00")  # 24/7
    warnings = [r for r in caplog.records if r.name == sla.log.name]
    assert [(r.levelno, r.getMessage()) for r in warnings] == [(
        logging.WARNING,
        "SLA calendar Broken is unusable (hours: the calendar has no open hours);"
        " its policies are skipped")]


def test_a_policy_without_a_calendar_runs_on_the_default_calendar(desk, factory):
    """Not on the calendar stored last, nor on any other: on the one marked default."""
    _calendar(name="Always", time_zone="UTC", hours=ALWAYS)
    _policy(name="Urgent", priority="urgent", first_response_minutes=600)
    ticket = factory.ticket(desk.alice, priority="urgent")
    assert _policy_name(ticket.id) == "Urgent"
    # Monday 10-17 (420) and Tuesday 9-12 (180), office hours.
    assert fresh(ticket.id).first_response_due_at == at("2026-12-08 12:00")


def test_of_two_policies_at_one_position_the_older_wins_even_once_edited(desk, factory):
    """Position first, then the order the policies were made in: editing the older one
    (an UPDATE, which moves its row to the end of a PostgreSQL table) does not hand its
    tickets to the newer one."""
    older = _policy(name="Older", priority="urgent", first_response_minutes=30)
    _policy(name="Newer", priority="urgent", first_response_minutes=60)
    older.first_response_minutes = 20
    db.session.commit()
    ticket = factory.ticket(desk.alice, priority="urgent")
    assert _policy_name(ticket.id) == "Older"
    assert fresh(ticket.id).first_response_due_at == at("2026-12-07 10:20")


# --------------------------------------------------------------------------- Calendar.build


def test_an_unknown_day_name_is_refused_with_the_day_names_to_use(desk):
    """The admin's form shows the reason under Hours: which day names there are."""
    db.session.add(SlaCalendar(name="Long names", time_zone="UTC",
                               hours={"monday": [["09:00", "17:00"]]}))
    with pytest.raises(ValidationFailed) as err:
        db.session.commit()
    db.session.rollback()
    assert err.value.errors == {"hours": ["days are mon, tue, wed, thu, fri, sat, sun"]}


def test_an_unknown_time_zone_is_refused_under_its_field(desk):
    assert sla.errors_of(SlaCalendar(name="Mars", time_zone="Mars/Base", hours=NINE_TO_FIVE)) == {
        "time_zone": ["unknown time zone"]}


def test_a_yearly_holiday_closes_the_same_day_of_every_year():
    calendar = Calendar.build("UTC", NINE_TO_FIVE, [{"date": "1999-12-25", "yearly": True}])
    # Thursday 24 December 16:00: Friday 25 is Christmas, then the weekend.
    assert add_business_minutes(calendar, at("2026-12-24 16:00"), 120) == at("2026-12-28 10:00")
    dated = Calendar.build("UTC", NINE_TO_FIVE, [{"date": "1999-12-25"}])
    assert add_business_minutes(dated, at("2026-12-24 16:00"), 120) == at("2026-12-25 10:00")


# --------------------------------------------------------------------------- add_business_minutes


def test_no_time_left_is_due_at_once_even_after_hours():
    """Zero minutes to add: due at the start itself, not at the next opening."""
    calendar = Calendar.build("UTC", NINE_TO_FIVE)
    assert add_business_minutes(calendar, at("2026-12-07 20:00"), 0) == at("2026-12-07 20:00")
    assert add_business_minutes(calendar, at("2026-12-12 10:00"), 0) == at("2026-12-12 10:00")


def test_a_target_overdue_under_a_new_policy_after_hours_is_due_at_once(desk, factory, clock):
    """A priority change in the evening to a policy whose target is already used up:
    due (and breached) at that instant, not at Tuesday's opening."""
    _policy(name="Urgent", priority="urgent", first_response_minutes=30)
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 18:00")  # 420 minutes used, the new target is 30
    service.update_ticket(desk.admin.actor, ticket.id, priority="urgent")
    ticket = fresh(ticket.id)
    assert ticket.first_response_due_at == at("2026-12-07 18:00")
    assert ticket.sla_due_at == at("2026-12-07 18:00")
    assert sla.view(ticket, at("2026-12-07 18:00"))[0].state == "breached"


def test_a_target_out_of_reach_is_refused_naming_minutes_and_the_cap():
    """Open on Mondays only, and every Monday for four years a holiday."""
    mondays = [{"date": (dt.date(2026, 12, 7) + dt.timedelta(weeks=n)).isoformat()}
               for n in range(52 * 4)]
    calendar = Calendar.build("UTC", {"mon": [["09:00", "10:00"]]}, mondays)
    with pytest.raises(CalendarError) as err:
        add_business_minutes(calendar, at("2026-12-07 08:00"), 30)
    assert (err.value.field, err.value.message) == ("minutes", "not reached within 1098 days")
    assert str(err.value) == "minutes: not reached within 1098 days"


# --------------------------------------------------------------------------- server time zone


@pytest.fixture
def server_in_new_york():
    """The server process runs with TZ=America/New_York (UTC-5 in December)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_business_time_does_not_depend_on_the_servers_time_zone(server_in_new_york):
    """Instants are UTC (naive ones too) and calendars keep their own zone, whatever the
    process's local time zone is."""
    assert dt.datetime(2026, 12, 7, 12).astimezone().utcoffset() == dt.timedelta(hours=-5)
    office = Calendar.build("UTC", NINE_TO_FIVE)
    assert add_business_minutes(office, at("2026-12-07 08:00"), 30) == at("2026-12-07 09:30")
    assert business_minutes_between(office, at("2026-12-07 08:00"), at("2026-12-07 10:00")) == 60
    aware = dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert add_business_minutes(office, aware, 30) == at("2026-12-07 10:30")
    # Open until midnight: Monday 21:00 UTC is still Monday for a UTC calendar.
    always = Calendar.build("UTC", ALWAYS)
    assert add_business_minutes(always, at("2026-12-07 21:00"), 60) == at("2026-12-07 22:00")
    # A +05:30 calendar opens at 03:30 UTC.
    kolkata = Calendar.build("Asia/Kolkata", NINE_TO_FIVE)
    assert add_business_minutes(kolkata, at("2026-12-07 03:00"), 60) == at("2026-12-07 04:30")
