"""A mail without a Message-Id gets one from its content, not from when it arrived:
Mailgun's redelivery minutes later is still the same message (issue 28: the old test
redelivered within the same second), and two different mails stay two."""
from __future__ import annotations

import time

from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import EmailLog, Ticket

from .inbound_payloads import deliver, payload


def _tickets() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Ticket.id)))


def test_redelivery_minutes_later_is_still_one_message(client, app_ctx):
    fields = payload("new_request", headers={"Message-Id": None})
    now = int(time.time())
    first = deliver(client, fields, timestamp=now - 420)
    again = deliver(client, fields, timestamp=now)
    assert first.get_json()["outcome"] == "created"
    assert again.get_json()["outcome"] == "duplicate"
    assert again.get_json()["ticket_number"] == first.get_json()["ticket_number"]
    assert _tickets() == 1
    (message_id,) = db.session.scalars(select(EmailLog.message_id)
                                       .where(EmailLog.direction == "in"))
    assert message_id.startswith("<") and message_id.endswith("@inbound.invalid>")


def test_two_different_mails_without_message_id_are_two_tickets(client, app_ctx):
    first = payload("new_request", headers={"Message-Id": None})
    second = {**first, "subject": "The replacement lid is cracked too"}
    assert deliver(client, first).get_json()["outcome"] == "created"
    assert deliver(client, second).get_json()["outcome"] == "created"
    assert _tickets() == 2
