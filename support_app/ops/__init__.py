"""Operability: health checks, Prometheus metrics and request-scoped logs."""
from __future__ import annotations

from flask import Flask


def register_ops(app: Flask) -> None:
    """`/healthz`, `/readyz`, `/metrics` (if enabled), one log line per request, and
    `support backup`."""
    from ..cli import support_cli
    from . import health, metrics, request_log
    from .backup import backup_command

    request_log.install(app)
    health.install(app)
    metrics.install(app)
    support_cli.add_command(backup_command)
