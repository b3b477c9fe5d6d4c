"""The SMTP outbox: queued EmailLog rows delivered after commit, off the request thread.

A background thread per server process (started with the first request, woken after
each commit that queued mail, polling for retries) and `flask --app wsgi support
send-mail` both call `deliver_due`. Each row is claimed as `background.Outbox` does
(one conditional UPDATE), so several processes never send the same row twice.

Rows queued while MAIL_SERVER was unset (or before it was cleared) are marked `not_sent`
here; rows written without it are stored `not_sent` at once (`mail.render_email`).

A failed attempt is retried with exponential backoff; after `MAIL_MAX_ATTEMPTS` (or on
a permanent 5xx refusal) the row is `failed` with the error: never lost silently.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Mapping

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select, update

from .. import background
from ..background import BATCH, QUEUED
from ..extensions import db
from ..models import EmailLog, utcnow
from ..tickets import events
from . import mail_files
from .mail import NOT_CONFIGURED, TEMPLATES, reply_address, template_for

log = logging.getLogger(__name__)

SENT, FAILED, NOT_SENT = "sent", "failed", "not_sent"
OUTBOX = background.Outbox(EmailLog, EmailLog.direction == "out")


class PermanentFailure(Exception):
    """The server (or the address itself) refuses this email for good: do not retry."""


def build_message(row: EmailLog, config: Mapping[str, Any]) -> EmailMessage:
    """Headers go through the email package's header registry: a CR/LF in any value
    raises instead of starting a new header."""
    sender = parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")[1] or "support@localhost"
    reply_to = parseaddr(config.get("MAIL_REPLY_TO") or "")[1] or sender
    # A customer email's reply goes to the ticket's reply address, signed for this
    # recipient; staff emails (SLA alerts) carry none: a reply is no ticket message.
    if row.ticket is not None and row.template in TEMPLATES:
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
    mail_files.attach(msg, row.attachment_ids)
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
    return background.backoff(attempts, float(config.get("MAIL_RETRY_BASE_SECONDS", 30) or 0),
                              float(config.get("MAIL_RETRY_MAX_SECONDS") or 3600))


def _claim(row_id: int, now: dt.datetime) -> bool:
    """Take the row for one attempt; False if another sender took it first."""
    return OUTBOX.claim(row_id, now)


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
    ids = OUTBOX.due_ids(now, limit)
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


class MailWorker(background.Worker):
    """The mail sender thread of this process."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app, "support-mail", deliver_due, "MAIL_BACKGROUND", "MAIL_POLL_SECONDS")


def wake_after_commit(event: events.DomainEvent) -> None:
    """After-commit subscriber: a committed change queued mail, send it now."""
    worker: MailWorker | None = current_app.extensions.get("support_mail")
    if worker is not None and worker.enabled and current_app.config.get("MAIL_SERVER") \
            and (template_for(event) is not None or event.name == events.SLA):
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
