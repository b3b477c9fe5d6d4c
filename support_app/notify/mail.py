"""Outbound notification emails: rendered and queued inside the ticket's transaction.

A domain-event subscriber writes one EmailLog row (direction `out`, status `queued`)
per email, so the email commits or rolls back with the change that caused it:

* ticket received: `ticket.created`, unless the event says ``notify: False`` (the
  legacy storefront route);
* staff replied: `ticket.message_added` with ``sender_type == "admin"``, with the
  reply's files attached or linked (`mail_files`);
* ticket resolved: `ticket.status_changed` to ``resolved``;
* tickets merged: `ticket.merged` (sent once, about the surviving ticket).

Each is rendered from `templates/email/<name>.txt` and `.html` in the customer's
locale. Its Message-Id is `<tkt-{number}-{32 random hex digits}@{sender domain}>`,
and every email of a ticket refers to the ticket's root id
`<tkt-{number}@{sender domain}>` (stored in `in_reply_to`), so mail clients thread
them and replies can be matched to the ticket.
Each ticket email's Reply-To is the ticket's own reply address,
`{inbox}+{number}.{HMAC}@{domain}`: only our mail reveals it, so a reply sent to it
proves the sender read that ticket's mail (`inbound.sender_auth`).
Account emails (the address confirmation link) use the same outbox without a ticket.
`outbox.py` delivers the rows after commit.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from email.utils import parseaddr
from functools import lru_cache
from typing import Any, Callable, Mapping

from flask import Flask, current_app
from flask_babel import force_locale, get_translations
from flask_babel import gettext as _
from jinja2 import Environment

from .. import database
from ..extensions import db
from ..i18n import app_name, text_direction
from ..models import EmailLog, Message
from ..tickets import events
from . import mail_files

log = logging.getLogger(__name__)

TICKET_RECEIVED = "ticket_received"
STAFF_REPLIED = "staff_replied"
TICKET_RESOLVED = "ticket_resolved"
TICKET_MERGED = "ticket_merged"
CSAT_SURVEY = "csat_survey"  # `notify.survey`, held back after the resolve
TEMPLATES = (TICKET_RECEIVED, STAFF_REPLIED, TICKET_RESOLVED, TICKET_MERGED, CSAT_SURVEY)
CONFIRM_EMAIL = "confirm_email"
REPLY_SIGNATURE_HEX = 20  # 80 bits: a guess per delivered mail will not find one
NOT_CONFIGURED = "MAIL_SERVER is not configured"


def sender_domain() -> str:
    return _domain_of(current_app.config.get("MAIL_DEFAULT_SENDER") or "")


@lru_cache(maxsize=8)
def _domain_of(sender: str) -> str:
    """Parsed once per configured sender: every email asks twice (Message-Id, thread root)."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def thread_root_id(ticket_number: str) -> str:
    """The ticket's thread anchor: every email of the ticket references it."""
    return f"<tkt-{ticket_number}@{sender_domain()}>"


def new_message_id(ticket_number: str) -> str:
    return f"<tkt-{ticket_number}-{secrets.token_hex(16)}@{sender_domain()}>"


def reply_signature(ticket_number: str, recipient: str, secret_key: str) -> str:
    """The HMAC that makes a ticket's reply address unguessable and personal (lower-case
    hex: mail systems may change the case of a local part). It covers the recipient: the
    address proves "this is the person we mailed", so a customer who writes to the
    address from their own mail with another From (a staff member's, a co-participant's)
    proves nothing."""
    message = f"reply-address:{ticket_number.upper()}:{recipient.strip().lower()}"
    digest = hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return digest[:REPLY_SIGNATURE_HEX]


def reply_address(ticket_number: str, recipient: str, config: Mapping[str, Any]) -> str:
    """`support+TKT-….{sig}@domain` on the inbound address (MAIL_REPLY_TO, else the
    sender), signed for the one address the email goes to."""
    inbox = parseaddr(config.get("MAIL_REPLY_TO") or "")[1] \
        or parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")[1] or "support@localhost"
    local, _at, domain = inbox.rpartition("@")
    local = local.split("+")[0]
    signature = reply_signature(ticket_number, recipient, config["SECRET_KEY"])
    return f"{local}+{ticket_number}.{signature}@{domain}"


def _subject(template: str, ticket: events.TicketSnapshot) -> str:
    subjects: dict[str, Callable[[], str]] = {
        TICKET_RECEIVED: lambda: _("[%(number)s] We received your request: %(subject)s",
                                   number=ticket.number, subject=ticket.subject),
        STAFF_REPLIED: lambda: _("[%(number)s] New reply to your request: %(subject)s",
                                 number=ticket.number, subject=ticket.subject),
        TICKET_RESOLVED: lambda: _("[%(number)s] Your request has been resolved: %(subject)s",
                                   number=ticket.number, subject=ticket.subject),
        TICKET_MERGED: lambda: _("[%(number)s] Your requests were merged: %(subject)s",
                                 number=ticket.number, subject=ticket.subject),
        CSAT_SURVEY: lambda: _("[%(number)s] How did we do? %(subject)s",
                               number=ticket.number, subject=ticket.subject),
    }
    # One line whatever the ticket subject holds: a header can never be split.
    return " ".join(subjects[template]().split())


def language(locale: str | None) -> str:
    """A supported language for `locale`, else the default."""
    languages = current_app.config.get("LANGUAGES") or {}
    code = (locale or "").split("_")[0]
    return code if code in languages else current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def _templates(locale: str) -> Environment:
    """The email templates with `locale`'s catalog bound in, built once per locale: each
    `_()` is then a direct catalog lookup rather than a trip through Flask-Babel's
    request context (that trip was half of the render time). A separate environment
    per locale: the app's own keeps following the request's locale."""
    envs: dict[str, Environment] = current_app.extensions.setdefault("support_email_templates", {})
    env = envs.get(locale)
    if env is None:
        with force_locale(locale):
            translations = get_translations()
        app_env = current_app.jinja_env
        env = Environment(loader=app_env.loader, autoescape=app_env.autoescape,
                          auto_reload=app_env.auto_reload,  # no file checks in production
                          extensions=["jinja2.ext.i18n"])
        env.globals["text_direction"] = text_direction
        env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
        envs[locale] = env
    return env


def render_email(template: str, ticket: events.TicketSnapshot, *, to: str | None = None,
                 locale: str | None = None, subject: Callable[[], str] | None = None,
                 **context: Any) -> dict[str, Any]:
    """One email rendered in the customer's locale: its outbox row, but for the ticket id
    (a new ticket's is not known yet). A staff email gives its own `to`, `locale` and
    `subject`.

    A template that fails to render still gives a `failed` row with the error, so
    nothing is lost silently and the ticket change itself goes through."""
    locale = language(locale or ticket.customer_locale)
    # Without SMTP there is nothing to deliver: record it as such now rather than wake
    # the sender to rewrite the row (a second write on every ticket change).
    deliverable = bool(current_app.config.get("MAIL_SERVER"))
    row: dict[str, Any] = dict(
        direction="out", status="queued" if deliverable else "not_sent",
        error=None if deliverable else NOT_CONFIGURED, template=template,
        from_address=current_app.config.get("MAIL_DEFAULT_SENDER"),
        to_address=to or ticket.customer_email, message_id=new_message_id(ticket.number),
        in_reply_to=thread_root_id(ticket.number), attempts=0, next_attempt_at=None,
        subject="", body_text=None, body_html=None,
    )
    try:
        with force_locale(locale):
            row["subject"] = " ".join(subject().split()) if subject else _subject(template, ticket)
            name = app_name()
        values = {"ticket": ticket, "locale": locale, "app_name": name, **context}
        templates = _templates(locale)  # the catalog is bound in: no locale to force
        row["body_text"] = templates.get_template(f"email/{template}.txt").render(values)
        row["body_html"] = templates.get_template(f"email/{template}.html").render(values)
    except Exception as exc:  # a broken template must not undo the ticket change
        log.exception("could not render email %s for ticket %s", template, ticket.number)
        row["subject"] = row["subject"] or f"[{ticket.number}]"
        row["status"], row["error"] = "failed", f"render failed: {exc}"[:2000]
    return row


def account_email(template: str, to: str, locale: str | None, subject: Callable[[], str],
                  **context: Any) -> dict[str, Any]:
    """An email about the account, not a ticket, rendered in `locale`: its outbox row."""
    locale = language(locale)
    deliverable = bool(current_app.config.get("MAIL_SERVER"))
    templates = _templates(locale)
    with force_locale(locale):
        title = " ".join(subject().split())
        values = {"locale": locale, "app_name": app_name(), **context}
    return dict(
        direction="out", status="queued" if deliverable else "not_sent",
        error=None if deliverable else NOT_CONFIGURED, template=template,
        from_address=current_app.config.get("MAIL_DEFAULT_SENDER"), to_address=to,
        message_id=f"<acct-{secrets.token_hex(16)}@{sender_domain()}>", attempts=0,
        subject=title,
        body_text=templates.get_template(f"email/{template}.txt").render(values),
        body_html=templates.get_template(f"email/{template}.html").render(values),
    )


def template_for(event: events.DomainEvent) -> str | None:
    """Which customer email (if any) this domain event calls for: none about a ticket
    the desk cannot tell who wrote (`unverified`), whose address may not be the writer's."""
    if event.ticket is None or not event.ticket.customer_email or event.ticket.unverified:
        return None
    if event.name == events.TICKET_CREATED and event.data.get("notify") is not False:
        return TICKET_RECEIVED
    if event.name == events.MESSAGE_ADDED and event.data.get("sender_type") == "admin":
        return STAFF_REPLIED
    if event.name == events.STATUS_CHANGED and event.data.get("new_status") == "resolved":
        return TICKET_RESOLVED
    if event.name == events.MERGED:
        return TICKET_MERGED
    return None


def prepare_email(event: events.DomainEvent) -> events.Write | None:
    """In-transaction subscriber: render the customer's email for this event, if any;
    its outbox row is written with the change. The row is a Core INSERT: written once,
    changed only later by the sender."""
    template = template_for(event)
    ticket = event.ticket
    if template is None or ticket is None:
        return None
    context: dict[str, Any] = {
        "description": event.data.get("description", ""),
        "resolution": event.data.get("resolution"),
        "reply": "",
        "merged_number": event.data.get("merged_number", ""),
        "merged_subject": event.data.get("merged_subject", ""),
    }
    files = mail_files.ReplyFiles()
    if template == STAFF_REPLIED:
        message = db.session.get(Message, event.data.get("message_id"))
        context["reply"] = message.body if message else ""
        if message is not None and message.attachments:  # no files: no query
            files = mail_files.for_message(message.id, ticket.customer_id)
    context.update(attached=[row.filename for row in files.attached], linked=files.linked)
    row = render_email(template, ticket, **context)
    row["attachment_ids"] = files.attachment_ids

    def write() -> None:
        database.insert_row(EmailLog.__table__, {**row, "ticket_id": ticket.id})
        # The sender's lines name the same Message-Id: this line ties them to the request.
        log_after_commit(event, log, "email %s queued: %s for ticket %s",
                         row["message_id"], template, ticket.number)

    return write


QUEUED_LINES = "mail.queued_lines"  # DomainEvent.produced key of `log_after_commit`


def log_after_commit(event: events.DomainEvent, logger: logging.Logger, message: str,
                     *args: Any) -> None:
    """Log an outbox row's "queued" line once its change commits: written inside the
    transaction it would name an email a later rollback drops, and on SQLite it would
    write to the log while holding the writer turn every other writer queues for."""
    event.produced.setdefault(QUEUED_LINES, []).append((logger, message, args))


def log_queued(event: events.DomainEvent) -> None:
    """After-commit subscriber: the lines `log_after_commit` kept, in order."""
    for logger, message, args in event.produced.get(QUEUED_LINES, ()):
        logger.info(message, *args)


def register_mail(app: Flask) -> None:
    """Queue emails in the transaction; wake the sender after commit; `support send-mail`."""
    from ..cli import support_cli
    from . import outbox

    events.publisher.subscribe_in_transaction(prepare_email)
    events.publisher.subscribe_after_commit(log_queued)
    events.publisher.subscribe_after_commit(outbox.wake_after_commit)
    worker = outbox.MailWorker(app)
    app.extensions["support_mail"] = worker
    app.before_request(worker.ensure_started)
    support_cli.add_command(outbox.send_mail_command)
