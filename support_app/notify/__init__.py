"""Localized notifications and outbound email, fed by domain events."""
from __future__ import annotations

from flask import Flask


def register_notify(app: Flask) -> None:
    """Subscribe notification and email writers to the ticket domain's events."""
    from . import notifications
    from .mail import register_mail
    from .survey import register_survey

    from .sla_mail import prepare_sla_emails
    from ..tickets import events

    notifications.install()
    register_mail(app)
    register_survey(app)
    events.publisher.subscribe_in_transaction(prepare_sla_emails)
