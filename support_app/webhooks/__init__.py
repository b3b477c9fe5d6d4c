"""Outgoing webhooks: ticket events as signed JSON POSTs to the URLs an admin configured.

`endpoints` chooses who hears an event and writes one delivery row per endpoint in the
change's own transaction; `delivery` sends them off the request thread (retries,
backoff, auto-disable); `guard` refuses private addresses; `signing` signs the body.
"""
from __future__ import annotations

from flask import Flask


def register_webhooks(app: Flask) -> None:
    """Queue deliveries with each ticket change; wake this process's sender after commit."""
    from ..tickets import events
    from . import delivery, endpoints

    events.publisher.subscribe_in_transaction(endpoints.prepare_deliveries)
    events.publisher.subscribe_after_commit(delivery.wake_after_commit)
    worker = delivery.WebhookWorker(app)
    app.extensions["support_webhooks"] = worker
    app.before_request(worker.ensure_started)
