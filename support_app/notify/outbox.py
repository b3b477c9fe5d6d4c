"""The SMTP outbox: queued EmailLog rows delivered after commit, off the request thread.

A background thread per server process (started with the first request, woken after
each commit that queued mail, polling for retries) and `flask --app wsgi support
send-mail` both call `deliver_due`. Each row is claimed with one conditional UPDATE
(status `sending`, a lease in `next_attempt_at`), so several processes never send the
same row twice and a row whose sender died is picked up again when its lease expires.

Rows queued while MAIL_SERVER was unset (or before it was cleared) are marked `not_sent`
here; rows written without it are stored `not_sent` at once (`mail.render_email`).

A failed attempt is retried with exponential backoff; after `MAIL_MAX_ATTEMPTS` (or on
a permanent 5xx refusal) the row is `failed` with the error: never lost silently.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
import threading
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Mapping

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, or_, select, update

from ..extensions import db
from ..models import EmailLog, utcnow
from ..tickets import events
from .mail import NOT_CONFIGURED, reply_address, template_for

log = logging.getLogger(__name__)

QUEUED, SENDING, SENT, FAILED, NOT_SENT = "queued", "sending", "sent", "failed", "not_sent"
LEASE = dt.timedelta(minutes=5)
BATCH = 50


class PermanentFailure(Exception):
    """The server (or the address itself) refuses this email for good: do not retry."""


def build_message(row: EmailLog, config: Mapping[str, Any]) -> EmailMessage:
    """Headers go through the email package's header registry: a CR/LF in any value
    raises instead of starting a new header."""
    sender = parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")[1] or "support@localhost"
    reply_to = parseaddr(config.get("MAIL_REPLY_TO") or "")[1] or sender
    if row.ticket is not None:  # the ticket's reply address, signed for this recipient
        reply_to = reply_address(row.ticket.number, row.to_address, config)
    app_name = " ".join(str(config.get("APP_NAME") or "").split())
    try:
        msg = EmailMessage()
        msg["From"] = Address(display_name=app_name, addr_spec=sender)
        msg["To"] = Address(addr_spec=row.to_address)
        msg["Reply-To"] = Address(addr_spec=reply_to)
        msg["Subject"] = row.subject
        msg["Date"] = format_datetime(row.created_at.replace(tzinfo=dt.timezone.utc))
        msg["Message-ID"] = row.message_id
        if row.in_reply_to:
            msg["In-Reply-To"] = row.in_reply_to
            msg["References"] = row.in_reply_to
        msg["Auto-Submitted"] = "auto-generated"  # autoresponders must not answer
        msg.set_content(row.body_text or "")
        if row.body_html:
            msg.add_alternative(row.body_html, subtype="html")
    except (ValueError, TypeError) as exc:  # an address or header that cannot be sent
        raise PermanentFailure(f"invalid message: {exc}") from exc
    return msg


def connect(config: Mapping[str, Any]) -> smtplib.SMTP:
    host, port = config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 25)
    timeout = float(config.get("MAIL_TIMEOUT") or 10)
    smtp: smtplib.SMTP
    if config.get("MAIL_USE_SSL"):
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    return smtp


def backoff(attempts: int, config: Mapping[str, Any]) -> dt.timedelta:
    base = float(config.get("MAIL_RETRY_BASE_SECONDS", 30) or 0)
    ceiling = float(config.get("MAIL_RETRY_MAX_SECONDS") or 3600)
    return dt.timedelta(seconds=min(ceiling, base * 2 ** max(0, attempts - 1)))


def _due_ids(now: dt.datetime, limit: int) -> list[int]:
    ids = list(db.session.scalars(
        select(EmailLog.id).where(
            EmailLog.direction == "out",
            EmailLog.status.in_((QUEUED, SENDING)),
            or_(EmailLog.next_attempt_at.is_(None), EmailLog.next_attempt_at <= now),
        ).order_by(EmailLog.id).limit(limit)
    ))
    db.session.commit()
    return ids


def _claim(row_id: int, now: dt.datetime) -> bool:
    """Take the row for one attempt; False if another sender took it first."""
    result = db.session.execute(
        update(EmailLog)
        .where(EmailLog.id == row_id, EmailLog.status.in_((QUEUED, SENDING)),
               or_(EmailLog.next_attempt_at.is_(None), EmailLog.next_attempt_at <= now))
        .values(status=SENDING, attempts=EmailLog.attempts + 1, next_attempt_at=now + LEASE)
    )
    db.session.commit()
    return result.rowcount == 1


def _record_failure(row: EmailLog, exc: BaseException, config: Mapping[str, Any],
                    permanent: bool = False) -> None:
    row.error = f"{type(exc).__name__}: {exc}"[:2000]
    if permanent or row.attempts >= int(config.get("MAIL_MAX_ATTEMPTS") or 5):
        row.status, row.next_attempt_at = FAILED, None
        log.error("email %s failed for good after %s attempt(s): %s",
                  row.message_id, row.attempts, row.error)
    else:
        row.status, row.next_attempt_at = QUEUED, utcnow() + backoff(row.attempts, config)
        log.warning("email %s attempt %s failed, retrying at %s: %s",
                    row.message_id, row.attempts, row.next_attempt_at, row.error)
    db.session.commit()


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, (smtplib.SMTPRecipientsRefused, PermanentFailure)):
        return True
    code = getattr(exc, "smtp_code", None)
    return isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) and \
        isinstance(code, int) and code >= 500


def deliver_due(limit: int = BATCH) -> int:
    """Attempt every due outbound email (up to `limit`); returns how many were handled."""
    config = current_app.config
    now = utcnow()
    ids = _due_ids(now, limit)
    if not ids:
        return 0
    if not config.get("MAIL_SERVER"):
        db.session.execute(
            update(EmailLog).where(EmailLog.id.in_(ids), EmailLog.status == QUEUED)
            .values(status=NOT_SENT, next_attempt_at=None, error=NOT_CONFIGURED)
        )
        db.session.commit()
        return len(ids)
    claimed = [row_id for row_id in ids if _claim(row_id, now)]
    if not claimed:
        return 0
    try:
        smtp = connect(config)
    except Exception as exc:  # server down, refused, TLS or login failure: retry later
        for row_id in claimed:
            _record_failure(db.session.get(EmailLog, row_id), exc, config)
        return len(claimed)
    try:
        for row_id in claimed:
            row = db.session.get(EmailLog, row_id)
            try:
                smtp.send_message(build_message(row, config))
            except Exception as exc:
                _record_failure(row, exc, config, permanent=_is_permanent(exc))
                continue
            row.status, row.sent_at, row.error, row.next_attempt_at = SENT, utcnow(), None, None
            db.session.commit()
            log.info("email %s sent (attempt %s)", row.message_id, row.attempts)
    finally:
        try:
            smtp.quit()
        except smtplib.SMTPException:
            smtp.close()
        except OSError:
            pass
    return len(claimed)


class MailWorker:
    """One daemon thread per process; `wake()` after a commit that queued mail."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.app.config.get("MAIL_BACKGROUND", True))

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="support-mail", daemon=True)
            self._thread.start()

    def ensure_started(self) -> None:
        """Started lazily (first request), so CLI commands and forks get no stray thread."""
        if self.enabled and (self._thread is None or not self._thread.is_alive()):
            self.start()

    def wake(self) -> None:
        self._wake.set()

    def running(self) -> bool:
        """Is the sender thread alive (readiness)?"""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        interval = float(self.app.config.get("MAIL_POLL_SECONDS") or 15)
        while not self._stop.is_set():
            handled = 0
            try:
                with self.app.app_context():
                    try:
                        handled = deliver_due()
                    finally:
                        db.session.remove()
            except Exception:  # a database hiccup: log and try again on the next tick
                log.exception("mail sender pass failed")
            if handled < BATCH:
                self._wake.wait(interval)
                self._wake.clear()


def wake_after_commit(event: events.DomainEvent) -> None:
    """After-commit subscriber: a committed change queued mail, send it now."""
    worker: MailWorker | None = current_app.extensions.get("support_mail")
    if worker is not None and worker.enabled and current_app.config.get("MAIL_SERVER") \
            and template_for(event) is not None:
        worker.ensure_started()
        worker.wake()


@click.command("send-mail")
@with_appcontext
def send_mail_command() -> None:
    """Deliver every due outbound email once, then exit (cron or manual drain)."""
    total = 0
    while (handled := deliver_due()) > 0:
        total += handled
        if handled < BATCH:
            break
    counts = dict(db.session.execute(
        select(EmailLog.status, func.count()).where(EmailLog.direction == "out")
        .group_by(EmailLog.status)).all())
    click.echo(f"Handled {total} email(s); outbox now: "
               + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "empty"))
