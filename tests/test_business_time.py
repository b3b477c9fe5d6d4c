"""Business-time arithmetic (`tickets/business_time.py`): table-driven, no app needed.

Dates: Monday 2026-12-07 opens the reference week. US clocks spring forward on
2026-03-08 and fall back on 2026-11-01; the UK springs forward on 2026-03-29.
"""
from __future__ import annotations

import datetime as dt
import random
from unittest import mock

import pytest

from support_app.tickets.business_time import (
    MAX_DAYS,
    Calendar,
    CalendarError,
    add_business_minutes,
    business_minutes_between,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
LUNCH = {day: [["09:00", "12:00"], ["13:00", "17:00"]] for day in WEEKDAYS}
NINE_TO_FIVE = {day: [["09:00", "17:00"]] for day in WEEKDAYS}
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
SUNDAYS = {"sun": [["00:00", "24:00"]]}

CALENDARS = {
    "lunch": Calendar.build("UTC", LUNCH),
    "holiday": Calendar.build("UTC", LUNCH, [{"date": "2026-12-08"}]),
    "christmas": Calendar.build("UTC", LUNCH, [{"date": "1999-12-25", "yearly": True}]),
    "kolkata": Calendar.build("Asia/Kolkata", NINE_TO_FIVE),
    "new_york": Calendar.build("America/New_York", NINE_TO_FIVE),
    "ny_sundays": Calendar.build("America/New_York", SUNDAYS),
    "london_night": Calendar.build("Europe/London", {"sun": [["00:00", "03:00"]]}),
    "always": Calendar.build("UTC", ALWAYS),
}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


ADD_CASES = [
    # calendar, start (UTC), minutes, due (UTC), what it shows
    ("lunch", "2026-12-07 10:00", 60, "2026-12-07 11:00", "inside open hours"),
    ("lunch", "2026-12-07 11:30", 60, "2026-12-07 13:30", "the lunch gap does not count"),
    ("lunch", "2026-12-07 16:00", 60, "2026-12-07 17:00", "due exactly at closing time"),
    ("lunch", "2026-12-07 16:00", 120, "2026-12-08 10:00", "carried to the next morning"),
    ("lunch", "2026-12-11 16:00", 120, "2026-12-14 10:00", "the weekend does not count"),
    ("lunch", "2026-12-12 03:00", 30, "2026-12-14 09:30", "opened on a Saturday night"),
    ("lunch", "2026-12-07 07:00", 30, "2026-12-07 09:30", "opened before opening"),
    ("lunch", "2026-12-07 20:00", 30, "2026-12-08 09:30", "opened after closing"),
    ("lunch", "2026-12-07 12:15", 10, "2026-12-07 13:10", "opened during lunch"),
    ("lunch", "2026-12-07 09:00", 3 * 420, "2026-12-09 17:00", "three full days"),
    ("lunch", "2026-12-07 09:00", 3 * 420 + 1, "2026-12-10 09:01", "three days and a minute"),
    ("lunch", "2026-12-07 09:00", 10 * 420, "2026-12-18 17:00", "two weeks"),
    ("holiday", "2026-12-07 16:00", 120, "2026-12-09 10:00", "a dated holiday is skipped"),
    ("christmas", "2026-12-24 16:00", 120, "2026-12-28 10:00", "yearly holiday, then weekend"),
    ("christmas", "2027-12-24 16:00", 120, "2027-12-27 10:00", "the same holiday a year later"),
    ("kolkata", "2026-12-07 03:00", 60, "2026-12-07 04:30", "a +05:30 zone opens at 03:30 UTC"),
    ("new_york", "2026-12-11 21:00", 120, "2026-12-14 15:00", "New York Friday 16:00 EST"),
    ("new_york", "2026-03-06 21:00", 120, "2026-03-09 14:00", "over spring forward (EST to EDT)"),
    ("new_york", "2026-10-30 20:00", 120, "2026-11-02 15:00", "over fall back (EDT to EST)"),
    ("ny_sundays", "2026-03-08 05:00", 23 * 60, "2026-03-09 04:00", "the 23-hour day, all of it"),
    ("ny_sundays", "2026-11-01 04:00", 25 * 60, "2026-11-02 05:00", "the 25-hour day, all of it"),
    ("always", "2026-12-07 10:00", 3000, "2026-12-09 12:00", "24/7: plain elapsed time"),
    ("lunch", "2026-12-07 10:00", 0, "2026-12-07 10:00", "no time to add"),
]


@pytest.mark.parametrize("name,start,minutes,due,why", ADD_CASES, ids=[c[4] for c in ADD_CASES])
def test_add_business_minutes(name: str, start: str, minutes: int, due: str, why: str) -> None:
    calendar = CALENDARS[name]
    assert add_business_minutes(calendar, at(start), minutes) == at(due), why
    if minutes:  # and the way back measures the same open time
        assert business_minutes_between(calendar, at(start), at(due)) == minutes, why


BETWEEN_CASES = [
    ("lunch", "2026-12-11 16:00", "2026-12-14 10:00", 120, "over a weekend"),
    ("lunch", "2026-12-14 10:00", "2026-12-11 16:00", -120, "backwards: overdue time"),
    ("lunch", "2026-12-07 11:00", "2026-12-07 14:00", 120, "minus lunch"),
    ("lunch", "2026-12-12 10:00", "2026-12-13 10:00", 0, "all weekend"),
    ("holiday", "2026-12-07 17:00", "2026-12-09 09:00", 0, "a closed evening and a holiday"),
    ("ny_sundays", "2026-03-08 05:00", "2026-03-09 05:00", 23 * 60, "spring-forward Sunday"),
    ("ny_sundays", "2026-11-01 04:00", "2026-11-02 05:00", 25 * 60, "fall-back Sunday"),
    ("london_night", "2026-03-29 00:00", "2026-03-30 00:00", 120, "00:00-03:00 is two hours"),
    ("london_night", "2026-03-22 00:00", "2026-03-23 00:00", 180, "and three a week before"),
    ("always", "2026-12-07 10:00:30", "2026-12-07 10:01", 0.5, "seconds count"),
]


@pytest.mark.parametrize("name,a,b,minutes,why", BETWEEN_CASES, ids=[c[4] for c in BETWEEN_CASES])
def test_business_minutes_between(name: str, a: str, b: str, minutes: float, why: str) -> None:
    assert business_minutes_between(CALENDARS[name], at(a), at(b)) == minutes, why


def test_aware_instants_are_read_as_utc() -> None:
    start = dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert add_business_minutes(CALENDARS["lunch"], start, 30) == at("2026-12-07 10:30")


INVALID = [
    ("UTC", {"sat": []}, (), "hours", "no open hours"),
    ("UTC", {}, (), "hours", "no days at all"),
    ("Mars/Olympus", NINE_TO_FIVE, (), "time_zone", "unknown zone"),
    ("UTC", {"monday": [["09:00", "17:00"]]}, (), "hours", "unknown day name"),
    ("UTC", {"mon": [["09:00", "25:00"]]}, (), "hours", "past 24:00"),
    ("UTC", {"mon": [["9", "17:00"]]}, (), "hours", "not HH:MM"),
    ("UTC", {"mon": [["17:00", "09:00"]]}, (), "hours", "ends before it starts"),
    ("UTC", {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}, (), "hours", "overlapping ranges"),
    ("UTC", {"mon": ["09:00-17:00"]}, (), "hours", "a range that is not a pair"),
    ("UTC", NINE_TO_FIVE, [{"date": "2026-02-30"}], "holidays", "no such date"),
    ("UTC", NINE_TO_FIVE, [{"name": "no date"}], "holidays", "a holiday without a date"),
]


@pytest.mark.parametrize("zone,hours,holidays,field,why", INVALID, ids=[c[4] for c in INVALID])
def test_invalid_calendars_are_refused(zone, hours, holidays, field, why) -> None:
    with pytest.raises(CalendarError) as err:
        Calendar.build(zone, hours, holidays)
    assert err.value.field == field, why


def _days_walked(calendar: Calendar) -> list[dt.date]:
    """Patch the calendar's day lookup to record each local day the arithmetic reads."""
    walked: list[dt.date] = []
    real = Calendar._open_on

    def recording(self: Calendar, day: dt.date):
        walked.append(day)
        return real(self, day)
    return walked, mock.patch.object(Calendar, "_open_on", recording)


def test_a_target_out_of_reach_is_refused_at_the_day_cap() -> None:
    """Open only on Mondays, and every Monday for years is a holiday: the walk stops at
    its day cap instead of running on."""
    mondays = [{"date": (dt.date(2026, 12, 7) + dt.timedelta(weeks=n)).isoformat()}
               for n in range(52 * 4)]
    calendar = Calendar.build("UTC", {"mon": [["09:00", "10:00"]]}, mondays)
    walked, recording = _days_walked(calendar)
    with recording, pytest.raises(CalendarError):
        add_business_minutes(calendar, at("2026-12-07 08:00"), 30)
    assert max(walked) == dt.date(2026, 12, 7) + dt.timedelta(days=MAX_DAYS - 1)
    # With the holidays ending inside the cap, the first open Monday is found.
    reachable = Calendar.build("UTC", {"mon": [["09:00", "10:00"]]}, mondays[:150])
    assert add_business_minutes(reachable, at("2026-12-07 08:00"), 30) == \
        at("2026-12-07 09:30") + dt.timedelta(weeks=150)


def test_whole_weeks_are_summed_not_walked_again() -> None:
    """A year's span is read a day at a time once; measured again, only the days at its
    two ends are (a ticket reopened long after it was resolved: issue 25)."""
    calendar = Calendar.build("UTC", LUNCH, [{"date": "2026-12-25", "yearly": True}])
    a, b = at("2026-01-07 11:00"), at("2027-01-06 15:00")
    walked, recording = _days_walked(calendar)
    with recording:
        first = business_minutes_between(calendar, a, b)
        days_first = len(walked)
        again = business_minutes_between(calendar, a, b)
    assert first == again == _walk_between(calendar, a, b) == (52 * 5 - 1) * 420 + 180  # less Christmas
    assert days_first >= 365 and len(walked) - days_first <= 14


def _walk_between(calendar: Calendar, a: dt.datetime, b: dt.datetime) -> float:
    """The plain day-by-day reference the fast path must equal."""
    total = dt.timedelta(0)
    day = a.replace(tzinfo=dt.timezone.utc).astimezone(calendar.zone).date()
    while True:
        for lo, hi in calendar._open_on(day):
            lo = max(lo, a)
            if lo >= b:
                return total.total_seconds() / 60
            if hi > lo:
                total += min(hi, b) - lo
        day += dt.timedelta(days=1)


def _walk_add(calendar: Calendar, start: dt.datetime, minutes: float) -> dt.datetime:
    remaining = dt.timedelta(minutes=minutes)
    day = start.replace(tzinfo=dt.timezone.utc).astimezone(calendar.zone).date()
    while True:
        for lo, hi in calendar._open_on(day):
            lo = max(lo, start)
            if hi > lo:
                if remaining <= hi - lo:
                    return lo + remaining
                remaining -= hi - lo
        day += dt.timedelta(days=1)


@pytest.mark.parametrize("name", sorted(CALENDARS))
def test_long_spans_agree_with_a_day_by_day_walk(name: str) -> None:
    """Random spans up to two years on every calendar (clock changes, holidays, lunch
    breaks, weekend-only hours): summing whole weeks changes no answer."""
    calendar, rng = CALENDARS[name], random.Random(name)
    for _ in range(40):
        a = at("2025-01-01 00:00") + dt.timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
        b = a + dt.timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
        assert business_minutes_between(calendar, a, b) == _walk_between(calendar, a, b)
        assert business_minutes_between(calendar, b, a) == -_walk_between(calendar, a, b)
        minutes = rng.choice([1, 59, 420, 421]) + rng.randrange(calendar.weekly_minutes * 100)
        due = add_business_minutes(calendar, a, minutes)
        assert due == _walk_add(calendar, a, minutes)
        assert business_minutes_between(calendar, a, due) == pytest.approx(minutes)
