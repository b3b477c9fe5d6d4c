"""`/healthz` and `/readyz`: states and latencies per check, 200 or 503, a failing
dependency named (never its address), quick answers when one hangs, and back to 200
once it returns."""
from __future__ import annotations

import socket
import time
from contextlib import contextmanager
from typing import Iterator

import pytest
import requests
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from support_app.extensions import db
from support_app.ops.health import migration_head, readiness

from .conftest import require_service
from .live import TIMEOUT, ServerProcess, TcpProxy, closed_port


@contextmanager
def all_statements() -> Iterator[list[str]]:
    """Statements from every thread (readiness queries from its own pool)."""
    seen: list[str] = []
    engine = db.engine

    def record(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def configured(app, **settings) -> Iterator[None]:
    saved = {key: app.config.get(key) for key in settings}
    app.config.update(settings)
    try:
        yield
    finally:
        app.config.update(saved)


def test_healthz_answers_without_touching_the_database(client, app_ctx):
    with all_statements() as seen:
        response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert seen == []


def test_readyz_reports_each_check_with_its_latency_in_one_query(client, app_ctx):
    with all_statements() as seen:
        response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok"
    checks = body["checks"]
    assert {"database", "migrations", "mail_sender", "webhook_sender",
            "socket_dispatch"} <= set(checks)
    assert all(c["status"] == "ok" and c["latency_ms"] >= 0 for c in checks.values())
    assert checks["migrations"]["current"] == checks["migrations"]["head"] == migration_head()
    assert [s for s in seen if "alembic_version" in s] == seen and len(seen) == 1
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("check, extension, setting", [
    ("mail_sender", "support_mail", "MAIL_BACKGROUND"),
    ("webhook_sender", "support_webhooks", "WEBHOOK_BACKGROUND"),
])
def test_a_sender_thread_that_is_not_running_is_not_ready(app, app_ctx, check, extension,
                                                          setting):
    worker = app.extensions[extension]
    with configured(app, **{setting: True}):
        try:
            worker.start()
            results, ready = readiness(app)
            assert results[check]["status"] == "ok" and ready
            worker.stop()  # as if it had died (a request would start it again)
            results, ready = readiness(app)
            assert results[check]["status"] == "fail" and not ready
        finally:
            worker.stop()


def test_a_schema_behind_head_is_not_ready(client, app_ctx):
    head = migration_head()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        response = client.get("/readyz")
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    assert body["checks"]["migrations"] == {"status": "fail", "head": head, "current": "older",
                                            "latency_ms": 0.0}
    assert body["checks"]["database"]["status"] == "ok"
    assert client.get("/readyz").status_code == 200


def test_redis_at_a_closed_port_is_503_naming_redis_and_no_address(app, client):
    port = closed_port()
    with configured(app, REDIS_URL=f"redis://:hunter2-pass@127.0.0.1:{port}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["redis"]["status"] == "fail"
    assert [name for name, c in checks.items() if c["status"] != "ok"] == ["redis"]
    assert str(port) not in response.get_data(as_text=True)
    assert "hunter2" not in response.get_data(as_text=True)
    assert client.get("/readyz").status_code == 200  # REDIS_URL unset: no Redis check


@contextmanager
def black_hole() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_a_hung_redis_answers_503_within_the_check_timeout(app, client):
    with black_hole() as port, configured(app, REDIS_URL=f"redis://127.0.0.1:{port}/0",
                                          HEALTH_CHECK_TIMEOUT=0.5):
        started = time.monotonic()
        response = client.get("/readyz")
        took = time.monotonic() - started
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"]["status"] == "fail"
    assert took < 2.0, took


@pytest.mark.redis
def test_redis_cut_behind_a_proxy_is_503_then_200_when_it_returns(app, client):
    real = make_url(require_service("Redis", "TEST_REDIS_URL"))
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 6379).start()
    try:
        with configured(app, REDIS_URL=f"redis://127.0.0.1:{proxy.port}/15"):
            assert client.get("/readyz").status_code == 200
            proxy.cut()
            down = client.get("/readyz")
            proxy.restore()
            back = client.get("/readyz")
    finally:
        proxy.stop()
    assert down.status_code == 503 and down.get_json()["checks"]["redis"]["status"] == "fail"
    assert back.status_code == 200, back.get_json()


@pytest.mark.postgres
def test_postgresql_cut_behind_a_proxy_is_503_then_200_when_it_returns(app, tmp_path):
    require_service("PostgreSQL", "TEST_DATABASE_URL")
    real = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432).start()
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with ServerProcess(app, tmp_path, DATABASE_URL=proxied, DB_CONNECT_TIMEOUT="3") as server:
            def ready() -> requests.Response:
                return requests.get(server.url + "/readyz", timeout=TIMEOUT)

            assert ready().status_code == 200
            proxy.cut()
            started = time.monotonic()
            down = ready()
            took = time.monotonic() - started
            proxy.restore()
            back = ready()
    finally:
        proxy.stop()
    assert down.status_code == 503
    checks = down.json()["checks"]
    assert checks["database"]["status"] == "fail"
    assert checks["migrations"]["status"] == "unknown"
    assert str(proxy.port) not in down.text and (real.password or "\0") not in down.text
    assert took < 5, took
    assert back.status_code == 200, back.json()
