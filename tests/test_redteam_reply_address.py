"""Red team (issue 20): a signed reply address proves who received our mail, and only
that. A customer holds the reply address of their own ticket (it is in every email we
send them); writing to it with `From: <a staff address>` must not post as staff."""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import EmailLog, Message
from support_app.notify import outbox
from support_app.security import roles

from .inbound_payloads import deliver, payload

NO_VERDICTS = {"X-Mailgun-Spf": None, "X-Mailgun-Dkim-Check-Result": None,
               "Dkim-Signature": None}


def reply_to_in_mail_to(ticket, address: str) -> str:
    """The Reply-To of an email of `ticket` as it leaves for `address`."""
    row = EmailLog(ticket=ticket, direction="out", to_address=address, subject="s",
                   template="staff_replied",  # a customer mail (staff alerts have no reply address)
                   message_id="<m@shop.example>", body_text="b",
                   created_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    return str(outbox.build_message(row, current_app.config)["Reply-To"])


def thread(ticket_id: int) -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).where(Message.ticket_id == ticket_id)))


def test_a_customer_cannot_post_as_staff_through_their_own_reply_address(client, factory):
    jane = factory.customer(email="jane@example.org", name="Jane Doe")
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(jane)
    own_address = reply_to_in_mail_to(ticket, "jane@example.org")

    forged = payload("gmail_reply", ticket=ticket.number, address=admin.user.email,
                     name="Desk Admin", headers=NO_VERDICTS)
    forged["recipient"] = own_address
    response = deliver(client, forged)
    assert response.status_code == 200
    assert response.get_json()["outcome"] != "replied", response.get_json()
    assert [m.sender_type for m in thread(ticket.id)] == []

    # Jane herself still answers through it.
    genuine = payload("gmail_reply", ticket=ticket.number, headers=NO_VERDICTS)
    genuine["recipient"] = own_address
    assert deliver(client, genuine).get_json()["outcome"] == "replied"
    assert [m.sender_type for m in thread(ticket.id)] == ["customer"]


def test_a_reply_address_is_the_recipients_own(client, factory):
    """The address in mail to one recipient does not prove another sender of the ticket
    (a group participant, or anyone who saw a forwarded mail)."""
    jane = factory.customer(email="jane@example.org", name="Jane Doe")
    ticket = factory.ticket(jane)
    someone_elses = reply_to_in_mail_to(ticket, "friend@example.net")
    fields = payload("gmail_reply", ticket=ticket.number, headers=NO_VERDICTS)
    fields["recipient"] = someone_elses
    assert deliver(client, fields).get_json()["outcome"] == "held"
    assert thread(ticket.id) == []
