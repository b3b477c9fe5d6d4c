"""Revoked bearer tokens and ended sign-in sessions, kept until they would expire anyway."""
from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model


class RevokedToken(Model):
    """A token id (`jti`: a used refresh token) or a session family id (`fam`: every token
    of one sign-in) that no longer authenticates. The database store of
    `security.tokens`; with REDIS_URL set Redis holds these instead."""

    __tablename__ = "revoked_tokens"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Unix seconds: past this the token would be refused as expired, so the row can go.
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
