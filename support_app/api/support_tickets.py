"""The 002 support-tickets API: customers and staff on one bearer-token surface.

Adapters only: every change goes through `tickets.service`; reads narrow the
visibility rule of `tickets.policy` (`queries.visible_tickets`, or for the list its
prebuilt form `policy.visible_template`), so a customer never reaches another's ticket.
Errors under this surface's prefixes come out as {"success": false, "message": ...}
(422 adds Laravel-style per-field `errors`) via the shared dispatcher.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Api
from sqlalchemy import ColumnElement, Select, bindparam, case, func, or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Message, Ticket
from ..security import roles
from ..security.current import require_actor
from ..tickets import counters, policy, service
from ..tickets.badges import navbar_counts
from ..tickets.actor import Actor
from ..tickets.errors import Forbidden
from ..tickets.queries import like_pattern, visible_tickets
from .errors import Surface, register_surface
from .laravel import paginate
from .openapi import Blueprint
from .schemas import DefaultErrorSchema
from .support_tickets_schemas import (
    CATEGORY_OUT,
    STATUS_OUT,
    CancelOrderSchema,
    LatestArgs,
    LatestEnvelope,
    MessageCreatedEnvelope,
    MessageCreateSchema,
    MessageListEnvelope,
    NavbarCountSchema,
    OrderCancelledEnvelope,
    SuccessMessageSchema,
    TicketCreatedEnvelope,
    TicketCreateSchema,
    TicketDetailEnvelope,
    TicketListArgs,
    TicketPageEnvelope,
    stored_values,
)

TAG = "Support tickets (002)"
PREFIXES = ("/api/support-tickets", "/api/support-messages", "/api/orders")
SECURITY = [{"bearerAuth": []}]

blp = Blueprint(
    TAG, __name__, url_prefix="/api",
    description="Customers' and staff's ticket API (seed document 002): tickets, threaded "
                "messages, read flags, navbar badge, order cancellation.",
)

ERROR_TEXT = {
    400: "Bad request: malformed JSON, or the change is refused (e.g. order already shipped)",
    401: "Missing, invalid or expired bearer token",
    403: "Authenticated but not allowed (another customer's ticket or order)",
    404: "Ticket, message or order not found",
    413: "Request body too large",
    422: 'Validation failed: {"success": false, "message": "Validation failed", "errors": {...}}',
    500: "Server error",
    503: "Database temporarily unavailable (retry)",
}

PRIORITY_RANK = case({"low": 0, "medium": 1, "high": 2, "urgent": 3},
                     value=Ticket.priority, else_=1)
STATUS_RANK = case({"open": 0, "in_progress": 1, "on_hold": 1, "resolved": 2, "closed": 3},
                   value=Ticket.status, else_=0)
SORT_COLUMNS = {
    "created_at": Ticket.created_at,
    "updated_at": Ticket.updated_at,
    "priority": PRIORITY_RANK,
    "status": STATUS_RANK,
    "subject": Ticket.subject,
    "last_replied_at": Ticket.last_replied_at,
    "id": Ticket.id,
}
NULLABLE_SORTS = frozenset({"last_replied_at"})


def errors(*codes: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the error responses (in the {"success": false, ...} shape) of a view."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        for code in sorted({401, 503, *codes}, reverse=True):
            view = blp.alt_response(code, schema=DefaultErrorSchema,
                                    description=ERROR_TEXT[code])(view)
        return view

    return decorate


@blp.before_request
def authenticate() -> None:
    """401 before anything else: an anonymous caller learns nothing from validation."""
    require_actor()


# --------------------------------------------------------------------------- tickets


# Each list filter as a WHERE clause on bound parameters, and the parameters' values
# from the query arguments. Staff-only filters are ignored for customers (they could
# only narrow their own tickets anyway).
FILTERS: dict[str, tuple[ColumnElement[bool], Callable[[Any], dict[str, Any]]]] = {
    "status": (Ticket.status.in_(bindparam("statuses", expanding=True)),
               lambda v: {"statuses": stored_values(v, STATUS_OUT)}),
    "priority": (Ticket.priority == bindparam("priority"), lambda v: {"priority": v}),
    "category": (Ticket.category.in_(bindparam("categories", expanding=True)),
                 lambda v: {"categories": stored_values(v, CATEGORY_OUT)}),
    "search": (or_(Ticket.subject.ilike(bindparam("pattern"), escape="\\"),
                   Ticket.description.ilike(bindparam("pattern"), escape="\\")),
               lambda v: {"pattern": like_pattern(v)}),
    "customer_id": (Ticket.customer_id == bindparam("customer_id"),
                    lambda v: {"customer_id": v}),
    "assigned_to": (Ticket.assigned_to_id == bindparam("assigned_to"),
                    lambda v: {"assigned_to": v}),
    "date_from": (Ticket.created_at >= bindparam("date_from"),
                  lambda v: {"date_from": dt.datetime.combine(v, dt.time.min)}),
    "date_to": (Ticket.created_at <= bindparam("date_to"),
                lambda v: {"date_to": dt.datetime.combine(v, dt.time.max)}),
}
STAFF_FILTERS = frozenset({"customer_id", "assigned_to", "date_from", "date_to"})


@dataclass(frozen=True)
class ListQuery:
    """One list request as a statement shape (which rules and filters, which order) and
    the values bound into it: the statements are built once per shape."""

    view: policy.View
    filters: tuple[str, ...]
    values: dict[str, Any]

    @classmethod
    def of(cls, actor: Actor, args: dict[str, Any]) -> "ListQuery":
        view, values = policy.view_of(actor)
        used = tuple(name for name in FILTERS if args.get(name) not in (None, "")
                     and (actor.is_staff or name not in STAFF_FILTERS))
        for name in used:
            values.update(FILTERS[name][1](args[name]))
        return cls(view, used, values)


@lru_cache(maxsize=256)
def _filtered(view: policy.View, filters: tuple[str, ...]) -> Select[tuple[Ticket]]:
    """The list's WHERE: visibility first, then filters."""
    return select(Ticket).where(policy.visible_template(view),
                                *(FILTERS[name][0] for name in filters))


@lru_cache(maxsize=256)
def _count(view: policy.View, filters: tuple[str, ...]) -> Select[tuple[int]]:
    return select(func.count()).select_from(_filtered(view, filters).subquery())


@lru_cache(maxsize=512)
def _page(view: policy.View, filters: tuple[str, ...], sort_by: str,
          sort_order: str) -> Select[tuple[Ticket]]:
    return (_filtered(view, filters).order_by(*ordering(sort_by, sort_order))
            .offset(bindparam("offset")).limit(bindparam("limit")).options(*LIST_LOAD))


def page_total(actor: Actor, query: ListQuery) -> int:
    """The exact `total` of the page. Staff who see every ticket, filtering by status
    alone (the desk's default views), read the counters kept in the same transaction
    as every ticket change: O(1) at any table size. Anything narrower counts the
    filtered rows, which the ticket indexes serve."""
    if actor.can(roles.VIEW_ALL) and set(query.filters) <= {"status"}:
        return counters.tickets_with_status(query.values.get("statuses"))
    return db.session.scalar(_count(query.view, query.filters), query.values) or 0


def ordering(sort_by: str, sort_order: str) -> list[Any]:
    """Whitelisted column (priority and status by rank, not alphabet), NULLs last,
    then id so pages never overlap. NULLS LAST is spelled only for the nullable
    column: on PostgreSQL it would stop a backward index scan from serving the order."""
    column = SORT_COLUMNS[sort_by]
    primary = column.asc() if sort_order == "asc" else column.desc()
    if sort_by in NULLABLE_SORTS:
        primary = primary.nulls_last()
    tie = Ticket.id.asc() if sort_order == "asc" else Ticket.id.desc()
    return [primary, tie] if sort_by != "id" else [tie]


# What a list row prints. Many-to-one: joined in the page query (selectin costs a
# second round trip and more CPU than the 15 rows it loads).
LIST_LOAD = (joinedload(Ticket.customer, innerjoin=True), joinedload(Ticket.assigned_to))


@blp.route("/support-tickets")
class SupportTickets(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(TicketListArgs, location="query")
    @blp.response(200, TicketPageEnvelope)
    @errors(422, 500)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List tickets: a customer's own, or every ticket the staff member may see.

        Filters combine. `customer_id`, `assigned_to`, `date_from`, `date_to` are
        staff-only and ignored for customers. `search` matches subject and description
        literally (`%` and `_` are not wildcards). `sort_by` priority and status sort by
        rank (low < urgent, open < closed); NULLs sort last. As in Laravel, a query
        argument sent empty (`?status=`) counts as not sent.
        """
        actor = require_actor()
        query = ListQuery.of(actor, args)
        total = page_total(actor, query)
        page, per_page = args["page"], args["per_page"]
        rows = db.session.scalars(
            _page(query.view, query.filters, args["sort_by"], args["sort_order"]),
            {**query.values, "offset": (page - 1) * per_page, "limit": per_page},
        ).all()
        return {"success": True, "data": paginate(rows, total, page, per_page)}

    @blp.doc(security=SECURITY)
    @blp.arguments(TicketCreateSchema)
    @blp.response(201, TicketCreatedEnvelope)
    @errors(400, 403, 413, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a ticket (customers only; a staff token without a customer record gets 403)."""
        actor = require_actor()
        if actor.customer_id is None:
            raise Forbidden(_("Only customers can create support tickets"))
        ticket = service.open_ticket(
            actor,
            subject=data["subject"],
            description=data["description"],
            priority=data["priority"] or "medium",
            category=data["category"] or "other",
            channel="api",
            origin="api",
            min_description=10,
        ).ticket
        return {"success": True, "message": _("Support ticket created successfully"),
                "data": ticket}


@blp.route("/support-tickets/navbar/count")
@blp.doc(security=SECURITY)
@blp.response(200, NavbarCountSchema)
@errors(500)
def navbar_count() -> dict[str, Any]:
    """Badge counts (rules in `tickets.badges`): customers get `count` = unread_count if
    any, else total_unresolved; staff unread_count if any, else open + in progress."""
    return navbar_counts(require_actor())


@blp.route("/support-tickets/navbar/latest")
@blp.doc(security=SECURITY)
@blp.arguments(LatestArgs, location="query")
@blp.response(200, LatestEnvelope)
@errors(422, 500)
def navbar_latest(args: dict[str, Any]) -> dict[str, Any]:
    """The newest tickets the caller may see, for the navbar dropdown (limit 1..50)."""
    actor = require_actor()
    rows = db.session.scalars(
        visible_tickets(actor)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(args["limit"])
        .options(joinedload(Ticket.customer, innerjoin=True))
    ).all()
    return {"success": True, "data": rows}


# What the detail prints, loaded with the ticket in one query.
DETAIL_LOAD = (joinedload(Ticket.customer), joinedload(Ticket.assigned_to),
               joinedload(Ticket.last_replied_by))


@blp.route("/support-tickets/<int:ticket>")
@blp.doc(security=SECURITY)
@blp.response(200, TicketDetailEnvelope)
@errors(403, 404)
def show_ticket(ticket: int) -> dict[str, Any]:
    """One ticket with the customer (incl. phone), assigned admin and last replier."""
    actor = require_actor()
    found = service.get_ticket(actor, ticket,
                               load=DETAIL_LOAD)
    return {"success": True, "data": found}


@blp.route("/support-tickets/<int:ticket>/messages")
class TicketMessages(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, MessageListEnvelope)
    @errors(403, 404)
    def get(self, ticket: int) -> dict[str, Any]:
        """The thread, oldest first. Side effect: marks the ticket (and the other
        side's messages) read for the caller."""
        actor = require_actor()
        ticket_id = service.mark_ticket_read(actor, ticket).id  # a merged ticket's: the survivor
        messages = db.session.scalars(
            select(Message)
            .where(Message.ticket_id == ticket_id)
            .order_by(Message.created_at, Message.id)
            .options(joinedload(Message.customer), joinedload(Message.admin))
        ).all()
        return {"success": True, "data": messages}

    @blp.doc(security=SECURITY)
    @blp.arguments(MessageCreateSchema)
    @blp.response(201, MessageCreatedEnvelope)
    @errors(400, 403, 404, 413, 422)
    def post(self, data: dict[str, Any], ticket: int) -> dict[str, Any]:
        """Reply. A customer's reply reopens a resolved/closed ticket to `open`; a staff
        reply moves it to `in_progress` and records last_replied_at/by."""
        actor = require_actor()
        message = service.add_message(
            actor, ticket, data["message"],
            attachments=data.get("attachments"), channel="api", origin="api",
        )
        return {"success": True, "message": _("Message sent successfully"), "data": message}


@blp.route("/support-messages/<int:message>/read", methods=["PUT"])
@blp.doc(security=SECURITY)
@blp.response(200, SuccessMessageSchema)
@errors(403, 404)
def mark_message_read(message: int) -> dict[str, Any]:
    """Mark one message read (anyone who may see its ticket)."""
    actor = require_actor()
    service.mark_message_read(actor, message)
    return {"success": True, "message": _("Message marked as read")}


@blp.route("/orders/<int:order>/cancel", methods=["POST"])
@blp.doc(security=SECURITY)
@blp.arguments(CancelOrderSchema, required=False)
@blp.response(200, OrderCancelledEnvelope)
@errors(400, 403, 404, 413, 422)
def cancel_order(data: dict[str, Any], order: int) -> dict[str, Any]:
    """Cancel a pending or processing order: customers their own, staff any."""
    actor = require_actor()
    cancelled = service.cancel_order(
        actor, order, data.get("reason"),
    )
    return {"success": True, "message": _("Order cancelled successfully"), "data": cancelled}


def register(api: Api) -> None:
    """Mount the surface and its error format (called from `register_apis`)."""
    register_surface(Surface("support-tickets-002", PREFIXES))
    api.register_blueprint(blp)
