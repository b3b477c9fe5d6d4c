"""Outgoing webhooks: the endpoints an admin configured and their delivery outbox."""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Optional

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, utcnow
from .tickets import Ticket

# queued -> sending -> delivered | queued (retry) | failed (attempts exhausted or
# endpoint disabled)
WEBHOOK_STATUSES = ("queued", "sending", "delivered", "failed")


def new_secret() -> str:
    return secrets.token_hex(32)


class WebhookEndpoint(TimestampMixin, Model):
    """A URL that hears about the ticket events it chose, signed with its own secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    secret: Mapped[str] = mapped_column(String(128), nullable=False, default=new_secret)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # May receive internal notes (a staff tool, never a customer-facing integration).
    is_internal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    disabled_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    disabled_reason: Mapped[Optional[str]] = mapped_column(Text, nullable=True)

    def __repr__(self) -> str:
        return self.name


class WebhookDelivery(Model):
    """One event for one endpoint: the exact body signed and sent, and its last attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_outbox", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False)
    ticket_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    response_code: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    delivered_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)

    endpoint: Mapped[WebhookEndpoint] = relationship()
    ticket: Mapped[Optional[Ticket]] = relationship()
