"""Domain events → Socket.IO emits, after commit, to exactly the rooms allowed to see them.

Every created ticket emits both seed families, whatever surface created it:
`support:ticket:created` (001 payload) and `support:ticket_created` (004 payload); the
same for escalation. A food-app client and a rides-app client each listen to their
own family and see every ticket they are entitled to. Events of our own use the 002
conventions (snake_case, lower-case statuses, the 002 message object):

| event | audience | payload |
|---|---|---|
| `support:ticket:created`, `support:ticket:escalated` | ticket | 001: ticketId, ticketNumber, status (UPPER), customerId (string) |
| `support:ticket_created`, `support:ticket_escalated`, `support:ticket_closed` | ticket | 004: ticketId, ticketNumber, serviceType, issueType, status (UPPER), customerId, escalationLevel |
| `support:ticket:status` | ticket | ticket_id, ticket_number, status, old_status |
| `support:ticket:priority` | ticket | ticket_id, ticket_number, priority |
| `support:ticket:assigned` | ticket + previous assignee | ticket_id, ticket_number, assigned_to, previous_assigned_to |
| `support:ticket:read` | ticket | ticket_id, ticket_number, reader (customer/staff) |
| `support:ticket:feedback` | ticket | ticket_id, ticket_number, rating |
| `support:message:created` | ticket | ticket_id, ticket_number, status, message (002 message) |
| `support:ticket:merged` | ticket + the merged ticket's room | ticket_id, ticket_number, status, merged_ticket_id, merged_ticket_number |
| `support:note:created` | staff of the ticket only | ticket_id, ticket_number, note {id, note, author, created_at} |
| `support:ticket:sla` | the assignee and `staff:all` only | ticket_id, ticket_number, target, state (at_risk/breached), due_at |
| `support:order:cancelled` | the order's customer | order_id, order_number, status |
| `support:navbar:count` | each affected user; desk counts to `staff:all` | the 002 navbar count body |

"ticket" audience = `rooms.ticket_audience`. A legacy create with `notify=False` still
emits these events (they are live state, not notices); it only skips notifications.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..attachments.store import public_urls
from ..extensions import db, socketio
from ..models import Customer, InternalNote, Message, Order, SupportUser, Ticket
from ..security import roles
from ..security.current import actor_for_user
from ..tickets import events
from ..tickets.actor import Actor
from ..tickets.badges import navbar_counts
from ..tickets.events import DomainEvent, TicketSnapshot
from . import rooms
from .dispatch import dispatcher, emit, listened


def iso(value: dt.datetime | None) -> str | None:
    """The 002 timestamp spelling: 2026-01-22T10:30:00.000000Z (stored naive UTC)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value is not None else None


def munch_payload(t: TicketSnapshot) -> dict[str, Any]:
    """001: customerId is a string, status upper-case, as the document writes them."""
    return {"ticketId": t.id, "ticketNumber": t.number, "status": t.status.upper(),
            "customerId": str(t.customer_id)}


def mtxi_payload(t: TicketSnapshot) -> dict[str, Any]:
    """004 documents the names only; its ids are integers and statuses upper-case."""
    ticket = db.session.get(Ticket, t.id)
    return {"ticketId": t.id, "ticketNumber": t.number,
            "serviceType": ticket.service_type if ticket else None,
            "issueType": ticket.issue_type if ticket else None,
            "status": t.status.upper(), "customerId": t.customer_id,
            "escalationLevel": t.escalation_level}


def _staff_name(user: SupportUser | None) -> dict[str, Any] | None:
    """The 002 `admin` object without its email: customers share the ticket's room, and
    a staff member's address is not theirs to know (the REST thread omits it for them)."""
    return {"id": user.id, "name": user.name} if user else None


def message_payload(message: Message) -> dict[str, Any]:
    """The 002 message object, as GET /api/support-tickets/{id}/messages prints it."""
    customer = message.customer
    return {
        "id": message.id, "ticket_id": message.ticket_id, "customer_id": message.customer_id,
        "admin_id": message.admin_id, "message": message.body,
        "sender_type": message.sender_type, "is_read": message.is_read,
        "read_at": iso(message.read_at), "attachments": public_urls(message.attachments),
        "created_at": iso(message.created_at), "updated_at": iso(message.updated_at),
        # The room holds group participants too: a customer's address is not theirs.
        "customer": {"id": customer.id, "name": customer.name} if customer else None,
        "admin": _staff_name(message.admin),
    }


def note_payload(note: InternalNote) -> dict[str, Any]:
    author = db.session.get(SupportUser, note.author_id) if note.author_id else None
    return {"id": note.id, "note": note.note,
            "author": {"id": author.id, "name": author.name} if author else None,
            "created_at": iso(note.created_at)}


def _ref(t: TicketSnapshot) -> dict[str, Any]:
    return {"ticket_id": t.id, "ticket_number": t.number}


def _emit_ticket_event(e: DomainEvent, t: TicketSnapshot, audience: list[str]) -> None:
    """Runs on the sender thread, in a fresh session reading committed rows."""
    if e.name == events.TICKET_CREATED:
        emit("support:ticket:created", munch_payload(t), audience)
        emit("support:ticket_created", mtxi_payload(t), audience)
    elif e.name == events.ESCALATED:
        emit("support:ticket:escalated", munch_payload(t), audience)
        emit("support:ticket_escalated", mtxi_payload(t), audience)
    elif e.name in (events.STATUS_CHANGED, events.CLOSED):
        emit("support:ticket:status", {**_ref(t), "status": t.status,
                                       "old_status": e.data.get("old_status")}, audience)
        if e.name == events.CLOSED:
            emit("support:ticket_closed", mtxi_payload(t), audience)
    elif e.name == events.PRIORITY_CHANGED:
        emit("support:ticket:priority", {**_ref(t), "priority": t.priority}, audience)
    elif e.name == events.ASSIGNED:
        previous = e.data.get("old_assignee")
        emit("support:ticket:assigned", {**_ref(t), "assigned_to": t.assigned_to_id,
                                         "previous_assigned_to": previous}, audience)
        # Who may see the ticket changed: subscribers must subscribe (and pass) again.
        socketio.close_room(rooms.ticket_room(t.id), namespace="/")
        socketio.close_room(rooms.ticket_staff_room(t.id), namespace="/")
    elif e.name == events.READ:
        emit("support:ticket:read", {**_ref(t), "reader": e.data.get("reader")}, audience)
    elif e.name == events.FEEDBACK:
        emit("support:ticket:feedback", {**_ref(t), "rating": e.data.get("rating")}, audience)
    elif e.name == events.MESSAGE_ADDED:
        message = db.session.get(Message, e.data.get("message_id"))
        if message is not None:
            emit("support:message:created",
                 {**_ref(t), "status": t.status, "message": message_payload(message)}, audience)
    elif e.name == events.MERGED:
        merged_id = e.data.get("merged_id")
        emit("support:ticket:merged", {**_ref(t), "status": t.status, "merged_ticket_id": merged_id,
                                       "merged_ticket_number": e.data.get("merged_number")},
             audience)
        # Whoever followed the merged ticket subscribes again: its id now joins this one.
        socketio.close_room(rooms.ticket_room(merged_id), namespace="/")
        socketio.close_room(rooms.ticket_staff_room(merged_id), namespace="/")
    elif e.name == events.SLA:
        emit("support:ticket:sla", {**_ref(t), "target": e.data.get("target"),
                                    "state": e.data.get("state"), "due_at": e.data.get("due_at")},
             audience)
    elif e.name == events.NOTE_ADDED:
        note = db.session.get(InternalNote, e.data.get("note_id"))
        emit("support:note:created", {**_ref(t), "note": note_payload(note) if note else None},
             audience)


# A badge is state, not news: pushed at most this often per user and for the desk.
BADGE_EVERY = 0.25


def push_badges(t: TicketSnapshot, *extra_user_ids: int | None) -> None:
    """Fresh 002 counts for each user the change touches, and the desk's counts; each
    a keyed job, so a burst of changes recounts once per user and once for the desk,
    paced to `BADGE_EVERY` (the first change after a quiet spell pushes at once)."""
    user_ids = {t.customer_user_id, t.assigned_to_id, *t.participant_user_ids, *extra_user_ids}
    for user_id in sorted(uid for uid in user_ids if uid is not None):
        if listened([rooms.user_room(user_id)]):
            dispatcher.submit(lambda uid=user_id: _push_user_badge(uid), key=("navbar", user_id),
                              every=BADGE_EVERY)
    if listened([rooms.STAFF_ALL]):
        dispatcher.submit(_push_desk_badge, key=("navbar", rooms.STAFF_ALL), every=BADGE_EVERY)


def _push_user_badge(user_id: int) -> None:
    user = db.session.get(SupportUser, user_id)
    if user is not None and user.active:
        emit("support:navbar:count", navbar_counts(actor_for_user(user)),
             [rooms.user_room(user_id)])


def _push_desk_badge() -> None:
    desk = Actor(user_id=None, customer_id=None, permissions=frozenset({roles.VIEW_ALL}))
    emit("support:navbar:count", navbar_counts(desk), [rooms.STAFF_ALL])


def _order_emits(e: DomainEvent) -> None:
    order = db.session.get(Order, e.data.get("order_id"))
    customer = db.session.get(Customer, e.data.get("customer_id"))
    if order is None or customer is None or customer.user_id is None:
        return
    emit("support:order:cancelled", {"order_id": order.id, "order_number": order.order_number,
                                     "status": order.status},
         [rooms.user_room(customer.user_id), rooms.STAFF_ALL])


def on_domain_event(event: DomainEvent) -> None:
    """After-commit subscriber: queue the emits somebody can receive (nothing queued,
    no thread woken, for a change nobody is listening to); never touches Redis on
    this thread."""
    t = event.ticket
    if t is not None:
        if event.name == events.SLA:
            audience = rooms.alert_audience(t)
        elif event.name == events.NOTE_ADDED:
            audience = rooms.staff_audience(t)
        else:
            audience = rooms.ticket_audience(t, event.data.get("old_assignee"))
        if event.name == events.MERGED:  # the merged ticket's followers hear it too
            audience.append(rooms.ticket_room(event.data["merged_id"]))
        if listened(audience):
            dispatcher.submit(lambda: _emit_ticket_event(event, t, audience))
        if event.name != events.SLA:  # no count changes
            push_badges(t, event.data.get("old_assignee"))
    elif event.name == events.ORDER_CANCELLED:
        dispatcher.submit(lambda: _order_emits(event))


def install() -> None:
    events.publisher.subscribe_after_commit(on_domain_event)
