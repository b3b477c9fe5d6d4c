"""Navbar badge counts (002 "Get Navbar Ticket Count"), one definition for the REST
endpoint and the socket push: over the tickets the actor may see, `count` is the
unread count when there is something unread, else the unresolved count."""
from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from ..extensions import db
from ..models import Ticket
from . import lifecycle
from .actor import Actor
from .policy import visible_clause


def navbar_counts(actor: Actor) -> dict[str, Any]:
    """The 002 body: the customer shape for customers, the admin shape for staff."""
    staff = actor.is_staff
    unread_flag = Ticket.is_admin_read if staff else Ticket.is_customer_read
    unresolved = Ticket.status.in_(lifecycle.UNRESOLVED)

    def n(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        select(
            func.count(Ticket.id),
            n(unresolved),
            n(Ticket.status == lifecycle.OPEN),
            n(Ticket.status == lifecycle.IN_PROGRESS),
            n(unread_flag.is_(False)),
        ).where(visible_clause(actor))
    ).one()
    total, total_unresolved, open_, in_progress, unread = (int(v or 0) for v in row)
    count = unread or total_unresolved
    if staff:
        return {"success": True, "total_tickets": total, "open_tickets": open_,
                "in_progress_tickets": in_progress, "unread_count": unread, "count": count}
    return {"success": True, "total_unresolved": total_unresolved, "unread_count": unread,
            "count": count}
