"""GET /api/tickets/{id}/sla: a ticket's SLA targets for staff (our own surface, not
a seed's). Errors use the default {"success": false, "message"} format.

Staff who may see the ticket (desk staff, its assigned agent, approved agents for
the unassigned pool) get it; customers, even the ticket's owner, get 403: due times
and breaches are the desk's internal business.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from ..extensions import db
from ..models import TARGET_STATES, TARGETS, Ticket, utcnow
from ..security.current import require_actor
from ..tickets import service, sla
from ..tickets.errors import Forbidden
from ..tickets.queries import visible_tickets
from .errors import Surface, register_surface
from .ids import MAX_ID
from .openapi import Blueprint
from .schemas import DefaultErrorSchema

blp = Blueprint("SLA", __name__, url_prefix="/api/tickets",
                description="A ticket's SLA targets, due times and business time left (staff)")
SECURITY = [{"bearerAuth": []}]


class UtcDateTime(fields.Field):
    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.isoformat(timespec="seconds") + "Z"


class TargetSchema(Schema):
    target = fields.String(metadata={"enum": list(TARGETS)})
    due_at = UtcDateTime(allow_none=True)
    state = fields.String(metadata={"enum": list(TARGET_STATES)})
    breached = fields.Boolean(metadata={"description": "Past due at any time, even if met since"})
    business_minutes_left = fields.Integer(
        allow_none=True, metadata={"description": "Negative when overdue; null once met"})


class PolicySchema(Schema):
    id = fields.Integer()
    name = fields.String()


class TicketSlaSchema(Schema):
    ticket_id = fields.Integer()
    policy = fields.Nested(PolicySchema, allow_none=True)
    paused_since = UtcDateTime(allow_none=True)
    targets = fields.List(fields.Nested(TargetSchema))


class ResponseSchema(Schema):
    success = fields.Boolean()
    data = fields.Nested(TicketSlaSchema)


# Ids past the integer key range do not route (404): no such ticket can exist.
@blp.route(f"/<int(max={MAX_ID}):ticket_id>/sla", methods=["GET"])
@blp.response(200, ResponseSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(403, schema=DefaultErrorSchema, description="Not staff, or not their ticket")
@blp.alt_response(404, schema=DefaultErrorSchema, description="No such ticket")
@blp.doc(security=SECURITY)
def ticket_sla(ticket_id: int) -> dict[str, Any]:
    """The ticket's policy and, per target that applies, its due time, state now and
    the business minutes left (the clock stands still while paused)."""
    actor = require_actor(allow_session=True)
    if not actor.is_staff:
        raise Forbidden(_("Unauthorized access to this ticket"))
    ticket = service.get_ticket(actor, ticket_id)
    policy = sla.policy_of(ticket)
    return {"success": True, "data": {
        "ticket_id": ticket.id,
        "policy": policy and {"id": policy.id, "name": policy.name},
        "paused_since": ticket.sla_paused_at,
        "targets": sla.view(ticket, utcnow()),
    }}


LIST_STATES = ("at_risk", "breached")
LIST_LIMIT = 100


class SlaListArgs(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf(LIST_STATES),
                          metadata={"description": "Worst open SLA state; both when omitted"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=LIST_LIMIT))


class SlaListedTicketSchema(Schema):
    ticket_id = fields.Integer()
    number = fields.String()
    subject = fields.String()
    status = fields.String()
    priority = fields.String()
    assigned_to = fields.Integer(allow_none=True)
    sla_state = fields.String(metadata={"enum": list(LIST_STATES)})
    sla_due_at = UtcDateTime(allow_none=True)


class SlaListResponseSchema(Schema):
    success = fields.Boolean()
    data = fields.List(fields.Nested(SlaListedTicketSchema))


@blp.route("/sla", methods=["GET"])
@blp.arguments(SlaListArgs, location="query", error_status_code=400)
@blp.response(200, SlaListResponseSchema)
@blp.alt_response(400, schema=DefaultErrorSchema, description="Unknown state or bad limit")
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(403, schema=DefaultErrorSchema, description="Not staff")
@blp.doc(security=SECURITY)
def tickets_at_risk(args: dict[str, Any]) -> dict[str, Any]:
    """Tickets the caller may see whose worst open SLA target is at risk or breached,
    soonest due first (the `sla_state, sla_due_at` index)."""
    actor = require_actor(allow_session=True)
    if not actor.is_staff:
        raise Forbidden(_("Only support staff may list SLA states"))
    states = (args["state"],) if args["state"] else LIST_STATES
    rows = db.session.scalars(visible_tickets(actor).where(Ticket.sla_state.in_(states))
                              .order_by(Ticket.sla_due_at, Ticket.id).limit(args["limit"]))
    return {"success": True, "data": [{
        "ticket_id": t.id, "number": t.number, "subject": t.subject, "status": t.status,
        "priority": t.priority, "assigned_to": t.assigned_to_id, "sla_state": t.sla_state,
        "sla_due_at": t.sla_due_at} for t in rows]}


def register(api: Any) -> None:
    register_surface(Surface("sla", ("/api/tickets",)))
    api.register_blueprint(blp)
