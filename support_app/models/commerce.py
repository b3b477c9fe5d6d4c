"""The platform's orders, rides and bookings that tickets refer to (synced in)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from sqlalchemy import DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin
from .people import Customer

ORDER_STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled")
CANCELLABLE_ORDER_STATUSES = ("pending", "processing")


class Order(TimestampMixin, Model):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_number: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    total: Mapped[Optional[Decimal]] = mapped_column(Numeric(12, 2), nullable=True)
    currency: Mapped[Optional[str]] = mapped_column(String(3), nullable=True)
    placed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    cancellation_reason: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    cancelled_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)

    customer: Mapped[Customer] = relationship()

    def __repr__(self) -> str:
        return self.order_number


class Ride(TimestampMixin, Model):
    __tablename__ = "rides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    pickup_location: Mapped[str] = mapped_column(String(255), nullable=False)
    dropoff_location: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="requested")
    requested_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)

    customer: Mapped[Customer] = relationship()

    def __repr__(self) -> str:
        return f"Ride {self.external_id}"


class Booking(TimestampMixin, Model):
    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    venue: Mapped[str] = mapped_column(String(255), nullable=False)
    booked_for: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)
    party_size: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="confirmed")

    customer: Mapped[Customer] = relationship()

    def __repr__(self) -> str:
        return f"Booking {self.external_id}"
