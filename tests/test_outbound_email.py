"""Outbound email: queued with the ticket change, delivered to a real SMTP server on
loopback (aiosmtpd), retried with backoff, failed for good, never blocking a request."""
from __future__ import annotations

import time

from aiosmtpd.controller import Controller
from flask import current_app

from support_app.extensions import db
from support_app.models import EmailLog, utcnow
from support_app.notify import outbox
from support_app.notify.mail import reply_signature
from support_app.security import roles
from support_app.tickets import service

from .live import free_port
from .mail_server import Sink
from .test_api_storefront_admin import client_address


def logs(ticket_id: int) -> list[EmailLog]:
    db.session.expire_all()
    return list(db.session.query(EmailLog).filter_by(ticket_id=ticket_id).order_by(EmailLog.id))


def test_ticket_received_is_delivered_with_threading_headers(client, factory, smtp):
    alice = factory.customer(name="Alice Buyer", email="alice@example.com")
    r = client.post("/api/customer/orders/support", headers=alice.headers,
                    json={"subject": "Broken mug", "message": "It arrived <b>cracked</b>."})
    ticket = r.get_json()["data"]
    [queued] = logs(ticket["id"])
    assert (queued.status, queued.direction, queued.attempts) == ("queued", "out", 0)
    assert smtp.messages == []  # nothing is sent inside the request

    assert outbox.deliver_due() == 1
    [msg] = smtp.messages
    number = ticket["ticketNumber"]
    root = f"<tkt-{number}@shop.example>"
    assert msg["To"] == "alice@example.com"
    assert msg["From"].addresses[0].addr_spec == "help@shop.example"
    assert msg["From"].addresses[0].display_name == "Support Desk"
    # The ticket's signed reply address (`inbound.sender_auth`).
    signature = reply_signature(number, "alice@example.com", current_app.config["SECRET_KEY"])
    assert msg["Reply-To"] == f"help+{number}.{signature}@shop.example"
    assert msg["Subject"] == f"[{number}] We received your request: Broken mug"
    message_id = msg["Message-ID"].strip()  # long ids are folded onto a continuation line
    assert message_id == queued.message_id
    assert message_id.startswith(f"<tkt-{number}-") and message_id.endswith("@shop.example>")
    assert msg["In-Reply-To"].strip() == root and msg["References"].strip() == root
    assert msg["Auto-Submitted"] == "auto-generated"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Hello Alice Buyer," in text and number in text
    assert "It arrived <b>cracked</b>." in text
    assert "It arrived &lt;b&gt;cracked&lt;/b&gt;." in html and '<html lang="en"' in html

    [sent] = logs(ticket["id"])
    assert (sent.status, sent.attempts, sent.error) == ("sent", 1, None)
    assert sent.sent_at is not None and sent.template == "ticket_received"


def test_staff_reply_and_resolution_emails_thread_together(factory, smtp):
    alice = factory.customer(email="alice@example.com")
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(alice, subject="Late parcel")
    service.add_message(alice.actor, ticket.id, "Any news?")  # customer replies: no email
    service.add_message(admin.actor, ticket.id, "Your parcel ships today.")
    service.add_note(admin.actor, ticket.id, "internal only")
    service.update_ticket(admin.actor, ticket.id, status="resolved",
                          resolution_details="Shipped with express courier.")
    assert [log.template for log in logs(ticket.id)] == \
        ["ticket_received", "staff_replied", "ticket_resolved", "csat_survey"]
    assert outbox.deliver_due() == 3  # the survey waits for CSAT_DELAY_SECONDS
    received, replied, resolved = smtp.messages
    assert len({m["Message-ID"] for m in smtp.messages}) == 3
    assert {m["References"].strip() for m in smtp.messages} == {f"<tkt-{ticket.number}@shop.example>"}
    assert replied["Subject"] == f"[{ticket.number}] New reply to your request: Late parcel"
    assert "Your parcel ships today." in replied.get_body(("plain",)).get_content()
    assert "Shipped with express courier." in resolved.get_body(("plain",)).get_content()
    assert "internal only" not in "".join(m.as_string() for m in smtp.messages)
    assert [log.status for log in logs(ticket.id)] == ["sent", "sent", "sent", "queued"]


def test_spanish_customer_gets_the_spanish_rendering(factory, smtp, app):
    rosa = factory.customer(name="Rosa", email="rosa@example.es", locale="es")
    ticket = factory.ticket(rosa, subject="Pedido")
    outbox.deliver_due()
    [msg] = smtp.messages
    html = msg.get_body(("html",)).get_content()
    assert '<html lang="es" dir="ltr">' in html
    assert "Rosa" in msg.get_body(("plain",)).get_content()
    assert logs(ticket.id)[0].template == "ticket_received"


def test_each_customer_gets_their_own_language_whoever_was_rendered_before(factory, app_ctx):
    """Templates are bound to a catalog per locale: an Arabic email rendered after a
    Spanish one (and the other way round) is wholly in its own language."""
    arabic = factory.ticket(factory.customer(locale="ar"))
    spanish = factory.ticket(factory.customer(locale="es"))
    arabic_again = factory.ticket(factory.customer(locale="ar"))
    for ticket, lang, direction, phrase in ((arabic, "ar", "rtl", "رسالتك"),
                                            (spanish, "es", "ltr", "Su mensaje"),
                                            (arabic_again, "ar", "rtl", "رسالتك")):
        [log] = logs(ticket.id)
        assert phrase in log.body_text and phrase in log.body_html
        assert f'<html lang="{lang}" dir="{direction}">' in log.body_html
        assert "Your message" not in log.body_text


def test_smtp_down_is_retried_then_failed_without_blocking_the_request(app, factory,
                                                                       mail_config):
    mail_config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_MAX_ATTEMPTS=3,
                       MAIL_POLL_SECONDS=0.05, MAIL_BACKGROUND=True)
    alice = factory.customer(email="alice@example.com")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = client_address()
    worker = app.extensions["support_mail"]
    try:
        r = client.post("/api/customer/orders/support", headers=alice.headers,
                        json={"subject": "S", "message": "M"})
        assert r.status_code == 201
        ticket_id = r.get_json()["data"]["id"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and logs(ticket_id)[0].status != "failed":
            time.sleep(0.05)
    finally:
        worker.stop()
    [log] = logs(ticket_id)
    assert (log.status, log.attempts, log.next_attempt_at) == ("failed", 3, None)
    assert "ConnectionRefused" in log.error


def test_a_failed_attempt_backs_off_then_succeeds(factory, mail_config):
    mail_config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(),
                       MAIL_RETRY_BASE_SECONDS=60)
    ticket = factory.ticket(factory.customer(email="alice@example.com"))
    assert outbox.deliver_due() == 1
    [log] = logs(ticket.id)
    assert (log.status, log.attempts) == ("queued", 1)
    assert log.next_attempt_at > utcnow()
    assert outbox.deliver_due() == 0  # not due yet

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail_config["MAIL_PORT"] = port
        log.next_attempt_at = utcnow()
        db.session.commit()
        assert outbox.deliver_due() == 1
    finally:
        controller.stop()
    [log] = logs(ticket.id)
    assert (log.status, log.attempts, log.error) == ("sent", 2, None)
    assert len(sink.messages) == 1


def test_permanent_refusal_fails_at_once(factory, smtp):
    smtp.refuse = "550 5.1.1 No such user"
    ticket = factory.ticket(factory.customer(email="nobody@example.com"))
    outbox.deliver_due()
    [log] = logs(ticket.id)
    assert (log.status, log.attempts) == ("failed", 1)
    assert "No such user" in log.error


def test_header_injection_is_refused_not_sent(factory, smtp):
    ticket = factory.ticket(factory.customer(email="alice@example.com"))
    [log] = logs(ticket.id)
    log.subject = "Hello\r\nBcc: victim@example.com"
    db.session.commit()
    outbox.deliver_due()
    [log] = logs(ticket.id)
    assert log.status == "failed" and "invalid message" in log.error
    assert smtp.messages == []


def test_without_smtp_the_email_is_logged_as_not_sent(factory, mail_config):
    mail_config["MAIL_SERVER"] = None
    ticket = factory.ticket(factory.customer(email="alice@example.com"))
    [log] = logs(ticket.id)  # recorded as such at once: the sender has nothing to do
    assert (log.status, log.template) == ("not_sent", "ticket_received")
    assert log.body_text and log.body_html and log.message_id
    assert log.error == "MAIL_SERVER is not configured"
    assert outbox.deliver_due() == 0


def test_mail_queued_before_smtp_was_removed_is_marked_not_sent(factory, mail_config):
    mail_config["MAIL_SERVER"] = "127.0.0.1"
    ticket = factory.ticket(factory.customer(email="alice@example.com"))
    [log] = logs(ticket.id)
    assert log.status == "queued"
    mail_config["MAIL_SERVER"] = None
    assert outbox.deliver_due() == 1
    db.session.refresh(log)
    assert (log.status, log.error) == ("not_sent", "MAIL_SERVER is not configured")


def test_send_mail_cli_drains_the_outbox(app, factory, smtp):
    factory.ticket(factory.customer(email="alice@example.com"))
    factory.ticket(factory.customer(email="bob@example.com"))
    result = app.test_cli_runner().invoke(args=["support", "send-mail"])
    assert result.exit_code == 0, result.output
    assert "Handled 2 email(s)" in result.output and "2 sent" in result.output
    assert sorted(m["To"] for m in smtp.messages) == ["alice@example.com", "bob@example.com"]


def test_two_senders_never_send_the_same_row_twice(factory, smtp):
    ticket = factory.ticket(factory.customer(email="alice@example.com"))
    [log] = logs(ticket.id)
    assert outbox._claim(log.id, utcnow()) is True
    assert outbox._claim(log.id, utcnow()) is False  # leased to the first sender
