"""The platform's orders, rides and bookings that tickets refer to (synced in)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from sqlalchemy import (
    CheckConstraint, DateTime, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint)
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


ONE_SERVICE = " + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)"
                         for c in ("order_id", "ride_id", "booking_id")) + " = 1"


class ServiceMember(Model):
    """A customer who shares an order, ride or booking with its owner (a group order,
    a shared ride, a table for several), as the platform's sync says. Only they may be
    added to a ticket about it as group participants (seed 004 `groupCustomerIds`)."""

    __tablename__ = "service_members"
    __table_args__ = (
        UniqueConstraint("order_id", "customer_id", name="uq_service_members_order"),
        UniqueConstraint("ride_id", "customer_id", name="uq_service_members_ride"),
        UniqueConstraint("booking_id", "customer_id", name="uq_service_members_booking"),
        CheckConstraint(ONE_SERVICE, name="ck_service_members_one_service"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    order_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=True)
    ride_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("rides.id", ondelete="CASCADE"), nullable=True)
    booking_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), nullable=True)
