"""What the customer-app surfaces (munch 001, mtxi 004) share.

Both answer errors as {"status": "error", "code": ..., "message": ...}, both are for
customers only (authenticate, `restrictTo('customer')`, `checkPermissions(name)`),
and both name refusals with their own codes. Each surface supplies its own code table.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any, Callable, Mapping, Sequence

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.routing import BaseConverter

from ..extensions import db
from ..models import Ticket
from ..security.current import require_actor
from ..tickets import errors as domain
from ..tickets.actor import Actor
from ..tickets.queries import resolves_to, visible_tickets
from .errors import FieldErrors, Surface
from .ids import ID_RANGE, MAX_ID
from .openapi import Blueprint

SECURITY = [{"bearerAuth": []}]
SUBJECT_LENGTH = 80


class CustomerAppErrorSchema(Schema):
    """The documented error body; `errors` (per field) only accompanies bad input."""

    status = fields.String(required=True, metadata={"enum": ["error"]})
    code = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class Refusal(domain.DomainError):
    """A refusal the surface itself decides, already carrying its HTTP status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def status_error_surface(
    name: str,
    prefix: str,
    *,
    invalid: tuple[str, Any],
    not_found_codes: Mapping[str, str],
    refusal_codes: Mapping[type[domain.DomainError], str],
    fallback_code: str,
) -> Surface:
    """A surface answering {"status": "error", "code", "message"} with its own codes.

    `invalid` is the (code, lazy message) for malformed input, whether webargs or the
    service found it; `not_found_codes` names each missing resource; `refusal_codes`
    the lifecycle refusals; anything else the service refuses is `fallback_code`.
    """
    aliases = {
        "BAD_REQUEST": invalid,
        "INVALID_REQUEST": invalid,
        # Both seeds' tables spell every 401 this way, whatever was wrong with the token.
        "UNAUTHORIZED": ("UNAUTHORIZED", _l("Unauthorized")),
        "FORBIDDEN": ("PERMISSION_DENIED", _l("Forbidden")),
    }

    def render(status: int, message: str, errors: FieldErrors | None,
               code: str | None) -> dict[str, Any]:
        code = code or "ERROR"
        if code in aliases:
            code, documented = aliases[code]
            message = str(documented)
        body: dict[str, Any] = {"status": "error", "code": code, "message": message}
        if errors:
            body["errors"] = errors
        return body

    def domain_error(err: domain.DomainError) -> tuple[int, str, FieldErrors | None, str | None]:
        if isinstance(err, Refusal):
            return err.status, err.message, None, err.code
        if isinstance(err, domain.NotFound):
            code = not_found_codes.get(err.resource, f"{err.resource.upper()}_NOT_FOUND")
            return 404, err.message, None, code
        if isinstance(err, domain.Forbidden):
            return 403, err.message, None, "PERMISSION_DENIED"
        if isinstance(err, domain.ValidationFailed):
            return 400, str(invalid[1]), err.errors, invalid[0]
        for kind, code in refusal_codes.items():
            if isinstance(err, kind):
                return 400, err.message, None, code
        return 400, err.message, None, fallback_code

    return Surface(name, (prefix,), render=render, validation_status=400,
                   domain_error=domain_error, unauthorized_message=lambda: _("Unauthorized"))


def documented(blp: Blueprint, schema: type[Schema],
               errors: Mapping[int, Sequence[str]]) -> Callable[[Callable[..., Any]], Any]:
    """OpenAPI for a customer-app route: bearer security, the 200 body, and each error
    status with the codes it may carry (401, 403 and CUSTOMER_NOT_FOUND on every route)."""
    statuses = {401: ("UNAUTHORIZED",), 403: ("PERMISSION_DENIED",), **errors}
    statuses[404] = ("CUSTOMER_NOT_FOUND", *errors.get(404, ()))

    def decorate(view: Callable[..., Any]) -> Any:
        for status, names in sorted(statuses.items()):
            view = blp.alt_response(status, schema=CustomerAppErrorSchema,
                                    description="code: " + " | ".join(names))(view)
        return blp.doc(security=SECURITY)(blp.response(200, schema)(view))

    return decorate


def customer_only(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`authenticate, restrictTo('customer'), checkPermissions(permission)` as one guard.

    Applied above `@blp.arguments` so a caller without access learns nothing about the
    body's validity. The permission is data (the role's FAB permission rows); a caller
    holding it without a customer record (an admin) is CUSTOMER_NOT_FOUND, as the seeds
    list. The view receives the Actor as `actor`.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            actor = require_actor()
            if not actor.can(permission):
                raise Refusal(403, "PERMISSION_DENIED", _("Forbidden"))
            if actor.customer_id is None:
                raise Refusal(404, "CUSTOMER_NOT_FOUND", _("Customer not found"))
            return view(*args, actor=actor, **kwargs)

        return guarded

    return decorate


def upper(value: str | None) -> str | None:
    """Stored `in_progress` / `high` as the customer apps spell them: IN_PROGRESS / HIGH."""
    return value.upper() if value else value


def iso(moment: dt.datetime | None) -> str | None:
    """Stored naive UTC as ISO 8601 with a `Z`."""
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None


def subject_from(description: str) -> str:
    """The apps send no subject: the desk lists the first line of the description."""
    lines = description.replace("\x00", "").strip().splitlines()
    line = lines[0].strip() if lines else ""
    return line if len(line) <= SUBJECT_LENGTH else line[: SUBJECT_LENGTH - 1].rstrip() + "…"


def id_field(**kwargs: Any) -> fields.Integer:
    """A positive integer id that fits the database column (booleans and strings refused)."""
    return fields.Integer(strict=True, validate=ID_RANGE, **kwargs)



TICKET_ID = "ticket_id"


class TicketIdConverter(BaseConverter):
    """A ticket id path segment that reaches the view whatever it holds (None when it is
    not an integer), so each seed answers `.../abc` with the code its table documents
    rather than the router's bare 404."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> int | None:
        return int(value) if re.fullmatch(r"-?[0-9]{1,19}", value) else None

    def to_url(self, value: Any) -> str:
        return str(value)


def accept_any_ticket_id(blp: Blueprint) -> None:
    """Make `<ticket_id:...>` usable in `blp`'s routes; call before defining them (the
    app's URL map needs the converter before a rule using it is added)."""
    blp.record_once(lambda state: state.app.url_map.converters.setdefault(TICKET_ID, TicketIdConverter))


def document_ticket_id(api: Api) -> None:
    """The spec shows the segment as what the seeds document: an integer."""
    api.register_converter(TicketIdConverter, lambda _converter: {"type": "integer"})


def visible_ticket(actor: Actor, ticket_id: int | None, not_found_code: str) -> Ticket:
    """The caller's own ticket or one they are a group member of. Anything else, another
    customer's included, is reported as missing: existence is never revealed."""
    ticket = None
    if ticket_id is not None and 1 <= ticket_id <= MAX_ID:
        ticket = db.session.scalar(visible_tickets(actor).where(resolves_to(ticket_id)))
    if ticket is None:
        raise Refusal(404, not_found_code, _("Ticket not found"))
    return ticket
