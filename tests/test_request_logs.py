"""One log line per request with its request id; the id in the response header, in a
500's body and in the log lines of the work the request queued; one traceback per
unhandled error; never a token or password in a log line (JSON lines included)."""
from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import event
import requests

from support_app.extensions import db
from support_app.models import EmailLog
from support_app.ops.request_log import RequestIdFilter, current_request_id
from support_app.realtime.dispatch import dispatcher
from support_app.tickets.events import publisher

from .factories import PASSWORD
from .live import SERVER_SCRIPT, TIMEOUT, ServerProcess
from .log_guard import JWT, SecretGuard

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def records(caplog):
    """Captured records, stamped with the request id as the server's handler stamps them."""
    caplog.set_level(logging.INFO, logger="support_app")
    caplog.handler.addFilter(RequestIdFilter())
    return caplog


def request_lines(records, request_id: str) -> list[logging.LogRecord]:
    return [r for r in records.records
            if r.name == "support_app.requests" and r.request_id == request_id]


def test_the_request_line_names_rule_status_duration_user_and_id(client, factory, records):
    alice = factory.customer()
    ticket = factory.ticket(alice)
    response = client.get(f"/api/support-tickets/{ticket.id}",
                          headers={**alice.headers, "X-Request-ID": "trace-42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "trace-42"
    [line] = request_lines(records, "trace-42")
    assert (line.method, line.route, line.status, line.user_id) == (
        "GET", "/api/support-tickets/<int:ticket>", 200, alice.id)
    assert isinstance(line.duration_ms, float)
    assert line.getMessage().startswith("GET /api/support-tickets/<int:ticket> 200 ")


@pytest.mark.parametrize("offered", ["has space", "x" * 200, "<script>", "-leading-dash"])
def test_an_unsafe_request_id_is_replaced_by_a_generated_one(client, records, offered):
    response = client.get("/healthz", headers={"X-Request-ID": offered})
    generated = response.headers["X-Request-ID"]
    assert HEX_ID.fullmatch(generated)
    assert request_lines(records, generated)


def test_a_request_without_an_id_gets_one(client, records):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert HEX_ID.fullmatch(first) and first != second


def test_a_socket_push_runs_under_the_id_of_the_request_that_queued_it(app):
    seen: list[str | None] = []
    with app.test_request_context(headers={"X-Request-ID": "trace-push"}):
        dispatcher.submit(lambda: seen.append(current_request_id()))
    dispatcher.wait_idle()
    assert seen == ["trace-push"]


def test_the_outbox_line_ties_the_queued_email_to_its_request(client, factory, records):
    alice = factory.customer()
    response = client.post("/api/support-tickets", headers={**alice.headers, "X-Request-ID": "trace-mail"},
                           json={"subject": "Where is my parcel", "description": "It has not arrived yet."})
    assert response.status_code == 201, response.get_json()
    [row] = db.session.query(EmailLog).filter_by(direction="out").all()
    queued = [r for r in records.records if r.name == "support_app.notify.mail" and row.message_id in r.getMessage()]
    assert [r.request_id for r in queued] == ["trace-mail"]


def test_a_change_that_rolls_back_logs_no_queued_email(client, factory, records):
    """The outbox line follows the commit: a change undone after its email row was
    written queued nothing, and says nothing was queued."""
    alice = factory.customer()

    def fail_after_the_mail_row(_event):
        def write() -> None:
            assert db.session.query(EmailLog).count() == 1  # the mail row is written by now
            raise RuntimeError("a later step of the change failed")
        return write

    publisher.subscribe_in_transaction(fail_after_the_mail_row)
    try:
        with pytest.raises(RuntimeError):  # the test client re-raises what a 500 answers
            client.post("/api/support-tickets", headers=alice.headers,
                        json={"subject": "Where is my parcel", "description": "It has not arrived yet."})
    finally:
        publisher.unsubscribe(fail_after_the_mail_row)
    assert db.session.query(EmailLog).count() == 0
    assert not [r for r in records.records if "queued" in r.getMessage()]
    db.session.remove()  # as the request's teardown would (the test shares its session)
    response = client.post("/api/support-tickets", headers=alice.headers,
                           json={"subject": "Where is my parcel", "description": "It has not arrived yet."})
    assert response.status_code == 201
    [row] = db.session.query(EmailLog).all()
    number = response.get_json()["data"]["ticket_number"]
    assert [r.getMessage() for r in records.records if "queued" in r.getMessage()] == [
        f"email {row.message_id} queued: ticket_received for ticket {number}"]


# --------------------------------------------------------------------------- credentials


def test_login_refresh_register_and_token_requests_log_no_secret(client, factory, secret_guard):
    """The session guard (conftest) sees these records; it fails the run on any leak."""
    alice = factory.customer()
    before = secret_guard.seen
    login = client.post("/api/auth/login", json={"email": alice.user.email, "password": PASSWORD})
    assert login.status_code == 200
    tokens = login.get_json()
    client.post("/api/auth/login", json={"email": alice.user.email, "password": "wrong-pass-1"})
    client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    client.post("/api/auth/register", json={"name": "New Person", "email": "new@example.com",
                                            "password": "longpass123"})
    client.get("/api/support-tickets", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    client.get("/api/support-tickets", headers={"Authorization": "Bearer not-a-real-token-at-all"})
    assert secret_guard.seen > before + 5  # the records were really scanned
    assert secret_guard.leaks == []


def test_the_guard_catches_a_token_or_a_password():
    guard = SecretGuard()
    log = logging.getLogger("tests.guard_probe")
    log.propagate = False  # these leaks are on purpose: kept from the session's guard
    log.addHandler(guard)
    try:
        log.warning("auth header was %s", "Bearer abcdefghijk.lmnop")
        log.warning("user %s signed in", "x", extra={"password": PASSWORD})
        log.warning("nothing to see")
    finally:
        log.removeHandler(guard)
    assert len(guard.leaks) == 2


# --------------------------------------------------------------------------- a real server

BOOM_SCRIPT = SERVER_SCRIPT.replace("app = create_app()\n", '''app = create_app()

def boom():
    raise RuntimeError("boom: a bug")

app.add_url_rule("/api/customer/munch/support/boom", "boom_api", boom)
app.add_url_rule("/boom", "boom_page", boom)
''')


class BoomServer(ServerProcess):
    """The production app (not testing) plus two routes that raise."""

    script = BOOM_SCRIPT


def json_lines(log: str) -> list[dict]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_json_lines_request_ids_in_500_bodies_and_one_traceback_per_error(app, factory, tmp_path):
    alice = factory.customer()
    with BoomServer(app, tmp_path, LOG_FORMAT="json", MAIL_BACKGROUND="false") as server:
        http = requests.Session()
        tokens = http.post(server.url + "/api/auth/login", timeout=TIMEOUT,
                           json={"email": alice.user.email, "password": PASSWORD}).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        http.post(server.url + "/api/auth/refresh", timeout=TIMEOUT,
                  headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
        listed = http.get(server.url + "/api/support-tickets", timeout=TIMEOUT,
                          headers={**bearer, "X-Request-ID": "trace-sub-1"})
        api_500 = http.get(server.url + "/api/customer/munch/support/boom", headers=bearer,
                           timeout=TIMEOUT)
        page_500 = http.get(server.url + "/boom", timeout=TIMEOUT)
        log = server.log()

    assert listed.status_code == 200 and listed.headers["X-Request-ID"] == "trace-sub-1"
    lines = json_lines(log)
    [line] = [e for e in lines if e["request_id"] == "trace-sub-1" and e["logger"] == "support_app.requests"]
    assert (line["method"], line["route"], line["status"], line["user_id"]) == (
        "GET", "/api/support-tickets", 200, alice.id)

    # The 500 in munch's format, with the id as an extra field; the same id in the header.
    assert api_500.status_code == 500
    body = api_500.json()
    rid = api_500.headers["X-Request-ID"]
    assert body["status"] == "error" and body["code"] == "SERVER_ERROR" and body["request_id"] == rid
    for response in (api_500, page_500):
        rid = response.headers["X-Request-ID"]
        mine = [e for e in lines if e["request_id"] == rid]
        assert [e["status"] for e in mine if e["logger"] == "support_app.requests"] == [500]
        tracebacks = [e for e in mine if "RuntimeError: boom" in e.get("exception", "")]
        assert len(tracebacks) == 1, mine  # logged once, with its request id
    assert log.count("Traceback") == 2

    for secret in (tokens["access_token"], tokens["refresh_token"], PASSWORD):
        assert secret not in log
    assert not JWT.search(log) and "Bearer " not in log


def test_a_failed_statement_logs_no_parameters(client, factory, caplog):
    """A database error's text carries the statement's parameters (a message body, a
    password hash) unless the engine hides them; the 503 path logs that text."""
    caplog.set_level(logging.INFO, logger="support_app")
    alice = factory.customer()
    ticket = factory.ticket(alice)
    body = "my card number is 4111-SECRET-BODY"

    def drop(cursor, statement, parameters, context) -> None:
        if statement.startswith("INSERT INTO ticket_messages"):
            context.root_connection.connection.dbapi_connection.close()

    event.listen(db.engine, "do_execute", drop)
    try:
        response = client.post(f"/api/support-tickets/{ticket.id}/messages", headers=alice.headers,
                               json={"message": body})
    finally:
        event.remove(db.engine, "do_execute", drop)
    assert response.status_code == 503
    assert "database unavailable" in caplog.text
    assert "4111-SECRET-BODY" not in caplog.text
