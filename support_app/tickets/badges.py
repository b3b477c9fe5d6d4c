"""Navbar badge counts (002 "Get Navbar Ticket Count"): one definition for the REST
endpoint, the socket push and the dashboard's badge.

Customers: `count` is unread_count if any, else total_unresolved. Staff: `count` is
unread_count if any, else open + in-progress tickets (on hold reads as in progress in
002's vocabulary). Staff who see every ticket read the desk's exact counters (no
table scan at any size); others aggregate over the tickets the policy lets them see.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from ..extensions import db
from ..models import Ticket
from ..security import roles
from . import counters, lifecycle
from .actor import Actor
from .policy import visible_clause


def _tally(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _staff_counts(actor: Actor) -> tuple[int, int, int, int]:
    if actor.can(roles.VIEW_ALL):
        keys = [counters.TOTAL, counters.status_key(lifecycle.OPEN),
                counters.status_key(lifecycle.IN_PROGRESS),
                counters.status_key(lifecycle.ON_HOLD), counters.ADMIN_UNREAD]
        kept = counters.read(*keys)
        total, open_, working, held, unread = (kept[k] for k in keys)
        return total, open_, working + held, unread
    row = db.session.execute(
        select(
            func.count(Ticket.id),
            _tally(Ticket.status == lifecycle.OPEN),
            _tally(Ticket.status.in_([lifecycle.IN_PROGRESS, lifecycle.ON_HOLD])),
            _tally(Ticket.is_admin_read.is_(False)),
        ).where(visible_clause(actor))
    ).one()
    return tuple(int(v or 0) for v in row)  # type: ignore[return-value]


def navbar_counts(actor: Actor) -> dict[str, Any]:
    """The 002 body: the admin shape for staff, the customer shape for customers."""
    if actor.is_staff:
        total, open_, working, unread = _staff_counts(actor)
        return {"success": True, "total_tickets": total, "open_tickets": open_,
                "in_progress_tickets": working, "unread_count": unread,
                "count": unread or open_ + working}
    unresolved, unread = (int(v or 0) for v in db.session.execute(
        select(
            _tally(Ticket.status.in_(sorted(lifecycle.UNRESOLVED))),
            _tally(Ticket.is_customer_read.is_(False)),
        ).where(visible_clause(actor))
    ).one())
    return {"success": True, "total_unresolved": unresolved, "unread_count": unread,
            "count": unread or unresolved}
