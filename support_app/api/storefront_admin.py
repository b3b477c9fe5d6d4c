"""Storefront support (seed 000), admin side: the dashboard's JSON routes.

Authenticated by the dashboard's session cookie ONLY (a bearer token is refused, so a
leaked API token cannot drive the admin API) for users holding the `support_admin`
permission. Being cookie-authenticated, every state-changing call needs the Flask-WTF
CSRF token in `X-CSRFToken` (from `GET /api/admin/csrf-token`). Shapes follow the 000
envelope documented in `storefront.py`.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from flask_wtf.csrf import generate_csrf
from marshmallow import EXCLUDE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError
from sqlalchemy import func, or_, select

from ..admin import permissions as screens
from ..extensions import db
from ..models import (
    CATEGORIES,
    PRIORITIES,
    STATUSES,
    Customer,
    EmailLog,
    InternalNote,
    Message,
    Order,
    Ticket,
)
from ..security import roles
from ..security.current import AuthError, require_actor
from ..tickets import Actor, service
from ..tickets.errors import Forbidden, NotFound, ValidationFailed
from ..tickets.queries import like_pattern, resolves_to
from .ids import ID_RANGE
from .openapi import Blueprint
from .schemas import unverified_sender
from .storefront import (
    StorefrontPageArgsSchema,
    StorefrontPaginationSchema,
    StorefrontTicketSchema,
    error_docs,
    iso,
    message_data,
    page_of,
    surface,
    ticket_data,
)

SEARCH_LIMIT = 20

blp = Blueprint(
    "Storefront admin (000)", __name__,
    description="Admin dashboard routes: session cookie of a user with the support_admin "
                "permission; state-changing calls need the CSRF token in X-CSRFToken.",
)


# --------------------------------------------------------------------------- schemas


class StorefrontCustomerInfoSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    phone = fields.String(allow_none=True)
    locale = fields.String(required=True)
    isGuest = fields.Boolean(required=True)


class StorefrontNoteSchema(Schema):
    id = fields.Integer(required=True)
    note = fields.String(required=True)
    authorId = fields.Integer(allow_none=True)
    createdAt = fields.String(required=True)


class StorefrontAdminTicketSchema(StorefrontTicketSchema):
    customer = fields.Nested(StorefrontCustomerInfoSchema, required=True)
    assignedToId = fields.Integer(allow_none=True)
    escalationLevel = fields.Integer(required=True)
    unverifiedSender = unverified_sender()
    internalNotes = fields.List(fields.Nested(StorefrontNoteSchema))


class StorefrontStatsSchema(Schema):
    total = fields.Integer(required=True)
    open = fields.Integer(required=True)
    in_progress = fields.Integer(required=True)
    on_hold = fields.Integer(required=True)
    resolved = fields.Integer(required=True)
    closed = fields.Integer(required=True)


class StorefrontAdminListDataSchema(Schema):
    tickets = fields.List(fields.Nested(StorefrontAdminTicketSchema), required=True)
    stats = fields.Nested(StorefrontStatsSchema, required=True)


class StorefrontAdminListSchema(Schema):
    success = fields.Boolean(required=True)
    data = fields.Nested(StorefrontAdminListDataSchema, required=True)
    pagination = fields.Nested(StorefrontPaginationSchema, required=True)


class StorefrontAdminTicketEnvelopeSchema(Schema):
    success = fields.Boolean(required=True)
    message = fields.String()
    data = fields.Nested(StorefrontAdminTicketSchema, required=True)


class StorefrontListArgsSchema(StorefrontPageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class StorefrontPatchSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.OneOf(STATUSES))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    adminNote = fields.String(validate=validate.Length(min=1, max=service.MAX_BODY),
                              metadata={"description": "Stored as an internal note."})
    resolutionDetails = fields.String(validate=validate.Length(max=service.MAX_BODY))

    @validates_schema
    def needs_a_change(self, data: dict[str, Any], **_kw: Any) -> None:
        if not data:
            raise SchemaError(_("Give at least one of status, priority, adminNote, "
                                "resolutionDetails."), "_request")


class StorefrontAdminCreateSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    customerId = fields.Integer(required=True, validate=ID_RANGE)
    subject = fields.String(required=True, validate=validate.Length(min=1, max=service.MAX_SUBJECT))
    message = fields.String(required=True, validate=validate.Length(min=1, max=service.MAX_BODY))
    category = fields.String(load_default="other", validate=validate.OneOf(CATEGORIES))
    priority = fields.String(load_default="medium", validate=validate.OneOf(PRIORITIES))
    orderId = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE)


class StorefrontSearchArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(required=True, validate=validate.Length(min=2, max=100))


class StorefrontCustomerListSchema(Schema):
    success = fields.Boolean(required=True)
    data = fields.List(fields.Nested(StorefrontCustomerInfoSchema), required=True)


class StorefrontOrderSchema(Schema):
    id = fields.Integer(required=True)
    orderNumber = fields.String(required=True)
    status = fields.String(required=True)
    total = fields.String(allow_none=True)
    currency = fields.String(allow_none=True)
    placedAt = fields.String(allow_none=True)
    createdAt = fields.String(required=True)


class StorefrontOrderListSchema(Schema):
    success = fields.Boolean(required=True)
    data = fields.List(fields.Nested(StorefrontOrderSchema), required=True)


class StorefrontEmailLogSchema(Schema):
    id = fields.Integer(required=True)
    ticketId = fields.Integer(allow_none=True)
    direction = fields.String(required=True, validate=validate.OneOf(["in", "out"]))
    status = fields.String(required=True, metadata={
        "description": "out: queued, sending, sent, failed, not_sent, cancelled; in: as the webhook records"})
    fromAddress = fields.String(allow_none=True)
    to = fields.String(required=True)
    subject = fields.String(required=True)
    template = fields.String(allow_none=True)
    messageId = fields.String(allow_none=True)
    inReplyTo = fields.String(allow_none=True)
    attempts = fields.Integer(required=True)
    nextAttemptAt = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    createdAt = fields.String(required=True)
    sentAt = fields.String(allow_none=True)


class StorefrontEmailLogListSchema(Schema):
    success = fields.Boolean(required=True)
    data = fields.List(fields.Nested(StorefrontEmailLogSchema), required=True)


class StorefrontCsrfSchema(Schema):
    success = fields.Boolean(required=True)
    csrf_token = fields.String(required=True)


# --------------------------------------------------------------------------- access

ADMIN_ERRORS = (
    (401, _l("No dashboard session (bearer tokens are not accepted here)")),
    (403, _l("Lacks the support_admin permission, or CSRF token missing/invalid")),
)


def documented(*extra: tuple[int, Any]) -> Callable[[Callable[..., Any]], Any]:
    """Declare the session-cookie scheme and every error response of an admin route."""
    return error_docs(blp, [{"sessionCookie": []}], *ADMIN_ERRORS, *extra)


def admin_actor() -> Actor:
    """The dashboard session's Actor with `support_admin`; state changes also need CSRF."""
    if request.headers.get("Authorization"):
        raise AuthError(_("Admin routes accept only the dashboard session"))
    actor = require_actor(allow_session=True)  # a change needs the session's CSRF token
    if not actor.can(roles.SUPPORT_ADMIN):
        raise Forbidden(_("You do not have access to support administration"))
    return actor


def require_screen(permission: tuple[str, str]) -> None:
    """Data a dashboard screen shows is read here only with that screen's permission."""
    if not current_app.appbuilder.sm.has_access(*permission):
        raise Forbidden(_("Your role does not give access to this data."))


@blp.before_request
def _authenticate() -> None:
    """Session, permission and CSRF are checked before the body is read."""
    admin_actor()


# --------------------------------------------------------------------------- serializers


def customer_data(customer: Customer) -> dict[str, Any]:
    return {"id": customer.id, "name": customer.name, "email": customer.email,
            "phone": customer.phone, "locale": customer.locale,
            "isGuest": customer.user_id is None}


def admin_ticket_data(ticket: Ticket, *, detail: bool = False) -> dict[str, Any]:
    data = ticket_data(ticket, customer_view=False)
    data.update(customer=customer_data(ticket.customer), assignedToId=ticket.assigned_to_id,
                escalationLevel=ticket.escalation_level,
                unverifiedSender=ticket.unverified_reason)
    if detail:
        thread = db.session.scalars(select(Message).where(Message.ticket_id == ticket.id)
                                    .order_by(Message.created_at, Message.id))
        notes = db.session.scalars(select(InternalNote).where(InternalNote.ticket_id == ticket.id)
                                   .order_by(InternalNote.created_at, InternalNote.id))
        data["messages"] = [message_data(m) for m in thread]
        data["internalNotes"] = [{"id": n.id, "note": n.note, "authorId": n.author_id,
                                  "createdAt": iso(n.created_at)} for n in notes]
    return data


def order_data(order: Order) -> dict[str, Any]:
    return {"id": order.id, "orderNumber": order.order_number, "status": order.status,
            "total": None if order.total is None else str(order.total),
            "currency": order.currency, "placedAt": iso(order.placed_at),
            "createdAt": iso(order.created_at)}


def email_log_data(log: EmailLog) -> dict[str, Any]:
    return {"id": log.id, "ticketId": log.ticket_id, "direction": log.direction,
            "status": log.status, "fromAddress": log.from_address, "to": log.to_address,
            "subject": log.subject, "template": log.template, "messageId": log.message_id,
            "inReplyTo": log.in_reply_to, "attempts": log.attempts,
            "nextAttemptAt": iso(log.next_attempt_at), "error": log.error,
            "createdAt": iso(log.created_at), "sentAt": iso(log.sent_at)}


# --------------------------------------------------------------------------- routes


@blp.route("/api/admin/csrf-token", methods=["GET"])
@blp.response(200, StorefrontCsrfSchema)
@documented()
def csrf_token() -> dict[str, Any]:
    """The CSRF token this session sends in `X-CSRFToken` on PATCH/POST."""
    return {"success": True, "csrf_token": generate_csrf()}


@blp.route("/api/admin/support", methods=["GET"])
@blp.arguments(StorefrontListArgsSchema, location="query")
@blp.response(200, StorefrontAdminListSchema)
@documented((400, _l("Unknown status or bad paging")))
def list_tickets(args: dict[str, Any]) -> dict[str, Any]:
    """Every ticket (newest first, optionally one status) with counts per status."""
    stmt = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc())
    if args.get("status"):
        stmt = stmt.where(Ticket.status == args["status"])
    tickets, pagination = page_of(stmt, args)
    counts = dict(db.session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
    stats = {status: int(counts.get(status, 0)) for status in STATUSES}
    stats["total"] = sum(stats.values())
    return {"success": True, "pagination": pagination,
            "data": {"tickets": [admin_ticket_data(t) for t in tickets], "stats": stats}}


@blp.route("/api/admin/support/<int:id>", methods=["GET"])
@blp.response(200, StorefrontAdminTicketEnvelopeSchema)
@documented((404, _l("Ticket not found")))
def get_ticket(id: int) -> dict[str, Any]:  # noqa: A002 (the seed's :id)
    """One ticket with its customer, thread and internal notes."""
    actor = require_actor(allow_session=True)  # checked by _authenticate
    ticket = service.get_ticket(actor, id)
    return {"success": True, "data": admin_ticket_data(ticket, detail=True)}


@blp.route("/api/admin/support/<int:id>", methods=["PATCH"])
@blp.arguments(StorefrontPatchSchema)
@blp.response(200, StorefrontAdminTicketEnvelopeSchema)
@documented((400, _l("Invalid body or status transition")), (404, _l("Ticket not found")))
def update_ticket(data: dict[str, Any], id: int) -> dict[str, Any]:  # noqa: A002
    """Change status and/or priority; `adminNote` is stored as an internal note."""
    actor = require_actor(allow_session=True)  # checked by _authenticate
    ticket = service.update_ticket(
        actor, id, status=data.get("status"), priority=data.get("priority"),
        resolution_details=data.get("resolutionDetails"), note=data.get("adminNote"),
        origin="storefront-admin",
    )
    return {"success": True, "message": _("Ticket updated"),
            "data": admin_ticket_data(ticket, detail=True)}


@blp.route("/api/admin/support", methods=["POST"])
@blp.arguments(StorefrontAdminCreateSchema)
@blp.response(201, StorefrontAdminTicketEnvelopeSchema)
@documented((400, _l("Invalid body")), (404, _l("Customer or order not found")))
def create_ticket(data: dict[str, Any]) -> dict[str, Any]:
    """Open a ticket on behalf of a customer (channel `admin`; the customer is emailed)."""
    actor = require_actor(allow_session=True)  # checked by _authenticate
    outcome = service.open_ticket(
        actor, customer_id=data["customerId"], subject=data["subject"],
        description=data["message"], category=data["category"], priority=data["priority"],
        order_id=data.get("orderId"), channel="admin", origin="storefront-admin",
    )
    return {"success": True, "message": _("Support ticket created successfully"),
            "data": admin_ticket_data(outcome.ticket, detail=True)}


@blp.route("/api/admin/support/customers/search", methods=["GET"])
@blp.arguments(StorefrontSearchArgsSchema, location="query")
@blp.response(200, StorefrontCustomerListSchema)
@documented((400, _l("q missing or shorter than 2 characters")))
def search_customers(args: dict[str, Any]) -> dict[str, Any]:
    """Customers whose name, email or phone contains `q` (wildcards match literally).
    Needs the Customers screen's list permission."""
    require_screen(screens.CUSTOMER_DIRECTORY)
    term = args["q"].strip()
    if len(term) < 2:
        raise ValidationFailed({"q": [_("Search needs at least 2 characters.")]})
    pattern = like_pattern(term.lower())
    stmt = (select(Customer)
            .where(or_(func.lower(Customer.name).like(pattern, escape="\\"),
                       func.lower(Customer.email).like(pattern, escape="\\"),
                       Customer.phone.like(pattern, escape="\\")))
            .order_by(Customer.name, Customer.id).limit(SEARCH_LIMIT))
    return {"success": True, "data": [customer_data(c) for c in db.session.scalars(stmt)]}


@blp.route("/api/admin/support/customers/<int:customerId>/orders", methods=["GET"])
@blp.response(200, StorefrontOrderListSchema)
@documented((404, _l("Customer not found")))
def customer_orders(customerId: int) -> dict[str, Any]:
    """The customer's orders, newest first, for ticket context."""
    if db.session.get(Customer, customerId) is None:
        raise NotFound("customer")
    orders = db.session.scalars(select(Order).where(Order.customer_id == customerId)
                                .order_by(Order.created_at.desc(), Order.id.desc()))
    return {"success": True, "data": [order_data(o) for o in orders]}


@blp.route("/api/admin/support/email-logs/<int:ticketId>", methods=["GET"])
@blp.response(200, StorefrontEmailLogListSchema)
@documented((404, _l("Ticket not found")))
def email_logs(ticketId: int) -> dict[str, Any]:
    """Every email in and out for the ticket, oldest first, with delivery status.
    Needs the Email logs screen's list permission."""
    require_screen(screens.EMAIL_LOG_READ)
    ticket_id = db.session.scalar(select(Ticket.id).where(resolves_to(ticketId)))
    if ticket_id is None:
        raise NotFound("ticket")
    logs = db.session.scalars(select(EmailLog).where(EmailLog.ticket_id == ticket_id)
                              .order_by(EmailLog.created_at, EmailLog.id))
    return {"success": True, "data": [email_log_data(log) for log in logs]}


def register(api: Api) -> None:
    surface("storefront-admin", "/api/admin/support", "/api/admin/csrf-token")
    api.spec.components.security_scheme(
        "sessionCookie", {"type": "apiKey", "in": "cookie", "name": "session"})
    api.register_blueprint(blp)
