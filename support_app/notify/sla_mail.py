"""SLA alert emails: a warning or breach (`ticket.sla`) emailed to the staff the event
names (the assignee, else the managers), each in their own language, through the
same outbox as every email. Written in the transaction that fired the transition."""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from .. import database
from ..extensions import db
from ..models import EmailLog, SupportUser
from ..tickets import events
from .mail import language, render_email
from .notifications import recipient_locales, sla_notice

SLA_ALERT = "sla_alert"


def prepare_sla_emails(event: events.DomainEvent) -> events.Write | None:
    """In-transaction subscriber: one email per recipient with an address."""
    ticket = event.ticket
    if event.name != events.SLA or ticket is None or not event.data.get("recipients"):
        return None
    user_ids = set(event.data["recipients"])
    people = db.session.execute(
        select(SupportUser.id, SupportUser.first_name, SupportUser.last_name, SupportUser.email)
        .where(SupportUser.id.in_(user_ids), SupportUser.active.is_(True))).all()
    locales = recipient_locales(user_ids)
    link = f"{current_app.config['PUBLIC_URL']}/tickets/show/{ticket.id}"
    rows: list[dict[str, Any]] = []
    for user_id, first, last, email in sorted(people):
        if not email:
            continue
        name = " ".join(part for part in (first, last) if part)
        locale = language(locales.get(user_id))
        with force_locale(locale):
            title, body = sla_notice(ticket, event.data)
        rows.append(render_email(SLA_ALERT, ticket, to=email, locale=locale,
                                 subject=lambda title=title: f"[{ticket.number}] {title}",
                                 name=name, title=title, body=body, link=link))
    if not rows:
        return None

    def write() -> None:
        for row in rows:
            database.insert_row(EmailLog.__table__, {**row, "ticket_id": ticket.id})

    return write
