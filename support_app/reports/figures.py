"""One function per figure, each a handful of SQL aggregates keyed by the report's
grouping (a bucket index for day / week / month, else the agent id, category, channel,
priority or tag id). Rows are never loaded into Python: only one row per group comes back.

Per tag, the tickets are LEFT JOINed to their tags (ticket_tags, one row per ticket and
tag: its primary key), so a ticket with two tags counts once under each, and a ticket
without any under the key None ("No tag"). The tags are those a ticket carries now.

Every figure counts what happened in the range: tickets created (created_at), resolved
(resolved_at; also the resolution times and their SLA), first responses
(first_response_at; also their SLA), ratings given (feedback.created_at). Those
columns are indexed (ix_tickets_created, ix_tickets_resolved, ix_tickets_first_response,
ix_feedback_created); a time bucket joins the tickets of its own index range only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable

from sqlalchemy import (
    DateTime,
    Integer,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.sql import ColumnElement, Select

from ..extensions import db
from ..models import Feedback, Ticket, TicketTag
from ..tickets.lifecycle import UNRESOLVED
from .periods import Span

KEY_COLUMNS = {"agent": Ticket.assigned_to_id, "category": Ticket.category,
               "channel": Ticket.channel, "priority": Ticket.priority,
               "tag": TicketTag.tag_id}
PERCENTILES = (0.5, 0.9)


def seconds_between(later: Any, earlier: Any) -> Any:
    """Elapsed seconds between two timestamp columns, in the database's own dialect."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _buckets(span: Span) -> Any:
    """The span's buckets as a derived table (index, start, stop): a UNION of literal
    rows, which SQLite and PostgreSQL both read."""
    rows = [select(literal(b.index, Integer).label("idx"),
                   literal(b.start, DateTime).label("start"),
                   literal(b.stop, DateTime).label("stop")) for b in span.buckets()]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("buckets")


def _with_tags(span: Span, source: Any) -> Any:
    """`source` (tickets, or something joined to them) with the tickets' tags LEFT
    JOINed when the report is per tag: one row per ticket and tag, one without a tag."""
    if span.group != "tag":
        return source
    source = Ticket.__table__ if source is Ticket else source
    return source.outerjoin(TicketTag.__table__, TicketTag.ticket_id == Ticket.id)


def frame(span: Span, moment: Any, source: Any = Ticket) -> tuple[Any, list[Any], Any]:
    """(FROM clause, WHERE conditions, group key) of the rows of `source` whose
    `moment` falls in the span: a time bucket joins the rows of its own index range."""
    if span.by_time:
        buckets = _buckets(span)
        joined = buckets.join(source, and_(moment >= buckets.c.start, moment < buckets.c.stop))
        return joined, [], buckets.c.idx
    return (_with_tags(span, source), [moment >= span.start, moment < span.stop],
            KEY_COLUMNS[span.group])


def keyed(span: Span, moment: Any, *columns: Any, source: Any = Ticket) -> tuple[Select, Any]:
    """select(key, *columns) over the span's rows, and the key to group by."""
    joined, where, key = frame(span, moment, source)
    return select(key.label("key"), *columns).select_from(joined).where(*where), key


def created(span: Span) -> dict[Hashable, int]:
    """Tickets opened per group."""
    stmt, key = keyed(span, Ticket.created_at, func.count())
    return {k: n for k, n in db.session.execute(stmt.group_by(key))}


@dataclass(frozen=True)
class Timing:
    """Delays of the tickets a group counts: how many, median and 90th percentile in
    seconds, and how many had an SLA target for it and how many of those met it."""

    count: int
    median: float | None
    p90: float | None
    sla_total: int
    sla_met: int

    @property
    def sla_share(self) -> float | None:
        return self.sla_met / self.sla_total if self.sla_total else None


def _timings(span: Span, moment: Any, delay: Any, due: Any, breached: Any) -> dict[Hashable, Timing]:
    """Count, percentiles and SLA attainment of `delay` for the rows whose `moment`
    falls in each group. PostgreSQL: percentile_cont. SQLite: each row's rank within
    its group (window functions), then the same linear interpolation between the two
    ranks around p * (n - 1)."""
    with_target = case((due.is_not(None), 1), else_=0)
    met = case((and_(due.is_not(None), breached == false()), 1), else_=0)
    if db.engine.dialect.name == "postgresql":
        stmt, key = keyed(span, moment, func.count(),
                          *[func.percentile_cont(p).within_group(delay) for p in PERCENTILES],
                          func.sum(with_target), func.sum(met))
        rows = db.session.execute(stmt.group_by(key))
    else:
        joined, where, key = frame(span, moment)
        inner = select(key.label("key"), delay.label("v"), with_target.label("t"),
                       met.label("m"),
                       (func.row_number().over(partition_by=key, order_by=delay) - 1).label("rn"),
                       func.count().over(partition_by=key).label("n"),
                       ).select_from(joined).where(*where)
        ranked = inner.subquery("ranked")

        def percentile(p: float) -> ColumnElement:
            position = p * (ranked.c.n - 1)
            low = cast(position, Integer)
            share = position - low
            return func.sum(case((ranked.c.rn == low, ranked.c.v * (1 - share)),
                                 (ranked.c.rn == low + 1, ranked.c.v * share), else_=0))

        rows = db.session.execute(
            select(ranked.c.key, func.count(), *[percentile(p) for p in PERCENTILES],
                   func.sum(ranked.c.t), func.sum(ranked.c.m)).group_by(ranked.c.key))
    return {k: Timing(n, _seconds(median), _seconds(p90), int(total or 0), int(ok or 0))
            for k, n, median, p90, total, ok in rows}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _seconds(value: Any) -> float | None:
    """To the millisecond: SQLite's julianday arithmetic is off by some microseconds."""
    return None if value is None else round(float(value), 3)


def first_response(span: Span) -> dict[Hashable, Timing]:
    """First responses given in each group: time from opening, and the first-response
    SLA met (a ticket without that target is left out of the share)."""
    return _timings(span, Ticket.first_response_at,
                    seconds_between(Ticket.first_response_at, Ticket.created_at),
                    Ticket.first_response_due_at, Ticket.first_response_breached)


def resolution(span: Span) -> dict[Hashable, Timing]:
    """Tickets resolved in each group (their count is the "resolved" figure): time from
    opening to resolution, and the resolution SLA met."""
    return _timings(span, Ticket.resolved_at,
                    seconds_between(Ticket.resolved_at, Ticket.created_at),
                    Ticket.resolution_due_at, Ticket.resolution_breached)


@dataclass(frozen=True)
class Satisfaction:
    count: int
    average: float | None
    satisfied: int  # ratings of 4 or 5

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.count if self.count else None


def csat(span: Span) -> dict[Hashable, Satisfaction]:
    """Ratings given in each group (the ticket's feedback): average and share of 4-5."""
    # Per time bucket the ratings are read alone: every rating has its ticket, and the
    # join made PostgreSQL scan every ticket (it misjudges the bucket join's size).
    source = Feedback.__table__ if span.by_time else \
        Feedback.__table__.join(Ticket.__table__, Feedback.ticket_id == Ticket.id)
    stmt, key = keyed(span, Feedback.created_at, func.count(), func.avg(Feedback.rating),
                      func.sum(case((Feedback.rating >= 4, 1), else_=0)), source=source)
    return {k: Satisfaction(n, _float(avg), int(good or 0))
            for k, n, avg, good in db.session.execute(stmt.group_by(key))}


def backlog_at_start(span: Span) -> dict[Hashable, int]:
    """Tickets open when the range starts (per dimension value, or under None for a
    time grouping): still unresolved (status index), or resolved only later. Per tag,
    a ticket with two tags is open under both."""
    key = None if span.by_time else KEY_COLUMNS[span.group]
    columns = [key.label("key")] if key is not None else [literal(None).label("key")]
    before = Ticket.created_at < span.start
    source = _with_tags(span, Ticket)
    parts = (select(*columns, func.count()).select_from(source)
             .where(Ticket.status.in_(sorted(UNRESOLVED)), before),
             select(*columns, func.count()).select_from(source)
             .where(Ticket.resolved_at >= span.start, before))
    out: dict[Hashable, int] = {}
    for part in parts:
        stmt = part.group_by(key) if key is not None else part
        for k, n in db.session.execute(stmt):
            out[k] = out.get(k, 0) + n
    return out
