"""SLA calendars and policies: data an admin edits, read by `tickets/sla.py`."""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin

# The clocks a policy sets, in the order they are shown.
TARGETS = ("first_response", "next_response", "resolution")
# A target's state on a ticket: the clock runs, is at risk (past the policy's share of
# the target), is past due, or was met (a late one keeps its `*_breached` flag).
TARGET_STATES = ("running", "at_risk", "breached", "met")


class SlaCalendar(TimestampMixin, Model):
    """When the SLA clock runs: a time zone, weekly hours and holidays
    (`tickets/business_time.py` documents and validates the shapes)."""

    __tablename__ = "sla_calendars"
    __table_args__ = (
        # At most one default calendar (policies without a calendar use it).
        Index("uq_sla_calendars_default", "is_default", unique=True,
              sqlite_where=text("is_default"), postgresql_where=text("is_default")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    # {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], ...}; a missing day is closed.
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    # [{"date": "2026-12-25", "name": "Christmas", "yearly": true}, ...]
    holidays: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    def __repr__(self) -> str:
        return self.name


class SlaPolicy(TimestampMixin, Model):
    """Targets in business minutes for the tickets it matches (a null match field
    matches any value); the active policy with the lowest position wins."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        CheckConstraint("at_risk_percent BETWEEN 1 AND 99", name="ck_sla_policies_at_risk"),
        CheckConstraint("first_response_minutes > 0", name="ck_sla_policies_first_response"),
        CheckConstraint("next_response_minutes > 0", name="ck_sla_policies_next_response"),
        CheckConstraint("resolution_minutes > 0", name="ck_sla_policies_resolution"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    priority: Mapped[Optional[str]] = mapped_column(String(10), nullable=True)
    category: Mapped[Optional[str]] = mapped_column(String(30), nullable=True)
    channel: Mapped[Optional[str]] = mapped_column(String(20), nullable=True)
    service_type: Mapped[Optional[str]] = mapped_column(String(20), nullable=True)
    calendar_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("sla_calendars.id", ondelete="RESTRICT"), nullable=True
    )
    # Null: no target for that clock.
    first_response_minutes: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    next_response_minutes: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    resolution_minutes: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    at_risk_percent: Mapped[int] = mapped_column(Integer, nullable=False, default=80)

    calendar: Mapped[Optional[SlaCalendar]] = relationship()

    def __repr__(self) -> str:
        return self.name


class SlaEscalationRule(TimestampMixin, Model):
    """What happens when a ticket's target turns at risk or breached (`tickets/sla_checks.py`
    runs the active rules that match, in position order, through the ticket service).
    A null target, priority or category matches any."""

    __tablename__ = "sla_escalation_rules"
    __table_args__ = (
        CheckConstraint("on_state IN ('at_risk', 'breached')", name="ck_sla_rules_on_state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    on_state: Mapped[str] = mapped_column(String(10), nullable=False, default="breached")
    target: Mapped[Optional[str]] = mapped_column(String(20), nullable=True)
    priority: Mapped[Optional[str]] = mapped_column(String(10), nullable=True)
    category: Mapped[Optional[str]] = mapped_column(String(30), nullable=True)
    # The actions, each optional: one priority step up; one escalation level up; to the
    # next approved agent in turn; a notice and email to the managers.
    raise_priority: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    escalate: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    reassign: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    notify_managers: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    def __repr__(self) -> str:
        return self.name
