"""One error dispatcher, many documented formats.

Each API surface registers how its errors look (002: {"success": false, ...},
001/004: {"status": "error", "code": ...}, 003: {"error": ...}). Whatever goes
wrong under a surface's path prefix (a domain refusal, a validation error, a 404
from routing, a 413, a database outage) is answered in that surface's format.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask, Response, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..ops.request_log import current_request_id
from ..security.current import AuthError
from ..tickets import errors as domain

log = logging.getLogger(__name__)

FieldErrors = dict[str, list[str]]
Renderer = Callable[[int, str, "FieldErrors | None", "str | None"], Any]

DOMAIN_STATUS: dict[type[domain.DomainError], int] = {
    domain.NotFound: 404,
    domain.Forbidden: 403,
    domain.ValidationFailed: 422,
    domain.InvalidTransition: 400,
    domain.AlreadyEscalated: 400,
    domain.CannotEscalate: 400,
    domain.AlreadyAssigned: 400,
    domain.Conflict: 400,
}


def default_render(status: int, message: str, errors: FieldErrors | None, code: str | None) -> Any:
    body: dict[str, Any] = {"success": False, "message": message}
    if errors:
        body["errors"] = errors
    return body


@dataclass
class Surface:
    """How one API surface answers errors. `domain_error` may remap status/code/message."""

    name: str
    prefixes: tuple[str, ...]
    render: Renderer = default_render
    validation_status: int = 422
    domain_error: Callable[[domain.DomainError], tuple[int, str, FieldErrors | None, str | None]] | None = None
    unauthorized_message: Callable[[], str] = field(default=lambda: _("Unauthenticated."))

    def respond(self, status: int, message: str, errors: FieldErrors | None = None,
                code: str | None = None, headers: dict[str, str] | None = None) -> Response:
        body = self.render(status, message, errors, code)
        if status >= 500 and isinstance(body, dict):  # an extra field: no seed forbids one
            body["request_id"] = current_request_id()
        response = jsonify(body)
        response.status_code = status
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response


DEFAULT_SURFACE = Surface("default", ("/api",))
_surfaces: list[Surface] = []


def register_surface(surface: Surface) -> Surface:
    _surfaces[:] = [s for s in _surfaces if s.name != surface.name] + [surface]
    return surface


def surface_for_path(path: str) -> Surface:
    best, best_len = DEFAULT_SURFACE, 0
    for surface in _surfaces:
        for prefix in surface.prefixes:
            if (path == prefix or path.startswith(prefix.rstrip("/") + "/")) and len(prefix) > best_len:
                best, best_len = surface, len(prefix)
    return best


def flatten_messages(messages: Any) -> FieldErrors:
    """webargs nests errors by location ({"json": {"subject": [...]}}); surfaces want fields."""
    out: FieldErrors = {}
    if not isinstance(messages, dict):
        return {"_request": [str(messages)]}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            for name, problems in fields.items():
                if isinstance(problems, dict):  # nested / list item errors
                    problems = [f"{k}: {v}" for k, v in problems.items()]
                elif not isinstance(problems, list):
                    problems = [str(problems)]
                out.setdefault(str(name), []).extend(str(p) for p in problems)
        else:
            problems = fields if isinstance(fields, list) else [fields]
            out.setdefault("_request" if location in ("json", "form") else location, []).extend(
                str(p) for p in problems
            )
    return out


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def handle_domain_error(err: domain.DomainError) -> Response:
    surface = surface_for_path(request.path)
    if surface.domain_error is not None:
        status, message, errors, code = surface.domain_error(err)
    else:
        status = DOMAIN_STATUS.get(type(err), 400)
        if isinstance(err, domain.ValidationFailed):
            status = surface.validation_status
        message = _("Validation failed") if isinstance(err, domain.ValidationFailed) else err.message
        errors = err.errors if isinstance(err, domain.ValidationFailed) else None
        code = err.code
    return surface.respond(status, message, errors, code)


def handle_auth_error(err: AuthError) -> Response:
    surface = surface_for_path(request.path)
    return surface.respond(401, err.reason, None, "UNAUTHORIZED")


def handle_http_error(err: HTTPException) -> Response | HTTPException:
    if not _is_api(request.path):
        return err
    surface = surface_for_path(request.path)
    status = err.code or 500
    data = getattr(err, "data", None) or {}
    errors = flatten_messages(data["messages"]) if "messages" in data else None
    if status == 422:
        return surface.respond(surface.validation_status, _("Validation failed"), errors,
                               "INVALID_REQUEST")
    messages = {
        400: _("Bad request"),
        401: surface.unauthorized_message(),
        403: _("Forbidden"),
        404: _("Not found"),
        405: _("Method not allowed"),
        413: _("Request body too large"),
        429: _("Too many requests"),
    }
    message = messages.get(status) or (err.description or err.name)
    headers = {k: v for k, v in (err.get_headers() or []) if k.lower() in ("retry-after", "allow")}
    return surface.respond(status, message, errors, err.name.upper().replace(" ", "_"), headers)


def handle_database_error(err: DBAPIError) -> Response:
    """A driver error is a lost database when SQLAlchemy's disconnect check says so, not
    only when its class does: libpq's own error for a connection dropped while a result
    is read carries no SQLSTATE, so psycopg raises it as a plain DatabaseError. Any
    other database error is a bug."""
    if err.connection_invalidated or isinstance(err, (OperationalError, InterfaceError)):
        return handle_database_down(err)
    if current_app.testing:
        raise err  # tests see the bug itself
    return handle_unexpected(err)


def handle_database_down(err: Exception) -> Response:
    """A lost database (or a pool that cannot hand out a connection in time) is a
    temporary condition: 503 so clients (and Mailgun) retry.

    The session's connections are invalidated, not rolled back: a ROLLBACK on a dead
    connection would fail again at request teardown and turn this answer into a 500."""
    db.session().invalidate()  # the request's Session (scoped_session does not proxy this)
    log.error("database unavailable: %s", err)
    surface = surface_for_path(request.path)
    return surface.respond(503, _("Service temporarily unavailable"), None, "UNAVAILABLE",
                           {"Retry-After": "5"})


def handle_unexpected(err: Exception) -> Response:
    db.session.rollback()
    if not _is_api(request.path):
        raise err  # Flask logs it (once) and renders its 500 page
    log.exception("unhandled error on %s %s", request.method, request.path)
    surface = surface_for_path(request.path)
    return surface.respond(500, _("Server error"), None, "SERVER_ERROR")


def install(app: Flask) -> None:
    app.register_error_handler(domain.DomainError, handle_domain_error)
    app.register_error_handler(AuthError, handle_auth_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(PoolTimeout, handle_database_down)
    if not app.testing:
        app.register_error_handler(Exception, handle_unexpected)
