"""Munch (food delivery) support, seed 001: order tickets, tracking, escalation.

Base `/api/customer/munch/support`. Success is {"status": "success", "data": ...},
errors {"status": "error", "code", "message"} with the seed's codes and statuses.
Another customer's ticket or order is reported exactly like a missing one.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from marshmallow import Schema, fields

from ..models import Ticket
from ..security import roles
from ..tickets import errors as domain
from ..tickets import service
from ..tickets.actor import Actor
from .customer_apps import (
    Refusal,
    accept_any_ticket_id,
    document_ticket_id,
    customer_only,
    documented,
    id_field,
    iso,
    status_error_surface,
    subject_from,
    upper,
    visible_ticket,
)
from .errors import register_surface
from .openapi import Blueprint
from .schemas import attachments_field

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
accept_any_ticket_id(blp)


class MunchCreateTicketSchema(Schema):
    orderId = id_field(required=True)
    issueType = fields.String(required=True, metadata={"enum": list(ISSUE_CATEGORIES)})
    description = fields.String(
        required=True, metadata={"minLength": MIN_DESCRIPTION, "maxLength": MAX_DESCRIPTION}
    )
    attachments = attachments_field()


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


TICKET_NOT_FOUND = "TICKET_NOT_FOUND"
SURFACE = status_error_surface(
    "munch", PREFIX,
    invalid=("INVALID_REQUEST", _l("Invalid request parameters")),
    not_found_codes={"ticket": TICKET_NOT_FOUND, "order": "ORDER_NOT_FOUND",
                     "customer": "CUSTOMER_NOT_FOUND"},
    refusal_codes={domain.AlreadyEscalated: "TICKET_ALREADY_ESCALATED",
                   domain.CannotEscalate: "CANNOT_ESCALATE_TICKET"},
    fallback_code="INVALID_REQUEST",
)


def register(api: Api) -> None:
    register_surface(SURFACE)
    document_ticket_id(api)
    api.register_blueprint(blp)


def _state(ticket: Ticket) -> dict[str, Any]:
    return {"ticketId": ticket.id, "ticketNumber": ticket.number, "status": upper(ticket.status)}


@blp.route("/ticket", methods=["POST"])
@documented(blp, MunchStateEnvelope, {400: ("INVALID_REQUEST", "INVALID_ISSUE_TYPE"),
                                       404: ("ORDER_NOT_FOUND",)})
@customer_only(roles.CREATE)
@blp.arguments(MunchCreateTicketSchema, error_status_code=400)
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
        attachments=data.get("attachments"),
    )
    return {"status": "success", "data": _state(outcome.ticket)}


@blp.route("/ticket/<ticket_id:ticket_id>/status", methods=["GET"])
@documented(blp, MunchStatusEnvelope, {404: (TICKET_NOT_FOUND,)})
@customer_only(roles.TRACK)
def ticket_status(ticket_id: int | None, *, actor: Actor) -> dict[str, Any]:
    """Where a ticket stands: status, priority, the order it is about, the resolution."""
    ticket = visible_ticket(actor, ticket_id, TICKET_NOT_FOUND)
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
@documented(blp, MunchStateEnvelope, {
    400: ("INVALID_REQUEST", "TICKET_ALREADY_ESCALATED", "CANNOT_ESCALATE_TICKET"),
    404: (TICKET_NOT_FOUND,),
})
@customer_only(roles.ESCALATE)
@blp.arguments(MunchEscalateSchema, error_status_code=400)
def escalate_ticket(data: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
    """Escalate an unresolved ticket (once; priority goes up one step)."""
    ticket = visible_ticket(actor, data["ticketId"], TICKET_NOT_FOUND)
    outcome = service.escalate(actor, ticket.id, origin=ORIGIN)
    return {"status": "success", "data": _state(outcome.ticket)}
