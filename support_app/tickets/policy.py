"""Who may see and act on which ticket: the one access policy every surface and
every socket-room join uses."""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import ColumnElement, and_, bindparam, false, or_, select, true
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Ticket, TicketParticipant
from ..security import roles
from .actor import Actor


# Which visibility rules apply to an actor: every ticket, or any of the agent's rule
# (theirs and the unassigned pool) and the customer's (their own and shared ones).
View = tuple[bool, bool, bool]


def view_of(actor: Actor) -> tuple[View, dict[str, int | None]]:
    """The actor's visibility rules and the values they compare with, as the bound
    parameters of `visible_template`."""
    if actor.can(roles.VIEW_ALL):
        return (True, False, False), {}
    agent = actor.can(roles.WORK) and actor.is_approved_agent and actor.user_id is not None
    customer = actor.customer_id is not None
    values: dict[str, int | None] = {"viewer_user_id": actor.user_id} if agent else {}
    if customer:
        values["viewer_customer_id"] = actor.customer_id
    return (False, agent, customer), values


@lru_cache(maxsize=8)
def visible_template(view: View) -> ColumnElement[bool]:
    """The visibility WHERE clause for `view`, its values left as bound parameters
    (`viewer_user_id`, `viewer_customer_id`), so a statement built on it once serves
    every actor with the same view."""
    everything, agent, customer = view
    if everything:
        return true()
    clauses = []
    if agent:
        clauses.append(or_(Ticket.assigned_to_id == bindparam("viewer_user_id"),
                           Ticket.assigned_to_id.is_(None)))
    if customer:
        # Own tickets and those they take part in, as one id set: each half is an index
        # lookup. Written as `customer_id = X OR EXISTS (...)` the OR made every
        # customer's count and list scan the whole tickets table.
        # An unverified ticket (`tickets.verification`) is for staff only.
        owned = aliased(Ticket)  # not correlated with the outer query's tickets
        clauses.append(and_(Ticket.id.in_(
            select(owned.id).where(owned.customer_id == bindparam("viewer_customer_id")).union(
                select(TicketParticipant.ticket_id)
                .where(TicketParticipant.customer_id == bindparam("viewer_customer_id")))
        ), Ticket.unverified_reason.is_(None)))
    return or_(*clauses) if clauses else false()


def visible_clause(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting exactly the tickets this actor may see."""
    view, values = view_of(actor)
    clause = visible_template(view)
    return clause.params(values) if values else clause


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
    if ticket.unverified_reason is not None:  # nobody has shown the customer wrote it
        return False
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
