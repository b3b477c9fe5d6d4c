"""Tags on tickets, the rules that tag new tickets, and macros (canned replies with
variables and actions). Rows only: `tickets/tags.py` and `tickets/macros.py` act."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, TimestampMixin, utcnow

TAG_NAME_MAX = 50
# Case folding can turn one character into three ("ΐ", "ﬃ"): the key of a 50-character name.
TAG_KEY_MAX = 3 * TAG_NAME_MAX
RULE_MATCHES = ("keywords", "pattern")
RULE_FIELDS = ("subject", "first_message", "both")
# A macro's reply per language: one column each (editable in the dashboard's form).
MACRO_LANGUAGES = ("en", "es", "fr", "ar", "bn")


class Tag(Model):
    """`name` as staff typed it first; `name_key` (its case-folded form) is unique, so
    "Refund" and "REFUND" are one tag on SQLite and PostgreSQL alike."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(TAG_NAME_MAX), nullable=False)
    name_key: Mapped[str] = mapped_column(String(TAG_KEY_MAX), unique=True, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)

    def __repr__(self) -> str:
        return self.name


class TicketTag(Model):
    __tablename__ = "ticket_tags"
    __table_args__ = (Index("ix_ticket_tags_tag", "tag_id", "ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"),
                                        primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


class AutoTagRule(TimestampMixin, Model):
    """Keywords (any of them, case-insensitive) or a pattern (a bounded regular
    expression) over the subject and/or the first message: a match tags a new ticket."""

    __tablename__ = "auto_tag_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    match: Mapped[str] = mapped_column(String(10), nullable=False, default="keywords")
    expression: Mapped[str] = mapped_column(String(500), nullable=False)
    field: Mapped[str] = mapped_column(String(15), nullable=False, default="both")
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    tag: Mapped[Tag] = relationship()

    def __repr__(self) -> str:
        return self.name


class Macro(TimestampMixin, Model):
    """A reply per language with `{variables}`, and what applying it does to the ticket."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)
    body_en: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    body_es: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    body_fr: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    body_ar: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    body_bn: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    set_status: Mapped[Optional[str]] = mapped_column(String(20), nullable=True)
    set_priority: Mapped[Optional[str]] = mapped_column(String(10), nullable=True)
    add_tags: Mapped[Optional[str]] = mapped_column(String(500), nullable=True)
    remove_tags: Mapped[Optional[str]] = mapped_column(String(500), nullable=True)
    assign_to_me: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    internal_note: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    def body(self, language: str) -> str | None:
        return getattr(self, f"body_{language}", None) if language in MACRO_LANGUAGES else None

    def __repr__(self) -> str:
        return self.name
