"""Which ticket a mail belongs to, and who is writing.

A mail joins a ticket when it answers a Message-Id we sent or received for it, or
names it (`[TKT-…]` in the subject, `support+TKT-…@` or the signed
`support+TKT-….{sig}@` as recipient) — and only when the sender is that ticket's
customer or one of its participants (or staff who work it) and proved to be
(`sender_auth`). Anyone else's mail opens a ticket of its own: knowing a ticket number
is not a key to someone's thread."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from ..extensions import db
from ..models import Customer, EmailLog, Message, SupportUser, Ticket
from ..security.current import actor_for_user
from ..tickets import policy
from ..tickets.actor import Actor
from ..tickets.queries import resolves_number
from .parse import InboundMail

NUMBER_RE = re.compile(r"\[(TKT-[A-Z0-9]+)\]", re.IGNORECASE)
PLUS_RE = re.compile(r"\+(TKT-[A-Z0-9]+)(?:\.[0-9a-f]+)?@", re.IGNORECASE)
REPLY_PREFIX_RE = re.compile(r"^\s*((re|aw|sv|vs|antw|fw|fwd|wg|tr|rv)\s*(\[\d+\])?\s*:\s*)+",
                             re.IGNORECASE)


def _id_variants(ids: list[str]) -> list[str]:
    # Outbound code may store ids with or without angle brackets.
    return [v for i in ids for v in (i, i.strip("<>"))]


def _ticket_for_message_ids(ids: list[str]) -> list[int]:
    """Tickets the referenced Message-Ids belong to, in the order of `ids`."""
    if not ids:
        return []
    variants = _id_variants(ids)
    found: dict[str, int] = {}
    for key, ticket_id in db.session.execute(
        select(EmailLog.message_id, EmailLog.ticket_id)
        .where(EmailLog.message_id.in_(variants), EmailLog.ticket_id.is_not(None))
    ):
        found.setdefault(key.strip("<>"), ticket_id)
    for key, ticket_id in db.session.execute(
        select(Message.email_message_id, Message.ticket_id)
        .where(Message.email_message_id.in_(variants))
    ):
        found.setdefault(key.strip("<>"), ticket_id)
    return [found[i.strip("<>")] for i in ids if i.strip("<>") in found]


def _ticket_numbers(mail: InboundMail) -> list[str]:
    numbers = NUMBER_RE.findall(mail.subject) + PLUS_RE.findall(mail.recipient)
    return [n.upper() for n in numbers]


def candidate_tickets(mail: InboundMail) -> list[Ticket]:
    """Tickets this mail says it belongs to, most reliable signal first."""
    ids = _ticket_for_message_ids(mail.thread_ids)
    numbers = _ticket_numbers(mail)
    if numbers:
        ids += list(db.session.scalars(select(Ticket.id).where(Ticket.number.in_(numbers))))
    # A merged ticket's id or number stands for the ticket it was merged into.
    survivors = dict(db.session.execute(
        select(Ticket.id, func.coalesce(Ticket.merged_into_id, Ticket.id))
        .where(Ticket.id.in_(set(ids)))).all()) if ids else {}
    ordered = list(dict.fromkeys(survivors[i] for i in ids if i in survivors))
    tickets = {t.id: t for t in db.session.scalars(select(Ticket).where(Ticket.id.in_(ordered)))}
    return [tickets[i] for i in ordered if i in tickets]


def survivor_number(number: str | None) -> str | None:
    """The number of the ticket `number` names now (itself, or the one it was merged into)."""
    if number is None:
        return None
    return db.session.scalar(select(Ticket.number).where(resolves_number(number.upper())))


def is_party(customer: Customer, ticket: Ticket) -> bool:
    """The ticket's own customer or one of its group participants."""
    probe = Actor.guest(customer.id)
    return policy.is_owner(probe, ticket) or policy.is_participant(probe, ticket)


def thread_for(mail: InboundMail, sender: Customer | None) -> Ticket | None:
    """The ticket this mail continues, if its sender belongs on it."""
    if sender is None:
        return None
    return next((t for t in candidate_tickets(mail) if is_party(sender, t)), None)


def staff_by_address(address: str) -> Actor | None:
    """The active staff user with this address, as an Actor (None for anyone else)."""
    user = db.session.scalar(select(SupportUser).where(func.lower(SupportUser.email) == address))
    if user is None or not user.active:
        return None
    actor = actor_for_user(user)
    return actor if actor.is_staff else None


def staff_thread(mail: InboundMail, staff: Actor | None) -> Ticket | None:
    """The ticket a staff member's mail answers, if they may work it."""
    if staff is None:
        return None
    return next((t for t in candidate_tickets(mail) if policy.can_work(staff, t)), None)


def actor_for(customer: Customer) -> Actor:
    """A registered customer writes as their user; a guest as a guest."""
    if customer.user_id is not None:
        user = db.session.get(SupportUser, customer.user_id)
        if user is not None and user.active:
            return actor_for_user(user)
    return Actor.guest(customer.id, name=customer.name, locale=customer.locale or "en")


def new_ticket_subject(subject: str) -> str:
    """Drop reply prefixes and other tickets' numbers from a subject opening a ticket."""
    subject = NUMBER_RE.sub("", subject)
    subject = REPLY_PREFIX_RE.sub("", subject)
    return " ".join(subject.split())
