"""The agent desk (seed 003): tickets, support agents, internal notes, feedback, admin.

A thin adapter: it parses the document's spellings, asks the ticket service (which
checks access and lifecycle), and prints the document's shapes. Errors come out as
{"error": "..."} (401/403/404) or {"field": ["..."]} (400).

Paths end with a slash exactly as documented; the same path without the slash is
answered by Flask's 308 redirect to the documented one.
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask_babel import gettext as _
from flask_smorest import Api
from sqlalchemy import false, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Customer, InternalNote, Order, SupportUser, Ticket
from ..security import roles
from ..security.current import require_actor
from ..tickets import errors as domain
from ..tickets import policy, service
from ..tickets.actor import Actor
from ..tickets.queries import visible_tickets
from . import agent_desk_schemas as s
from .auth import check_new_account, create_user, register_limit
from .errors import FieldErrors, Surface, register_surface
from .openapi import Blueprint

ORIGIN = "agent_desk"
NON_FIELD = "non_field_errors"
BEARER = [{"bearerAuth": []}]

blp = Blueprint("agent_desk", __name__, url_prefix="/api",
                description="Agent desk (seed 003): tickets, agents, notes, feedback")


# --------------------------------------------------------------------------- errors


def render(status: int, message: str, errors: FieldErrors | None, code: str | None) -> Any:
    if status == 400:
        if not errors:
            return {NON_FIELD: [message]}
        return {NON_FIELD if name == "_request" else name: problems
                for name, problems in errors.items()}
    return {"error": message}


def domain_error(err: domain.DomainError) -> tuple[int, str, FieldErrors | None, str | None]:
    if isinstance(err, domain.NotFound):
        return 404, err.message, None, err.code
    if isinstance(err, domain.Forbidden):
        return 403, err.message, None, err.code
    if isinstance(err, domain.ValidationFailed):
        return 400, err.message, err.errors, err.code
    if isinstance(err, domain.InvalidTransition) and "old" in err.details:
        message = _("Cannot change status from %(old)s to %(new)s",
                    old=s.status_label(str(err.details["old"])),
                    new=s.status_label(str(err.details["new"])))
        return 400, message, {"status": [message]}, err.code
    return 400, err.message, {NON_FIELD: [err.message]}, err.code


SURFACE = Surface(
    "agent_desk",
    ("/api/support/", "/api/agent/", "/api/admin/approve-agent", "/api/admin/support/tickets"),
    render=render,
    validation_status=400,
    domain_error=domain_error,
    unauthorized_message=lambda: _("Authentication credentials were not provided."),
)


def register(api: Api) -> None:
    """Answer errors under this surface's paths in its format; add its routes."""
    register_surface(SURFACE)
    api.register_blueprint(blp)


# --------------------------------------------------------------------------- helpers


def signed_in(check: Callable[[Actor], None] | None = None) -> Callable:
    """Authenticate (401) and check the endpoint's permission (403) before parsing the
    body, so a stranger learns nothing from validation messages."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = require_actor()
            if check is not None:
                check(actor)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _customer(actor: Actor) -> None:
    if actor.customer_id is None:
        raise domain.Forbidden(_("Only customers can create support tickets"))


def _admin(permission: str) -> Callable[[Actor], None]:
    def check(actor: Actor) -> None:
        if not actor.can(permission):
            raise domain.Forbidden(_("Only admins can do this"))

    return check


def _approved_agent(actor: Actor) -> None:
    if not actor.can(roles.WORK):
        raise domain.Forbidden(_("Only support agents can view agent tickets"))
    if not actor.is_approved_agent:
        raise domain.Forbidden(_("Your support agent account is not approved yet"))


def _ticket_id(raw: str) -> int:
    ticket_id = s.parse_id(raw)
    if ticket_id is None:
        raise domain.NotFound("ticket")
    return ticket_id


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def ticket_body(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "description": ticket.description,
        "category": s.category_label(ticket.category),
        "status": s.status_label(ticket.status),
        "priority": s.priority_label(ticket.priority),
        "agent_id": _id(ticket.assigned_to_id),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "resolved_at": ticket.resolved_at,
    }


def _delivery_order_id(actor: Actor, raw: str | None) -> int | None:
    """The customer's own order named by id or order number; anything else is a 400."""
    if raw is None:
        return None
    raw = raw.strip()
    order_id = s.parse_id(raw)
    found = db.session.scalar(
        select(Order.id).where(
            Order.customer_id == actor.customer_id,
            or_(Order.order_number == raw, Order.id == order_id if order_id else false()),
        )
    )
    if found is None:
        raise domain.ValidationFailed({"delivery_id": [_("No order of yours has this id.")]})
    return found


def _errors(*codes: int) -> Callable:
    """Document the error responses of an endpoint in this surface's shapes."""
    described = {
        400: (s.FIELD_ERRORS, "Validation failed: {field: [messages]}"),
        401: (s.DeskErrorSchema, "Missing or invalid bearer token"),
        403: (s.DeskErrorSchema, "Not allowed"),
        404: (s.DeskErrorSchema, "Not found"),
        429: (s.DeskErrorSchema, "Too many requests from this address"),
    }

    def decorator(view: Callable) -> Callable:
        for code in codes:
            schema, description = described[code]
            view = blp.alt_response(code, schema=schema, description=description)(view)
        return view

    return decorator


# --------------------------------------------------------------------------- tickets


@blp.route("/support/tickets/create/", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(201, s.DeskCreateTicketResponse)
@_errors(400, 401, 403)
@signed_in(_customer)
@blp.arguments(s.DeskCreateTicketSchema, error_status_code=400)
def create_ticket(data: dict[str, Any]) -> dict[str, Any]:
    """Open a ticket about a delivery (customers)."""
    actor = require_actor()
    ticket = service.open_ticket(
        actor,
        subject=data["subject"],
        description=data["description"],
        category=s.CATEGORY_IN[data["category"]],
        order_id=_delivery_order_id(actor, data["delivery_id"]),
        origin=ORIGIN,
        attachments=data.get("attachments"),
    ).ticket
    return {
        "message": _("Support ticket created successfully"),
        "ticket": {"id": ticket.id, "subject": ticket.subject,
                   "status": s.status_label(ticket.status), "created_at": ticket.created_at},
    }


@blp.route("/support/tickets/", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, s.DeskTicketListResponse)
@_errors(401)
@signed_in()
def list_my_tickets() -> dict[str, Any]:
    """The signed-in customer's own tickets, newest first (staff have none here)."""
    actor = require_actor()
    if actor.customer_id is None:
        return {"tickets": []}
    tickets = db.session.scalars(
        visible_tickets(actor)
        .where(Ticket.customer_id == actor.customer_id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    return {"tickets": [ticket_body(ticket) for ticket in tickets]}


@blp.route("/support/tickets/<ticket_id>/", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, s.DeskTicketDetailResponse)
@_errors(401, 403, 404)
@signed_in()
def ticket_detail(ticket_id: str) -> dict[str, Any]:
    """One ticket. `internal_notes` only for the assigned agent and admins: a customer's
    answer never has the key at all."""
    actor = require_actor()
    ticket = service.get_ticket(actor, _ticket_id(ticket_id))
    body: dict[str, Any] = {"ticket": {**ticket_body(ticket), "customer_id": str(ticket.customer_id)}}
    if actor.is_staff:  # a customer's answer never has the key
        body["ticket"]["unverified_sender"] = ticket.unverified_reason
    if policy.can_see_internal_notes(actor, ticket):
        notes = db.session.scalars(
            select(InternalNote).where(InternalNote.ticket_id == ticket.id)
            .order_by(InternalNote.created_at, InternalNote.id)
        )
        body["internal_notes"] = [
            {"id": note.id, "agent_id": _id(note.author_id), "note": note.note,
             "created_at": note.created_at}
            for note in notes
        ]
    return body


@blp.route("/support/tickets/<ticket_id>/update-status/", methods=["PUT"])
@blp.doc(security=BEARER)
@blp.response(200, s.DeskStatusChangeResponse)
@_errors(400, 401, 403, 404)
@signed_in()
@blp.arguments(s.DeskUpdateStatusSchema, error_status_code=400)
def update_status(data: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    """The assigned agent or an admin moves the ticket along its lifecycle.

    `High` on a ticket stored as `urgent` (printed as High) keeps it urgent."""
    actor = require_actor()
    tid = _ticket_id(ticket_id)
    priority = s.PRIORITY_IN[data["priority"]] if data["priority"] else None
    if priority == "high" and service.get_ticket(actor, tid).priority == "urgent":
        priority = None
    ticket = service.update_ticket(actor, tid, status=s.STATUS_IN[data["status"]],
                                   priority=priority, origin=ORIGIN)
    return {
        "message": _("Ticket status updated successfully"),
        "ticket": {"id": ticket.id, "status": s.status_label(ticket.status),
                   "priority": s.priority_label(ticket.priority)},
    }


@blp.route("/support/tickets/<ticket_id>/assign-self/", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, s.DeskAssignSelfResponse)
@_errors(400, 401, 403, 404)
@signed_in()
def assign_self(ticket_id: str) -> dict[str, Any]:
    """An approved agent takes an unassigned ticket; it moves to In Progress."""
    ticket = service.assign_self(require_actor(), _ticket_id(ticket_id), origin=ORIGIN)
    return {
        "message": _("Ticket assigned to you successfully"),
        "ticket": {"id": ticket.id, "status": s.status_label(ticket.status),
                   "agent_id": _id(ticket.assigned_to_id)},
    }


@blp.route("/support/tickets/<ticket_id>/reassign/", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, s.DeskReassignResponse)
@_errors(400, 401, 403, 404)
@signed_in(_admin(roles.REASSIGN))
@blp.arguments(s.DeskReassignSchema, error_status_code=400)
def reassign(data: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    """Admins hand a ticket to another approved agent (404 if not one)."""
    ticket = service.reassign(require_actor(), _ticket_id(ticket_id), data["agent_id"],
                              origin=ORIGIN)
    return {
        "message": _("Ticket reassigned successfully"),
        "ticket": {"id": ticket.id, "agent_id": _id(ticket.assigned_to_id)},
    }


@blp.route("/support/tickets/<ticket_id>/add-note/", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(201, s.DeskNoteResponse)
@_errors(400, 401, 403, 404)
@signed_in()
@blp.arguments(s.DeskNoteSchema, error_status_code=400)
def add_note(data: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    """Staff-only note on a ticket the agent works (or any ticket, for admins)."""
    note = service.add_note(require_actor(), _ticket_id(ticket_id), data["note"], origin=ORIGIN)
    return {
        "message": _("Internal note added successfully"),
        "note": {"id": note.id, "note": note.note, "created_at": note.created_at},
    }


@blp.route("/support/tickets/<ticket_id>/feedback/", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(201, s.DeskFeedbackResponse)
@_errors(400, 401, 403, 404)
@signed_in()
@blp.arguments(s.DeskFeedbackRequestSchema, error_status_code=400)
def feedback(data: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    """The ticket's customer rates a resolved (or closed) ticket, once."""
    entry = service.submit_feedback(require_actor(), _ticket_id(ticket_id), data["rating"],
                                    data["comment"], origin=ORIGIN)
    return {
        "message": _("Feedback submitted successfully"),
        "feedback": {"id": entry.id, "rating": str(entry.rating), "created_at": entry.created_at},
    }


# --------------------------------------------------------------------------- agents


@blp.route("/support/register-agent/", methods=["POST"])
@register_limit()
@blp.doc(security=[])
@blp.response(201, s.DeskRegisterAgentResponse)
@_errors(400, 429)
@blp.arguments(s.DeskRegisterAgentSchema, error_status_code=400)
def register_agent(data: dict[str, Any]) -> dict[str, Any]:
    """Public sign-up of a support agent; an admin must approve them before they work."""
    check_new_account(data["email"], data["password"])
    user = create_user(data["name"], data["email"], data["password"], roles.SUPPORT_AGENT,
                       phone=data["contact_number"])
    return {
        "message": _("Registration successful. Waiting for admin approval."),
        "user": {"id": user.id, "email": user.email, "name": user.name, "role": "support_agent"},
    }


@blp.route("/agent/tickets/", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, s.DeskAgentTicketListResponse)
@_errors(400, 401, 403)
@signed_in(_approved_agent)
@blp.arguments(s.DeskStatusFilterSchema, location="query", error_status_code=400)
def agent_tickets(args: dict[str, Any]) -> dict[str, Any]:
    """The approved agent's tickets and the unassigned pool they may take, newest first."""
    actor = require_actor()
    stmt = (
        visible_tickets(actor)
        .add_columns(Customer.name)
        .join(Customer, Customer.id == Ticket.customer_id)
        .where(or_(Ticket.assigned_to_id == actor.user_id, Ticket.assigned_to_id.is_(None)))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    if args["status"]:
        stmt = stmt.where(Ticket.status == s.STATUS_IN[args["status"]])
    return {
        "tickets": [
            {**ticket_body(ticket), "customer_name": customer_name,
             "customer_id": str(ticket.customer_id),
             "unverified_sender": ticket.unverified_reason}
            for ticket, customer_name in db.session.execute(stmt)
        ]
    }


# --------------------------------------------------------------------------- admin


@blp.route("/admin/approve-agent/<agent_id>/", methods=["POST"])
@blp.doc(security=BEARER)
@blp.response(200, s.DeskMessageSchema)
@_errors(401, 403, 404)
@signed_in(_admin(roles.APPROVE_AGENTS))
def approve_agent(agent_id: str) -> dict[str, Any]:
    """Admins let a registered agent start working tickets (`agent_id` is their user id)."""
    user_id = s.parse_id(agent_id)
    if user_id is None:
        raise domain.NotFound("agent")
    service.approve_agent(require_actor(), user_id)
    return {"message": _("Agent approved successfully")}


@blp.route("/admin/support/tickets/", methods=["GET"])
@blp.doc(security=BEARER)
@blp.response(200, s.DeskAdminTicketListResponse)
@_errors(400, 401, 403)
@signed_in(_admin(roles.VIEW_ALL))
@blp.arguments(s.DeskStatusFilterSchema, location="query", error_status_code=400)
def admin_tickets(args: dict[str, Any]) -> dict[str, Any]:
    """Every ticket with its customer's and agent's names (one query), newest first."""
    agent = aliased(SupportUser)
    stmt = (
        visible_tickets(require_actor())
        .add_columns(Customer.name, agent.first_name, agent.last_name)
        .join(Customer, Customer.id == Ticket.customer_id)
        .outerjoin(agent, agent.id == Ticket.assigned_to_id)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    if args["status"]:
        stmt = stmt.where(Ticket.status == s.STATUS_IN[args["status"]])
    return {
        "tickets": [
            {
                "id": ticket.id,
                "subject": ticket.subject,
                "category": s.category_label(ticket.category),
                "status": s.status_label(ticket.status),
                "priority": s.priority_label(ticket.priority),
                "customer_name": customer_name,
                "agent_name": " ".join(part for part in (first, last) if part) or None,
                "unverified_sender": ticket.unverified_reason,
                "created_at": ticket.created_at,
                "updated_at": ticket.updated_at,
            }
            for ticket, customer_name, first, last in db.session.execute(stmt)
        ]
    }
