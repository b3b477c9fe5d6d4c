"""Who listens where. Every room maps to one rule of `tickets.policy`:

| room | members | receives |
|---|---|---|
| `user:{id}` | every connection of that user | their notifications, badge counts, their tickets' events |
| `staff` | sees the unassigned queue (VIEW_ALL, or WORK and approved) | events of unassigned tickets (new tickets) |
| `staff:all` | sees every ticket (VIEW_ALL) | events of every ticket, desk badge counts |
| `staff:notes` | may read every ticket's internal notes (MANAGE) | internal notes |
| `ticket:{id}` | joined by `subscribe`, after `policy.can_view` | that ticket's public events |
| `ticket:{id}:staff` | joined by `subscribe` when `policy.can_see_internal_notes` | that ticket's internal notes |

Connection rooms are fixed for the life of a connection: a user whose activity, role
or agent approval changes is disconnected (see `connection`), and reconnects into
the rooms their new permissions give. Ticket rooms are emptied when the ticket is
reassigned, so subscribers re-subscribe and the policy is checked again.
"""
from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import gettext as _
from flask_socketio import join_room, leave_room
from sqlalchemy import select

from ..api.ids import parse_id
from ..extensions import db
from ..models import Ticket
from ..security import roles
from ..tickets import policy
from ..tickets.actor import Actor
from ..tickets.events import TicketSnapshot
from ..tickets.queries import resolves_to, survivor_id

STAFF = "staff"
STAFF_ALL = "staff:all"
STAFF_NOTES = "staff:notes"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def ticket_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def ticket_staff_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}:staff"


def connection_rooms(actor: Actor) -> list[str]:
    """The rooms a connection joins at connect, from the actor's permissions."""
    rooms = [user_room(actor.user_id)] if actor.user_id is not None else []
    if actor.can(roles.VIEW_ALL) or (actor.can(roles.WORK) and actor.is_approved_agent):
        rooms.append(STAFF)
    if actor.can(roles.VIEW_ALL):
        rooms.append(STAFF_ALL)
    if actor.can(roles.MANAGE):
        rooms.append(STAFF_NOTES)
    return rooms


def ticket_audience(ticket: TicketSnapshot, *extra_user_ids: int | None) -> list[str]:
    """Everyone who may see this ticket's public events (never more): staff only while
    the ticket is unverified."""
    rooms = [ticket_room(ticket.id), STAFF_ALL]
    users = {ticket.assigned_to_id, *extra_user_ids}
    if not ticket.unverified:
        users |= {ticket.customer_user_id, *ticket.participant_user_ids}
    rooms += [user_room(uid) for uid in users if uid is not None]
    if ticket.assigned_to_id is None:
        rooms.append(STAFF)
    return rooms


def alert_audience(ticket: TicketSnapshot) -> list[str]:
    """SLA warnings and breaches: the assigned agent and staff who see every ticket,
    never the customer side."""
    rooms = [STAFF_ALL]
    if ticket.assigned_to_id is not None:
        rooms.append(user_room(ticket.assigned_to_id))
    return rooms


def staff_audience(ticket: TicketSnapshot) -> list[str]:
    """Who may read this ticket's internal notes: never a customer's room."""
    rooms = [ticket_staff_room(ticket.id), STAFF_NOTES]
    if ticket.assigned_to_id is not None:
        rooms.append(user_room(ticket.assigned_to_id))
    return rooms


def _ticket_id(data: Any) -> int | None:
    return parse_id(data.get("ticketId")) if isinstance(data, dict) else None


def subscribe(actor: Actor, data: Any) -> dict[str, Any]:
    """Join a ticket's room after checking the access policy, every time."""
    ticket_id = _ticket_id(data)
    if ticket_id is None:
        return {"ok": False, "code": "INVALID_REQUEST",
                "error": _("ticketId must be a positive integer")}
    # A merged ticket's id joins the ticket it was merged into.
    ticket = db.session.scalar(select(Ticket).where(resolves_to(ticket_id)))
    if ticket is None:
        return {"ok": False, "code": "TICKET_NOT_FOUND", "error": _("Ticket not found")}
    if not policy.can_view(actor, ticket):
        return {"ok": False, "code": "FORBIDDEN", "error": _("Unauthorized access to this ticket")}
    join_room(ticket_room(ticket.id))
    internal = policy.can_see_internal_notes(actor, ticket)
    if internal:
        join_room(ticket_staff_room(ticket.id))
    return {"ok": True, "ticketId": ticket.id, "internalNotes": internal}


def unsubscribe(data: Any) -> dict[str, Any]:
    ticket_id = _ticket_id(data)
    if ticket_id is None:
        return {"ok": False, "code": "INVALID_REQUEST",
                "error": _("ticketId must be a positive integer")}
    # A merged ticket's id leaves the ticket its subscribe joined.
    ticket_id = survivor_id(ticket_id)
    leave_room(ticket_room(ticket_id), sid=request.sid)
    leave_room(ticket_staff_room(ticket_id), sid=request.sid)
    return {"ok": True, "ticketId": ticket_id}
