"""`/metrics`: off unless enabled, behind its token, and values that move with the
traffic, summed over the workers of a real gunicorn in multi-process mode (a dead
worker's live gauges leave the sums)."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import requests
from prometheus_client import REGISTRY
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from support_app.extensions import db
from support_app.models import WebhookDelivery, WebhookEndpoint, utcnow
from support_app.realtime.dispatch import dispatcher

from .factories import PASSWORD
from .live import (TIMEOUT, GunicornCommand, Listener, LiveServer, app_env, closed_port,
                   wait_until)

TOKEN = "scrape-token-1"
Samples = dict[tuple[str, frozenset], float]


def test_metrics_are_off_unless_enabled(client):
    assert not client.application.config["METRICS_ENABLED"]
    assert client.get("/metrics").status_code == 404


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_socket_connections_and_emits_are_counted(app, factory):
    alice = factory.customer()
    token = alice.headers["Authorization"].split(" ", 1)[1]
    emits = lambda: sample("support_socketio_emits_total", event="support:ticket:created")  # noqa: E731
    open_before, emits_before = sample("support_socketio_connections"), emits()
    with LiveServer(app) as server:
        listener = Listener(server.url, auth={"token": token}).connect()
        try:
            assert sample("support_socketio_connections") == open_before + 1
            response = requests.post(server.url + "/api/support-tickets", headers=alice.headers,
                                     json={"subject": "Late parcel", "description": "Still waiting."},
                                     timeout=TIMEOUT)
            assert response.status_code == 201
            listener.wait_for("support:ticket:created")
            dispatcher.wait_idle()  # the sender thread counts once emit() has returned
            assert emits() == emits_before + 1
        finally:
            listener.close()
        deadline = time.monotonic() + TIMEOUT
        while sample("support_socketio_connections") != open_before:
            assert time.monotonic() < deadline, "the disconnect was not counted"
            time.sleep(0.05)


def test_webhook_backlog_failures_and_disabled_endpoints_are_read_at_scrape_time(
        app, client, factory):
    shop = WebhookEndpoint(name="shop", url="http://127.0.0.1:9/hook", events=["ticket.created"])
    gone = WebhookEndpoint(name="gone", url="http://127.0.0.1:9/old", events=["ticket.created"],
                           is_active=False, disabled_at=utcnow(), disabled_reason="10 failures")
    db.session.add_all([shop, gone])
    db.session.flush()
    for status in ("queued", "queued", "failed", "delivered"):
        db.session.add(WebhookDelivery(endpoint_id=shop.id, event="ticket.created",
                                       body="{}", status=status))
    db.session.commit()
    app.config["METRICS_ENABLED"], app.config["METRICS_TOKEN"] = True, None
    try:
        text = client.get("/metrics").get_data(as_text=True)
    finally:
        app.config["METRICS_ENABLED"] = False
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert value(samples, "support_webhook_deliveries", status="queued") == 2
    assert value(samples, "support_webhook_deliveries", status="failed") == 1
    assert value(samples, "support_webhook_deliveries", status="sending") == 0
    assert value(samples, "support_webhook_endpoints_disabled") == 1


# --------------------------------------------------------------------------- gunicorn


def scrape(url: str) -> Samples:
    response = requests.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def workers_of(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def pool_size_of(directory: Path, pid: int) -> float:
    """One worker's own value, read from its file (how the collector reads them)."""
    path = directory / f"gauge_livesum_{pid}.db"
    if not path.exists():
        return 0.0
    return sum(value for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(path))
               if "support_db_pool_size" in key)


def test_gunicorn_two_workers_sum_their_metrics(app, factory, tmp_path):
    alice = factory.customer()
    with app.app_context():
        pool_size = db.engine.pool.size()
    env = app_env(app, tmp_path, GUNICORN_WORKERS="2", GUNICORN_THREADS="8",
                  PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"), METRICS_ENABLED="true",
                  METRICS_TOKEN=TOKEN, MAIL_BACKGROUND="false",  # mail stays queued
                  MAIL_SERVER="127.0.0.1", MAIL_PORT=str(closed_port()))
    server = GunicornCommand(env)
    server.start(timeout=120)
    try:
        assert requests.get(server.url + "/metrics", timeout=TIMEOUT).status_code == 401
        assert requests.get(server.url + "/metrics", headers={"Authorization": "Bearer nope"},
                            timeout=TIMEOUT).status_code == 401
        wait_until(lambda: len(workers_of(server.process.pid)) == 2, "two workers")
        wait_until(lambda: value(scrape(server.url), "support_db_pool_size") == 2 * pool_size,
                   "both workers report their pool")

        # Requests, by URL rule and status, summed over whichever worker answered.
        before = scrape(server.url)
        for _ in range(20):
            assert requests.get(server.url + "/healthz", timeout=TIMEOUT).status_code == 200
        missing = requests.get(server.url + "/api/support-tickets/987654", headers=alice.headers,
                               timeout=TIMEOUT)
        assert missing.status_code == 404
        after = scrape(server.url)
        healthz = {"method": "GET", "route": "/healthz", "status": "200"}
        assert value(after, "support_http_requests_total", **healthz) \
            - value(before, "support_http_requests_total", **healthz) == 20
        assert value(after, "support_http_request_duration_seconds_count", **healthz) \
            - value(before, "support_http_request_duration_seconds_count", **healthz) == 20
        assert value(after, "support_http_requests_total", method="GET",
                     route="/api/support-tickets/<int:ticket>", status="404") == 1
        assert not any("987654" in str(labels) for _name, labels in after)

        # The outbox backlog, read from the database at scrape time.
        created = requests.post(server.url + "/api/support-tickets", headers=alice.headers,
                                json={"subject": "Late parcel", "description": "Still waiting."},
                                timeout=TIMEOUT)
        assert created.status_code == 201
        samples = scrape(server.url)
        assert value(samples, "support_outbox_emails", status="queued") == 1
        assert value(samples, "support_outbox_emails", status="failed") == 0

        # Socket.IO connections (a live gauge), whichever worker holds the socket.
        login = requests.post(server.url + "/api/auth/login", timeout=TIMEOUT,
                              json={"email": alice.user.email, "password": PASSWORD}).json()
        listener = Listener(server.url, auth={"token": login["access_token"]}).connect()
        try:
            wait_until(lambda: value(scrape(server.url), "support_socketio_connections") == 1,
                       "the connection is counted")
        finally:
            listener.close()
        wait_until(lambda: value(scrape(server.url), "support_socketio_connections") == 0,
                   "the disconnect is counted")

        # A killed worker is replaced; its live gauges leave the sum (child_exit).
        old = workers_of(server.process.pid)
        os.kill(min(old), signal.SIGKILL)
        wait_until(lambda: len(workers_of(server.process.pid) - old) == 1, "a new worker")
        [new] = workers_of(server.process.pid) - old
        wait_until(lambda: pool_size_of(tmp_path / "prom", new) == pool_size,
                   "the new worker set its gauges")
        assert value(scrape(server.url), "support_db_pool_size") == 2 * pool_size
        assert value(scrape(server.url), "support_http_requests_total", **healthz) >= 20
    finally:
        server.stop()
