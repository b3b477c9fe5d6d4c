"""Storefront support (seed 000), customer side: order-tracking tickets and the legacy routes.

The seed fixes paths and auth, not bodies, so this module defines the surface's
documented shapes, shared with the admin routes and the contact form:

* success: ``{"success": true, "data": ..., "message"?: ..., "pagination"?: ...}``
* error:   ``{"success": false, "message": ..., "code": ..., "errors"?: {field: [..]}}``

Fields are camelCase like the seed's path parameters (`customerId`, `ticketId`);
statuses and priorities use the stored spellings (`in_progress`, `high`).
Validation problems answer 400. The legacy POST opens tickets with
``notify=False``: subscribers send no email or notification for it.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import func, select

from ..attachments.store import public_urls
from ..extensions import db
from ..i18n import RANGE_BETWEEN
from ..models import PRIORITIES, STATUSES, Message, Ticket
from ..security.current import require_actor
from ..tickets import Actor, service
from ..tickets.queries import visible_tickets
from ..tickets.errors import Forbidden
from .errors import FieldErrors, Surface, register_surface
from .ids import ID_RANGE
from .openapi import Blueprint
from .schemas import attachments_field

# Categories a storefront customer picks from (the shop's list in the union).
STOREFRONT_CATEGORIES = ("order", "billing", "product", "technical", "account", "other",
                         "damaged", "lost", "late", "quality")
MAX_PER_PAGE = 100


def render_error(status: int, message: str, errors: FieldErrors | None, code: str | None) -> Any:
    body: dict[str, Any] = {"success": False, "message": message,
                            "code": (code or "error").upper()}
    if errors:
        body["errors"] = errors
    return body


def surface(name: str, *prefixes: str) -> Surface:
    """The 000 error format, registered for one module's prefixes."""
    return register_surface(Surface(name, prefixes, render=render_error, validation_status=400))


# --------------------------------------------------------------------------- schemas


class StorefrontErrorSchema(Schema):
    """Every 000 error: a translated message, a stable code, field errors when relevant."""

    success = fields.Boolean(required=True, metadata={"example": False})
    message = fields.String(required=True)
    code = fields.String(required=True, metadata={"example": "VALIDATION_FAILED"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class StorefrontPaginationSchema(Schema):
    page = fields.Integer(required=True)
    perPage = fields.Integer(required=True)
    total = fields.Integer(required=True)


class StorefrontPageArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1,
                          validate=validate.Range(min=1, max=100000, error=RANGE_BETWEEN))
    perPage = fields.Integer(load_default=20,
                             validate=validate.Range(min=1, max=MAX_PER_PAGE, error=RANGE_BETWEEN))


class StorefrontMessageSchema(Schema):
    id = fields.Integer(required=True)
    ticketId = fields.Integer(required=True)
    senderType = fields.String(required=True, validate=validate.OneOf(["customer", "admin"]))
    message = fields.String(required=True)
    channel = fields.String(required=True)
    isRead = fields.Boolean(required=True)
    createdAt = fields.String(required=True)
    attachments = fields.List(fields.String(), required=True, allow_none=True, metadata={
        "description": "URLs of the message's files (GET them with the token), or null"})


class StorefrontTicketSchema(Schema):
    """A ticket as its customer sees it (no internal notes, no staff-only fields)."""

    id = fields.Integer(required=True)
    ticketNumber = fields.String(required=True, metadata={"example": "TKT-1A2B3C4D5E6F7"})
    subject = fields.String(required=True)
    description = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    category = fields.String(required=True)
    channel = fields.String(required=True)
    orderId = fields.Integer(allow_none=True)
    orderNumber = fields.String(allow_none=True)
    messageCount = fields.Integer(required=True)
    isRead = fields.Boolean(required=True)
    resolutionDetails = fields.String(allow_none=True)
    createdAt = fields.String(required=True)
    updatedAt = fields.String(required=True)
    resolvedAt = fields.String(allow_none=True)
    closedAt = fields.String(allow_none=True)
    messages = fields.List(fields.Nested(StorefrontMessageSchema))


class StorefrontTicketListSchema(Schema):
    success = fields.Boolean(required=True)
    data = fields.List(fields.Nested(StorefrontTicketSchema), required=True)
    pagination = fields.Nested(StorefrontPaginationSchema, required=True)


class StorefrontTicketEnvelopeSchema(Schema):
    success = fields.Boolean(required=True)
    message = fields.String()
    data = fields.Nested(StorefrontTicketSchema, required=True)


class StorefrontReplyDataSchema(Schema):
    message = fields.Nested(StorefrontMessageSchema, required=True)
    ticket = fields.Nested(StorefrontTicketSchema, required=True)


class StorefrontReplyEnvelopeSchema(Schema):
    success = fields.Boolean(required=True)
    message = fields.String()
    data = fields.Nested(StorefrontReplyDataSchema, required=True)


class StorefrontCreateTicketSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    subject = fields.String(required=True, validate=validate.Length(min=1, max=service.MAX_SUBJECT))
    message = fields.String(required=True, validate=validate.Length(min=1, max=service.MAX_BODY),
                            metadata={"description": "The first message (ticket description)."})
    category = fields.String(load_default="other", validate=validate.OneOf(STOREFRONT_CATEGORIES))
    priority = fields.String(load_default="medium", validate=validate.OneOf(PRIORITIES))
    attachments = attachments_field()


class StorefrontCreateOrderTicketSchema(StorefrontCreateTicketSchema):
    orderId = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE,
                             metadata={"description": "One of the customer's own orders."})


class StorefrontReplySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    message = fields.String(required=True, validate=validate.Length(min=1, max=service.MAX_BODY))
    attachments = attachments_field()


# --------------------------------------------------------------------------- serializers


def iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def message_data(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "ticketId": message.ticket_id,
        "senderType": message.sender_type,
        "message": message.body,
        "channel": message.channel,
        "isRead": message.is_read,
        "createdAt": iso(message.created_at),
        "attachments": public_urls(message.attachments),
    }


def ticket_data(ticket: Ticket, *, customer_view: bool = True,
                messages: Iterable[Message] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": ticket.id,
        "ticketNumber": ticket.number,
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category,
        "channel": ticket.channel,
        "orderId": ticket.order_id,
        "orderNumber": ticket.order.order_number if ticket.order is not None else None,
        "messageCount": ticket.message_count,
        "isRead": ticket.is_customer_read if customer_view else ticket.is_admin_read,
        "resolutionDetails": ticket.resolution_details,
        "createdAt": iso(ticket.created_at),
        "updatedAt": iso(ticket.updated_at),
        "resolvedAt": iso(ticket.resolved_at),
        "closedAt": iso(ticket.closed_at),
    }
    if messages is not None:
        data["messages"] = [message_data(m) for m in messages]
    return data


def messages_by_ticket(ticket_ids: list[int]) -> dict[int, list[Message]]:
    """The customer-visible threads of a page of tickets, in one query."""
    grouped: dict[int, list[Message]] = {tid: [] for tid in ticket_ids}
    if ticket_ids:
        rows = db.session.scalars(
            select(Message).where(Message.ticket_id.in_(ticket_ids))
            .order_by(Message.created_at, Message.id)
        )
        for message in rows:
            grouped[message.ticket_id].append(message)
    return grouped


def page_of(stmt: Any, args: dict[str, Any]) -> tuple[list[Any], dict[str, int]]:
    page, per_page = args["page"], args["perPage"]
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return rows, {"page": page, "perPage": per_page, "total": total or 0}


# --------------------------------------------------------------------------- routes

blp = Blueprint(
    "Storefront support (000)", __name__,
    description="Customer order-tracking tickets and the legacy customer routes "
                "(bearer token of a customer account).",
)

CUSTOMER_ERRORS = (
    (400, _l("Invalid body")),
    (401, _l("No or invalid bearer token")),
    (403, _l("Not a customer account, or not the customer's ticket")),
)


def error_docs(on: Blueprint, security: list[dict[str, list[str]]],
               *errors: tuple[int, Any]) -> Callable[[Callable[..., Any]], Any]:
    """Declare a 000 route's security scheme and each error response it may give."""

    def wrap(view: Callable[..., Any]) -> Any:
        for status, description in errors:
            view = on.alt_response(status, schema=StorefrontErrorSchema,
                                   description=str(description))(view)
        return on.doc(security=security)(view)

    return wrap


def documented(*extra: tuple[int, Any]) -> Callable[[Callable[..., Any]], Any]:
    """Declare the bearer scheme and every error response of a customer route."""
    return error_docs(blp, [{"bearerAuth": []}], *CUSTOMER_ERRORS, *extra)


def customer_actor() -> Actor:
    """Bearer token only; the account must be a customer's."""
    actor = require_actor()
    if actor.customer_id is None:
        raise Forbidden(_("This endpoint is for customer accounts"))
    return actor


@blp.before_request
def _authenticate() -> None:
    """Who is calling is settled before the body is read: 401/403 before any 400."""
    customer_actor()


def _list_own(args: dict[str, Any]) -> dict[str, Any]:
    actor = customer_actor()
    stmt = (visible_tickets(actor).where(Ticket.customer_id == actor.customer_id)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc()))
    tickets, pagination = page_of(stmt, args)
    threads = messages_by_ticket([t.id for t in tickets])
    return {"success": True, "data": [ticket_data(t, messages=threads[t.id]) for t in tickets],
            "pagination": pagination}


def _open(data: dict[str, Any], *, order_id: int | None, notify: bool, origin: str) -> dict:
    actor = customer_actor()
    category = data["category"]
    if order_id is not None and category == "other":
        category = "order"
    outcome = service.open_ticket(
        actor, subject=data["subject"], description=data["message"],
        priority=data["priority"], category=category, order_id=order_id,
        channel="api", origin=origin, notify=notify, attachments=data.get("attachments"),
    )
    ticket = outcome.ticket
    # Files open the thread with a message of their own (`service.open_ticket`).
    opening = messages_by_ticket([ticket.id])[ticket.id] if ticket.message_count else []
    return {"success": True, "message": _("Support ticket created successfully"),
            "data": ticket_data(ticket, messages=opening)}


@blp.route("/api/customer/orders/support", methods=["GET"])
@blp.arguments(StorefrontPageArgsSchema, location="query")
@blp.response(200, StorefrontTicketListSchema)
@documented()
def list_order_tickets(args: dict[str, Any]) -> dict[str, Any]:
    """List the customer's support tickets, newest first, each with its thread."""
    return _list_own(args)


@blp.route("/api/customer/orders/support", methods=["POST"])
@blp.arguments(StorefrontCreateOrderTicketSchema)
@blp.response(201, StorefrontTicketEnvelopeSchema)
@documented((404, _l("Order not found (or another customer's)")))
def create_order_ticket(data: dict[str, Any]) -> dict[str, Any]:
    """Open a ticket, optionally about one of the customer's orders; the customer gets
    the confirmation email and staff the realtime notification."""
    return _open(data, order_id=data.get("orderId"), notify=True, origin="storefront")


@blp.route("/api/customer/orders/support/<int:id>/reply", methods=["POST"])
@blp.arguments(StorefrontReplySchema)
@blp.response(201, StorefrontReplyEnvelopeSchema)
@documented((404, _l("Ticket not found")))
def reply(data: dict[str, Any], id: int) -> dict[str, Any]:  # noqa: A002 (seed's :id)
    """Add the customer's reply; a resolved or closed ticket reopens."""
    actor = customer_actor()
    message = service.add_message(actor, id, data["message"], origin="storefront",
                                  attachments=data.get("attachments"))
    ticket = db.session.get(Ticket, message.ticket_id)  # a merged ticket's: the survivor
    return {"success": True, "message": _("Reply sent"),
            "data": {"message": message_data(message), "ticket": ticket_data(ticket)}}


@blp.route("/api/customer/support", methods=["POST"])
@blp.arguments(StorefrontCreateTicketSchema)
@blp.response(201, StorefrontTicketEnvelopeSchema)
@documented()
def legacy_create(data: dict[str, Any]) -> dict[str, Any]:
    """Legacy: open a ticket WITHOUT notifications (no email, no realtime push); the
    event carries ``notify: false`` and every subscriber honours it."""
    return _open(data, order_id=None, notify=False, origin="storefront-legacy")


@blp.route("/api/customer/support", methods=["GET"])
@blp.arguments(StorefrontPageArgsSchema, location="query")
@blp.response(200, StorefrontTicketListSchema)
@documented()
def legacy_list(args: dict[str, Any]) -> dict[str, Any]:
    """Legacy: the customer's tickets (same shape as the order-tracking list)."""
    return _list_own(args)


def register(api: Api) -> None:
    surface("storefront", "/api/customer/orders/support", "/api/customer/support")
    api.register_blueprint(blp)

