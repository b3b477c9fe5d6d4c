"""Read-side helpers shared by the surfaces (no writes here)."""
from __future__ import annotations

from sqlalchemy import Select, select

from ..models import Ticket
from .actor import Actor
from .policy import visible_clause


def visible_tickets(actor: Actor) -> Select[tuple[Ticket]]:
    """Tickets the actor may see, as a statement each surface narrows and pages."""
    return select(Ticket).where(visible_clause(actor))


def like_pattern(term: str) -> str:
    """A LIKE pattern that matches `term` literally (escape char is backslash)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
