"""Who may see and act on which ticket: the one access policy every surface and
every socket-room join uses."""
from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Ticket, TicketParticipant
from ..security import roles
from .actor import Actor


def visible_clause(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting exactly the tickets this actor may see."""
    if actor.can(roles.VIEW_ALL):
        return true()
    clauses = []
    if actor.can(roles.WORK) and actor.is_approved_agent and actor.user_id is not None:
        clauses.append(
            or_(Ticket.assigned_to_id == actor.user_id, Ticket.assigned_to_id.is_(None))
        )
    if actor.customer_id is not None:
        # Own tickets and those they take part in, as one id set: each half is an index
        # lookup. Written as `customer_id = X OR EXISTS (...)` the OR made every
        # customer's count and list scan the whole tickets table.
        owned = aliased(Ticket)  # not correlated with the outer query's tickets
        clauses.append(Ticket.id.in_(
            select(owned.id).where(owned.customer_id == actor.customer_id).union(
                select(TicketParticipant.ticket_id)
                .where(TicketParticipant.customer_id == actor.customer_id))
        ))
    return or_(*clauses) if clauses else false()


def is_participant(actor: Actor, ticket: Ticket) -> bool:
    if actor.customer_id is None:
        return False
    return db.session.scalar(
        select(TicketParticipant.ticket_id).where(
            TicketParticipant.ticket_id == ticket.id,
            TicketParticipant.customer_id == actor.customer_id,
        )
    ) is not None


def is_owner(actor: Actor, ticket: Ticket) -> bool:
    return actor.customer_id is not None and ticket.customer_id == actor.customer_id


def can_view(actor: Actor, ticket: Ticket) -> bool:
    if actor.can(roles.VIEW_ALL):
        return True
    if actor.can(roles.WORK) and actor.is_approved_agent and (
        ticket.assigned_to_id is None or ticket.assigned_to_id == actor.user_id
    ):
        return True
    return is_owner(actor, ticket) or is_participant(actor, ticket)


def can_work(actor: Actor, ticket: Ticket) -> bool:
    """May act on it as staff: status, priority, replies as the desk, notes."""
    if actor.can(roles.MANAGE):
        return True
    return (
        actor.can(roles.WORK)
        and actor.is_approved_agent
        and actor.user_id is not None
        and ticket.assigned_to_id == actor.user_id
    )


def can_see_internal_notes(actor: Actor, ticket: Ticket) -> bool:
    """Assigned agent and desk staff only; never a customer."""
    return actor.is_staff and (actor.can(roles.MANAGE) or can_work(actor, ticket))
