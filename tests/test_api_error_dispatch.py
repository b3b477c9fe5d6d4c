"""The error dispatcher's routing and shaping (`api/errors.py`): which surface answers
for a path, how webargs' nested messages become field errors, and the documented
format for routing errors (mutants the surface tests let live, issue 28)."""
from __future__ import annotations

import logging

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug import exceptions
from werkzeug.exceptions import HTTPException

from support_app.api import errors
from support_app.api.errors import Surface, flatten_messages, surface_for_path
from support_app.extensions import db
from support_app.models import Ticket
from support_app.security.current import AuthError
from support_app.tickets import errors as domain


@pytest.mark.parametrize("path, name", [
    ("/api/support-tickets", "support-tickets-002"),
    ("/api/support-tickets/5/messages", "support-tickets-002"),
    ("/api/support-messages/3/read", "support-tickets-002"),
    ("/api/support-ticketsX", "default"),
    ("/api/support/tickets/1/", "agent_desk"),
    ("/api/support", "default"),
    ("/api/notifications", "notifications"),
    ("/api/admin/support/tickets/4", "agent_desk"),
    ("/api/admin/support/stats", "storefront-admin"),
    ("/api/notifications/9/read", "notifications"),
    ("/api", "default"),
    ("/api/nothing-here", "default"),
])
def test_each_path_is_answered_by_its_surface(app, path, name):
    assert surface_for_path(path).name == name


def test_the_longest_matching_prefix_wins(app):
    short = errors.register_surface(Surface("test-short", ("/api/zz",)))
    long = errors.register_surface(Surface("test-long", ("/api/zz/deep",)))
    again = None
    try:
        assert surface_for_path("/api/zz/deep/1").name == "test-long"
        assert surface_for_path("/api/zz/deeper").name == "test-short"
        assert surface_for_path("/api/zz").name == "test-short"
        # Registering a surface again under its name replaces it.
        again = errors.register_surface(Surface("test-short", ("/api/yy",)))
        assert surface_for_path("/api/zz/1").name == "default"
        assert surface_for_path("/api/yy/1") is again
    finally:
        errors._surfaces[:] = [s for s in errors._surfaces if s not in (short, long, again)]
    assert surface_for_path("/api/yy/1").name == "default"


@pytest.mark.parametrize("messages, fields", [
    ("Bad body", {"_request": ["Bad body"]}),
    ({"json": {"subject": ["Missing data for required field."]}},
     {"subject": ["Missing data for required field."]}),
    ({"json": {"items": {"0": ["Not a valid integer."]}}},
     {"items": ["0: ['Not a valid integer.']"]}),
    ({"json": {"subject": "Too long."}}, {"subject": ["Too long."]}),
    ({"json": ["Invalid input type."]}, {"_request": ["Invalid input type."]}),
    ({"form": "Invalid form."}, {"_request": ["Invalid form."]}),
    ({"query": ["Unknown field."]}, {"query": ["Unknown field."]}),
    ({"json": {"page": ["Too big."]}, "query": {"page": ["Not a number."]}},
     {"page": ["Too big.", "Not a number."]}),
])
def test_webargs_messages_become_field_errors(messages, fields):
    assert flatten_messages(messages) == fields


def test_default_format_has_errors_only_when_there_are_some():
    assert errors.default_render(404, "Not found", None, "NOT_FOUND") == {
        "success": False, "message": "Not found"}
    assert errors.default_render(422, "Validation failed", {"a": ["b"]}, None) == {
        "success": False, "message": "Validation failed", "errors": {"a": ["b"]}}


def test_wrong_method_is_405_with_allow_in_the_surface_format(client):
    response = client.delete("/api/support-tickets")
    assert response.status_code == 405
    assert response.get_json() == {"success": False, "message": "Method not allowed"}
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_unknown_api_path_is_a_json_404_and_a_page_outside_the_api(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.get_json() == {"success": False, "message": "Not found"}
    page = client.get("/nothing-here")
    assert page.status_code == 404 and page.get_json(silent=True) is None


def test_each_refusal_is_worded_in_the_surface_format(app, client, factory):
    """What the 002 surface answers, whole, for each error a client meets before its
    request reaches the domain: no credentials, a malformed body, too large a body,
    too many attempts (with the Retry-After the limiter set)."""
    customer = factory.customer()
    assert client.get("/api/support-tickets").get_json() == {
        "success": False, "message": "Unauthenticated"}
    bad = client.post("/api/support-tickets", data="{bad", content_type="application/json",
                      headers=customer.headers)
    assert (bad.status_code, bad.get_json()) == (400, {
        "success": False, "message": "Bad request", "errors": {"_request": ["Invalid JSON body."]}})
    app.config["MAX_CONTENT_LENGTH"] = 50
    try:
        big = client.post("/api/support-tickets", data="x" * 100, content_type="application/json",
                          headers=customer.headers)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    assert (big.status_code, big.get_json()) == (413, {
        "success": False, "message": "Request body too large"})
    for _ in range(12):
        limited = client.post("/api/auth/login", json={"email": "a@example.com",
                                                       "password": "wrong-pass-1"})
    assert (limited.status_code, limited.get_json()) == (429, {
        "success": False, "message": "Too many requests"})
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["Content-Type"] == "application/json"  # not the HTML error page's


def test_routing_errors_carry_their_code_on_a_surface_that_shows_codes(client):
    """The 000 surface (storefront admin) shows a code: the HTTP error's name."""
    missing = client.get("/api/admin/support/nothing-here")
    assert (missing.status_code, missing.get_json()) == (404, {
        "success": False, "message": "Not found", "code": "NOT_FOUND"})
    wrong = client.delete("/api/admin/support")
    assert (wrong.status_code, wrong.get_json()) == (405, {
        "success": False, "message": "Method not allowed", "code": "METHOD_NOT_ALLOWED"})
    assert "GET" in wrong.headers["Allow"]


@pytest.mark.parametrize("testing", [True, False])
def test_install_sends_each_error_class_to_its_handler(testing):
    """The catch-all only outside tests: under test a bug raises into the test."""
    bare = Flask(__name__)
    bare.testing = testing
    errors.install(bare)
    expected = {domain.DomainError: errors.handle_domain_error, AuthError: errors.handle_auth_error,
                HTTPException: errors.handle_http_error, DBAPIError: errors.handle_database_error,
                PoolTimeout: errors.handle_database_down}
    if not testing:
        expected[Exception] = errors.handle_unexpected
    assert bare.error_handler_spec[None][None] == expected


def _failing(statement_part: str):
    """A `do_execute` hook: the driver's generic error (no disconnect) on the statement
    containing `statement_part`, as a bug in a query would raise."""
    dbapi = db.engine.dialect.dbapi

    def fail(cursor, statement, parameters, context) -> None:
        if statement_part in statement:
            raise dbapi.DatabaseError("injected fault")
    return fail


@pytest.mark.parametrize("surface", ["002", "001"])
def test_a_database_error_that_is_a_bug_is_a_500_in_the_surface_format(app, client, factory,
                                                                        caplog, surface):
    """Not a lost connection: in production the surface's 500 with the request id, the
    request's writes rolled back and the error logged with its traceback; under test it
    raises, so the test sees the bug."""
    customer = factory.customer()
    if surface == "002":
        method, path, statement = "POST", "/api/support-tickets", "INSERT INTO tickets"
        def send():
            return client.post(path, json={"subject": "Lost", "description": "The insert fails."},
                               headers=customer.headers)
    else:
        method, path, statement = "GET", "/api/customer/munch/support/ticket/9/status", "FROM tickets"
        def send():
            return client.get(path, headers=customer.headers)
    fail = _failing(statement)
    event.listen(db.engine, "do_execute", fail)
    try:
        with pytest.raises(DBAPIError):
            send()
        db.session.rollback()
        app.testing = False
        with caplog.at_level(logging.ERROR, logger="support_app.api.errors"):
            response = send()
    finally:
        app.testing = True
        event.remove(db.engine, "do_execute", fail)
    rid = response.headers["X-Request-ID"]
    assert (response.status_code, response.get_json()) == (500, {
        "002": {"success": False, "message": "Server error", "request_id": rid},
        "001": {"status": "error", "code": "SERVER_ERROR", "message": "Server error", "request_id": rid},
    }[surface])
    [logged] = [r for r in caplog.records if r.name == "support_app.api.errors"]
    assert logged.getMessage() == f"unhandled error on {method} {path}"
    assert "injected fault" in str(logged.exc_info[1])
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_database_bug_on_a_page_is_flasks_500_page_logging_the_error_itself(app, client, caplog):
    """Outside the API the dispatcher re-raises the error it was given: Flask's own 500
    page, its log record carrying the database error (not one the handler made)."""
    fail = _failing("FROM tickets")
    event.listen(db.engine, "do_execute", fail)
    try:
        app.testing = False
        with caplog.at_level(logging.ERROR):
            response = client.get("/survey/TKT-1/some-token")
    finally:
        app.testing = True
        event.remove(db.engine, "do_execute", fail)
    assert response.status_code == 500 and response.get_json(silent=True) is None
    [logged] = [r for r in caplog.records if r.exc_info]
    assert isinstance(logged.exc_info[1], DBAPIError) and "injected fault" in str(logged.exc_info[1])


def test_the_api_root_itself_is_a_json_404(client):
    response = client.get("/api")
    assert (response.status_code, response.get_json()) == (404, {"success": False, "message": "Not found"})


def test_a_body_the_schema_refuses_is_the_surfaces_validation_error(client, factory):
    """In each surface's status, with the fields and, where the surface shows one, the code."""
    customer = factory.customer()
    response = client.post("/api/support-tickets", json={"subject": 5}, headers=customer.headers)
    assert (response.status_code, response.get_json()) == (422, {
        "success": False, "message": "Validation failed",
        "errors": {"subject": ["The subject must be a string."],
                   "description": ["The description field is required."]}})
    response = client.post("/api/customer/support", json={"subject": 5}, headers=customer.headers)
    assert (response.status_code, response.get_json()) == (400, {
        "success": False, "message": "Validation failed", "code": "INVALID_REQUEST",
        "errors": {"subject": ["Not a valid string."], "message": ["Missing data for required field."]}})
    response = client.post("/api/customer/munch/support/ticket", json={"orderId": "abc"},
                           headers=customer.headers)
    assert (response.status_code, response.get_json()) == (400, {  # 001's own code and words
        "status": "error", "code": "INVALID_REQUEST", "message": "Invalid request parameters",
        "errors": {"orderId": ["Not a valid integer."], "issueType": ["Missing data for required field."],
                   "description": ["Missing data for required field."]}})
    response = client.post("/api/auth/confirm-email", json={})  # the accounts surface: its code as is
    assert (response.status_code, response.get_json()["code"]) == (422, "INVALID_REQUEST")


def test_a_lost_database_is_a_503_with_code_and_retry_after(client, factory):
    """On a surface that shows codes and a route with no rate limit (whose Retry-After
    would stand in for the dispatcher's)."""
    customer = factory.customer()

    def drop(cursor, statement, parameters, context) -> None:
        if "FROM tickets" in statement:
            context.root_connection.connection.dbapi_connection.close()

    event.listen(db.engine, "do_execute", drop)
    try:
        response = client.get("/api/customer/munch/support/ticket/9/status",
                              headers=customer.headers)
    finally:
        event.remove(db.engine, "do_execute", drop)
        db.session.remove()
    assert (response.status_code, response.get_json()) == (503, {
        "status": "error", "code": "UNAVAILABLE", "message": "Service temporarily unavailable",
        "request_id": response.headers["X-Request-ID"]})
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize("path, error, status, body", [
    ("/api/support-tickets", domain.NotFound("ticket", "No ticket 9"), 404,
     {"success": False, "message": "No ticket 9"}),
    ("/api/support-tickets", domain.Forbidden("Not yours"), 403,
     {"success": False, "message": "Not yours"}),
    ("/api/support-tickets", domain.ValidationFailed({"a": ["b"]}, "Own words"), 422,
     {"success": False, "message": "Validation failed", "errors": {"a": ["b"]}}),
    ("/api/support-tickets", domain.InvalidTransition("Closed"), 400,
     {"success": False, "message": "Closed"}),
    ("/api/support-tickets", domain.DomainError("Something else"), 400,
     {"success": False, "message": "Something else"}),
    ("/api/customer/support", domain.ValidationFailed({"a": ["b"]}, "Own words"), 400,
     {"success": False, "message": "Validation failed", "code": "VALIDATION_FAILED",
      "errors": {"a": ["b"]}}),
    ("/api/customer/support", domain.Conflict("Twice"), 400,
     {"success": False, "message": "Twice", "code": "CONFLICT"}),
    ("/api/customer/support", domain.NotFound("ticket", "No ticket 9"), 404,
     {"success": False, "message": "No ticket 9", "code": "NOT_FOUND"}),
])
def test_a_domain_refusal_is_answered_in_the_surface_of_its_path(app, path, error, status, body):
    """Surfaces without their own mapping: the status by the refusal's class (a
    validation failure in the surface's validation status, with its fields, in the
    surface's words), the refusal's message and code."""
    with app.test_request_context(path):
        response = errors.handle_domain_error(error)
    assert (response.status_code, response.get_json()) == (status, body)


@pytest.mark.parametrize("path, error, body", [
    ("/api/customer/support", exceptions.Forbidden(),
     {"success": False, "message": "Forbidden", "code": "FORBIDDEN"}),
    ("/api/customer/support", exceptions.Unauthorized(),
     {"success": False, "message": "Unauthenticated.", "code": "UNAUTHORIZED"}),
    ("/api/support/tickets/1/", exceptions.Unauthorized(),
     {"error": "Authentication credentials were not provided."}),
    # A status the dispatcher has no words for keeps the error's own description.
    ("/api/customer/support", exceptions.Conflict("Changed by someone else"),
     {"success": False, "message": "Changed by someone else", "code": "CONFLICT"}),
])
def test_an_http_error_no_route_raises_yet_is_worded_by_its_surface(app, path, error, body):
    """A 401 or 403 werkzeug error (a library's, an extension's): the surface's words."""
    with app.test_request_context(path):
        response = errors.handle_http_error(error)
    assert (response.status_code, response.get_json()) == (error.code, body)


def test_an_http_errors_retry_after_reaches_the_client_and_other_headers_do_not(app):
    """A 429 says when to come back (whoever raised it); the error's other headers,
    such as its own Content-Type, are not copied onto the JSON answer."""
    with app.test_request_context("/api/customer/support"):
        response = errors.handle_http_error(exceptions.TooManyRequests(retry_after=30))
    assert (response.status_code, response.get_json()) == (429, {
        "success": False, "message": "Too many requests", "code": "TOO_MANY_REQUESTS"})
    assert response.headers["Retry-After"] == "30"
    assert response.headers["Content-Type"] == "application/json"
