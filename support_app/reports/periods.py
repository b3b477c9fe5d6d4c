"""The range a report covers: dates in the desk's time zone, turned into the UTC
instants the ticket columns store (naive UTC), cut into day / week / month buckets.

A day is local midnight to local midnight, so a ticket opened at 23:30 UTC on the 1st
belongs to the 2nd in Paris; days across a DST change are 23 or 25 hours long."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db

TIME_GROUPS = ("day", "week", "month")
DIMENSIONS = ("agent", "category", "channel", "priority", "tag")
GROUPS = (*TIME_GROUPS, *DIMENSIONS)
GROUP_LABELS = {
    "day": _l("Day"), "week": _l("Week"), "month": _l("Month"), "agent": _l("Agent"),
    "category": _l("Category"), "channel": _l("Channel"), "priority": _l("Priority"),
    "tag": _l("Ticket tag"),  # "Tag" is also the verb (the tag action) in es and fr
}
DEFAULT_DAYS = 30
MAX_DAYS = 366  # a year of days: a bounded number of buckets and of SQL parameters


class RangeError(ValueError):
    """A range or grouping a report cannot be built for; the message is for people."""


def desk_zone() -> ZoneInfo:
    """The desk's time zone: the default SLA calendar's (the desk's office hours), UTC
    when there is none or it names no zone this machine knows."""
    from ..models import SlaCalendar

    name = db.session.scalar(select(SlaCalendar.time_zone).where(SlaCalendar.is_default)
                             .order_by(SlaCalendar.id).limit(1))
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def to_utc(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """Local midnight starting `day`, as the naive UTC instant the columns store."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _next_start(day: dt.date, group: str) -> dt.date:
    if group == "day":
        return day + dt.timedelta(days=1)
    if group == "week":  # ISO weeks: Monday to Sunday
        return day + dt.timedelta(days=7 - day.weekday())
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class Bucket:
    index: int
    first: dt.date   # local dates, inclusive
    last: dt.date
    start: dt.datetime  # naive UTC, half-open [start, stop)
    stop: dt.datetime

    def label(self, group: str) -> str:
        if group == "day":
            return self.first.isoformat()
        if group == "month":
            return self.first.strftime("%Y-%m")
        return f"{self.first.isoformat()} – {self.last.isoformat()}"


@dataclass(frozen=True)
class Span:
    """What a report covers: local dates `first`..`last` (inclusive), its grouping."""

    first: dt.date
    last: dt.date
    group: str
    zone: ZoneInfo

    @property
    def by_time(self) -> bool:
        return self.group in TIME_GROUPS

    @property
    def start(self) -> dt.datetime:
        return to_utc(self.first, self.zone)

    @property
    def stop(self) -> dt.datetime:
        return to_utc(self.last + dt.timedelta(days=1), self.zone)

    def buckets(self) -> list[Bucket]:
        """The periods of a time grouping, clipped to the range (a week report from a
        Wednesday starts with a short week) so the buckets add up to the range."""
        group = self.group if self.by_time else "day"
        out, day = [], self.first
        while day <= self.last:
            following = min(_next_start(day, group), self.last + dt.timedelta(days=1))
            out.append(Bucket(len(out), day, following - dt.timedelta(days=1),
                              to_utc(day, self.zone), to_utc(following, self.zone)))
            day = following
        return out


def _date(raw: str | None, name: str) -> dt.date | None:
    if raw is None or not raw.strip():
        return None
    try:
        return dt.date.fromisoformat(raw.strip()) if len(raw.strip()) == 10 else None
    except ValueError:
        return None


def parse_span(args: Mapping[str, str], today: dt.date | None = None) -> Span:
    """`start`, `end` (YYYY-MM-DD, inclusive) and `group` from a query string; missing
    ones default to the last 30 days by day. Raises RangeError for anything else."""
    zone = desk_zone()
    today = today or dt.datetime.now(zone).date()
    group = (args.get("group") or "day").strip()
    if group not in GROUPS:
        raise RangeError(str(_l("Unknown grouping.")))
    last = _date(args.get("end"), "end")
    first = _date(args.get("start"), "start")
    for raw, parsed in ((args.get("end"), last), (args.get("start"), first)):
        if raw and raw.strip() and parsed is None:
            raise RangeError(str(_l("Dates are written YYYY-MM-DD.")))
    last = last or today
    first = first or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise RangeError(str(_l("The start date is after the end date.")))
    if (last - first).days + 1 > MAX_DAYS:
        raise RangeError(str(_l("A report covers at most %(days)d days.", days=MAX_DAYS)))
    if first.year < 1900 or last.year > 9000:
        raise RangeError(str(_l("Dates are written YYYY-MM-DD.")))
    return Span(first, last, group, zone)
