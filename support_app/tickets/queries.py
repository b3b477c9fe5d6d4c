"""Read-side helpers shared by the surfaces (no writes here)."""
from __future__ import annotations

from sqlalchemy import Select, case, func, select

from ..extensions import db
from ..models import Ticket
from .actor import Actor
from .lifecycle import IN_PROGRESS, OPEN, UNRESOLVED
from .policy import visible_clause


def visible_tickets(actor: Actor) -> Select[tuple[Ticket]]:
    """Tickets the actor may see, as a statement each surface narrows and pages."""
    return select(Ticket).where(visible_clause(actor))


def like_pattern(term: str) -> str:
    """A LIKE pattern that matches `term` literally (escape char is backslash)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def staff_navbar_counts(actor: Actor) -> dict[str, int]:
    """The 002 staff navbar badge (`count` = unread tickets) over what the actor sees,
    plus `unassigned_tickets`, in one aggregate query."""
    def tally(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        select(
            func.count(Ticket.id),
            tally(Ticket.status == OPEN),
            tally(Ticket.status == IN_PROGRESS),
            tally(Ticket.is_admin_read.is_(False)),
            tally(Ticket.assigned_to_id.is_(None) & Ticket.status.in_(sorted(UNRESOLVED))),
        ).where(visible_clause(actor))
    ).one()
    total, open_, in_progress, unread, unassigned = (int(v or 0) for v in row)
    return {
        "total_tickets": total,
        "open_tickets": open_,
        "in_progress_tickets": in_progress,
        "unread_count": unread,
        "unassigned_tickets": unassigned,
        "count": unread,
    }
