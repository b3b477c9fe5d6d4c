"""Which ticket events go out, to whom, and the body they carry.

Each event an endpoint wants becomes one `webhook_deliveries` row per endpoint,
written in the transaction of the change (an in-transaction subscriber of the
domain events), so a rolled-back change sends nothing. The body is rendered once,
stored, and sent byte for byte on every attempt and resend.

Body: {"id": event id (the same on every endpoint and resend: receivers dedupe on
it), "event", "created_at", "ticket": {...} (null for a test ping), "data": {...}}.
"""
from __future__ import annotations

import json
import uuid
from functools import lru_cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Insert, bindparam, insert, literal, select

from .. import database
from ..extensions import db
from ..models import InternalNote, Message, WebhookDelivery, WebhookEndpoint, utcnow
from ..realtime.publisher import iso
from ..tickets import events
from ..tickets.events import DomainEvent, TicketSnapshot
from ..tickets.rule_cache import RuleCache

PRODUCED_KEY = "webhooks"
PING = "ping"

# The events an endpoint may choose (a new one, e.g. SLA or merge, is one line here).
EVENTS = {
    events.TICKET_CREATED: _l("Ticket created"),
    events.MESSAGE_ADDED: _l("Message added"),
    events.STATUS_CHANGED: _l("Status changed"),
    events.ASSIGNED: _l("Assigned"),
    events.ESCALATED: _l("Escalated"),
    events.CLOSED: _l("Closed"),
    events.FEEDBACK: _l("Feedback"),
    events.MERGED: _l("Tickets merged"),
    events.TAGS_CHANGED: _l("Tags changed"),
    events.SLA: _l("SLA target at risk or breached"),
    events.NOTE_ADDED: _l("Internal note (internal endpoints only)"),
}
# Sent only to endpoints marked internal: never to an integration customers may see.
INTERNAL_ONLY = frozenset({events.NOTE_ADDED})


def staff_only(event: str, ticket_unverified: bool) -> bool:
    """Whether only internal endpoints may receive this event: an internal note, or
    anything about an unverified ticket (`tickets/verification.py`: an integration
    might act towards the customer). Checked when queued and again when sent."""
    return event in INTERNAL_ONLY or ticket_unverified


def ticket_payload(t: TicketSnapshot) -> dict[str, Any]:
    return {"id": t.id, "number": t.number, "status": t.status, "priority": t.priority,
            "category": t.category, "channel": t.channel, "customer_id": t.customer_id,
            "assigned_to": t.assigned_to_id, "escalation_level": t.escalation_level,
            "subject": t.subject}


def _data(e: DomainEvent) -> dict[str, Any]:
    """The event's own values, plus the text of the message or note it added."""
    # (not who the desk notifies: `notify`, an SLA alert's `recipients`)
    data = {key: value for key, value in e.data.items() if key not in ("notify", "recipients")}
    data.update(origin=e.origin, actor_user_id=e.actor_user_id)
    if e.name == events.MESSAGE_ADDED:
        message = db.session.get(Message, e.data.get("message_id"))
        data["body"] = message.body if message else None
    elif e.name == events.NOTE_ADDED:
        note = db.session.get(InternalNote, e.data.get("note_id"))
        data["note"] = note.note if note else None
    return data


def render(event: str, ticket: dict[str, Any] | None, data: dict[str, Any]) -> str:
    return json.dumps({"id": uuid.uuid4().hex, "event": event, "created_at": iso(utcnow()),
                       "ticket": ticket, "data": data}, ensure_ascii=False, default=str)




_endpoints = WebhookEndpoint.__table__.c


def _load_active() -> tuple[tuple[int, frozenset[str], bool], ...]:
    """Every active endpoint: (id, the events it wants, internal)."""
    rows = db.session.execute(select(_endpoints.id, _endpoints.events, _endpoints.is_internal)
                              .where(_endpoints.is_active.is_(True)))
    return tuple((row.id, frozenset(row.events or ()), bool(row.is_internal)) for row in rows)


# Read on every ticket change, and most desks have no endpoint: each process keeps a copy
# (tickets/rule_cache.py). The delivery rows are written only for endpoints still active
# when written (`_queue`), and the sender checks again, so a stale copy never sends to a
# removed or disabled endpoint; a new one in another process gets events within the TTL.
active: RuleCache[tuple[tuple[int, frozenset[str], bool], ...]] = RuleCache(
    _load_active, (WebhookEndpoint,), "WEBHOOK_CACHE_SECONDS")


@lru_cache(maxsize=1)
def _queue() -> Insert:
    """One delivery row per endpoint id in `endpoint_ids` that is still active, with the
    event's values: the INSERT reads the endpoints itself (built once)."""
    table = WebhookDelivery.__table__
    values = {name: bindparam(name, type_=table.c[name].type)
              for name in ("event", "body", "ticket_id", "created_at")}
    columns = ["endpoint_id", *values, "status", "attempts"]
    rows = select(_endpoints.id, *values.values(), literal("queued"), literal(0)).where(
        _endpoints.id.in_(bindparam("endpoint_ids", expanding=True)),
        _endpoints.is_active.is_(True))
    # RETURNING counts the rows: psycopg reports rowcount -1 for an INSERT.
    return insert(table).from_select(columns, rows).returning(table.c.id)


def prepare_deliveries(e: DomainEvent) -> events.Write | None:
    """In-transaction subscriber: one delivery row per active endpoint wanting `e`."""
    if e.ticket is None or e.name not in EVENTS:
        return None
    internal_only = staff_only(e.name, e.ticket.unverified)
    wanted = [endpoint_id for endpoint_id, chosen, internal in active.get()
              if e.name in chosen and (internal or not internal_only)]
    if not wanted:
        return None
    data, ticket = _data(e), e.ticket

    def write() -> None:
        body = render(e.name, ticket_payload(ticket), data)  # a new ticket's id is set now
        queued = database.execute_core(_queue(), {
            "endpoint_ids": wanted, "event": e.name, "body": body, "ticket_id": ticket.id,
            "created_at": utcnow()})
        e.produced[PRODUCED_KEY] = len(queued.all())

    return write


def queue_ping(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """"Send test": a `ping` with no ticket, through the same outbox (the caller commits)."""
    body = render(PING, None, {"endpoint_id": endpoint.id, "name": endpoint.name})
    delivery = WebhookDelivery(endpoint_id=endpoint.id, event=PING, body=body)  # queued now
    db.session.add(delivery)
    return delivery


def queue_resend(original: WebhookDelivery) -> WebhookDelivery:
    """A new delivery of the same body (same event id), keeping the original's log."""
    delivery = WebhookDelivery(endpoint_id=original.endpoint_id, ticket_id=original.ticket_id,
                               event=original.event, body=original.body)
    db.session.add(delivery)
    return delivery
