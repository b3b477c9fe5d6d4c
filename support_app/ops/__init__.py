"""Operability: health checks, Prometheus metrics and request-scoped logs."""
from __future__ import annotations

from flask import Flask


def register_ops(app: Flask) -> None:
    """`/healthz`, `/readyz`, `/metrics` (if enabled), and one log line per request."""
    from . import health, metrics, request_log

    request_log.install(app)
    health.install(app)
    metrics.install(app)
