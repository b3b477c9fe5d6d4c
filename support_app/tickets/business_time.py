"""Business-time arithmetic on a calendar: pure, no Flask, no database.

A calendar is a time zone, weekly opening hours (several ranges a day, so a lunch
break is a gap) and holidays (single dates, or a month and day every year). Instants
go in and come out as UTC; the opening hours are wall-clock times in the calendar's
zone, so on a daylight-saving change the open day is as long as the clock says
(09:00-17:00 stays eight hours; 00:00-24:00 is 23 or 25).

Both functions walk the calendar a day at a time, never a minute at a time, and stop
after `MAX_DAYS`: a due time further away than that is refused, not looped after. A
whole local week inside the span counts as its open time, summed once per calendar
(`Calendar.week_open`): a ticket reopened two years after it was resolved measures its
pause in about a hundred steps, not seven hundred days.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3 * 366
CACHED_DAYS = 4096  # per calendar: a few years of days, a few hundred kB at most
DAY_MINUTES = 24 * 60
DAY, WEEK = dt.timedelta(days=1), dt.timedelta(days=7)
UTC = dt.timezone.utc

Range = tuple[int, int]  # minutes after local midnight, start < end <= 1440


def N_(template: str) -> str:
    """Marks a refusal for the catalogs (`-k N_`); whoever shows it translates it."""
    return template


class CalendarError(ValueError):
    """A calendar that cannot be used (names the field), or a target out of its reach:
    `template % params` in English (logs); `sla.errors_of` shows it translated."""

    def __init__(self, field: str, template: str, **params: Any) -> None:
        self.field, self.template, self.params = field, template, params
        self.message = template % params
        super().__init__(f"{field}: {self.message}")


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    week: tuple[tuple[Range, ...], ...]  # Monday first
    holidays: frozenset[dt.date]
    yearly: frozenset[tuple[int, int]]  # (month, day)
    # Each local day's open intervals in UTC, computed once: a due time is computed on
    # every ticket write, and the zone conversions are most of its cost.
    _days: dict[dt.date, tuple[tuple[dt.datetime, dt.datetime], ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False)
    _weeks: dict[dt.date, dt.timedelta] = field(
        default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def build(cls, time_zone: str, hours: Mapping[str, Sequence[Sequence[str]]],
              holidays: Sequence[Mapping[str, Any]] = ()) -> "Calendar":
        """Validate stored calendar data: `hours` as {"mon": [["09:00", "12:00"], ...]},
        `holidays` as [{"date": "2026-12-25", "yearly": true}, ...]."""
        try:
            zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as err:
            raise CalendarError("time_zone", N_("unknown time zone")) from err
        if not isinstance(hours, Mapping) or set(hours) - set(DAYS):
            raise CalendarError("hours", N_("days are mon, tue, wed, thu, fri, sat, sun"))
        week = tuple(_day_ranges(day, hours.get(day) or ()) for day in DAYS)
        if not any(week):
            raise CalendarError("hours", N_("the calendar has no open hours"))
        dated: set[dt.date] = set()
        yearly: set[tuple[int, int]] = set()
        for entry in holidays:
            try:
                day = dt.date.fromisoformat(str(entry["date"]))
            except (KeyError, TypeError, ValueError) as err:
                raise CalendarError("holidays", N_("each holiday needs a date YYYY-MM-DD")) from err
            if entry.get("yearly"):
                yearly.add((day.month, day.day))
            else:
                dated.add(day)
        return cls(zone, week, frozenset(dated), frozenset(yearly))

    @property
    def weekly_minutes(self) -> int:
        return sum(end - start for ranges in self.week for start, end in ranges)

    def is_holiday(self, day: dt.date) -> bool:
        return day in self.holidays or (day.month, day.day) in self.yearly

    def local_date(self, instant: dt.datetime) -> dt.date:
        """The calendar's local date at `instant` (naive UTC)."""
        return instant.replace(tzinfo=UTC).astimezone(self.zone).date()

    def week_open(self, monday: dt.date) -> dt.timedelta:
        """Open time of the local week that starts on `monday` (holidays and clock
        changes included), computed once per calendar."""
        found = self._weeks.get(monday)
        if found is None:
            found = sum((hi - lo for offset in range(7)
                         for lo, hi in self._open_on(monday + dt.timedelta(days=offset))),
                        dt.timedelta(0))
            if len(self._weeks) >= CACHED_DAYS // 7:
                self._weeks.clear()
            self._weeks[monday] = found
        return found

    def _open_on(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        found = self._days.get(day)
        if found is None:
            ranges = () if self.is_holiday(day) else self.week[day.weekday()]
            found = tuple((self._utc(day, begin), self._utc(day, end)) for begin, end in ranges)
            if len(self._days) >= CACHED_DAYS:
                self._days.clear()
            self._days[day] = found
        return found

    def _utc(self, day: dt.date, minute: int) -> dt.datetime:
        """Local wall-clock `minute` of `day` as naive UTC (24:00 is the next midnight;
        a time in a spring-forward gap reads with the offset before the change)."""
        # Aware arithmetic is wall-clock arithmetic: the zone then gives the offset in
        # force at that wall time.
        local = dt.datetime.combine(day, dt.time(), self.zone) + dt.timedelta(minutes=minute)
        return local.astimezone(UTC).replace(tzinfo=None)


def _day_ranges(day: str, ranges: Sequence[Sequence[str]]) -> tuple[Range, ...]:
    parsed: list[Range] = []
    for pair in ranges:
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise CalendarError("hours", N_('%(day)s: each range is ["HH:MM", "HH:MM"]'), day=day)
        start, end = (_minute(day, value) for value in pair)
        if start >= end:
            raise CalendarError("hours", N_("%(day)s: a range must end after it starts"), day=day)
        parsed.append((start, end))
    parsed.sort()
    for (_, end), (start, _) in zip(parsed, parsed[1:]):
        if start < end:
            raise CalendarError("hours", N_("%(day)s: ranges overlap"), day=day)
    return tuple(parsed)


def _minute(day: str, value: object) -> int:
    try:
        hours, minutes = str(value).split(":")
        total = int(hours) * 60 + int(minutes)
        valid = len(minutes) == 2 and 0 <= int(minutes) < 60 and 0 <= total <= DAY_MINUTES
    except ValueError:
        valid = False
    if not valid:
        raise CalendarError("hours", N_("%(day)s: %(value)s is not a time HH:MM from 00:00 "
                                        "to 24:00"), day=day, value=repr(value))
    return total


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """Naive values are UTC already (as the database stores them)."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _whole_week(day: dt.date, first: dt.date, end: dt.date) -> bool:
    """`day` starts a local week that lies after `first` and wholly before `end`."""
    return day.weekday() == 0 and day > first and day + WEEK <= end


def add_business_minutes(calendar: Calendar, start: dt.datetime, minutes: float) -> dt.datetime:
    """The instant (naive UTC) when `minutes` of open time have passed after `start`.
    A target that ends exactly at closing time is due at closing time."""
    start = _naive_utc(start)
    remaining = dt.timedelta(minutes=minutes)
    if remaining <= dt.timedelta(0):
        return start
    first = day = calendar.local_date(start)
    end = first + dt.timedelta(days=MAX_DAYS)
    while day < end:
        if _whole_week(day, first, end) and remaining > calendar.week_open(day):
            remaining -= calendar.week_open(day)  # the target lies beyond this week
            day += WEEK
            continue
        for lo, hi in calendar._open_on(day):
            lo = max(lo, start)
            if hi > lo:
                if remaining <= hi - lo:
                    return lo + remaining
                remaining -= hi - lo
        day += DAY
    raise CalendarError("minutes", "not reached within %(days)d days", days=MAX_DAYS)


def business_minutes_between(calendar: Calendar, a: dt.datetime, b: dt.datetime) -> float:
    """Open minutes from `a` to `b`; negative when `b` is before `a` (time overdue)."""
    a, b = _naive_utc(a), _naive_utc(b)
    if b < a:
        return -business_minutes_between(calendar, b, a)
    total = dt.timedelta(0)
    first = day = calendar.local_date(a)
    last = calendar.local_date(b)  # every day before it ends before `b`
    while day <= last:
        if _whole_week(day, first, last):
            total += calendar.week_open(day)
            day += WEEK
            continue
        for lo, hi in calendar._open_on(day):
            lo = max(lo, a)
            if lo >= b:
                return total.total_seconds() / 60
            if hi > lo:
                total += min(hi, b) - lo
        day += DAY
    return total.total_seconds() / 60
