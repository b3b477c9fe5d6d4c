"""Who is involved: staff and customers sign in as FAB users; requesters and agents."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, Numeric, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, utcnow


class SupportUser(User):
    """FAB's user plus the language the person reads (notifications, emails, UI), and
    when they proved they own their email address (a self-registered customer gets
    nothing the address already has until then)."""

    __tablename__ = "ab_user"
    locale: Mapped[Optional[str]] = mapped_column(String(10), nullable=True)
    # Every bearer token carries the version it was issued under; raising it (password
    # change, deactivation, sign-out everywhere) ends every older token at once.
    token_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                               server_default="0")
    # Set when the account is made by staff or the CLI (`api.auth.create_user`) or when a
    # self-registered customer follows the emailed link.
    email_confirmed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p).strip()


class Customer(TimestampMixin, Model):
    """The requester. Guests (contact form, email) have no user account. A record
    linked to an account is never moved to another one (`security.email_ownership`)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    name: Mapped[str] = mapped_column(String(150), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    phone: Mapped[Optional[str]] = mapped_column(String(40), nullable=True, index=True)
    locale: Mapped[str] = mapped_column(String(10), nullable=False, default="en")
    points: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    credit_balance: Mapped[Decimal] = mapped_column(
        Numeric(12, 2), nullable=False, default=Decimal("0")
    )
    # No satisfaction survey emails (`tickets.feedback`): set by the customer on the
    # survey page or by staff on the Customers screen.
    survey_opt_out: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                 server_default="0")

    user: Mapped[Optional[SupportUser]] = relationship(foreign_keys=[user_id])

    def __repr__(self) -> str:
        return f"{self.name} <{self.email}>"


class AgentProfile(TimestampMixin, Model):
    """A support agent registers, then an admin approves them before they work tickets."""

    __tablename__ = "agent_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("ab_user.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    contact_number: Mapped[Optional[str]] = mapped_column(String(40), nullable=True)
    is_approved: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    approved_by_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    approved_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime, nullable=True)

    user: Mapped[SupportUser] = relationship(foreign_keys=[user_id])
    approved_by: Mapped[Optional[SupportUser]] = relationship(foreign_keys=[approved_by_id])

    def __repr__(self) -> str:
        return f"Agent {self.user.name if self.user else self.user_id}"


__all__ = ["SupportUser", "Customer", "AgentProfile", "utcnow", "func"]
