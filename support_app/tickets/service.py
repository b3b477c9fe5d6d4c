"""The only code that changes tickets. Each public function is one transaction:
it checks access and lifecycle rules, writes the change and its audit event, then
commits; domain events go out after the commit. Every channel calls these."""
from __future__ import annotations

import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Sequence

from flask_babel import gettext as _
from sqlalchemy import Select, Update, bindparam, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.base import ExecutableOption

from .. import database
from ..extensions import db
from ..models import (
    CANCELLABLE_ORDER_STATUSES,
    CATEGORIES,
    CHANNELS,
    PRIORITIES,
    AgentProfile,
    Attachment,
    Booking,
    Customer,
    Feedback,
    InternalNote,
    Message,
    Order,
    Ride,
    Ticket,
    TicketEvent,
    TicketParticipant,
    utcnow,
)
from ..security import roles
from . import (assignment, counters, events, gamification, groups, lifecycle, policy,
               queries, sla, tags)
from . import attachments as files_on_thread
from .actor import Actor
from .errors import (
    AlreadyAssigned,
    AlreadyEscalated,
    CannotEscalate,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)

MAX_SUBJECT = 255
MAX_BODY = 5000
MAX_CANCEL_REASON = 500

# Rows a channel must commit together with the ticket change (the email webhook's
# inbound EmailLog, whose unique Message-Id makes a redelivered mail a no-op).
ExtraRows = Callable[[Ticket], Iterable[Any]]


@dataclass
class Outcome:
    """A ticket change that may also award points (004's gamificationError)."""

    ticket: Ticket
    gamification_error: str | None = None


# --------------------------------------------------------------------------- helpers


_IN_SERVICE = "support.in_service_transaction"


@contextmanager
def _transaction() -> Iterator[list[object]]:
    """One service call, one transaction. Objects the body adds to the yielded list stay
    loaded after the commit, so the caller prints them without reading them back; only
    add objects whose every change went through the ORM (a Core UPDATE would leave the
    in-memory copy stale). Everything else is expired by the commit as usual. (The
    session holds objects weakly: a kept object the result does not reference is
    dropped, and read back if the caller reaches it.)"""
    session = db.session()
    if session.info.get(_IN_SERVICE):
        # A step of a larger service call (a macro's reply and actions): the outer
        # call commits or rolls back the whole, so nothing is written half.
        yield []
        return
    keep: list[object] = []
    with database.writer_turn():
        session.info[_IN_SERVICE] = True
        try:
            yield keep
            _commit(keep)
        except BaseException:
            db.session.rollback()
            raise
        finally:
            session.info.pop(_IN_SERVICE, None)


def _commit(keep: list[object]) -> None:
    session = db.session()
    if not keep:
        session.commit()
        return
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
    if expire:
        kept = {id(obj) for obj in keep}
        for obj in list(session.identity_map.values()):
            if id(obj) not in kept:
                session.expire(obj)


def new_ticket_number() -> str:
    """`TKT-` and 13 upper-case hex digits, as in the 002 examples."""
    return "TKT-" + secrets.token_hex(7).upper()[:13]


@lru_cache(maxsize=1)
def _participant_users() -> Select:
    """The accounts of a ticket's group participants (built once: every event asks)."""
    return (select(Customer.user_id)
            .join(TicketParticipant, TicketParticipant.customer_id == Customer.id)
            .where(TicketParticipant.ticket_id == bindparam("ticket_id"),
                   Customer.user_id.is_not(None)))


def _snapshot(ticket: Ticket,
              participant_user_ids: list[int] | None = None) -> events.TicketSnapshot:
    """`participant_user_ids`: given when the caller knows them (a ticket it just opened)."""
    customer = ticket.customer
    if participant_user_ids is None:
        participant_user_ids = list(db.session.scalars(
            _participant_users(), {"ticket_id": ticket.id})
        ) if groups.may_have_participants(ticket) else []
    return events.TicketSnapshot(
        id=ticket.id,
        number=ticket.number,
        status=ticket.status,
        priority=ticket.priority,
        subject=ticket.subject,
        customer_id=ticket.customer_id,
        customer_user_id=customer.user_id,
        customer_email=customer.email,
        customer_name=customer.name,
        customer_locale=customer.locale or "en",
        assigned_to_id=ticket.assigned_to_id,
        participant_user_ids=participant_user_ids,
        channel=ticket.channel,
        escalation_level=ticket.escalation_level,
        unverified=ticket.unverified_reason is not None,
        category=ticket.category,
    )


def _publish(name: str, ticket: Ticket, actor: Actor, origin: str, **data: Any) -> None:
    db.session.flush()
    events.publisher.publish(db.session, events.DomainEvent(
        name=name, ticket=_snapshot(ticket), actor_user_id=actor.user_id, origin=origin,
        data=data))


def _audit(ticket: Ticket, actor: Actor, kind: str, old: Any = None, new: Any = None) -> None:
    """Append-only, never read back in the transaction: a Core INSERT, no ORM object to
    track through the unit of work."""
    database.insert_row(TicketEvent.__table__, dict(
        ticket_id=ticket.id,
        actor_id=actor.user_id,
        actor_type="system" if actor.is_system else actor.lifecycle_role,
        kind=kind,
        old_value=None if old is None else str(old)[:255],
        new_value=None if new is None else str(new)[:255],
    ))


@lru_cache(maxsize=32)
def _ticket_statement(lock: bool, load: tuple[ExecutableOption, ...]) -> Select:
    """Built once per (lock, load): callers pass module-level `load` tuples, so a detail
    read or a reply does not rebuild (and re-key) the same SELECT every time."""
    stmt = select(Ticket).where(queries.resolves_to(bindparam("ticket_id"))).options(*load)
    if lock:
        stmt = stmt.with_for_update(of=Ticket)  # the ticket row, not what `load` joins
    return stmt


def get_ticket(actor: Actor, ticket_id: int, *, lock: bool = False,
               load: tuple[ExecutableOption, ...] = ()) -> Ticket:
    """Load a ticket the actor may see: NotFound if absent, Forbidden if not theirs.
    A merged ticket's id loads the ticket it was merged into (`queries.resolves_to`).
    `load`: loader options for what the caller will print (one query, not one per
    relation), as a module-level tuple."""
    statement = _ticket_statement(lock, load)
    ticket = db.session.scalar(statement, {"ticket_id": ticket_id})
    if ticket is not None and ticket.merged_into_id is not None:
        # Merged while this lookup waited for the row's lock: follow it once more.
        ticket = db.session.scalar(statement, {"ticket_id": ticket.merged_into_id})
    if ticket is None:
        raise NotFound("ticket")
    if not policy.can_view(actor, ticket):
        raise Forbidden(_("Unauthorized access to this ticket"))
    return ticket


def _require_staff_work(actor: Actor, ticket: Ticket) -> None:
    if not policy.can_work(actor, ticket):
        raise Forbidden(_("You are not allowed to change this ticket"))


def _clean_text(value: Any, field: str, *, required: bool, max_len: int, min_len: int = 0,
                errors: dict[str, list[str]]) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.setdefault(field, []).append(
                _("The %(field)s field is required.", field=field)
            )
        return None
    if not isinstance(value, str):
        errors.setdefault(field, []).append(_("The %(field)s must be a string.", field=field))
        return None
    if "\x00" in value:
        errors.setdefault(field, []).append(
            _("The %(field)s may not contain NUL characters.", field=field)
        )
        return None
    if len(value) > max_len:
        errors.setdefault(field, []).append(
            _("The %(field)s may not be greater than %(max)d characters.", field=field, max=max_len)
        )
    elif len(value) < min_len:
        errors.setdefault(field, []).append(
            _("The %(field)s must be at least %(min)d characters.", field=field, min=min_len)
        )
    return value


def _reference(model: type, ref_id: int | None, customer_id: int, resource: str) -> Any:
    if ref_id is None:
        return None
    obj = db.session.get(model, ref_id)
    if obj is None or obj.customer_id != customer_id:
        # Another customer's order is as unknown to this customer as a missing one.
        raise NotFound(resource)
    return obj


# --------------------------------------------------------------------------- opening


def open_ticket(
    actor: Actor,
    *,
    subject: str,
    description: str,
    customer_id: int | None = None,
    priority: str = "medium",
    category: str = "other",
    channel: str = "api",
    origin: str = "api",
    issue_type: str | None = None,
    service_type: str | None = None,
    order_id: int | None = None,
    ride_id: int | None = None,
    booking_id: int | None = None,
    participant_customer_ids: Sequence[int] = (),
    award_points: bool = False,
    notify: bool = True,
    min_description: int = 1,
    max_description: int = MAX_BODY,
    files: Sequence[Attachment] = (),
    attachments: list[Any] | None = None,
    extra_rows: ExtraRows | None = None,
    unverified_reason: str | None = None,
) -> Outcome:
    """Open a ticket from any channel. Customers open for themselves; staff (and the
    system, for contact form and email) open on behalf of a given customer; the system
    gives `unverified_reason` when nobody showed the customer wrote it
    (`tickets.verification`): such a ticket is for staff only.

    `files` (email attachments) and `attachments` (the actor's uploads, URLs or ids, as
    `add_message` takes them) belong to messages, so they hang off an opening thread
    message that repeats the description, linked in this transaction;
    `extra_rows(ticket)` are added in the same transaction."""
    if customer_id is None:
        customer_id = actor.customer_id
    if customer_id is None and actor.user_id is not None and not actor.is_staff:
        # A self-registered account gets its customer record by confirming its address.
        raise Forbidden(_("Confirm your email address first: we sent you a link."))
    if customer_id is None:
        raise NotFound("customer")
    if customer_id != actor.customer_id and not (actor.is_system or actor.can(roles.MANAGE)):
        raise Forbidden(_("You may only open tickets for yourself"))
    if not actor.is_staff and not actor.can(roles.CREATE):
        raise Forbidden(_("You are not allowed to create support tickets"))

    errors: dict[str, list[str]] = {}
    subject = _clean_text(subject, "subject", required=True, max_len=MAX_SUBJECT, errors=errors)
    description = _clean_text(
        description, "description", required=True, max_len=max_description,
        min_len=min_description, errors=errors,
    )
    if priority not in PRIORITIES:
        errors.setdefault("priority", []).append(_("The selected priority is invalid."))
    if category not in CATEGORIES:
        errors.setdefault("category", []).append(_("The selected category is invalid."))
    if channel not in CHANNELS:
        errors.setdefault("channel", []).append(_("The selected channel is invalid."))
    if errors:
        raise ValidationFailed(errors)
    upload_ids = files_on_thread.wanted(attachments)

    with _transaction() as keep:
        # Reads and renders come first: on SQLite the writer turn is taken by the
        # ticket's INSERT, so it covers the writes only.
        customer = db.session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("customer")
        order = _reference(Order, order_id, customer_id, "order")
        ride = _reference(Ride, ride_id, customer_id, "ride")
        booking = _reference(Booking, booking_id, customer_id, "booking")
        members = groups.participants(participant_customer_ids, customer_id, order, ride, booking)

        now = utcnow()
        ticket = database.new_row(
            Ticket,
            number=new_ticket_number(),
            customer_id=customer_id,
            subject=subject,
            description=description,
            status=lifecycle.OPEN,
            priority=priority,
            category=category,
            issue_type=issue_type,
            channel=channel,
            unverified_reason=unverified_reason,
            service_type=service_type
            or ("order" if order else "ride" if ride else "booking" if booking else None),
            order_id=order.id if order else None,
            ride_id=ride.id if ride else None,
            booking_id=booking.id if booking else None,
            created_by_id=actor.user_id,
            is_customer_read=True,
            is_admin_read=False,
            message_count=1 if files or upload_ids else 0,  # the opening message below
            created_at=now,
            updated_at=now,
        )
        sla.stamp_new(ticket, now)
        set_committed_value(ticket, "customer", customer)
        snapshot = _snapshot(ticket, [m.user_id for m in members if m.user_id is not None])
        created = events.DomainEvent(events.TICKET_CREATED, snapshot, actor.user_id, origin,
                                     data={"notify": notify, "description": description})
        writes = events.publisher.prepare(created)

        database.insert_loaded(ticket)
        snapshot.id = ticket.id  # the subscribers' writes and pushes need it
        for member in members:
            db.session.add(TicketParticipant(ticket_id=ticket.id, customer_id=member.id))
        counters.ticket_opened(ticket.status, admin_read=ticket.is_admin_read)
        if files or upload_ids:
            opening = Message(
                ticket_id=ticket.id, sender_type="customer", customer_id=customer_id,
                body=description, channel=channel, created_at=now, updated_at=now,
                attachments=files_on_thread.paths(upload_ids),
            )
            db.session.add(opening)
            db.session.flush()
            files_on_thread.claim(actor, ticket, upload_ids, message_id=opening.id)
            files_on_thread.mailed(ticket, opening, files)
        if extra_rows is not None:
            db.session.add_all(list(extra_rows(ticket)))
        _audit(ticket, actor, "created", None, lifecycle.OPEN)
        gamification_error = (
            gamification.award(customer_id, ticket.id, gamification.SUPPORT_INTERACTION)
            if award_points
            else None
        )
        events.publisher.write(db.session, created, writes)
        tags.apply_rules(ticket, origin)  # every channel opens here: rules apply once
        agent_user_id = assignment.choose_agent()
        if agent_user_id is not None:
            _assign(ticket, Actor.system("auto-assign"), agent_user_id, origin,
                    kind=assignment.AUDIT_KIND)
        # What the caller prints, as written (points are awarded by a Core UPDATE).
        keep += [ticket] if award_points else [ticket, customer]
    return Outcome(ticket, gamification_error)


# --------------------------------------------------------------------------- thread


# The customer rides along with a replied ticket: the event snapshot needs it.
_WITH_CUSTOMER = (joinedload(Ticket.customer, innerjoin=True),)


@lru_cache(maxsize=1)
def _reply_update() -> Update:
    """A reply's ticket UPDATE, built once: the message count in SQL (exact whatever
    else runs), the other columns from the execution parameters."""
    table = Ticket.__table__
    return (update(table).where(table.c.id == bindparam("ticket_id"))
            .values(message_count=table.c.message_count + 1)
            .returning(table.c.message_count))


def add_message(
    actor: Actor,
    ticket_id: int,
    body: str,
    *,
    attachments: list[Any] | None = None,
    channel: str = "api",
    origin: str = "api",
    email_message_id: str | None = None,
    files: Sequence[Attachment] = (),
    extra_rows: ExtraRows | None = None,
) -> Message:
    """Add to the thread; apply the 002 read-flag and reopen rules atomically.
    The ticket's customer and its group participants write as the customer side.
    `attachments`: the actor's uploads (URLs or ids), linked in this transaction;
    `files`: mailed files (`attachments.store.kept`)."""
    errors: dict[str, list[str]] = {}
    body = _clean_text(body, "message", required=True, max_len=MAX_BODY, errors=errors)
    if errors:
        raise ValidationFailed(errors)
    upload_ids = files_on_thread.wanted(attachments)
    with _transaction() as keep:
        ticket = get_ticket(actor, ticket_id, lock=True, load=_WITH_CUSTOMER)
        role = "customer"
        if actor.is_staff and not policy.is_owner(actor, ticket):
            _require_staff_work(actor, ticket)
            role = "staff"
        elif not (
            (policy.is_owner(actor, ticket) or policy.is_participant(actor, ticket))
            and actor.can(roles.REPLY)
        ):
            raise Forbidden(_("Unauthorized access to this ticket"))

        now = utcnow()
        message = database.insert_loaded(database.new_row(
            Message,
            ticket_id=ticket.id,
            sender_type="admin" if role == "staff" else "customer",
            customer_id=actor.customer_id if role == "customer" else None,
            admin_id=actor.user_id if role == "staff" else None,
            body=body,
            channel=channel,
            attachments=files_on_thread.paths(upload_ids),
            email_message_id=email_message_id,
            created_at=now,
            updated_at=now,
        ))
        set_committed_value(message, "files", [])  # new: nothing to load
        files_on_thread.claim(actor, ticket, upload_ids, message_id=message.id)
        files_on_thread.mailed(ticket, message, files)
        if extra_rows is not None:
            db.session.add_all(list(extra_rows(ticket)))
        old_status = ticket.status
        new_status = lifecycle.status_after_reply(old_status, role)
        reopened = new_status != old_status
        # The row is locked (FOR UPDATE, or SQLite's writer turn), so what was read is
        # current: one UPDATE carries the whole change, and the counters follow it.
        changes: dict[str, Any] = {"updated_at": now, "is_admin_read": role == "staff"}
        if role == "staff":
            changes.update(is_customer_read=False, last_replied_at=now,
                           last_replied_by_id=actor.user_id)
            if ticket.first_response_at is None:
                changes["first_response_at"] = now
        else:
            changes["is_customer_read"] = True
        if reopened:
            changes.update(status=new_status, resolved_at=None, closed_at=None)
        changes.update(sla.after_reply(ticket, role, new_status, now))
        counters.locked_change(ticket, changes)
        changes["message_count"] = database.execute_core(
            _reply_update(), {"ticket_id": ticket.id, **changes}).scalar_one()
        for key, value in changes.items():
            set_committed_value(ticket, key, value)
        if reopened:
            _audit(ticket, actor, "status", old_status, new_status)
        _publish(events.MESSAGE_ADDED, ticket, actor, origin, message_id=message.id,
                 sender_type=message.sender_type, reopened=bool(reopened))
        keep.append(message)  # what the caller prints, as written
        if message.customer_id == ticket.customer_id:
            # Loaded already, and kept alive with it; as loaded state: nothing to flush.
            set_committed_value(message, "customer", ticket.customer)
            keep.append(ticket.customer)
    return message


def mark_ticket_read(actor: Actor, ticket_id: int) -> Ticket:
    """The viewer has read the ticket: its flag and the other side's messages."""
    with _transaction():
        ticket = get_ticket(actor, ticket_id)
        now = utcnow()
        staff_view = actor.is_staff and not policy.is_owner(actor, ticket)
        if staff_view:
            counters.set_admin_read(ticket.id, True)
            other_side = "customer"
        else:
            db.session.execute(
                update(Ticket).where(Ticket.id == ticket.id).values(is_customer_read=True)
            )
            other_side = "admin"
        db.session.execute(
            update(Message)
            .where(Message.ticket_id == ticket.id, Message.sender_type == other_side,
                   Message.is_read.is_(False))
            .values(is_read=True, read_at=now)
        )
        db.session.flush()
        db.session.refresh(ticket)
        _publish(events.READ, ticket, actor, "api", reader="staff" if staff_view else "customer")
    return ticket


def mark_message_read(actor: Actor, message_id: int) -> Message:
    with _transaction():
        message = db.session.get(Message, message_id)
        if message is None:
            raise NotFound("message")
        ticket = db.session.get(Ticket, message.ticket_id)
        if ticket is None or not policy.can_view(actor, ticket):
            raise Forbidden(_("Unauthorized access"))
        if not message.is_read:
            message.is_read = True
            message.read_at = utcnow()
    return message


def add_note(actor: Actor, ticket_id: int, note: str, *, origin: str = "api",
             attachments: list[Any] | None = None) -> InternalNote:
    """`attachments`: the actor's uploads (URLs or ids); staff only ever see them."""
    errors: dict[str, list[str]] = {}
    note = _clean_text(note, "note", required=True, max_len=MAX_BODY, errors=errors)
    if errors:
        raise ValidationFailed(errors)
    upload_ids = files_on_thread.wanted(attachments)
    with _transaction():
        ticket = get_ticket(actor, ticket_id)
        if not (actor.is_staff and (policy.can_work(actor, ticket) or actor.can(roles.WORK))):
            raise Forbidden(_("Only support staff may add internal notes"))
        _require_staff_work(actor, ticket)
        entry = InternalNote(ticket_id=ticket.id, author_id=actor.user_id, note=note)
        db.session.add(entry)
        _audit(ticket, actor, "note")
        db.session.flush()
        files_on_thread.claim(actor, ticket, upload_ids, note_id=entry.id)
        _publish(events.NOTE_ADDED, ticket, actor, origin, note_id=entry.id)
    return entry


# --------------------------------------------------------------------------- status


def update_ticket(
    actor: Actor,
    ticket_id: int,
    *,
    status: str | None = None,
    priority: str | None = None,
    resolution_details: str | None = None,
    note: str | None = None,
    origin: str = "api",
) -> Ticket:
    """Staff change status and/or priority (and may leave a note) in one transaction."""
    if status is not None and status not in lifecycle.STATUSES:
        raise ValidationFailed({"status": [_("The selected status is invalid.")]})
    if priority is not None and priority not in PRIORITIES:
        raise ValidationFailed({"priority": [_("The selected priority is invalid.")]})
    with _transaction():
        ticket = get_ticket(actor, ticket_id, lock=True)
        _require_staff_work(actor, ticket)
        if status is not None and status != ticket.status:
            _apply_status(ticket, actor, status, origin, resolution_details)
        elif resolution_details is not None:
            ticket.resolution_details = resolution_details
        if priority is not None and priority != ticket.priority:
            change_priority(ticket, actor, priority, origin)
        if note:
            entry = InternalNote(ticket_id=ticket.id, author_id=actor.user_id, note=note)
            db.session.add(entry)
            _audit(ticket, actor, "note")
            db.session.flush()
            _publish(events.NOTE_ADDED, ticket, actor, origin, note_id=entry.id)
        ticket.updated_at = utcnow()
    return ticket


def _apply_status(ticket: Ticket, actor: Actor, target: str, origin: str,
                  resolution_details: str | None = None) -> None:
    current = ticket.status
    if not lifecycle.can_transition(current, target, actor.lifecycle_role):
        raise InvalidTransition(
            _("Cannot change status from %(old)s to %(new)s", old=current, new=target),
            old=current, new=target,
        )
    if not counters.move_status(ticket.id, current, target):
        raise Conflict(_("The ticket was changed meanwhile; reload it and try again"))
    now = utcnow()
    if target == lifecycle.RESOLVED:
        ticket.resolved_at = now
        if resolution_details is not None:
            ticket.resolution_details = resolution_details
    elif target == lifecycle.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    else:
        ticket.resolved_at = None
        ticket.closed_at = None
    sla.after_status(ticket, current, target, now)
    ticket.is_customer_read = False
    _audit(ticket, actor, "status", current, target)
    name = events.CLOSED if target == lifecycle.CLOSED else events.STATUS_CHANGED
    resolution = {"resolution": ticket.resolution_details} if target == lifecycle.RESOLVED else {}
    _publish(name, ticket, actor, origin, old_status=current, new_status=target, **resolution)


def change_priority(ticket: Ticket, actor: Actor, priority: str, origin: str) -> None:
    """Inside a service transaction, on a locked ticket: the new priority, audited, the
    SLA policy re-applied, the event published."""
    _audit(ticket, actor, "priority", ticket.priority, priority)
    ticket.priority = priority
    _reapply_sla(ticket, actor)
    _publish(events.PRIORITY_CHANGED, ticket, actor, origin, priority=priority)


def _reapply_sla(ticket: Ticket, actor: Actor) -> None:
    """A matching field changed: the SLA policy may change, and the history says so."""
    switched = sla.reapply(ticket, utcnow())
    if switched is not None:
        _audit(ticket, actor, "sla_policy", *switched)


def _acting_role(actor: Actor, ticket: Ticket, customer_permission: str, refusal: str) -> str:
    """`staff` for desk staff who may work the ticket, `customer` for its owner holding
    the permission; anyone else is refused."""
    if actor.is_staff and not policy.is_owner(actor, ticket):
        _require_staff_work(actor, ticket)
        return "staff"
    if policy.is_owner(actor, ticket) and actor.can(customer_permission):
        return "customer"
    raise Forbidden(refusal)


def close_ticket(actor: Actor, ticket_id: int, *, origin: str = "api",
                 award_points: bool = False) -> Outcome:
    """A customer closes their resolved ticket; staff close any unclosed ticket."""
    with _transaction():
        ticket = get_ticket(actor, ticket_id, lock=True)
        role = _acting_role(actor, ticket, roles.CLOSE,
                            _("You are not allowed to close this ticket"))
        refusal = lifecycle.close_refusal(ticket.status, role)
        if refusal == "already_closed":
            raise InvalidTransition(_("Ticket is already closed"))
        if refusal:
            raise InvalidTransition(_("Only resolved tickets can be closed"))
        _apply_status(ticket, actor, lifecycle.CLOSED, origin)
        ticket.updated_at = utcnow()
        gamification_error = (
            gamification.award(ticket.customer_id, ticket.id, gamification.TICKET_CLOSURE)
            if award_points and role == "customer"
            else None
        )
    return Outcome(ticket, gamification_error)


def escalate(actor: Actor, ticket_id: int, *, origin: str = "api",
             award_points: bool = False) -> Outcome:
    with _transaction():
        ticket = get_ticket(actor, ticket_id, lock=True)
        role = _acting_role(actor, ticket, roles.ESCALATE,
                            _("You are not allowed to escalate this ticket"))
        refusal = lifecycle.escalation_refusal(ticket.status, ticket.escalation_level, role)
        if refusal == "cannot_escalate":
            raise CannotEscalate(_("Cannot escalate ticket"))
        if refusal == "already_escalated":
            raise AlreadyEscalated(_("Ticket already escalated"))
        raise_escalation(ticket, actor)
        gamification_error = (
            gamification.award(ticket.customer_id, ticket.id, gamification.SUPPORT_INTERACTION)
            if award_points and role == "customer"
            else None
        )
        _publish(events.ESCALATED, ticket, actor, origin, level=ticket.escalation_level)
    return Outcome(ticket, gamification_error)


def raise_escalation(ticket: Ticket, actor: Actor) -> None:
    """Inside a service transaction, on a locked ticket `escalation_refusal` allows: one
    level up, the priority one step up (SLA re-applied), both audited. The caller
    publishes the event (after what else it writes)."""
    old_level = ticket.escalation_level
    ticket.escalation_level = old_level + 1
    ticket.escalated_at = utcnow()
    new_priority = lifecycle.escalated_priority(ticket.priority)
    if new_priority != ticket.priority:
        _audit(ticket, actor, "priority", ticket.priority, new_priority)
        ticket.priority = new_priority
        _reapply_sla(ticket, actor)
    counters.set_admin_read(ticket.id, False)
    ticket.updated_at = utcnow()
    _audit(ticket, actor, "escalated", old_level, ticket.escalation_level)


def submit_feedback(actor: Actor, ticket_id: int, rating: int, comment: str | None = None,
                    *, origin: str = "api") -> Feedback:
    """The ticket's customer rates it: `tickets.feedback` (which the survey shares)."""
    from . import feedback  # it builds on this module's helpers

    return feedback.submit(actor, ticket_id, rating, comment, origin=origin)


# --------------------------------------------------------------------------- assignment


def _approved_agent(user_id: int) -> AgentProfile | None:
    return db.session.scalar(
        select(AgentProfile).where(
            AgentProfile.user_id == user_id, AgentProfile.is_approved.is_(True)
        )
    )


def assign_self(actor: Actor, ticket_id: int, *, origin: str = "api") -> Ticket:
    if actor.user_id is None or not (actor.is_approved_agent or actor.can(roles.MANAGE)):
        raise Forbidden(_("Only approved support agents can take tickets"))
    with _transaction():
        ticket = db.session.scalar(select(Ticket).where(queries.resolves_to(ticket_id))
                                   .with_for_update(of=Ticket))
        if ticket is None:
            raise NotFound("ticket")
        # Checked before visibility: a pool ticket another agent just took is "already
        # assigned" (the seed's 400), not a forbidden one.
        if ticket.assigned_to_id is not None:
            raise AlreadyAssigned(_("Ticket is already assigned"))
        if not policy.can_view(actor, ticket):
            raise Forbidden(_("Unauthorized access to this ticket"))
        _assign(ticket, actor, actor.user_id, origin)
        if ticket.status == lifecycle.OPEN:
            _apply_status(ticket, actor, lifecycle.IN_PROGRESS, origin)
    return ticket


def reassign(actor: Actor, ticket_id: int, agent_user_id: int | None, *,
             origin: str = "api") -> Ticket:
    """Admins move a ticket to another approved agent (or back to the pool with None)."""
    if not actor.can(roles.REASSIGN):
        raise Forbidden(_("Only admins can reassign tickets"))
    with _transaction():
        ticket = get_ticket(actor, ticket_id, lock=True)
        if agent_user_id is not None and _approved_agent(agent_user_id) is None:
            raise NotFound("agent", _("Agent not found or not approved"))
        _assign(ticket, actor, agent_user_id, origin)
    return ticket


def _assign(ticket: Ticket, actor: Actor, user_id: int | None, origin: str,
            kind: str = "assigned") -> None:
    old = ticket.assigned_to_id
    ticket.assigned_to_id = user_id
    ticket.updated_at = utcnow()
    _audit(ticket, actor, kind, old, user_id)
    _publish(events.ASSIGNED, ticket, actor, origin, old_assignee=old, new_assignee=user_id)


def approve_agent(actor: Actor, agent_user_id: int, approved: bool = True) -> AgentProfile:
    """Admins approve (or revoke) a registered agent before they can work tickets."""
    if not actor.can(roles.APPROVE_AGENTS):
        raise Forbidden(_("Only admins can approve agents"))
    with _transaction():
        profile = db.session.scalar(
            select(AgentProfile).where(AgentProfile.user_id == agent_user_id)
        )
        if profile is None:
            raise NotFound("agent")
        profile.is_approved = approved
        profile.approved_by_id = actor.user_id if approved else None
        profile.approved_at = utcnow() if approved else None
    return profile


# --------------------------------------------------------------------------- orders


def cancel_order(actor: Actor, order_id: int, reason: str | None = None) -> Order:
    """Customers cancel their own orders, staff any, while pending or processing."""
    if reason is not None and len(reason) > MAX_CANCEL_REASON:
        raise ValidationFailed(
            {"reason": [_("The reason may not be greater than %(max)d characters.",
                          max=MAX_CANCEL_REASON)]}
        )
    with _transaction():
        order = db.session.scalar(select(Order).where(Order.id == order_id).with_for_update())
        if order is None:
            raise NotFound("order")
        if not (actor.can(roles.CANCEL_ANY_ORDER) or order.customer_id == actor.customer_id):
            raise Forbidden(_("You are not authorized to cancel this order"))
        if order.status not in CANCELLABLE_ORDER_STATUSES:
            already = {
                "shipped": _("Order cannot be cancelled. It has already been shipped."),
                "delivered": _("Order cannot be cancelled. It has already been delivered."),
                "cancelled": _("Order cannot be cancelled. It has already been cancelled."),
            }
            raise InvalidTransition(
                already.get(order.status, _("Order cannot be cancelled."))
            )
        order.status = "cancelled"
        order.cancellation_reason = reason
        order.cancelled_at = utcnow()
        events.publisher.publish(
            db.session,
            events.DomainEvent(events.ORDER_CANCELLED, None, actor.user_id,
                               data={"order_id": order.id, "customer_id": order.customer_id}),
        )
    return order
