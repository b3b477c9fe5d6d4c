"""Localized notifications and outbound email, fed by domain events."""
from __future__ import annotations

from flask import Flask


def register_notify(app: Flask) -> None:
    """Subscribe notification and email writers to the ticket domain's events."""
    from .mail import register_mail

    register_mail(app)
