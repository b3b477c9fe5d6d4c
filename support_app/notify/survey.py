"""The satisfaction survey email: scheduled by the resolve, cancelled by a reopen.

An in-transaction subscriber (as `mail.prepare_email`): when a ticket becomes
`resolved` and `tickets.feedback.survey_wanted` agrees, one outbox row (template
`csat_survey`) is written with the resolve, rendered in the customer's language with
five signed rating links (`security.survey_links`), its `next_attempt_at` set
`CSAT_DELAY_SECONDS` ahead: the outbox does not deliver it before then. When the ticket
leaves resolved/closed for an open state (a reply, a staff change), the held-back
row is marked `cancelled` in that same transaction.
"""
from __future__ import annotations

import datetime as dt
import logging

from flask import Flask, current_app

from .. import database
from ..models import EmailLog, utcnow
from ..security import survey_links
from ..tickets import events, feedback, lifecycle
from . import mail

log = logging.getLogger(__name__)

RATINGS = (5, 4, 3, 2, 1)


def _survey_row(ticket: events.TicketSnapshot) -> dict:
    links = [(rating, survey_links.rating_url(
        ticket.number, survey_links.rating_token(ticket.id, ticket.customer_id, rating)))
        for rating in RATINGS]
    row = mail.render_email(feedback.SURVEY_TEMPLATE, ticket, links=links)
    if row["status"] == "queued":
        delay = int(current_app.config.get("CSAT_DELAY_SECONDS") or 0)
        row["next_attempt_at"] = utcnow() + dt.timedelta(seconds=max(0, delay))
    return row


def prepare_survey(event: events.DomainEvent) -> events.Write | None:
    ticket = event.ticket
    if ticket is None or event.name not in (events.STATUS_CHANGED, events.MESSAGE_ADDED):
        return None
    old, new = event.data.get("old_status"), event.data.get("new_status")
    # A reply reopens a finished ticket within its `message_added` event.
    reopened = event.data.get("reopened") is True or (
        old in lifecycle.FINISHED and new is not None and new not in lifecycle.FINISHED)
    if reopened:
        def cancel() -> None:
            if feedback.cancel_pending(ticket_id=ticket.id):
                log.info("survey for ticket %s cancelled: reopened", ticket.number)
        return cancel
    if new != lifecycle.RESOLVED or not ticket.customer_email or ticket.unverified \
            or not feedback.survey_wanted(ticket.id, ticket.customer_id):
        return None
    row = _survey_row(ticket)

    def write() -> None:
        database.insert_row(EmailLog.__table__, {**row, "ticket_id": ticket.id})
        mail.log_after_commit(event, log, "email %s queued: survey for ticket %s, not before %s",
                              row["message_id"], ticket.number, row["next_attempt_at"])

    return write


def register_survey(_app: Flask) -> None:
    """The outbox sender (`notify.outbox`) delivers the row once it falls due."""
    events.publisher.subscribe_in_transaction(prepare_survey)
