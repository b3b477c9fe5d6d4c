"""Faults as production meets them: the database vanishing mid-load, Redis gone.

SMTP down (mail retried with backoff, never lost) is proven in test_outbound_email.py;
duplicate and concurrent webhook deliveries (one message) in test_inbound_concurrency.py
and test_inbound_webhook.py."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url

import requests
from flask.globals import request_ctx

from support_app.extensions import db
from support_app.models import Customer

from .conftest import create_database, require_service
from .factories import PASSWORD
from .live import TIMEOUT, ServeCommand, ServerProcess, TcpProxy, closed_port, flask_cli


def _post(url: str, body: dict) -> tuple[int, float]:
    started = time.monotonic()
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    return status, time.monotonic() - started


@pytest.mark.postgres
def test_postgres_restart_mid_load_gives_503_then_recovers_without_half_writes(tmp_path):
    base = require_service("PostgreSQL", "TEST_DATABASE_URL")
    url, drop = create_database(base, tmp_path)
    real = make_url(url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432).start()
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    env = {"DATABASE_URL": proxied, "SUPPORT_INSTANCE_PATH": str(tmp_path),
           "SECRET_KEY": "outage-test-secret", "RATELIMIT_ENABLED": "false",
           "DB_CONNECT_TIMEOUT": "3"}
    results: list[tuple[str, int, float]] = []
    try:
        flask_cli("init", "--email", "admin@example.com", "--password", "admin-pass-1", env=env)
        with ServeCommand(env) as server:
            stop = time.monotonic() + 9

            def load() -> None:
                while time.monotonic() < stop:
                    email = f"load-{uuid.uuid4().hex[:10]}@example.com"
                    status, took = _post(server.url + "/api/auth/register",
                                         {"name": "Load Test", "email": email, "password": "longpass123"})
                    results.append((email, status, took))

            workers = [threading.Thread(target=load) for _ in range(4)]
            for worker in workers:
                worker.start()
            time.sleep(2.5)
            proxy.cut()          # the database "restarts": connections die, new ones refused
            time.sleep(3)
            proxy.restore()
            for worker in workers:
                worker.join()
            # The pool heals by itself: no restart of our server.
            after = [_post(server.url + "/api/auth/register",
                           {"name": "After", "email": f"after{i}@example.com", "password": "longpass123"})[0]
                     for i in range(3)]
    finally:
        proxy.stop()

    statuses = {status for _, status, _ in results}
    assert statuses <= {201, 503}, statuses
    assert 503 in statuses and 201 in statuses
    assert max(took for _, _, took in results) < 15, "a request hung during the outage"
    assert after == [201, 201, 201]

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            users = set(conn.execute(text("SELECT email FROM ab_user WHERE email LIKE 'load-%'")).scalars())
            customers = set(conn.execute(text("SELECT email FROM customers WHERE email LIKE 'load-%'")).scalars())
            linked = conn.execute(text(
                "SELECT count(*) FROM customers c JOIN ab_user u ON u.id = c.user_id "
                "WHERE c.email LIKE 'load-%'")).scalar()
    finally:
        engine.dispose()
        drop()
    created = {email for email, status, _ in results if status == 201}
    assert created <= users                       # every 201 was really stored
    assert users == customers                     # user and customer row stored together
    assert linked == len(users)


def _drop_connection_at(prefix: str):
    """A `do_execute` hook that kills the DBAPI connection just before the statement
    starting with `prefix` runs, so the driver itself reports the loss in its own class
    (SQLite: ProgrammingError, psycopg: OperationalError or, mid-result, DatabaseError)."""
    def hook(cursor, statement, parameters, context) -> None:
        if statement.startswith(prefix):
            context.root_connection.connection.dbapi_connection.close()
    return hook


def test_a_connection_lost_mid_transaction_is_503_whatever_the_driver_calls_it(client, app_ctx,
                                                                             caplog):
    """Register writes the user, then the customer; the connection dies before the
    second INSERT. The client gets the surface's 503 (not a 500), nothing of the account
    is stored, the pool replaces the connection and the same request then succeeds."""
    body = {"name": "Lost Link", "email": "lost@example.com", "password": "longpass123"}
    hook = _drop_connection_at("INSERT INTO customers")
    event.listen(db.engine, "do_execute", hook)
    try:
        response = client.post("/api/auth/register", json=body)
    finally:
        event.remove(db.engine, "do_execute", hook)
    assert response.status_code == 503, response.get_json()
    assert response.get_json() == {"success": False, "message": "Service temporarily unavailable",
                                   "request_id": response.headers["X-Request-ID"]}
    # The log names the driver's error and the statement it failed on.
    [logged] = [r.getMessage() for r in caplog.records if r.name == "support_app.api.errors"]
    assert logged.startswith("database unavailable: (") and "INSERT INTO customers" in logged
    # At least the 503's 5 s; register is rate-limited, and Flask-Limiter raises the
    # header to its window's reset when that comes later.
    assert int(response.headers["Retry-After"]) >= 5
    db.session.remove()
    assert db.session.scalar(select(Customer).where(Customer.email == body["email"])) is None
    assert db.session.scalar(text("SELECT count(*) FROM ab_user WHERE email = :e"),
                             {"e": body["email"]}) == 0

    assert client.post("/api/auth/register", json=body).status_code == 201


def test_a_connection_lost_after_the_answer_is_made_still_gives_the_answer(app):
    """A customer's list is read in a transaction that the end of the request rolls
    back; the connection dies in between, so that ROLLBACK fails. The client still
    gets its 200 page, and the next request gets a new connection.

    pytest-flask holds one request context for the whole test, which every request
    would share (nothing would end at a request's end); it is set aside here, so each
    request pushes and ends its own context and session, as in production."""
    engine = db.engine
    held = request_ctx._get_current_object()
    held.pop()
    client = app.test_client()
    rollbacks: list[object] = []

    def drop(conn) -> None:
        rollbacks.append(conn)
        conn.connection.dbapi_connection.close()

    try:
        token = client.post("/api/auth/register", json={
            "name": "Late Loss", "email": "late@example.com", "password": "longpass123",
        }).get_json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/support-tickets", headers=headers, json={
            "subject": "Kept", "description": "Stored before the connection dies."},
        ).status_code == 201
        event.listen(engine, "rollback", drop)
        try:
            response = client.get("/api/support-tickets", headers=headers)
        finally:
            event.remove(engine, "rollback", drop)
        again = client.get("/api/support-tickets", headers=headers)
    finally:
        held.push()
    assert rollbacks, "the request ended without a ROLLBACK: nothing was tested"
    assert response.status_code == 200 and response.get_json()["data"]["total"] == 1
    assert again.status_code == 200 and again.get_json()["data"]["total"] == 1


def test_redis_down_the_api_keeps_working(app, factory, tmp_path):
    """REDIS_URL at a closed port (limiter storage and Socket.IO queue): logins, the
    contact form and ticket creation with its socket pushes all still answer. Rate limits
    are not enforced while Redis is down (RATELIMIT_SWALLOW_ERRORS: serve, do not 500);
    pushes reach this process's own clients only (see test_realtime_scale.py)."""
    customer = factory.customer()
    dead = f"redis://127.0.0.1:{closed_port()}/0"
    with ServerProcess(app, tmp_path, REDIS_URL=dead, RATELIMIT_ENABLED="true") as server:
        def post(path: str, body: dict, headers: dict | None = None) -> int:
            return requests.post(server.url + path, json=body, headers=headers or {},
                                 timeout=TIMEOUT).status_code

        logins = [post("/api/auth/login", {"email": customer.user.email, "password": "wrong-pass-1"})
                  for _ in range(12)]
        assert logins == [401] * 12  # no limiter storage: refused by password, never 500/429
        assert post("/api/auth/login", {"email": customer.user.email, "password": PASSWORD}) == 200
        assert post("/api/contact", {"name": "Gina", "email": "gina@example.com",
                                     "subject": "Hello", "message": "Redis is down"}) == 201
        assert post("/api/support-tickets", {"subject": "Still works",
                                             "description": "Created while Redis is down."},
                    customer.headers) == 201
        assert requests.get(server.url + "/api/support-tickets", headers=customer.headers,
                            timeout=TIMEOUT).status_code == 200
