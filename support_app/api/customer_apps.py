"""What the customer-app surfaces (munch 001, mtxi 004) share.

Both answer errors as {"status": "error", "code": ..., "message": ...}, both are for
customers only (authenticate, `restrictTo('customer')`, `checkPermissions(name)`),
and both name refusals with their own codes. Each surface supplies its own code table.
"""
from __future__ import annotations

import datetime as dt
import functools
from typing import Any, Callable, Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from ..security.current import require_actor
from ..tickets.errors import DomainError
from .errors import FieldErrors, Renderer

# Ids are PostgreSQL `integer` columns: anything larger can only be "not found".
MAX_ID = 2**31 - 1
SECURITY = [{"bearerAuth": []}]
SUBJECT_LENGTH = 80


class StatusErrorSchema(Schema):
    """The documented error body; `errors` (per field) only accompanies bad input."""

    status = fields.String(required=True, metadata={"enum": ["error"]})
    code = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class Refusal(DomainError):
    """A refusal the surface itself decides, already carrying its HTTP status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def status_error_renderer(aliases: Mapping[str, tuple[str, Any]]) -> Renderer:
    """A renderer that renames the dispatcher's generic codes (BAD_REQUEST, FORBIDDEN,
    ...) to this surface's documented code and message: {generic: (code, lazy message)}."""

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

    return render


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
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


INVALID_REQUEST_MESSAGE = _l("Invalid request parameters")


def codes(*names: str) -> str:
    """An error response's OpenAPI description: the `code` values it may carry."""
    return "code: " + " | ".join(names)
