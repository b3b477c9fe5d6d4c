"""Munch (food delivery) support, seed 001: order tickets, tracking, escalation.

Base `/api/customer/munch/support`. Success is {"status": "success", "data": ...},
errors {"status": "error", "code", "message"} with the seed's codes and statuses.
Another customer's ticket or order is reported exactly like a missing one.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields

from ..extensions import db
from ..models import Ticket
from ..security import roles
from ..tickets import errors as domain
from ..tickets import service
from ..tickets.actor import Actor
from ..tickets.queries import visible_tickets
from .customer_apps import (
    INVALID_REQUEST_MESSAGE,
    MAX_ID,
    SECURITY,
    Refusal,
    StatusErrorSchema,
    codes,
    customer_only,
    id_field,
    iso,
    status_error_renderer,
    subject_from,
    upper,
)
from .errors import FieldErrors, Surface, register_surface

PREFIX = "/api/customer/munch/support"
ORIGIN = "munch"
MIN_DESCRIPTION, MAX_DESCRIPTION = 10, 1000

# The seed names an issueType but not its values: these, onto the desk's categories.
ISSUE_CATEGORIES: dict[str, str] = {
    "ORDER_ISSUE": "order",
    "WRONG_ITEMS": "order",
    "MISSING_ITEMS": "order",
    "FOOD_QUALITY": "quality",
    "DELIVERY_ISSUE": "delivery",
    "LATE_DELIVERY": "late",
    "PAYMENT_ISSUE": "payment",
    "OTHER": "other",
}

blp = Blueprint(
    "munch", __name__, url_prefix=PREFIX,
    description="Munch food-order support (seed 001): open a ticket for an order, "
                "track it, escalate it. Customers only.",
)


class MunchCreateTicketSchema(Schema):
    orderId = id_field(required=True)
    issueType = fields.String(required=True, metadata={"enum": list(ISSUE_CATEGORIES)})
    description = fields.String(
        required=True, metadata={"minLength": MIN_DESCRIPTION, "maxLength": MAX_DESCRIPTION}
    )


class MunchEscalateSchema(Schema):
    ticketId = id_field(required=True)


class MunchTicketStateSchema(Schema):
    ticketId = fields.Integer()
    ticketNumber = fields.String()
    status = fields.String()


class MunchTicketStatusSchema(MunchTicketStateSchema):
    priority = fields.String()
    issueType = fields.String(allow_none=True)
    orderId = fields.Integer(allow_none=True)
    orderNumber = fields.String(allow_none=True)
    resolutionDetails = fields.String(allow_none=True)
    createdAt = fields.String()


class MunchStateEnvelope(Schema):
    status = fields.String(metadata={"enum": ["success"]})
    data = fields.Nested(MunchTicketStateSchema)


class MunchStatusEnvelope(Schema):
    status = fields.String(metadata={"enum": ["success"]})
    data = fields.Nested(MunchTicketStatusSchema)


NOT_FOUND_CODES = {
    "ticket": "TICKET_NOT_FOUND",
    "order": "ORDER_NOT_FOUND",
    "customer": "CUSTOMER_NOT_FOUND",
}


def domain_error(err: domain.DomainError) -> tuple[int, str, FieldErrors | None, str | None]:
    """The service's typed refusals as seed 001 names them."""
    if isinstance(err, Refusal):
        return err.status, err.message, None, err.code
    if isinstance(err, domain.NotFound):
        code = NOT_FOUND_CODES.get(err.resource, f"{err.resource.upper()}_NOT_FOUND")
        return 404, err.message, None, code
    if isinstance(err, domain.Forbidden):
        return 403, err.message, None, "PERMISSION_DENIED"
    if isinstance(err, domain.ValidationFailed):
        return 400, str(INVALID_REQUEST_MESSAGE), err.errors, "INVALID_REQUEST"
    if isinstance(err, domain.AlreadyEscalated):
        return 400, err.message, None, "TICKET_ALREADY_ESCALATED"
    if isinstance(err, domain.CannotEscalate):
        return 400, err.message, None, "CANNOT_ESCALATE_TICKET"
    return 400, err.message, None, "INVALID_REQUEST"


SURFACE = Surface(
    "munch",
    (PREFIX,),
    render=status_error_renderer({
        "BAD_REQUEST": ("INVALID_REQUEST", INVALID_REQUEST_MESSAGE),
        "INVALID_REQUEST": ("INVALID_REQUEST", INVALID_REQUEST_MESSAGE),
        "FORBIDDEN": ("PERMISSION_DENIED", _l("Forbidden")),
    }),
    validation_status=400,
    domain_error=domain_error,
    unauthorized_message=lambda: _("Unauthorized"),
)


def register(api: Api) -> None:
    register_surface(SURFACE)
    api.register_blueprint(blp)


def _visible_ticket(actor: Actor, ticket_id: int) -> Ticket:
    """The caller's own (or shared) ticket; anything else is TICKET_NOT_FOUND."""
    ticket = None
    if 1 <= ticket_id <= MAX_ID:
        ticket = db.session.scalar(visible_tickets(actor).where(Ticket.id == ticket_id))
    if ticket is None:
        raise Refusal(404, "TICKET_NOT_FOUND", _("Ticket not found"))
    return ticket


def _state(ticket: Ticket) -> dict[str, Any]:
    return {"ticketId": ticket.id, "ticketNumber": ticket.number, "status": upper(ticket.status)}


@blp.route("/ticket", methods=["POST"])
@blp.doc(security=SECURITY)
@customer_only(roles.CREATE)
@blp.arguments(MunchCreateTicketSchema, error_status_code=400)
@blp.response(200, MunchStateEnvelope)
@blp.alt_response(400, schema=StatusErrorSchema,
                  description=codes("INVALID_REQUEST", "INVALID_ISSUE_TYPE"))
@blp.alt_response(401, schema=StatusErrorSchema, description=codes("UNAUTHORIZED"))
@blp.alt_response(403, schema=StatusErrorSchema, description=codes("PERMISSION_DENIED"))
@blp.alt_response(404, schema=StatusErrorSchema,
                  description=codes("CUSTOMER_NOT_FOUND", "ORDER_NOT_FOUND"))
def create_ticket(data: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
    """Open a support ticket about one of the caller's orders."""
    issue_type = data["issueType"]
    if issue_type not in ISSUE_CATEGORIES:
        raise Refusal(400, "INVALID_ISSUE_TYPE", _("Invalid issue type"))
    outcome = service.open_ticket(
        actor,
        subject=subject_from(data["description"]) or issue_type,
        description=data["description"],
        category=ISSUE_CATEGORIES[issue_type],
        issue_type=issue_type,
        service_type="order",
        order_id=data["orderId"],
        origin=ORIGIN,
        min_description=MIN_DESCRIPTION,
        max_description=MAX_DESCRIPTION,
    )
    return {"status": "success", "data": _state(outcome.ticket)}


@blp.route("/ticket/<int(signed=True):ticket_id>/status", methods=["GET"])
@blp.doc(security=SECURITY)
@customer_only(roles.TRACK)
@blp.response(200, MunchStatusEnvelope)
@blp.alt_response(401, schema=StatusErrorSchema, description=codes("UNAUTHORIZED"))
@blp.alt_response(403, schema=StatusErrorSchema, description=codes("PERMISSION_DENIED"))
@blp.alt_response(404, schema=StatusErrorSchema,
                  description=codes("CUSTOMER_NOT_FOUND", "TICKET_NOT_FOUND"))
def ticket_status(ticket_id: int, *, actor: Actor) -> dict[str, Any]:
    """Where a ticket stands: status, priority, the order it is about, the resolution."""
    ticket = _visible_ticket(actor, ticket_id)
    order = ticket.order
    return {
        "status": "success",
        "data": {
            **_state(ticket),
            "priority": upper(ticket.priority),
            "issueType": ticket.issue_type,
            "orderId": ticket.order_id,
            "orderNumber": order.order_number if order else None,
            "resolutionDetails": ticket.resolution_details,
            "createdAt": iso(ticket.created_at),
        },
    }


@blp.route("/ticket/escalate", methods=["PUT"])
@blp.doc(security=SECURITY)
@customer_only(roles.ESCALATE)
@blp.arguments(MunchEscalateSchema, error_status_code=400)
@blp.response(200, MunchStateEnvelope)
@blp.alt_response(400, schema=StatusErrorSchema,
                  description=codes("INVALID_REQUEST", "TICKET_ALREADY_ESCALATED",
                                    "CANNOT_ESCALATE_TICKET"))
@blp.alt_response(401, schema=StatusErrorSchema, description=codes("UNAUTHORIZED"))
@blp.alt_response(403, schema=StatusErrorSchema, description=codes("PERMISSION_DENIED"))
@blp.alt_response(404, schema=StatusErrorSchema,
                  description=codes("CUSTOMER_NOT_FOUND", "TICKET_NOT_FOUND"))
def escalate_ticket(data: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
    """Escalate an unresolved ticket (once; priority goes up one step)."""
    ticket = _visible_ticket(actor, data["ticketId"])
    outcome = service.escalate(actor, ticket.id, origin=ORIGIN)
    return {"status": "success", "data": _state(outcome.ticket)}
