"""Mtxi multi-service support, seed 004: ride, order and booking tickets with group
members, tracking, escalation, closing and gamification points.

Base `/api/customer/mtxi/support`. Success is {"status": "success", "message", "data"};
errors {"status": "error", "code", "message"}. HTTP statuses for the seed's codes:
400 INVALID_SERVICE_TYPE, INVALID_ISSUE_TYPE, INVALID_TICKET (also any malformed
body or ticket id), SUPPORT_TICKET_NOT_ESCALATABLE, SUPPORT_TICKET_FAILED (close
refused); 404 CUSTOMER_NOT_FOUND, RIDE_NOT_FOUND, ORDER_FAILED, BOOKING_FAILED,
SUPPORT_TICKET_NOT_FOUND; 401 UNAUTHORIZED; 403 PERMISSION_DENIED.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from marshmallow import Schema, fields, validate

from ..models import Booking, Order, Ride
from ..security import roles
from ..tickets import errors as domain
from ..tickets import service
from ..tickets.actor import Actor
from .customer_apps import (
    MAX_ID,
    Refusal,
    accept_any_ticket_id,
    customer_only,
    document_ticket_id,
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

PREFIX = "/api/customer/mtxi/support"
ORIGIN = "mtxi"
MAX_DESCRIPTION = service.MAX_BODY  # the seed sets no limit; the 10-1000 rule is 001's
MAX_GROUP = 20

# serviceType -> the one reference field it requires.
SERVICE_REFERENCES: dict[str, str] = {
    "ride": "rideId",
    "order": "orderId",
    "in_dining_order": "orderId",
    "booking": "bookingId",
    "event_service": "bookingId",
}
REFERENCE_FIELDS = ("rideId", "orderId", "bookingId")
ISSUE_CATEGORIES: dict[str, str] = {
    "PAYMENT_ISSUE": "payment",
    "SERVICE_QUALITY": "service_quality",
    "CANCELLATION": "cancellation",
    "DELIVERY_ISSUE": "delivery",
    "BOOKING_ISSUE": "booking",
    "OTHER": "other",
}
INVALID_TICKET_MESSAGE = _l("Invalid ticket reference or configuration")

blp = Blueprint(
    "mtxi", __name__, url_prefix=PREFIX,
    description="Mtxi support for rides, orders and bookings (seed 004): create with group "
                "members, track, escalate, close; gamification points. Customers only.",
)
accept_any_ticket_id(blp)


class MtxiCreateTicketSchema(Schema):
    serviceType = fields.String(required=True, metadata={"enum": list(SERVICE_REFERENCES)})
    issueType = fields.String(required=True, metadata={"enum": list(ISSUE_CATEGORIES)})
    description = fields.String(required=True, metadata={"maxLength": MAX_DESCRIPTION})
    rideId = id_field(load_default=None, allow_none=True)
    orderId = id_field(load_default=None, allow_none=True)
    bookingId = id_field(load_default=None, allow_none=True)
    groupCustomerIds = fields.List(id_field(), load_default=list,
                                   validate=validate.Length(max=MAX_GROUP))
    attachments = attachments_field()


class MtxiTicketIdSchema(Schema):
    ticketId = id_field(required=True)


class MtxiOutcomeSchema(Schema):
    ticketId = fields.Integer()
    gamificationError = fields.String(allow_none=True)


class MtxiOutcomeEnvelope(Schema):
    status = fields.String(metadata={"enum": ["success"]})
    message = fields.String()
    data = fields.Nested(MtxiOutcomeSchema)


class MtxiRideSchema(Schema):
    id = fields.Integer()
    pickupLocation = fields.String()
    dropoffLocation = fields.String()


class MtxiOrderSchema(Schema):
    id = fields.Integer()
    orderNumber = fields.String()
    status = fields.String()


class MtxiBookingSchema(Schema):
    id = fields.Integer()
    venue = fields.String()
    bookedFor = fields.String(allow_none=True)
    partySize = fields.Integer(allow_none=True)
    status = fields.String()


class MtxiTicketStatusSchema(Schema):
    ticketId = fields.Integer()
    serviceType = fields.String(allow_none=True)
    issueType = fields.String(allow_none=True)
    status = fields.String()
    description = fields.String()
    updatedAt = fields.String()
    ride = fields.Nested(MtxiRideSchema, allow_none=True)
    order = fields.Nested(MtxiOrderSchema, allow_none=True)
    booking = fields.Nested(MtxiBookingSchema, allow_none=True)


class MtxiStatusEnvelope(Schema):
    status = fields.String(metadata={"enum": ["success"]})
    message = fields.String()
    data = fields.Nested(MtxiTicketStatusSchema)


TICKET_NOT_FOUND = "SUPPORT_TICKET_NOT_FOUND"
NOT_ESCALATABLE = "SUPPORT_TICKET_NOT_ESCALATABLE"
SURFACE = status_error_surface(
    "mtxi", PREFIX,
    invalid=("INVALID_TICKET", INVALID_TICKET_MESSAGE),
    not_found_codes={"ticket": TICKET_NOT_FOUND, "ride": "RIDE_NOT_FOUND",
                     "order": "ORDER_FAILED", "booking": "BOOKING_FAILED",
                     "customer": "CUSTOMER_NOT_FOUND"},
    refusal_codes={domain.AlreadyEscalated: NOT_ESCALATABLE,
                   domain.CannotEscalate: NOT_ESCALATABLE},
    fallback_code="SUPPORT_TICKET_FAILED",
)


def register(api: Api) -> None:
    register_surface(SURFACE)
    document_ticket_id(api)
    api.register_blueprint(blp)


def _outcome(message: str, outcome: service.Outcome) -> dict[str, Any]:
    return {
        "status": "success",
        "message": message,
        "data": {"ticketId": outcome.ticket.id,
                 "gamificationError": outcome.gamification_error},
    }


def _check_reference(data: dict[str, Any]) -> None:
    """serviceType and issueType from the seed's lists; exactly the matching id."""
    service_type = data["serviceType"]
    if service_type not in SERVICE_REFERENCES:
        raise Refusal(400, "INVALID_SERVICE_TYPE", _("Invalid service type"))
    if data["issueType"] not in ISSUE_CATEGORIES:
        raise Refusal(400, "INVALID_ISSUE_TYPE", _("Invalid issue type"))
    wanted = SERVICE_REFERENCES[service_type]
    given = [name for name in REFERENCE_FIELDS if data.get(name) is not None]
    if given != [wanted]:
        raise Refusal(400, "INVALID_TICKET", _(
            "A %(service)s ticket needs %(field)s and no other reference",
            service=service_type, field=wanted,
        ))


@blp.route("/", methods=["POST"], strict_slashes=False)
@documented(blp, MtxiOutcomeEnvelope, {
    400: ("INVALID_SERVICE_TYPE", "INVALID_ISSUE_TYPE", "INVALID_TICKET"),
    404: ("RIDE_NOT_FOUND", "ORDER_FAILED", "BOOKING_FAILED"),
})
@customer_only(roles.CREATE)
@blp.arguments(MtxiCreateTicketSchema, error_status_code=400)
def create_ticket(data: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
    """Open a ticket about a ride, order or booking; group members may track it.

    Awards 10 points and 0.20 credit (support_interaction) within the daily cap."""
    _check_reference(data)
    outcome = service.open_ticket(
        actor,
        subject=subject_from(data["description"]) or data["issueType"],
        description=data["description"],
        category=ISSUE_CATEGORIES[data["issueType"]],
        issue_type=data["issueType"],
        service_type=data["serviceType"],
        ride_id=data["rideId"],
        order_id=data["orderId"],
        booking_id=data["bookingId"],
        participant_customer_ids=data["groupCustomerIds"],
        award_points=True,
        origin=ORIGIN,
        max_description=MAX_DESCRIPTION,
        attachments=data.get("attachments"),
    )
    return _outcome(_("Support ticket created"), outcome)


def _ride(ride: Ride | None) -> dict[str, Any] | None:
    if ride is None:
        return None
    return {"id": ride.id, "pickupLocation": ride.pickup_location,
            "dropoffLocation": ride.dropoff_location}


def _order(order: Order | None) -> dict[str, Any] | None:
    if order is None:
        return None
    return {"id": order.id, "orderNumber": order.order_number, "status": upper(order.status)}


def _booking(booking: Booking | None) -> dict[str, Any] | None:
    if booking is None:
        return None
    return {"id": booking.id, "venue": booking.venue, "bookedFor": iso(booking.booked_for),
            "partySize": booking.party_size, "status": upper(booking.status)}


@blp.route("/<ticket_id:ticket_id>", methods=["GET"])
@documented(blp, MtxiStatusEnvelope, {400: ("INVALID_TICKET",), 404: (TICKET_NOT_FOUND,)})
@customer_only(roles.TRACK)
def track_ticket(ticket_id: int | None, *, actor: Actor) -> dict[str, Any]:
    """Status and details of a ticket the caller opened or is a group member of."""
    if ticket_id is None or not 1 <= ticket_id <= MAX_ID:
        raise Refusal(400, "INVALID_TICKET", _("Invalid ticket ID"))
    ticket = visible_ticket(actor, ticket_id, TICKET_NOT_FOUND)
    return {
        "status": "success",
        "message": _("Ticket status retrieved"),
        "data": {
            "ticketId": ticket.id,
            "serviceType": ticket.service_type,
            "issueType": ticket.issue_type,
            "status": upper(ticket.status),
            "description": ticket.description,
            "updatedAt": iso(ticket.updated_at),
            "ride": _ride(ticket.ride),
            "order": _order(ticket.order),
            "booking": _booking(ticket.booking),
        },
    }


@blp.route("/escalate", methods=["POST"])
@documented(blp, MtxiOutcomeEnvelope, {400: ("INVALID_TICKET", NOT_ESCALATABLE),
                                        404: (TICKET_NOT_FOUND,)})
@customer_only(roles.ESCALATE)
@blp.arguments(MtxiTicketIdSchema, error_status_code=400)
def escalate_ticket(data: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
    """Escalate an unresolved ticket (its owner, once). Awards support_interaction points."""
    ticket = visible_ticket(actor, data["ticketId"], TICKET_NOT_FOUND)
    outcome = service.escalate(actor, ticket.id, origin=ORIGIN, award_points=True)
    return _outcome(_("Ticket escalated"), outcome)


@blp.route("/close", methods=["POST"])
@documented(blp, MtxiOutcomeEnvelope, {400: ("INVALID_TICKET", "SUPPORT_TICKET_FAILED"),
                                        404: (TICKET_NOT_FOUND,)})
@customer_only(roles.CLOSE)
@blp.arguments(MtxiTicketIdSchema, error_status_code=400)
def close_ticket(data: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
    """Close a resolved ticket (its owner). Awards ticket_closure points."""
    ticket = visible_ticket(actor, data["ticketId"], TICKET_NOT_FOUND)
    outcome = service.close_ticket(actor, ticket.id, origin=ORIGIN, award_points=True)
    return _outcome(_("Ticket closed"), outcome)
