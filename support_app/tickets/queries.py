"""Read-side helpers shared by the surfaces (no writes here)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Ticket
from .actor import Actor
from .policy import visible_clause


def visible_tickets(actor: Actor) -> Select[tuple[Ticket]]:
    """Tickets the actor may see, as a statement each surface narrows and pages."""
    return select(Ticket).where(visible_clause(actor))


def resolves_to(ticket_id: Any) -> ColumnElement[bool]:
    """`Ticket.id` is the ticket `ticket_id` (a value or a bound parameter) names:
    itself, or the ticket it was merged into (`tickets/merge.py`). Every lookup of a
    ticket by id goes through this, on every surface: one indexed sub-select in the
    same statement, no extra round trip."""
    old = aliased(Ticket)  # not correlated with the outer query's tickets
    return Ticket.id == (select(func.coalesce(old.merged_into_id, old.id))
                         .where(old.id == ticket_id).scalar_subquery())


def survivor_id(ticket_id: int) -> int:
    """The id a ticket id answers for: itself, or the ticket it was merged into (an
    unknown id stays as it is)."""
    return db.session.scalar(select(Ticket.id).where(resolves_to(ticket_id))) or ticket_id


def resolves_number(number: str) -> ColumnElement[bool]:
    """The same for a ticket number (inbound mail quoting a merged ticket's number)."""
    old = aliased(Ticket)
    return Ticket.id == (select(func.coalesce(old.merged_into_id, old.id))
                         .where(old.number == number).scalar_subquery())


def like_pattern(term: str) -> str:
    """A LIKE pattern that matches `term` literally (escape char is backslash)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
