"""Prometheus metrics at `/metrics` (METRICS_ENABLED), optionally behind METRICS_TOKEN.

Under gunicorn with several workers, each worker is its own process: with
PROMETHEUS_MULTIPROC_DIR set (before the server starts; `gunicorn.conf.py` empties
it at start and marks dead workers) every process writes its values to files there
and a scrape of any worker sums them all. Without it a process reports its own.

Two kinds of figure:
- per-process events (requests, socket connections and emits, pool checkouts) are
  counted where they happen, by the hooks below;
- shared state (the email outbox) is read from the database at scrape time by
  `SharedStateCollector`, once, whichever worker answers. Later backlogs (webhook
  deliveries, SLA at-risk and breach counts) add a reader to `SHARED_STATE`.
"""
from __future__ import annotations

import hmac
import os
from typing import Any, Callable, Iterable

from flask import Flask, Response, abort, current_app, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter,
                               Gauge, Histogram, generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select

REQUESTS = Counter("support_http_requests", "HTTP requests answered, by URL rule and status",
                   ["method", "route", "status"])
LATENCY = Histogram("support_http_request_duration_seconds",
                    "Time to answer an HTTP request, by URL rule and status",
                    ["method", "route", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SOCKET_CONNECTIONS = Gauge("support_socketio_connections", "Open Socket.IO connections",
                           multiprocess_mode="livesum")
SOCKET_CONNECTS = Counter("support_socketio_connects", "Socket.IO connections accepted")
SOCKET_EMITS = Counter("support_socketio_emits", "Socket.IO events emitted, by event name",
                       ["event"])
POOL_IN_USE = Gauge("support_db_pool_in_use", "Database connections checked out of the pool",
                    multiprocess_mode="livesum")
POOL_SIZE = Gauge("support_db_pool_size", "Configured database pool size (without overflow)",
                  multiprocess_mode="livesum")


# SQLite only: writers take turns (`database.WriterTurn`). A turn held long, or a long
# queue for it, is the sign the desk has outgrown one SQLite file (bench/README.md).
WRITER_WAIT = Histogram("support_sqlite_writer_wait_seconds",
                        "SQLite: time a write transaction queued for the writer turn",
                        buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
WRITER_HOLD = Histogram("support_sqlite_writer_hold_seconds",
                        "SQLite: time a write transaction held the writer turn "
                        "(first write to commit)",
                        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1))


def writer_turn(waited: float, held: float) -> None:
    WRITER_WAIT.observe(waited)
    WRITER_HOLD.observe(held)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    labels = (method, route, str(status))
    REQUESTS.labels(*labels).inc()
    LATENCY.labels(*labels).observe(seconds)


def socket_connected() -> None:
    SOCKET_CONNECTS.inc()
    SOCKET_CONNECTIONS.inc()


def socket_disconnected() -> None:
    SOCKET_CONNECTIONS.dec()


def socket_emitted(event_name: str) -> None:
    SOCKET_EMITS.labels(event_name).inc()


# --------------------------------------------------------------------------- shared state

StateReader = Callable[[], Iterable[Metric]]


OUTBOX_STATUSES = ("queued", "sending", "failed")  # queued + sending = backlog; failed = gave up


def _outbox_gauge(name: str, what: str, status: Any, *where: Any) -> GaugeMetricFamily:
    """An outbox table's rows by status, counted at scrape time (an index serves it)."""
    from ..extensions import db

    rows = db.session.execute(select(status, func.count()).where(status.in_(OUTBOX_STATUSES),
                                                                 *where).group_by(status))
    counts = dict.fromkeys(OUTBOX_STATUSES, 0) | dict(rows.all())
    family = GaugeMetricFamily(name, f"{what} by status (queued + sending = backlog; "
                               "failed = gave up)", labels=["status"])
    for label, count in sorted(counts.items()):
        family.add_metric([label], count)
    return family


def outbox_state() -> Iterable[Metric]:
    from ..models import EmailLog

    yield _outbox_gauge("support_outbox_emails", "Outgoing emails", EmailLog.status,
                        EmailLog.direction == "out")


def webhook_state() -> Iterable[Metric]:
    """Deliveries by status, and the endpoints turned off after a run of failures."""
    from ..extensions import db
    from ..models import WebhookDelivery, WebhookEndpoint

    yield _outbox_gauge("support_webhook_deliveries", "Webhook deliveries",
                        WebhookDelivery.status)
    disabled = db.session.scalar(select(func.count()).select_from(WebhookEndpoint)
                                 .where(WebhookEndpoint.disabled_at.is_not(None)))
    yield GaugeMetricFamily("support_webhook_endpoints_disabled",
                            "Webhook endpoints turned off after failures", value=disabled or 0)


def sla_state() -> Iterable[Metric]:
    """Open tickets whose worst SLA target is at risk or breached (an indexed count)."""
    from ..extensions import db
    from ..models import Ticket

    gauge = GaugeMetricFamily("support_sla_tickets", "Tickets by worst open SLA state",
                              labels=["state"])
    counts = dict(db.session.execute(
        select(Ticket.sla_state, func.count()).where(Ticket.sla_state.in_(("at_risk", "breached")))
        .group_by(Ticket.sla_state)).all())
    for state in ("at_risk", "breached"):
        gauge.add_metric([state], counts.get(state, 0))
    yield gauge


SHARED_STATE: list[StateReader] = [outbox_state, webhook_state, sla_state]


class SharedStateCollector(Collector):
    """Reads SHARED_STATE at scrape time (inside the scrape's app context)."""

    def collect(self) -> Iterable[Metric]:
        for reader in SHARED_STATE:
            yield from reader()


_shared_registry = CollectorRegistry(auto_describe=False)
_shared_registry.register(SharedStateCollector())


# --------------------------------------------------------------------------- endpoint


def _process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _authorized() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return True
    offered = request.headers.get("Authorization", "")
    return hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())


def metrics_view() -> Response:
    if not current_app.config.get("METRICS_ENABLED"):
        abort(404)
    if not _authorized():
        return Response(status=401, headers={"WWW-Authenticate": "Bearer"})
    body = generate_latest(_process_registry()) + generate_latest(_shared_registry)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def _watch_pool(app: Flask) -> None:
    from ..extensions import db

    with app.app_context():
        engine = db.engine
    size = getattr(engine.pool, "size", None)
    if callable(size):
        POOL_SIZE.set(size())
    if not event.contains(engine, "checkout", _checked_out):
        event.listen(engine, "checkout", _checked_out)
        event.listen(engine, "checkin", _checked_in)


def _checked_out(*_args: object) -> None:
    POOL_IN_USE.inc()


def _checked_in(*_args: object) -> None:
    POOL_IN_USE.dec()


def install(app: Flask) -> None:
    """Count always (cheap); `/metrics` answers 404 unless METRICS_ENABLED."""
    from ..extensions import limiter

    _watch_pool(app)
    app.add_url_rule("/metrics", "ops_metrics", limiter.exempt(metrics_view))
