"""POST /api/webhooks/mailgun/inbound: signed Mailgun mail becomes tickets and replies."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from werkzeug.datastructures import MultiDict

from support_app.attachments.store import content
from support_app.extensions import db
from support_app.models import (
    Attachment,
    Customer,
    EmailLog,
    InboundToken,
    Message,
    Ticket,
    utcnow,
)
from support_app.tickets import service

from .inbound_payloads import URL, deliver, new_message_id, payload, signed, with_files


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def inbound_logs() -> int:
    """Inbound email records (tickets also queue outbound acknowledgements)."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(EmailLog)
                             .where(EmailLog.direction == "in"))


def outbound(ticket: Ticket, message_id: str) -> str:
    """An email the desk sent about the ticket (as the notification outbox records it)."""
    db.session.add(EmailLog(ticket_id=ticket.id, direction="out", status="sent",
                            to_address=ticket.customer.email, subject=f"[{ticket.number}]",
                            message_id=message_id))
    db.session.commit()
    return message_id


def thread(ticket_id: int) -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)))


# --------------------------------------------------------------------------- new mail


def test_new_mail_opens_email_ticket_for_new_guest_and_logs_it(client, app_ctx):
    mid = new_message_id("mail.example.net")
    response = deliver(client, payload("new_request", message_id=mid, name="Ada Byron",
                                       address="Ada.Byron@Example.NET"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True and body["outcome"] == "created"

    ticket = db.session.scalar(select(Ticket).where(Ticket.number == body["ticket_number"]))
    assert ticket.channel == "email" and ticket.status == "open"
    assert ticket.subject == "Order ORD-1042 arrived with a broken lid"
    assert ticket.description.startswith("Hi,\n\nmy order ORD-1042 arrived today")
    customer = ticket.customer
    assert customer.email == "ada.byron@example.net" and customer.user_id is None
    assert customer.name == "Ada Byron"
    log = db.session.scalar(select(EmailLog).where(EmailLog.message_id == mid))
    assert (log.direction, log.status, log.ticket_id) == ("in", "received", ticket.id)
    assert log.body_html is None
    # HTML is never stored: no tag or handler from body-html appears anywhere.
    assert "<" not in ticket.description and "onerror" not in (log.body_text or "")


def test_mail_from_registered_customer_opens_ticket_for_them(client, factory):
    person = factory.customer(email="maria@example.com")
    response = deliver(client, payload("new_request", address="MARIA@example.com",
                                       name="Maria"))
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.number == response.get_json()["ticket_number"]))
    assert ticket.customer_id == person.customer.id
    assert count(Customer) == 1


def test_html_only_mail_is_stored_as_text(client, app_ctx):
    fields = payload("new_request")
    fields.pop("stripped-text")
    fields["body-plain"] = ""
    fields["body-html"] = ("<html><head><style>p{color:red}</style></head><body><p>Where is "
                           "<b>my refund</b>?</p><script>steal()</script></body></html>")
    response = deliver(client, fields)
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.number == response.get_json()["ticket_number"]))
    assert ticket.description == "Where is my refund?"


# --------------------------------------------------------------------------- replies


def test_gmail_reply_threads_by_in_reply_to_and_reopens_resolved_ticket(client, factory):
    person = factory.customer(email="jane@example.org", name="Jane Doe")
    ticket = factory.ticket(person)
    sent = outbound(ticket, "<desk.1.abc@desk.example.com>")
    staff = factory.staff()
    service.update_ticket(staff.actor, ticket.id, status="resolved")

    mid = new_message_id()
    response = deliver(client, payload("gmail_reply", ticket=ticket.number, message_id=mid,
                                       in_reply_to=sent, references=sent))
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "replied"
    messages = thread(ticket.id)
    assert len(messages) == 1
    reply = messages[0]
    assert reply.body == ("Thanks, the parcel still has not arrived. "
                          "Tracking says it is stuck in Leipzig.")
    assert "wrote:" not in reply.body  # quoted history stripped
    assert (reply.channel, reply.email_message_id) == ("email", mid)
    assert (reply.sender_type, reply.customer_id) == ("customer", person.customer.id)
    db.session.refresh(ticket)
    assert ticket.status == "open" and ticket.message_count == 1
    log = db.session.scalar(select(EmailLog).where(EmailLog.message_id == mid))
    assert (log.status, log.ticket_id, log.in_reply_to) == ("received", ticket.id, sent)


def test_outlook_reply_threads_by_subject_tag_and_uses_body_plain(client, factory):
    person = factory.customer(email="jane@example.org", name="Jane Doe")
    ticket = factory.ticket(person)
    response = deliver(client, payload(
        "outlook_reply", ticket=ticket.number, message_id=new_message_id("EUR05.prod.outlook.com"),
        references="<AM0PR05MB1234@AM0PR05MB1234.eurprd05.prod.outlook.com>"))
    assert response.get_json()["outcome"] == "replied"
    (reply,) = thread(ticket.id)
    assert reply.body.startswith("Hallo,\n\nthe replacement arrived damaged")
    assert "<p" not in reply.body


def test_references_chain_finds_the_ticket_of_an_earlier_message(client, factory):
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    first = outbound(ticket, "<desk.first@desk.example.com>")
    chain = f"{first} <CA+unrelated@mail.gmail.com> <desk.unknown@desk.example.com>"
    response = deliver(client, payload("gmail_reply", ticket="TKT-NOPE", references=chain,
                                       in_reply_to="<desk.unknown@desk.example.com>",
                                       headers={"Subject": "RE: Re: your request"}))
    assert response.get_json()["outcome"] == "replied"
    assert len(thread(ticket.id)) == 1


def test_reply_to_an_earlier_inbound_message_threads_too(client, factory):
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    first = new_message_id()
    deliver(client, payload("gmail_reply", ticket=ticket.number, message_id=first))
    deliver(client, payload("gmail_reply", ticket="TKT-NONE", in_reply_to=first,
                            references=first))
    assert len(thread(ticket.id)) == 2


def test_plus_address_recipient_threads(client, factory):
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    fields = payload("new_request")
    fields["recipient"] = f"support+{ticket.number.lower()}@desk.example.com"
    assert deliver(client, fields).get_json()["outcome"] == "replied"
    assert len(thread(ticket.id)) == 1


def test_participant_reply_lands_on_the_group_ticket(client, factory):
    owner = factory.customer(email="owner@example.org")
    member = factory.customer(email="member@example.org", name="Group Member")
    ticket = factory.ticket(owner, participant_customer_ids=[member.customer.id])
    response = deliver(client, payload("gmail_reply", ticket=ticket.number,
                                       address="member@example.org"))
    assert response.get_json()["outcome"] == "replied"
    (reply,) = thread(ticket.id)
    assert reply.customer_id == member.customer.id


def test_stranger_replying_to_a_customers_thread_gets_their_own_ticket(client, factory):
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    sent = outbound(ticket, "<desk.2.xyz@desk.example.com>")
    fields = payload("gmail_reply", ticket=ticket.number, in_reply_to=sent, references=sent,
                     address="mallory@evil.example", name="Mallory")
    fields["recipient"] = f"support+{ticket.number}@desk.example.com"
    response = deliver(client, fields)
    assert response.status_code == 200
    body = response.get_json()
    assert body["outcome"] == "created" and body["ticket_number"] != ticket.number
    assert thread(ticket.id) == []
    db.session.refresh(ticket)
    assert ticket.message_count == 0
    own = db.session.scalar(select(Ticket).where(Ticket.number == body["ticket_number"]))
    assert own.customer.email == "mallory@evil.example"
    assert ticket.number not in own.subject and not own.subject.lower().startswith("re:")


# --------------------------------------------------------------------------- duplicates


def test_same_reply_delivered_twice_stores_one_message(client, factory):
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    fields = payload("gmail_reply", ticket=ticket.number)
    first, second = deliver(client, fields), deliver(client, fields)  # fresh tokens each
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json() == {"success": True, "outcome": "duplicate",
                                 "ticket_number": ticket.number, "reason": None}
    assert len(thread(ticket.id)) == 1
    assert inbound_logs() == 1


def test_same_new_mail_delivered_twice_opens_one_ticket(client, app_ctx):
    fields = payload("new_request")
    first, second = deliver(client, fields), deliver(client, fields, multipart=True)
    assert first.get_json()["ticket_number"] == second.get_json()["ticket_number"]
    assert second.get_json()["outcome"] == "duplicate"
    assert count(Ticket) == 1


def test_mail_without_message_id_still_deduplicates(client, app_ctx):
    fields = payload("new_request", headers={"Message-Id": None})
    deliver(client, fields)
    assert deliver(client, fields).get_json()["outcome"] == "duplicate"
    assert count(Ticket) == 1


# --------------------------------------------------------------------------- signature


def _nothing_written() -> bool:
    return count(Ticket) == 0 and inbound_logs() == 0 and count(Customer) == 0


@pytest.mark.parametrize("tamper", ["signature", "timestamp", "token"])
def test_tampered_signature_is_refused_with_406(client, app_ctx, tamper):
    data = signed(payload("new_request"))
    data[tamper] = data[tamper][:-1] + ("0" if data[tamper][-1] != "0" else "1")
    response = client.post(URL, data=data)
    assert response.status_code == 406
    assert response.get_json() == {"success": False, "code": "INVALID_SIGNATURE",
                                   "message": "The signature does not match."}
    assert _nothing_written()


def test_wrong_key_is_refused(client, app_ctx):
    assert deliver(client, payload("new_request"), key="another-key").status_code == 406
    assert _nothing_written()


@pytest.mark.parametrize("offset", [-901, 901, -86400])
def test_stale_or_future_timestamp_is_refused(client, app_ctx, offset):
    response = deliver(client, payload("new_request"), timestamp=int(time.time()) + offset)
    assert response.status_code == 406
    assert response.get_json()["code"] == "STALE_TIMESTAMP"
    assert _nothing_written()


def test_timestamp_inside_window_is_accepted(client, app_ctx):
    mid = new_message_id("mail.example.net")
    response = deliver(client, payload("new_request", message_id=mid, address="ada@example.net"),
                       timestamp=int(time.time()) - 600)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["success"], body["outcome"]) == (True, "created")
    ticket = db.session.scalar(select(Ticket))
    assert body["ticket_number"] == ticket.number
    assert (ticket.channel, ticket.customer.email) == ("email", "ada@example.net")
    log = db.session.scalar(select(EmailLog).where(EmailLog.message_id == mid))
    assert (log.direction, log.ticket_id) == ("in", ticket.id)


def test_replayed_token_is_refused_even_for_a_different_mail(client, app_ctx):
    data = signed(payload("new_request"))
    assert client.post(URL, data=data).status_code == 200
    replay = {**data, "message-headers": payload("new_request")["message-headers"]}
    response = client.post(URL, data=replay)
    assert response.status_code == 406 and response.get_json()["code"] == "REPLAYED_TOKEN"
    assert count(Ticket) == 1


@pytest.mark.parametrize("missing", ["signature", "timestamp", "token"])
def test_unsigned_or_partly_signed_is_refused(client, app_ctx, missing):
    data = signed(payload("new_request"))
    data.pop(missing)
    response = client.post(URL, data=data)
    assert response.status_code == 406 and response.get_json()["code"] == "MISSING_SIGNATURE"
    assert client.post(URL, data=payload("new_request")).status_code == 406
    assert client.post(URL, json={"anything": 1}).status_code == 406
    assert _nothing_written()


@pytest.mark.parametrize("field", ["token", "timestamp", "signature"])
def test_duplicated_signature_fields_are_refused(client, app_ctx, field):
    good = signed(payload("new_request"))
    other = signed(payload("new_request"))
    form = MultiDict(list(good.items()))
    form.add(field, other[field])
    response = client.post(URL, data=form)
    assert response.status_code == 406
    assert response.get_json()["code"] == "DUPLICATE_SIGNATURE_FIELDS"
    assert _nothing_written()


def test_without_a_signing_key_everything_is_refused(client, app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "MAILGUN_SIGNING_KEY", None)
    response = deliver(client, payload("new_request"))
    assert response.status_code == 406 and response.get_json()["code"] == "NOT_CONFIGURED"
    monkeypatch.setitem(app.config, "MAILGUN_SIGNING_KEY", "")
    assert deliver(client, payload("new_request"), key="").status_code == 406
    assert _nothing_written()


def test_without_redis_tokens_live_in_the_database_and_old_ones_are_pruned(
        client, app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    db.session.add(InboundToken(token="x" * 50, seen_at=utcnow() - dt.timedelta(hours=2)))
    db.session.commit()
    deliver(client, payload("new_request"))
    tokens = list(db.session.scalars(select(InboundToken.token)))
    assert len(tokens) == 1 and tokens[0] != "x" * 50


# --------------------------------------------------------------------------- attachments


def test_multipart_attachments_are_stored_and_refusals_noted(client, factory):
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    pdf = b"%PDF-1.7\n" + b"0" * 2048
    png = b"\x89PNG\r\n\x1a\n" + b"1" * 512
    fields = with_files(payload("outlook_reply", ticket=ticket.number),
                        ("Rechnung 2026.pdf", pdf, "application/pdf"),
                        ("photo.png", png, "image/png"),
                        ("setup.exe", b"MZ" + b"2" * 100, "application/octet-stream"),
                        ("invoice.pdf.exe", b"MZ" + b"3" * 100, "application/pdf"))
    response = deliver(client, fields)
    assert response.status_code == 200 and response.get_json()["outcome"] == "replied"
    (reply,) = thread(ticket.id)
    stored = sorted((f.filename, f.content_type, f.size, content(f)) for f in reply.files)
    assert stored == [("Rechnung 2026.pdf", "application/pdf", len(pdf), pdf),
                      ("photo.png", "image/png", len(png), png)]
    assert "Attachments not accepted:" in reply.body
    assert "setup.exe" in reply.body and "invoice.pdf.exe" in reply.body
    log = db.session.scalar(select(EmailLog).where(EmailLog.direction == "in"))
    assert "setup.exe" in log.error


def test_oversized_attachment_is_refused_but_the_mail_is_kept(client, app_ctx):
    big = b"%PDF-1.4\n" + b"x" * (10 * 1024 * 1024)
    fields = with_files(payload("new_request"), ("scan.pdf", big, "application/pdf"))
    response = deliver(client, fields)
    assert response.status_code == 200 and response.get_json()["outcome"] == "created"
    assert count(Attachment) == 0
    ticket = db.session.scalar(select(Ticket))
    assert "scan.pdf: larger than 10 MB" in ticket.description


def test_new_ticket_mail_keeps_its_attachments_on_an_opening_message(client, app_ctx):
    fields = with_files(payload("new_request"), ("broken-lid.jpg", b"\xff\xd8\xff" + b"9" * 64,
                                                  "image/jpeg"))
    number = deliver(client, fields).get_json()["ticket_number"]
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
    (opening,) = thread(ticket.id)
    assert ticket.message_count == 1
    assert [f.filename for f in opening.files] == ["broken-lid.jpg"]
    assert opening.body == ticket.description


# --------------------------------------------------------------------------- auto-replies


def test_auto_reply_loop_never_reopens_or_creates(client, factory):
    """Our update goes out; the customer's out-of-office answers it, repeatedly."""
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    service.close_ticket(factory.staff().actor, ticket.id)
    for round_ in range(3):
        sent = outbound(ticket, f"<desk.update.{round_}@desk.example.com>")
        response = deliver(client, payload("out_of_office", ticket=ticket.number,
                                           in_reply_to=sent, references=sent))
        assert response.status_code == 200
        assert response.get_json()["outcome"] == "ignored"
        assert response.get_json()["reason"] == "Auto-Submitted: auto-replied"
    db.session.refresh(ticket)
    assert ticket.status == "closed" and thread(ticket.id) == []
    assert count(Ticket) == 1
    statuses = db.session.scalars(select(EmailLog.status).where(EmailLog.direction == "in"))
    assert list(statuses) == ["ignored"] * 3


@pytest.mark.parametrize("headers,reason", [
    ({"X-Autoreply": "yes", "Auto-Submitted": None}, "X-Autoreply"),
    ({"Precedence": "bulk", "Auto-Submitted": None}, "Precedence: bulk"),
    ({"Precedence": "auto_reply", "Auto-Submitted": None}, "Precedence: auto_reply"),
    ({"Auto-Submitted": "auto-generated"}, "Auto-Submitted: auto-generated"),
])
def test_auto_reply_headers_do_not_open_tickets(client, app_ctx, headers, reason):
    response = deliver(client, payload("out_of_office", headers=headers))
    assert response.get_json()["outcome"] == "ignored"
    assert response.get_json()["reason"] == reason
    assert count(Ticket) == 0 and count(Customer) == 0


def test_auto_submitted_no_is_a_person_writing(client, app_ctx):
    response = deliver(client, payload("new_request", headers={"Auto-Submitted": "no"}))
    assert response.get_json()["outcome"] == "created"


def test_bounce_from_mailer_daemon_is_logged_and_ignored(client, app_ctx):
    fields = payload("bounce", headers={"Auto-Submitted": None, "Content-Type": "text/plain"})
    response = deliver(client, fields)
    assert response.get_json()["outcome"] == "ignored"
    assert response.get_json()["reason"] == "bounce from mailer-daemon@mx.example.net"
    assert count(Ticket) == 0
    assert db.session.scalar(select(EmailLog.status)) == "ignored"


def test_mail_from_our_own_address_is_ignored(client, app, app_ctx):
    fields = payload("new_request", address=app.config["MAIL_DEFAULT_SENDER"])
    assert deliver(client, fields).get_json()["outcome"] == "ignored"
    assert count(Ticket) == 0


# --------------------------------------------------------------------------- failures


def test_database_failure_mid_transaction_is_503_leaves_nothing_and_retry_succeeds(
        client, app_ctx):
    """The email-log INSERT fails after the ticket INSERT: all of it rolls back, and
    Mailgun's retry of the very same delivery (same token) is then accepted."""
    def fail_on_email_log(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO EMAIL_LOGS"):
            raise OperationalError(statement, params, Exception("server closed the connection"))

    data = signed(payload("new_request"))
    event.listen(db.engine, "before_cursor_execute", fail_on_email_log)
    try:
        response = client.post(URL, data=data)
    finally:
        event.remove(db.engine, "before_cursor_execute", fail_on_email_log)
    assert response.status_code == 503
    assert response.get_json()["code"] == "UNAVAILABLE"
    assert count(Ticket) == 0 and inbound_logs() == 0  # the token stays remembered

    retry = client.post(URL, data=data)
    assert retry.status_code == 200 and retry.get_json()["outcome"] == "created"
    assert count(Ticket) == 1 and inbound_logs() == 1


def test_wrong_method_and_errors_use_the_webhook_format(client):
    response = client.get(URL)
    assert response.status_code == 405
    assert response.get_json()["success"] is False and "code" in response.get_json()


def test_openapi_documents_the_webhook(client):
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"][URL]["post"]
    assert {"200", "406", "503"} <= set(operation["responses"])
    assert operation["security"] == []


def test_mail_the_desk_refuses_is_a_final_406_in_the_webhook_format(client, factory):
    """A customer whose reply permission an admin revoked: refused for good, not retried."""
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    person.user.roles = []
    db.session.commit()
    response = deliver(client, payload("gmail_reply", ticket=ticket.number))
    assert response.status_code == 406
    assert response.get_json()["success"] is False and response.get_json()["code"]
    assert thread(ticket.id) == [] and inbound_logs() == 0


@pytest.mark.parametrize("sender", ["@", "a@", "@example.com", '"Jane" <@>', '"@x@y"',
                                    '"jane"@example.org', '"a@b"@example.org'])
def test_an_at_sign_with_nothing_around_it_is_no_sender(client, app_ctx, sender):
    """An address with an empty name or domain part, or a quoted one (two spellings of one
    mailbox, or two "@"), is no address: it must not become a customer record's email
    (nor a held ticket for one)."""
    from support_app.inbound.parse import normalize_address
    assert normalize_address(sender) == ""
    fields = payload("new_request", headers={"From": None})
    fields.update({"from": sender, "sender": sender})
    fields.pop("recipient")
    response = deliver(client, fields)
    assert response.get_json()["reason"] == "no sender address"
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_nul_characters_reach_no_stored_row(client, app_ctx):
    """NUL in any field (subject, text, From's name, a JSON-escaped header) is dropped
    when the mail is read: PostgreSQL refuses it in every text column, so the inbound
    log's INSERT failed and every retry of the mail with it."""
    fields = payload("new_request", headers={"In-Reply-To": "<a\x00b@x>",
                                             "From": "Ja\x00ne <jane@example.org>"})
    fields.update({"from": "Ja\x00ne <jane@example.org>",
                   "subject": "Broken\x00 lid", "stripped-text": "Hello\x00 there",
                   "body-plain": "Hello\x00 there\n-- \nJane"})
    assert deliver(client, fields).get_json()["outcome"] == "created"
    [log] = db.session.scalars(select(EmailLog).where(EmailLog.direction == "in"))
    [ticket] = db.session.scalars(select(Ticket))
    stored = [log.subject, log.body_text, log.in_reply_to, log.from_address,
              ticket.subject, ticket.description, ticket.customer.name]
    assert not [value for value in stored if value and "\x00" in value]
    assert (ticket.subject, ticket.description) == ("Broken lid", "Hello there")
