"""Bad input on every JSON write of the URL map (taken from the authorization matrix, so
a new write endpoint is covered as soon as it is classified): unknown fields, wrong
types, NUL bytes, invalid UTF-8, a non-object body, a body over MAX_CONTENT_LENGTH, and
what Python's json accepts but nothing after it can take: a lone UTF-16 surrogate in
any string or key, nesting 5,000 levels deep, an integer past int_max_str_digits, and
ids of 2^63 or more (SQLite cannot bind them).

Each answer must be a 4xx the OpenAPI document declares for that operation, in the
schema it declares (the surface's own error format, checked by Schemathesis), and no
row anywhere may change. Text that is merely unusual (emoji, right-to-left, HTML, SQL
and LIKE wildcards) must round-trip exactly and be escaped wherever it is rendered.
"""
from __future__ import annotations

import re
import sys
from typing import Any, Iterator

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance)
from sqlalchemy import func, select

from support_app.extensions import db

from .admin_helpers import desk_client, login
from .test_authorization_matrix import MATRIX, Call, World, _build_world

# Seed 000 (Laravel-style), the contact form, auth and notifications drop unknown fields
# by design (their schemas say `unknown = EXCLUDE`); every other surface refuses them.
IGNORES_UNKNOWN = ("/api/customer/orders/support", "/api/customer/support", "/api/admin/support",
                   "/api/contact", "/api/auth/")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
AUTHORS = ("owner", "assigned_agent", "admin")


def _writes() -> Iterator[tuple[str, str, Call, str]]:
    for (method, rule), (call, expected) in MATRIX.items():
        if method in {"POST", "PUT", "PATCH"} and call.json is not None and "/api/v1/" not in rule:
            # The first author allowed past authorization (a 400 on the ticket's state counts).
            role = "anonymous" if call.public else next(
                r for r in AUTHORS if expected[r] not in {401, 403, 404})
            yield method, rule, call, role


WRITES = list(_writes())


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^>]*:)?([^>:]+)>", r"{\1}", rule)


def _row_counts() -> dict[str, int]:
    """Committed rows only (test requests share the test's session, as production never does)."""
    db.session.rollback()
    return {t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables if not t.name.startswith("ab_")}


BIG_ID = 2**63


def _variants(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield "not an object", [body]
    yield "lone surrogate in a key", {**body, "\ud800": "x"}
    for key, value in body.items():
        yield f"{key}: wrong type", {**body, key: {"nested": [1, 2]}}
        if isinstance(value, str):
            yield f"{key}: NUL byte", {**body, key: value[:1] + "\x00" + value[1:]}
            yield f"{key}: lone surrogate", {**body, key: value[:1] + "\ud800" + value[1:]}
        if isinstance(value, int) and not isinstance(value, bool):
            yield f"{key}: 2^63", {**body, key: BIG_ID}


def _raw_variants(body: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """Bodies json.dumps cannot even produce (its encoder has the same limits)."""
    yield "nested 5,000 deep", b'{"a": ' * 5000 + b"1" + b"}" * 5000
    yield "array nested 5,000 deep", b"[" * 5000 + b"]" * 5000
    digits = b"9" * (sys.get_int_max_str_digits() + 1)
    key = next((k for k, v in body.items() if isinstance(v, int)), "n").encode()
    yield "integer of 4,301 digits", b'{"' + key + b'": ' + digits + b"}"


@pytest.fixture
def world(factory) -> World:
    return _build_world(factory)


@pytest.fixture(scope="module")
def schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


def _client_for(app, world: World, role: str, call: Call):
    """A fresh address per call (login and contact limits count per address)."""
    client = desk_client(app)
    headers: dict[str, str] = {}
    if call.session:
        login(client, world.people[role].user.email)
        headers["X-CSRFToken"] = client.get("/api/admin/csrf-token").get_json()["csrf_token"]
    elif role != "anonymous":
        headers.update(world.people[role].headers)
    return client, headers


@pytest.mark.parametrize("method,rule,call,role", WRITES, ids=[f"{m} {r}" for m, r, _, _ in WRITES])
def test_bad_input_gets_a_documented_4xx_and_writes_nothing(app, world, schema, monkeypatch,
                                                             method, rule, call, role):
    operation = schema[_openapi_path(rule)][method]
    path, body = call.path(world), call.json(world)
    before = _row_counts()
    problems = []

    def check(label: str, response, case_body: Any = None) -> None:
        status = response.status_code
        if not 400 <= status < 500 or status == 429:
            problems.append(f"{label}: {status} {response.get_data(as_text=True)[:200]}")
            return
        case = operation.Case(body=case_body) if case_body is not None else operation.Case()
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # collected, asserted together below
            problems.append(f"{label}: {status} not as documented: {str(exc)[:300]}")

    def send(**kwargs: Any):
        client, headers = _client_for(app, world, role, call)
        kwargs["headers"] = {**headers, **kwargs.get("headers", {})}
        return client.open(path, method=method, **kwargs)

    for label, bad in _variants(body):
        check(label, send(json=bad), bad)
    raw = {"headers": {"Content-Type": "application/json"}}
    check("invalid UTF-8", send(data=b'{"subject": "\xff\xfe\xfd"}', **raw))
    check("truncated JSON", send(data=b'{"subject": ', **raw))
    for label, data in _raw_variants(body):
        check(label, send(data=data, **raw))
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
        huge = {**body, **{k: "x" * 8000 for k, v in body.items() if isinstance(v, str)},
                "pad": "y" * 8000}
        response = send(json=huge)
    if response.status_code != 413:
        problems.append(f"over MAX_CONTENT_LENGTH: {response.status_code}")
    else:
        check("over MAX_CONTENT_LENGTH", response)
    assert problems == [], "\n".join(problems)
    assert _row_counts() == before, "a refused request wrote rows"

    unknown = {**body, "unexpectedField": "surprise"}
    response = send(json=unknown)
    if not (rule.startswith(IGNORES_UNKNOWN) and response.status_code < 300):
        check("unknown field", response, unknown)
    assert problems == [], "\n".join(problems)


def test_every_api_blueprint_parses_bodies_with_the_json_checks(app):
    """A surface built on Smorest's own Blueprint would skip `json_body`'s refusals
    (surrogates, depth, huge integers) for its bodies and arguments."""
    from support_app.api.openapi import Blueprint

    names = app.extensions["flask-smorest"]["blp_name_to_api"]
    assert names, "no API blueprint registered"
    assert {n for n in names if not isinstance(app.blueprints[n], Blueprint)} == set()
