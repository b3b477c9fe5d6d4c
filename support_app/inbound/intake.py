"""Turn one verified mail into a ticket change, exactly once.

Every path commits the mail's inbound EmailLog in the same transaction as its effect
(new ticket, reply, or nothing for an auto-reply). `email_logs.message_id` and
`ticket_messages.email_message_id` are unique, so a second delivery of the same
Message-Id — even one racing the first — fails to commit and is answered as a
duplicate: one message, one ticket, 200 both times."""
from __future__ import annotations

from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..attachments.store import kept
from ..extensions import db
from ..models import Customer, EmailLog, Message, Ticket
from ..security import email_ownership
from ..tickets import service, verification
from ..tickets.actor import Actor
from . import sender_auth, threading
from .attachments import Screened
from .parse import InboundMail, auto_reply_reason, normalize_address

RECEIVED, IGNORED = "received", "ignored"


@dataclass(frozen=True)
class Receipt:
    """What happened to the mail: created | held (a ticket for staff only: its sender is
    unproven, `reason` says why) | replied | duplicate | ignored."""

    outcome: str
    ticket_number: str | None = None
    reason: str | None = None


def _known_ticket(message_id: str) -> tuple[bool, int | None]:
    """Was this Message-Id received before, and for which ticket?"""
    logged = db.session.execute(
        select(EmailLog.id, EmailLog.ticket_id).where(EmailLog.message_id == message_id)
    ).first()
    if logged is not None:
        return True, logged.ticket_id
    ticket_id = db.session.scalar(
        select(Message.ticket_id).where(Message.email_message_id == message_id)
    )
    return ticket_id is not None, ticket_id


def _number(ticket_id: int | None) -> str | None:
    if ticket_id is None:
        return None
    return db.session.scalar(select(Ticket.number).where(Ticket.id == ticket_id))


def _log(mail: InboundMail, ticket_id: int | None, status: str, note: str | None) -> EmailLog:
    return EmailLog(
        ticket_id=ticket_id, direction="in", status=status,
        from_address=mail.from_address[:320] or None, to_address=mail.recipient[:320],
        subject=mail.subject[:998], message_id=mail.message_id,
        in_reply_to=(mail.in_reply_to[0][:998] if mail.in_reply_to else None),
        body_text=mail.full_text, error=note,
    )


def _own_addresses(mail: InboundMail) -> set[str]:
    """Our sending address and the address the mail came in on (minus +tags): mail
    "from" either is our own echo and must never open a ticket."""
    own = {normalize_address(current_app.config.get("MAIL_DEFAULT_SENDER"))}
    # getaddresses, not a split at ",": a quoted local part may hold a comma.
    for _name, address in getaddresses([mail.recipient]):
        address = normalize_address(address)
        local, _at, domain = address.rpartition("@")
        own.add(f"{local.split('+')[0]}@{domain}" if local else address)
    return own - {""}


def _body(mail: InboundMail, refused: list[str]) -> str:
    """The stored text: the reply itself, then a note of any file we did not keep."""
    notes = ""
    if refused:
        notes = "\n\n" + _("Attachments not accepted:") + "\n" + "\n".join(
            f"- {line}" for line in refused)
    text = mail.body or _("(no text)")
    room = service.MAX_BODY - len(notes)
    if len(text) > room:
        text = text[: room - 2].rstrip() + "\n…"
    return (text + notes)[: service.MAX_BODY]


def _subject(mail: InboundMail) -> str:
    subject = threading.new_ticket_subject(mail.subject)
    return (subject or _("Email from %(sender)s", sender=mail.from_address))[: service.MAX_SUBJECT]


def receive(mail: InboundMail, files: Screened) -> Receipt:
    """Record the mail, then: ignore it, add it to its thread, or open a ticket."""
    try:
        return _receive(mail, files)
    except IntegrityError:
        db.session.rollback()
        seen, ticket_id = _known_ticket(mail.message_id)
        if not seen:
            raise
        return Receipt("duplicate", _number(ticket_id))


def _receive(mail: InboundMail, files: Screened) -> Receipt:
    seen, ticket_id = _known_ticket(mail.message_id)
    if seen:
        return Receipt("duplicate", _number(ticket_id))
    sender: Customer | None = (
        email_ownership.customer_by_email(mail.from_address) if mail.from_address else None
    )
    staff = threading.staff_by_address(mail.from_address) if mail.from_address else None
    ticket = threading.thread_for(mail, sender)
    staff_ticket = threading.staff_thread(mail, staff)
    refused = list(files.refused)

    reason = auto_reply_reason(mail, _own_addresses(mail))
    if reason is not None:
        # Logged (for staff) but never opens or reopens a ticket: no mail loops.
        named = ticket or staff_ticket
        db.session.add(_log(mail, named.id if named else None, IGNORED, reason))
        db.session.commit()
        return Receipt("ignored", named.number if named else None, reason)

    note = "; ".join(refused) or None
    body = _body(mail, refused)
    proof = sender_auth.proof(mail)

    def log_row(target: Ticket) -> list[Any]:
        return [_log(mail, target.id, RECEIVED, note)]

    def reply(actor: Actor, target: Ticket) -> Receipt:
        with kept(files.kept) as rows:
            service.add_message(
                actor, target.id, body, channel="email", origin="email",
                email_message_id=mail.message_id, files=rows, extra_rows=log_row,
            )
        return Receipt("replied", target.number)

    def covers(target: Ticket) -> bool:
        """The proof names this ticket, or one merged into it since the mail went out."""
        return proof.covers(target.number) or (
            proof.reply_ticket is not None
            and threading.survivor_number(proof.reply_ticket) == target.number)

    if staff is not None and staff_ticket is not None and covers(staff_ticket):
        return reply(staff, staff_ticket)  # a staff reply, as the dashboard would post it
    if ticket is not None and sender is not None and covers(ticket) \
            and not verification.unconfirmed_account(sender):
        return reply(threading.actor_for(sender), ticket)

    # Anything else is the sender's own ticket; held for staff when its sender is unproven.
    customer = email_ownership.record_for_address(mail.from_address, mail.from_name)
    unverified = verification.mail_reason(proof.domain)
    with kept(files.kept) as rows:
        outcome = service.open_ticket(
            Actor.system("email"), customer_id=customer.id, subject=_subject(mail),
            description=body, channel="email", origin="email", files=rows,
            extra_rows=log_row, unverified_reason=unverified,
        )
    return Receipt("held" if unverified else "created", outcome.ticket.number, unverified)

