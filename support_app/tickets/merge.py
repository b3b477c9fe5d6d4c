"""Merging duplicate tickets: staff fold ticket A into ticket B of the same customer.

In one transaction, with both rows locked in id order (on SQLite: the writer turn):
A's thread messages (and its opening description, as a customer message at the time
it was written) and internal notes move to B, keeping their times, so B's thread reads
in time order; A's group participants join B; A's email log and notifications follow
(a reply to A's mail threads onto B), A's held-back survey cancelled (B is surveyed
when B is resolved; a link of A already sent rates B); A is closed with `merged_into_id = B` and both
carry an audit entry. One `ticket.merged` event on B tells the customer once, in their
language (notification and email), pushes `support:ticket:merged` to both tickets'
rooms, and lets other capabilities join what they keep per ticket (its `merged_id`).

From then on A's id and number resolve to B on every surface (`queries.resolves_to`).
Refused: into itself, across customers, into a closed ticket, from or into an already
merged one, for unverified tickets (their sender is not proven to be B's customer), and
between tickets about different services when either has group participants (they may
read only tickets about the ride, order or booking they share).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    Attachment,
    EmailLog,
    InternalNote,
    Message,
    Notification,
    Ticket,
    TicketParticipant,
    utcnow,
)
from . import counters, events, feedback, lifecycle, policy, sla, tags
from .actor import Actor
from .errors import Conflict, Forbidden, NotFound, ValidationFailed
from .queries import visible_tickets
from .service import _audit, _publish, _transaction

AUDIT_FROM = "merged_into"  # on A: new value is B's number
AUDIT_INTO = "merged_from"  # on B: new value is A's number
SUGGESTIONS = 20


def _locked(ticket_id: int) -> Ticket:
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.id == ticket_id).with_for_update(of=Ticket)
        .execution_options(populate_existing=True))
    if ticket is None:
        raise NotFound("ticket")
    return ticket


def _lock_pair(source_id: int, target_id: int) -> tuple[Ticket, Ticket]:
    """Both rows, locked lowest id first: two merges (or a merge and a reply) that
    touch the same tickets queue instead of deadlocking."""
    first, second = sorted((source_id, target_id))
    rows = {first: _locked(first)}
    rows[second] = _locked(second)
    return rows[source_id], rows[target_id]


def _refusal(source: Ticket, target: Ticket) -> str | None:
    if source.merged_into_id is not None:
        return _("This ticket was already merged into another ticket")
    if target.merged_into_id is not None:
        return _("The chosen ticket was itself merged into another ticket")
    if source.customer_id != target.customer_id:
        return _("Only tickets of the same customer can be merged")
    if target.status == lifecycle.CLOSED:
        return _("A ticket cannot be merged into a closed ticket")
    if source.unverified_reason is not None or target.unverified_reason is not None:
        return _("Verify the sender of both tickets before merging them")
    if _service(source) != _service(target) and _has_group(source, target):
        return _("A ticket shared with group members can only be merged with a ticket "
                 "about the same order, ride or booking")
    return None


def _service(ticket: Ticket) -> tuple[int | None, int | None, int | None]:
    return ticket.order_id, ticket.ride_id, ticket.booking_id


def _has_group(source: Ticket, target: Ticket) -> bool:
    """Either ticket has group participants: they read it because they share its
    service (`groups`), so merging across services would show them the owner's other
    thread, or show the owner's other ticket to them."""
    return db.session.scalar(select(TicketParticipant.ticket_id).where(
        TicketParticipant.ticket_id.in_((source.id, target.id))).limit(1)) is not None


@dataclass
class Merged:
    ticket: Ticket  # the survivor, as written
    merged_id: int
    merged_number: str


def merge(actor: Actor, ticket_id: int, into_id: int, *, origin: str = "api") -> Merged:
    """Merge ticket `ticket_id` into `into_id`."""
    if ticket_id == into_id:
        raise ValidationFailed({"into": [_("A ticket cannot be merged into itself")]})
    if not actor.is_staff:
        raise Forbidden(_("Only support staff can merge tickets"))
    with _transaction() as keep:
        source, target = _lock_pair(ticket_id, into_id)
        for ticket in (source, target):
            if not policy.can_view(actor, ticket):
                raise Forbidden(_("Unauthorized access to this ticket"))
            if not policy.can_work(actor, ticket):
                raise Forbidden(_("You are not allowed to change this ticket"))
        refusal = _refusal(source, target)
        if refusal:
            raise Conflict(refusal)
        now = utcnow()
        feedback.cancel_pending(ticket_id=source.id)  # B is surveyed when B is resolved
        _move_thread(source, target)
        _join_participants(source, target)
        tags.attach(target, actor, tags.tags_of(source.id), origin)  # A's tags join B
        _close_source(actor, source, target, now)
        _follow_read_flags(source, target, now)
        _audit(target, actor, AUDIT_INTO, None, source.number)
        db.session.flush()
        _publish(events.MERGED, target, actor, origin, merged_id=source.id,
                 merged_number=source.number, merged_subject=source.subject)
        keep.append(target)
        merged = Merged(target, source.id, source.number)
    return merged


def _move_thread(source: Ticket, target: Ticket) -> None:
    """A's opening description becomes a customer message of B at the time A opened
    (unless A's thread already starts with it: an email's opening message with its
    attachments); then A's messages and notes (with their files), email log and
    notifications move."""
    opening = db.session.scalar(select(Message.id).where(
        Message.ticket_id == source.id, Message.created_at == source.created_at,
        Message.sender_type == "customer", Message.body == source.description))
    if opening is None:
        db.session.add(Message(
            ticket_id=target.id, sender_type="customer", customer_id=source.customer_id,
            body=source.description, channel=source.channel,
            is_read=source.is_admin_read, read_at=None,
            created_at=source.created_at, updated_at=source.created_at))
    for model in (Message, InternalNote, Attachment, EmailLog, Notification):
        db.session.execute(update(model).where(model.ticket_id == source.id)
                           .values(ticket_id=target.id))
    db.session.flush()
    count = db.session.scalar(select(func.count()).select_from(Message)
                              .where(Message.ticket_id == target.id))
    db.session.execute(update(Ticket).where(Ticket.id == target.id)
                       .values(message_count=count, updated_at=utcnow()))
    db.session.execute(update(Ticket).where(Ticket.id == source.id).values(message_count=0))
    # Tickets merged into A earlier now point at B: one hop, always.
    db.session.execute(update(Ticket).where(Ticket.merged_into_id == source.id)
                       .values(merged_into_id=target.id))


def _join_participants(source: Ticket, target: Ticket) -> None:
    already = aliased(TicketParticipant)
    joining = select(TicketParticipant.customer_id).where(
        TicketParticipant.ticket_id == source.id,
        TicketParticipant.customer_id != target.customer_id,
        ~select(already.customer_id).where(
            already.ticket_id == target.id,
            already.customer_id == TicketParticipant.customer_id).exists())
    ids = list(db.session.scalars(joining))
    if ids:
        db.session.execute(insert(TicketParticipant), [
            {"ticket_id": target.id, "customer_id": cid, "created_at": utcnow()} for cid in ids])


def _close_source(actor: Actor, source: Ticket, target: Ticket, now) -> None:
    """A is closed and points at B; its close is part of the merge (no separate notice)."""
    old_status = source.status
    if old_status != lifecycle.CLOSED:
        if not counters.move_status(source.id, old_status, lifecycle.CLOSED):
            raise Conflict(_("The ticket was changed meanwhile; reload it and try again"))
        source.status = lifecycle.CLOSED
        source.closed_at = now
        source.resolved_at = source.resolved_at or now
        sla.after_status(source, old_status, lifecycle.CLOSED, now)
        _audit(source, actor, "status", old_status, lifecycle.CLOSED)
    source.merged_into_id = target.id
    source.updated_at = now
    _audit(source, actor, AUDIT_FROM, None, target.number)


def _follow_read_flags(source: Ticket, target: Ticket, now) -> None:
    """What was unread on A is unread on B; A itself leaves the unread counts."""
    if not source.is_admin_read:
        counters.set_admin_read(source.id, True)
        counters.set_admin_read(target.id, False)
    if not source.is_customer_read:
        db.session.execute(update(Ticket).where(Ticket.id == target.id)
                           .values(is_customer_read=False))
    db.session.flush()
    db.session.refresh(target)


def suggestions(actor: Actor, ticket: Ticket) -> list[Ticket]:
    """Where `ticket` could be merged: the customer's other tickets that are not
    closed or merged, that the actor may work and the merge would not refuse, those
    about the same order (ride, booking) first, newest first."""
    same_service = [ref == value for ref, value in (
        (Ticket.order_id, ticket.order_id), (Ticket.ride_id, ticket.ride_id),
        (Ticket.booking_id, ticket.booking_id)) if value is not None]
    first = case((and_(*same_service[:1]), 0), else_=1) if same_service else None
    stmt = (visible_tickets(actor)
            .where(Ticket.customer_id == ticket.customer_id, Ticket.id != ticket.id,
                   Ticket.status != lifecycle.CLOSED, Ticket.merged_into_id.is_(None),
                   Ticket.unverified_reason.is_(None))
            .order_by(*([first] if first is not None else []),
                      Ticket.created_at.desc(), Ticket.id.desc())
            .limit(SUGGESTIONS))
    return [t for t in db.session.scalars(stmt)
            if policy.can_work(actor, t) and _refusal(ticket, t) is None]
