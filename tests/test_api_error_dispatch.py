"""The error dispatcher's routing and shaping (`api/errors.py`): which surface answers
for a path, how webargs' nested messages become field errors, and the documented
format for routing errors (mutants the surface tests let live, issue 28)."""
from __future__ import annotations

import pytest

from support_app.api import errors
from support_app.api.errors import Surface, flatten_messages, surface_for_path


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
