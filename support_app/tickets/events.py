"""Domain events: recorded during a transaction, delivered in two phases.

* in-transaction subscribers run when the service publishes. Each prepares (reads,
  renders) and returns a `Write`: the rows, such as stored notifications or outbox
  emails, that must commit or roll back with the ticket change. A service may prepare
  before its first write (a new ticket's event, before the ticket's INSERT) so that
  SQLite's writer turn covers only the writes; `publish` does both at once;
* after-commit subscribers run only once the transaction has committed (socket
  pushes, waking the mail sender). A rollback discards the pending events.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

TICKET_CREATED = "ticket.created"
MESSAGE_ADDED = "ticket.message_added"
NOTE_ADDED = "ticket.note_added"
STATUS_CHANGED = "ticket.status_changed"
PRIORITY_CHANGED = "ticket.priority_changed"
ASSIGNED = "ticket.assigned"
ESCALATED = "ticket.escalated"
CLOSED = "ticket.closed"
FEEDBACK = "ticket.feedback"
READ = "ticket.read"
VERIFIED = "ticket.verified"  # staff showed who wrote it: the customer side sees it now
# Another ticket was merged into this one; data: merged_id, merged_number.
MERGED = "ticket.merged"
TAGS_CHANGED = "ticket.tags_changed"  # staff, a macro or an auto-tag rule added or removed tags
SLA = "ticket.sla"  # a target turned at risk or breached (tickets/sla_checks.py)
ORDER_CANCELLED = "order.cancelled"


@dataclass
class TicketSnapshot:
    """Plain values captured inside the transaction, safe to use after commit."""

    id: int
    number: str
    status: str
    priority: str
    subject: str
    customer_id: int
    customer_user_id: int | None
    customer_email: str
    customer_name: str
    customer_locale: str
    assigned_to_id: int | None
    participant_user_ids: list[int]
    channel: str
    escalation_level: int
    # Nobody has shown that the customer wrote it: its events reach staff only.
    unverified: bool = False
    category: str = ""


@dataclass
class DomainEvent:
    name: str
    ticket: TicketSnapshot | None
    actor_user_id: int | None
    origin: str = "api"  # the surface or channel that caused it (002, munch, mtxi, email, ...)
    data: dict[str, Any] = field(default_factory=dict)
    # What in-transaction subscribers wrote (e.g. stored notifications), keyed by
    # subscriber, for their after-commit counterparts to push once it is committed.
    produced: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[DomainEvent], None]
Write = Callable[[], None]
# An in-transaction subscriber: prepares from the event, returns what to write (or None).
Preparer = Callable[[DomainEvent], Write | None]


class Publisher:
    """Fan-out point. Tests subscribe a recorder; the app subscribes realtime/notify/mail."""

    def __init__(self) -> None:
        self._in_transaction: list[Preparer] = []
        self._after_commit: list[Handler] = []

    def subscribe_in_transaction(self, handler: Preparer) -> None:
        if handler not in self._in_transaction:
            self._in_transaction.append(handler)

    def subscribe_after_commit(self, handler: Handler) -> None:
        if handler not in self._after_commit:
            self._after_commit.append(handler)

    def unsubscribe(self, handler: Handler | Preparer) -> None:
        for handlers in (self._in_transaction, self._after_commit):
            if handler in handlers:
                handlers.remove(handler)  # type: ignore[arg-type]

    def prepare(self, event: DomainEvent) -> list[Write]:
        """Run the in-transaction subscribers' reads and renders; nothing is written."""
        prepared = (handler(event) for handler in list(self._in_transaction))
        return [write for write in prepared if write is not None]

    def write(self, session: Session, event: DomainEvent, writes: list[Write]) -> None:
        """Write what `prepare` returned (the event's ticket row exists by now) and hold
        the event for delivery after the commit."""
        for write in writes:
            write()
        session.info.setdefault("pending_events", []).append(event)

    def publish(self, session: Session, event: DomainEvent) -> None:
        self.write(session, event, self.prepare(event))

    def deliver(self, events: list[DomainEvent]) -> None:
        for event in events:
            for handler in list(self._after_commit):
                try:
                    handler(event)
                except Exception:  # a push failing must never undo a committed change
                    log.exception("after-commit handler %r failed for %s", handler, event.name)


publisher = Publisher()


def install(session_factory: Any) -> None:
    """Hook delivery onto commit and discard onto rollback for this session factory."""
    if getattr(session_factory, "_support_events_installed", False):
        return

    @sa_event.listens_for(session_factory, "after_commit")
    def _after_commit(session: Session) -> None:
        events = session.info.pop("pending_events", [])
        if events:
            publisher.deliver(events)

    @sa_event.listens_for(session_factory, "after_soft_rollback")
    def _after_rollback(session: Session, previous_transaction: Any) -> None:
        if previous_transaction.parent is None:  # the outermost transaction rolled back
            session.info.pop("pending_events", None)

    session_factory._support_events_installed = True
