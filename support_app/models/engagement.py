"""What surrounds tickets: FAQs, email in/out, notifications, gamification ledger."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, utcnow
from .people import Customer, SupportUser
from .tickets import Ticket

EMAIL_DIRECTIONS = ("in", "out")
# out: queued -> sent | failed (retries exhausted) | not_sent (no SMTP configured)
#      | cancelled (a held-back survey whose ticket reopened, or whose customer opted out)
# in: received | ignored (auto-reply, bounce)
EMAIL_STATUSES = ("queued", "sent", "failed", "not_sent", "cancelled", "received", "ignored")


class FAQ(TimestampMixin, Model):
    __tablename__ = "faqs"
    __table_args__ = (Index("ix_faqs_category_language", "category", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(String(500), nullable=False)
    answer: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str] = mapped_column(String(30), nullable=False, default="other")
    language: Mapped[str] = mapped_column(String(10), nullable=False, default="en")
    # A translated entry points at the source-language entry it translates.
    translation_of_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("faqs.id", ondelete="CASCADE"), nullable=True, index=True
    )
    is_published: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    translation_of: Mapped[Optional["FAQ"]] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return self.question


class EmailLog(Model):
    """Every email in and out; outgoing rows double as the SMTP outbox."""

    __tablename__ = "email_logs"
    __table_args__ = (
        Index("ix_email_logs_ticket_created", "ticket_id", "created_at"),
        Index("ix_email_logs_outbox", "status", "next_attempt_at"),
        Index("ix_email_logs_ticket_template", "ticket_id", "template"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    direction: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    from_address: Mapped[Optional[str]] = mapped_column(String(320), nullable=True)
    to_address: Mapped[str] = mapped_column(String(320), nullable=False)
    subject: Mapped[str] = mapped_column(String(998), nullable=False, default="")
    template: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    message_id: Mapped[Optional[str]] = mapped_column(String(998), unique=True, nullable=True)
    in_reply_to: Mapped[Optional[str]] = mapped_column(String(998), nullable=True)
    body_text: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    body_html: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    # Files sent along (attachment ids): their bytes are read from the attachment
    # storage at send time, so the row alone rebuilds the email (`notify.mail_files`).
    attachment_ids: Mapped[Optional[list[int]]] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    sent_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)

    ticket: Mapped[Optional[Ticket]] = relationship()


class InboundToken(Model):
    """Mailgun webhook tokens already seen (replay protection without Redis)."""

    __tablename__ = "inbound_tokens"

    token: Mapped[str] = mapped_column(String(128), primary_key=True)
    # SHA-256 of the delivery it came with (`inbound.signature.digest`): only that
    # delivery may use the token again.
    digest: Mapped[str | None] = mapped_column(String(64))
    seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, nullable=False, index=True
    )


class Notification(Model):
    """A stored, already-localized notice for one user (pushed live, listed later)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False
    )
    ticket_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    locale: Mapped[str] = mapped_column(String(10), nullable=False, default="en")
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    read_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    user: Mapped[SupportUser] = relationship()
    ticket: Mapped[Optional[Ticket]] = relationship()


class PointsTransaction(Model):
    """Gamification ledger (004): points and credit earned through support."""

    __tablename__ = "points_transactions"
    __table_args__ = (Index("ix_points_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    ticket_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    points: Mapped[int] = mapped_column(Integer, nullable=False)
    credit: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False, default=Decimal("0"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    customer: Mapped[Customer] = relationship()
