"""One report: the figures of a span put together as rows, for the screen's table and
chart and for its CSV. Values stay numbers here; `admin/reports.py` words them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterator

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..i18n import PRIORITY_LABELS
from ..models import SupportUser, Tag
from . import figures
from .periods import GROUP_LABELS, Span


@dataclass
class Row:
    key: Hashable
    label: str
    created: int = 0
    resolved: int = 0
    backlog: int | None = None
    first_response: figures.Timing | None = None
    resolution: figures.Timing | None = None
    csat: figures.Satisfaction | None = None


@dataclass
class Report:
    span: Span
    rows: list[Row] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(r.created or r.resolved or r.csat or r.first_response for r in self.rows)


def _labels(span: Span, keys: set[Hashable]) -> dict[Hashable, str]:
    """Dimension values as people read them (agent names, translated codes)."""
    from ..admin.labels import CATEGORY_LABELS, CHANNEL_LABELS

    if span.group == "agent":
        ids = sorted(k for k in keys if k is not None)
        names = {uid: " ".join(p for p in (first, last) if p) or email
                 for uid, first, last, email in db.session.execute(
                     select(SupportUser.id, SupportUser.first_name, SupportUser.last_name,
                            SupportUser.email).where(SupportUser.id.in_(ids)))} if ids else {}
        return {k: names.get(k, str(_("Unassigned"))) if k is not None else _("Unassigned")
                for k in keys}
    if span.group == "tag":
        ids = sorted(k for k in keys if k is not None)
        names = dict(db.session.execute(select(Tag.id, Tag.name).where(Tag.id.in_(ids)))
                     .tuples().all()) if ids else {}
        return {k: names.get(k, str(k)) if k is not None else str(_("No tag")) for k in keys}
    codes = {"category": CATEGORY_LABELS, "channel": CHANNEL_LABELS,
             "priority": PRIORITY_LABELS}[span.group]
    return {k: str(codes.get(k, k)) for k in keys}


def build(span: Span) -> Report:
    """Every figure of the span, one row per period (all of them, empty ones too) or
    per dimension value that has anything to show."""
    created = figures.created(span)
    first = figures.first_response(span)
    resolved = figures.resolution(span)
    rated = figures.csat(span)
    opening = figures.backlog_at_start(span)
    if span.by_time:
        keyed = [(b.index, b.label(span.group)) for b in span.buckets()]
    else:
        keys = set(created) | set(first) | set(resolved) | set(rated) | set(opening)
        labels = _labels(span, keys)
        keyed = sorted(((k, labels[k]) for k in keys), key=lambda kl: kl[1].casefold())
    report, running = Report(span), opening.get(None, 0)
    for key, label in keyed:
        done = resolved.get(key)
        row = Row(key, label, created.get(key, 0), done.count if done else 0,
                  first_response=first.get(key), resolution=done, csat=rated.get(key))
        if span.by_time:  # open at the end of the period
            running += row.created - row.resolved
            row.backlog = running
        else:  # open at the end of the range
            row.backlog = opening.get(key, 0) + row.created - row.resolved
        report.rows.append(row)
    return report


Cell = Callable[[Row], Any]


DURATION, SHARE = "duration", "share"


def columns(span: Span, duration: Callable[[float | None], Any],
            share: Callable[[float | None], Any],
            rating: Callable[[float | None], Any]) -> list[tuple[str, Cell, str]]:
    """(heading, cell, unit) of the table, the cells worded by the given formatters
    (the screen words durations for people, the CSV gives minutes)."""
    def timing(attr: str, part: str) -> Cell:
        return lambda r: duration(getattr(getattr(r, attr), part) if getattr(r, attr) else None)

    def sla(attr: str) -> Cell:
        return lambda r: share(getattr(r, attr).sla_share if getattr(r, attr) else None)

    return [
        (str(GROUP_LABELS[span.group]), lambda r: r.label, ""),
        (_("Created"), lambda r: r.created, ""),
        (_("Resolved"), lambda r: r.resolved, ""),
        (_("Backlog"), lambda r: r.backlog, ""),
        (_("Median first response"), timing("first_response", "median"), DURATION),
        (_("90th percentile first response"), timing("first_response", "p90"), DURATION),
        (_("Median resolution time"), timing("resolution", "median"), DURATION),
        (_("90th percentile resolution time"), timing("resolution", "p90"), DURATION),
        (_("Average rating"), lambda r: rating(r.csat.average if r.csat else None), ""),
        (_("Ratings of 4 or 5"), lambda r: share(r.csat.satisfied_share if r.csat else None),
         SHARE),
        (_("Ratings"), lambda r: r.csat.count if r.csat else 0, ""),
        (_("First response SLA met"), sla("first_response"), SHARE),
        (_("Resolution SLA met"), sla("resolution"), SHARE),
    ]


def table(report: Report, heading: Callable[[str, str], str] = lambda text, unit: text,
          **formatters: Callable[[Any], Any]) -> tuple[list[str], Iterator[list[Any]]]:
    """Headings (worded by `heading(text, unit)`) and rows of the report, cells worded
    by `columns`' formatters."""
    cols = columns(report.span, **formatters)
    return ([heading(text, unit) for text, _c, unit in cols],
            ([cell(row) for _h, cell, _u in cols] for row in report.rows))


NO_DATA = _l("No data for this range.")
