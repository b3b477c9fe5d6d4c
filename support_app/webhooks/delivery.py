"""Sending queued webhook deliveries, off the request thread.

A sender thread per process (started with the first request, woken after each commit
that queued deliveries, polling for retries) claims rows as `background.Outbox` does,
so each attempt is made by one process only. Each attempt: the URL is checked again
(`guard`), the body POSTed to the checked address with the signature headers, no
redirect followed, within `WEBHOOK_TIMEOUT`. A 2xx is delivered; anything else is
retried with exponential backoff up to `WEBHOOK_MAX_ATTEMPTS`. After
`WEBHOOK_DISABLE_AFTER` failed attempts in a row the endpoint is turned off and every
admin gets a stored notification in their language (pushed live to those online).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Mapping

import urllib3
from flask import Flask, current_app
from flask_appbuilder.security.sqla.models import Role
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from .. import background
from ..extensions import db
from ..models import Notification, SupportUser, WebhookDelivery, WebhookEndpoint, utcnow
from ..notify.notifications import payload as notification_payload
from ..notify.notifications import recipient_locales
from ..realtime import rooms
from ..realtime.dispatch import listened, push
from ..security import roles
from ..tickets import events
from . import endpoints, guard, signing

log = logging.getLogger(__name__)

DELIVERED, FAILED, QUEUED = "delivered", "failed", background.QUEUED
OUTBOX = background.Outbox(WebhookDelivery)


class AttemptFailed(Exception):
    """`permanent`: the desk itself will not send this row (no retry, not counted
    against the endpoint)."""

    def __init__(self, message: str, response_code: int | None = None,
                 permanent: bool = False) -> None:
        super().__init__(message)
        self.response_code = response_code
        self.permanent = permanent


def post(target: guard.Target, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST to the checked address (the Host header and TLS name stay the URL's host);
    returns the status code. `retries=False`: no urllib3 retries (the outbox retries) and
    no redirects followed. The certificate is checked against `server_hostname`."""
    options: dict[str, Any] = {"timeout": urllib3.Timeout(connect=timeout, read=timeout),
                               "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            target.address, target.port, server_hostname=target.host, **options)
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **options)
    default_port = guard.SCHEMES[target.scheme] == target.port
    host = target.host if default_port else f"{target.host}:{target.port}"
    try:
        # preload_content=False + drain_conn: a huge answer is read and dropped, not kept.
        response = pool.urlopen("POST", target.path, body=body, headers={**headers, "Host": host},
                                preload_content=False)
        response.drain_conn()
        return response.status
    finally:
        pool.close()


def attempt(row: WebhookDelivery, config: Mapping[str, Any]) -> None:
    """One claimed attempt: send, then record the outcome (and commit)."""
    endpoint = row.endpoint
    started = time.monotonic()
    try:
        if not endpoint.is_active:
            raise AttemptFailed("endpoint disabled", permanent=True)
        if not endpoint.is_internal and endpoints.staff_only(
                row.event, row.ticket is not None and row.ticket.unverified_reason is not None):
            # Queued while the endpoint was internal (or resent since); it is not any more.
            raise AttemptFailed("endpoint is no longer internal: this event is for internal "
                                "endpoints only", permanent=True)
        target = guard.check_url(endpoint.url, config["WEBHOOK_ALLOW_PRIVATE"])
        timestamp = int(time.time())
        code = post(target, row.body.encode(), signing.headers(
            endpoint.secret, timestamp, row.body, row.event, row.id),
            config["WEBHOOK_TIMEOUT"])
        if not 200 <= code < 300:
            raise AttemptFailed(f"HTTP {code}", code)
    except (AttemptFailed, guard.RefusedURL, urllib3.exceptions.HTTPError, OSError) as exc:
        row.duration_ms = int((time.monotonic() - started) * 1000)
        row.response_code = getattr(exc, "response_code", None)
        _record_failure(row, exc, config)
        return
    row.duration_ms = int((time.monotonic() - started) * 1000)
    row.status, row.response_code, row.error = DELIVERED, code, None
    row.next_attempt_at, row.delivered_at = None, utcnow()
    db.session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id)
                       .values(consecutive_failures=0))
    db.session.commit()
    log.info("webhook delivery %s (%s) to endpoint %s: HTTP %s in %s ms, attempt %s",
             row.id, row.event, endpoint.id, code, row.duration_ms, row.attempts)


def _record_failure(row: WebhookDelivery, exc: BaseException, config: Mapping[str, Any]) -> None:
    endpoint = row.endpoint
    row.error = (str(exc) if isinstance(exc, (AttemptFailed, guard.RefusedURL))
                 else f"{type(exc).__name__}: {exc}")[:2000]
    permanent = isinstance(exc, AttemptFailed) and exc.permanent
    final = permanent or row.attempts >= config["WEBHOOK_MAX_ATTEMPTS"]
    if final:
        row.status, row.next_attempt_at = FAILED, None
    else:
        row.status, row.next_attempt_at = QUEUED, utcnow() + background.backoff(
            row.attempts, config["WEBHOOK_RETRY_BASE_SECONDS"], config["WEBHOOK_RETRY_MAX_SECONDS"])
    log.warning("webhook delivery %s (%s) to endpoint %s failed (attempt %s, %s ms): %s",
                row.id, row.event, endpoint.id, row.attempts, row.duration_ms, row.error)
    notices = _count_failure(endpoint, row.error, config["WEBHOOK_DISABLE_AFTER"]) \
        if endpoint.is_active and not permanent else []
    db.session.commit()
    for notice in notices:  # live to admins online; the others list it later
        room = rooms.user_room(notice.user_id)
        if listened([room]):
            push("notification", notification_payload(notice), [room])


def _count_failure(endpoint: WebhookEndpoint, error: str, limit: int) -> list[Notification]:
    """One more failure in a row; at `limit`, turn the endpoint off. Both are single
    conditional UPDATEs, so with several senders the endpoint is disabled (and the
    admins told) once."""
    table = WebhookEndpoint
    db.session.execute(update(table).where(table.id == endpoint.id)
                       .values(consecutive_failures=table.consecutive_failures + 1))
    disabled = db.session.execute(
        update(table).where(table.id == endpoint.id, table.is_active.is_(True),
                            table.consecutive_failures >= limit)
        .values(is_active=False, disabled_at=utcnow(), disabled_reason=error))
    notices = []
    if disabled.rowcount == 1:
        log.error("webhook endpoint %s disabled after %s failures in a row", endpoint.id, limit)
        notices = _notify_admins(endpoint, limit, error)
    db.session.expire(endpoint)
    return notices


def _notify_admins(endpoint: WebhookEndpoint, failures: int, error: str) -> list[Notification]:
    """A stored notice for every active admin, in their language (listed over
    GET /api/notifications and in the dashboard like any other)."""
    admin_ids = set(db.session.scalars(
        select(SupportUser.id).join(SupportUser.roles)
        .where(Role.name == roles.ADMIN, SupportUser.active.is_(True))))
    now = utcnow()
    notices = []
    for user_id, locale in recipient_locales(admin_ids).items():
        with force_locale(locale):
            title = _("Webhook %(name)s turned off", name=endpoint.name)
            body = _("After %(count)d failed deliveries in a row, the webhook to %(url)s "
                     "was turned off. Last error: %(error)s",
                     count=failures, url=endpoint.url, error=error)
        notices.append(Notification(
            user_id=user_id, ticket_id=None, kind="webhook_disabled", locale=locale,
            title=title[:255], body=body, created_at=now,
            data={"webhook_endpoint_id": endpoint.id}))
    db.session.add_all(notices)
    return notices


def deliver_due(limit: int = background.BATCH) -> int:
    """Attempt every due delivery (up to `limit`); returns how many were handled."""
    config = current_app.config
    now = utcnow()
    claimed = [row_id for row_id in OUTBOX.due_ids(now, limit) if OUTBOX.claim(row_id, now)]
    for row_id in claimed:
        attempt(db.session.get(WebhookDelivery, row_id), config)
    return len(claimed)


class WebhookWorker(background.Worker):
    """The webhook sender thread of this process."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app, "support-webhooks", deliver_due,
                         "WEBHOOK_BACKGROUND", "WEBHOOK_POLL_SECONDS")


def wake() -> None:
    """Send what was just queued: this process's sender, started if WEBHOOK_BACKGROUND."""
    worker: WebhookWorker = current_app.extensions["support_webhooks"]
    worker.ensure_started()
    worker.wake()


def wake_after_commit(event: events.DomainEvent) -> None:
    """After-commit subscriber: a committed change queued deliveries, send them now."""
    if event.produced.get(endpoints.PRODUCED_KEY):
        wake()
