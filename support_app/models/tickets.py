"""Tickets and everything that hangs off one: thread, notes, feedback, audit history."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, utcnow
from .commerce import Booking, Order, Ride
from .people import Customer, SupportUser
from .tags import Tag

STATUSES = ("open", "in_progress", "on_hold", "resolved", "closed")
PRIORITIES = ("low", "medium", "high", "urgent")
# The union of every surface's category list; each surface prints its own subset.
CATEGORIES = (
    "technical", "billing", "order", "product", "account", "other",
    "damaged", "lost", "late", "quality",
    "payment", "service_quality", "cancellation", "delivery", "booking",
)
CHANNELS = ("api", "admin", "contact_form", "email")
SERVICE_TYPES = ("order", "ride", "booking", "delivery", "event_service", "in_dining_order")


class Ticket(TimestampMixin, Model):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_created", "status", "created_at", postgresql_include=["id"]),
        # Staff lists filtered by status and priority count their rows (the page total).
        Index("ix_tickets_status_priority", "status", "priority"),
        Index("ix_tickets_customer_created", "customer_id", "created_at"),
        Index("ix_tickets_assignee_status", "assigned_to_id", "status"),
        Index("ix_tickets_created", "created_at"),
        # Reports count first responses, resolutions and ratings by date range.
        Index("ix_tickets_first_response", "first_response_at"),
        Index("ix_tickets_resolved", "resolved_at"),
        # SLA lists: sort by the next due time, filter by the worst state; the
        # background check finds what is due for a look.
        Index("ix_tickets_sla_due", "sla_due_at"),
        Index("ix_tickets_sla_state_due", "sla_state", "sla_due_at"),
        Index("ix_tickets_sla_check", "sla_check_at"),
        # Which tickets were merged into a given one (re-pointed when that one merges on).
        Index("ix_tickets_merged_into", "merged_into_id"),
        CheckConstraint("escalation_level >= 0", name="ck_tickets_escalation_level"),
        CheckConstraint("message_count >= 0", name="ck_tickets_message_count"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), nullable=False
    )
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    priority: Mapped[str] = mapped_column(String(10), nullable=False, default="medium")
    category: Mapped[str] = mapped_column(String(30), nullable=False, default="other")
    issue_type: Mapped[Optional[str]] = mapped_column(String(40), nullable=True)
    channel: Mapped[str] = mapped_column(String(20), nullable=False, default="api")
    service_type: Mapped[Optional[str]] = mapped_column(String(20), nullable=True)
    order_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), nullable=True, index=True
    )
    ride_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("rides.id", ondelete="SET NULL"), nullable=True, index=True
    )
    booking_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("bookings.id", ondelete="SET NULL"), nullable=True, index=True
    )
    assigned_to_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    created_by_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    escalation_level: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    escalated_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    message_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Why the desk cannot tell who wrote it (`tickets.verification`); NULL: verified.
    # An unverified ticket is shown to staff only and notifies nobody on the customer side.
    unverified_reason: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    is_customer_read: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_admin_read: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    last_replied_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    last_replied_by_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    first_response_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    resolution_details: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    resolved_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    # The SLA clock (`tickets/sla.py`): per target its due time, state (models/sla.py
    # TARGET_STATES, null when the target does not apply) and whether it was ever
    # breached; then what lists and the background check read.
    # Not a foreign key: each process opens tickets with its cached policies, and one
    # deleted meanwhile must not fail an opening; an unknown id reads as no policy.
    sla_policy_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    first_response_due_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    first_response_state: Mapped[Optional[str]] = mapped_column(String(10), nullable=True)
    first_response_breached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    next_response_due_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    next_response_state: Mapped[Optional[str]] = mapped_column(String(10), nullable=True)
    next_response_breached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    resolution_due_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    resolution_state: Mapped[Optional[str]] = mapped_column(String(10), nullable=True)
    resolution_breached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    sla_paused_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    # The earliest due time among the clocks still to be met (null while paused).
    sla_due_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    # The worst state among those clocks: running, at_risk or breached.
    sla_state: Mapped[Optional[str]] = mapped_column(String(10), nullable=True)
    # When the next at-risk or breach transition is due (null: none to come).
    sla_check_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)

    # Set when this ticket was merged into another (`tickets/merge.py`): it is closed,
    # and every surface reading its id or number answers with that ticket instead.
    merged_into_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )

    customer: Mapped[Customer] = relationship()
    assigned_to: Mapped[Optional[SupportUser]] = relationship(foreign_keys=[assigned_to_id])
    created_by: Mapped[Optional[SupportUser]] = relationship(foreign_keys=[created_by_id])
    last_replied_by: Mapped[Optional[SupportUser]] = relationship(
        foreign_keys=[last_replied_by_id]
    )
    order: Mapped[Optional[Order]] = relationship()
    ride: Mapped[Optional[Ride]] = relationship()
    booking: Mapped[Optional[Booking]] = relationship()
    # Read side only: tags change through `tickets/tags.py` (audited, one event).
    tags: Mapped[list["Tag"]] = relationship(  # noqa: F821
        secondary="ticket_tags", viewonly=True, order_by="Tag.name_key")
    participants: Mapped[list["TicketParticipant"]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan"
    )

    @property
    def sla_summary(self) -> tuple[Optional[str], Optional[dt.datetime]]:
        """The worst open SLA state and the earliest due time: the ticket list's one SLA
        cell (a state badge over its due time)."""
        return (self.sla_state, self.sla_due_at)

    @property
    def headline(self) -> tuple[str, list[Tag]]:
        """The subject with the ticket's tags: the ticket list's one cell for both (a
        column of its own would not fit a 1366 px screen)."""
        return (self.subject, self.tags)

    def __repr__(self) -> str:
        return self.number


class TicketParticipant(Model):
    """Group members of a shared ride/order/booking: they may track the ticket."""

    __tablename__ = "ticket_participants"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    ticket: Mapped[Ticket] = relationship(back_populates="participants")
    customer: Mapped[Customer] = relationship()


class Message(TimestampMixin, Model):
    """One entry of the customer-visible thread."""

    __tablename__ = "ticket_messages"
    __table_args__ = (Index("ix_ticket_messages_ticket_created", "ticket_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
    )
    sender_type: Mapped[str] = mapped_column(String(10), nullable=False)  # customer | admin
    customer_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True
    )
    admin_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    body: Mapped[str] = mapped_column(Text, nullable=False)
    channel: Mapped[str] = mapped_column(String(20), nullable=False, default="api")
    attachments: Mapped[Optional[list[Any]]] = mapped_column(JSON, nullable=True)
    email_message_id: Mapped[Optional[str]] = mapped_column(
        String(998), unique=True, nullable=True
    )
    is_read: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    read_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)

    ticket: Mapped[Ticket] = relationship()
    customer: Mapped[Optional[Customer]] = relationship()
    admin: Mapped[Optional[SupportUser]] = relationship()
    files: Mapped[list["Attachment"]] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )


class Attachment(Model):
    """A stored file: uploaded (API, dashboard) or mailed in. Its bytes live in the
    attachment storage (`support_app.attachments.storage`) under `storage_key`; the row
    says whose it is and what it belongs to. An upload not yet carried by a message or
    an internal note belongs to its uploader only, and is removed after a day."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[Optional[int]] = mapped_column(  # the uploader; None for mailed files
        ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    ticket_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True, index=True
    )
    message_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("ticket_messages.id", ondelete="CASCADE"), nullable=True, index=True
    )
    note_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("internal_notes.id", ondelete="CASCADE"), nullable=True, index=True
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(127), nullable=False)  # from the bytes
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    checksum: Mapped[str] = mapped_column(String(64), nullable=False)  # SHA-256, hex
    storage_key: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    thumbnail_key: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, nullable=False, index=True
    )

    message: Mapped[Optional[Message]] = relationship(back_populates="files")
    note: Mapped[Optional["InternalNote"]] = relationship(back_populates="files")


class InternalNote(Model):
    """Staff-only commentary; never serialized on a customer-facing surface."""

    __tablename__ = "internal_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    author_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    note: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    ticket: Mapped[Ticket] = relationship()
    author: Mapped[Optional[SupportUser]] = relationship()
    files: Mapped[list[Attachment]] = relationship(
        back_populates="note", cascade="all, delete-orphan"
    )


class Feedback(Model):
    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="ck_feedback_rating"),
                      Index("ix_feedback_created", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    rating: Mapped[int] = mapped_column(Integer, nullable=False)
    comment: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    ticket: Mapped[Ticket] = relationship()
    customer: Mapped[Customer] = relationship()


class TicketEvent(Model):
    """Audit history: who changed what on a ticket, and when."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_created", "ticket_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
    )
    actor_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    actor_type: Mapped[str] = mapped_column(String(20), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    old_value: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    new_value: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    ticket: Mapped[Ticket] = relationship()
    actor: Mapped[Optional[SupportUser]] = relationship()


class TicketCounter(Model):
    """Exact desk-wide counts kept current in each ticket transaction (`tickets`,
    `status:<s>`, `admin_unread`), so list totals and badges never COUNT the table."""

    __tablename__ = "ticket_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
