"""Inbound mail acts as its From address only when that address is proved: Mailgun's
SPF or DKIM pass aligned with the From domain, or our signed per-ticket reply address.
Anything else is kept, as a ticket held for staff (unverified), and tells nobody on the
customer side. Real Mailgun-shaped, signed posts throughout."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import EmailLog, Message, Notification, Ticket
from support_app.realtime.dispatch import dispatcher
from support_app.security import roles
from support_app.tickets import service

from .admin_helpers import desk_client, login, page_token

from .inbound_payloads import deliver, payload

NO_VERDICTS = {"X-Mailgun-Spf": None, "X-Mailgun-Dkim-Check-Result": None}


def thread(ticket_id: int) -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).where(Message.ticket_id == ticket_id)))


def ticket_named(number: str) -> Ticket:
    db.session.expire_all()
    return db.session.scalar(select(Ticket).where(Ticket.number == number))


def customer_side_heard(user_id: int, ticket: Ticket) -> bool:
    """A notification or an email about `ticket` reached the customer side."""
    dispatcher.wait_idle()
    db.session.expire_all()
    notified = db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.ticket_id == ticket.id))
    mailed = db.session.scalar(select(func.count()).select_from(EmailLog).where(
        EmailLog.ticket_id == ticket.id, EmailLog.direction == "out"))
    return bool(notified or mailed)


def victim_and_ticket(factory):
    victim = factory.customer(email="jane@example.org", name="Jane Doe")
    return victim, factory.ticket(victim)


def assert_held(client, response, victim, ticket: Ticket, reason: str) -> Ticket:
    """The mail did not touch the ticket; it is a new ticket for staff only."""
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["outcome"] == "held" and body["reason"] == reason, body
    assert thread(ticket.id) == []
    held = ticket_named(body["ticket_number"])
    assert held.unverified_reason == reason and held.customer_id == victim.customer.id
    listed = client.get("/api/support-tickets", headers=victim.headers).get_json()["data"]
    assert [t["ticket_number"] for t in listed["data"]] == [ticket.number]
    assert client.get(f"/api/support-tickets/{held.id}", headers=victim.headers).status_code == 403
    assert not customer_side_heard(victim.id, held)
    return held


def test_spoofed_from_with_a_known_ticket_number_is_held_not_threaded(client, factory):
    victim, ticket = victim_and_ticket(factory)
    response = deliver(client, payload("gmail_reply", ticket=ticket.number, headers=NO_VERDICTS))
    held = assert_held(client, response, victim, ticket, "mail_unauthenticated")
    # Staff see it, marked, in the dashboard list.
    admin = factory.staff(roles.ADMIN)
    login(client, admin.user.email, "secret-pass-1")
    staff_view = client.get(f"/api/admin/support/{held.id}")
    assert staff_view.get_json()["data"]["unverifiedSender"] == "mail_unauthenticated"
    page = client.get("/tickets/list/").get_data(as_text=True)
    assert held.number in page and "desk-unverified" in page
    page = client.get(f"/tickets/show/{held.id}").get_data(as_text=True)
    assert 'id="ticket-unverified"' in page and "not authenticated" in page


def test_dkim_and_spf_fail_are_held(client, factory):
    victim, ticket = victim_and_ticket(factory)
    response = deliver(client, payload("gmail_reply", ticket=ticket.number, headers={
        "X-Mailgun-Spf": "Fail", "X-Mailgun-Dkim-Check-Result": "Fail"}))
    assert_held(client, response, victim, ticket, "mail_unauthenticated")


def test_a_pass_for_another_domain_proves_nothing(client, factory):
    """SPF passes for the envelope sender's domain, DKIM for the signer's: neither is
    the From domain here."""
    victim, ticket = victim_and_ticket(factory)
    fields = payload("gmail_reply", ticket=ticket.number, headers={
        "X-Mailgun-Spf": "Pass", "X-Mailgun-Dkim-Check-Result": "Pass",
        "Dkim-Signature": "v=1; a=rsa-sha256; d=evil.example; s=s1; b=abc"})
    fields["sender"] = "bounce@evil.example"
    assert_held(client, deliver(client, fields), victim, ticket, "mail_unauthenticated")


def test_a_verdict_header_the_sender_wrote_twice_is_no_verdict(client, factory):
    victim, ticket = victim_and_ticket(factory)
    fields = payload("gmail_reply", ticket=ticket.number)
    fields["message-headers"] = fields["message-headers"].replace(
        '["X-Mailgun-Spf", "Pass"]', '["X-Mailgun-Spf", "Pass"], ["X-Mailgun-Spf", "Fail"]')
    assert_held(client, deliver(client, fields), victim, ticket, "mail_unauthenticated")


def test_dkim_pass_aligned_with_the_from_domain_threads(client, factory):
    victim, ticket = victim_and_ticket(factory)
    fields = payload("gmail_reply", ticket=ticket.number, headers={
        "X-Mailgun-Spf": "SoftFail", "X-Mailgun-Dkim-Check-Result": "Pass",
        "Dkim-Signature": "v=1; a=rsa-sha256; d=example.org; s=s1; b=abc"})
    fields["sender"] = "bounces@relay.example"
    response = deliver(client, fields)
    assert response.get_json()["outcome"] == "replied"
    assert [m.sender_type for m in thread(ticket.id)] == ["customer"]


def reply_address(number: str, recipient: str = "jane@example.org") -> str:
    from support_app.notify.mail import reply_address as signed  # new with this change
    return signed(number, recipient, current_app.config)


def test_the_signed_reply_address_proves_the_sender(client, factory):
    victim, ticket = victim_and_ticket(factory)
    fields = payload("gmail_reply", ticket=ticket.number, headers=NO_VERDICTS)
    fields["recipient"] = reply_address(ticket.number)
    response = deliver(client, fields)
    assert response.get_json()["outcome"] == "replied", response.get_json()
    assert len(thread(ticket.id)) == 1


def test_a_tampered_reply_address_is_held(client, factory):
    victim, ticket = victim_and_ticket(factory)
    genuine = reply_address(ticket.number)
    local, _at, domain = genuine.partition("@")
    tampered = local[:-1] + ("0" if local[-1] != "0" else "1") + "@" + domain
    other = factory.ticket(factory.customer())  # a real signature, for another ticket
    borrowed = genuine.replace(ticket.number, other.number)
    for recipient in (tampered, borrowed, f"support+{ticket.number}@desk.example.com"):
        fields = payload("gmail_reply", ticket=ticket.number, headers=NO_VERDICTS)
        fields["recipient"] = recipient
        response = deliver(client, fields)
        assert response.get_json()["outcome"] == "held", recipient
    assert thread(ticket.id) == []


def test_staff_reply_by_authenticated_mail_is_a_staff_message(client, factory):
    victim, ticket = victim_and_ticket(factory)
    admin = factory.staff(roles.ADMIN)
    fields = payload("gmail_reply", ticket=ticket.number, address=admin.user.email,
                     name="Desk Admin")
    response = deliver(client, fields)
    assert response.get_json()["outcome"] == "replied", response.get_json()
    [message] = thread(ticket.id)
    assert (message.sender_type, message.admin_id) == ("admin", admin.id)

    # Without proof the same mail is a stranger's: held, never on the thread.
    spoofed = payload("gmail_reply", ticket=ticket.number, address=admin.user.email,
                      headers=NO_VERDICTS)
    assert deliver(client, spoofed).get_json()["outcome"] == "held"
    assert len(thread(ticket.id)) == 1


def test_registered_customer_not_a_party_gets_their_own_ticket(client, factory):
    """Issue 28: a reply naming someone else's ticket is neither threaded nor lost."""
    _victim, ticket = victim_and_ticket(factory)
    other = factory.customer(email="bob@example.org", name="Bob")
    response = deliver(client, payload("gmail_reply", ticket=ticket.number,
                                       address="bob@example.org", name="Bob"))
    body = response.get_json()
    assert response.status_code == 200 and body["outcome"] == "created", body
    assert thread(ticket.id) == []
    own = ticket_named(body["ticket_number"])
    assert own.customer_id == other.customer.id and own.unverified_reason is None
    listed = client.get("/api/support-tickets", headers=other.headers).get_json()["data"]
    assert [t["ticket_number"] for t in listed["data"]] == [own.number]


def test_contact_form_for_a_registered_address_is_held_unverified(client, factory):
    victim = factory.customer(email="jane@example.org", name="Jane Doe")
    response = client.post("/api/contact", json={
        "name": "Jane Doe", "email": "jane@example.org", "subject": "Change my address",
        "message": "Please send my orders to 1 Attacker Road."})
    assert response.status_code == 201
    held = ticket_named(response.get_json()["data"]["ticketNumber"])
    assert held.unverified_reason == "contact_form" and held.customer_id == victim.customer.id
    listed = client.get("/api/support-tickets", headers=victim.headers).get_json()["data"]
    assert listed["total"] == 0
    assert not customer_side_heard(victim.id, held)

    # A colleague establishes who wrote it (the ticket page's button): from then on it
    # is the customer's.
    admin = factory.staff(roles.ADMIN)
    desk = desk_client(current_app)
    login(desk, admin.user.email, "secret-pass-1")
    token = page_token(desk, f"/tickets/show/{held.id}")
    assert desk.post(f"/tickets/action/verify_sender/{held.id}",
                     data={"csrf_token": token}).status_code == 302
    assert ticket_named(held.number).unverified_reason is None
    listed = client.get("/api/support-tickets", headers=victim.headers).get_json()["data"]
    assert listed["total"] == 1
    service.add_message(admin.actor, held.id, "Done.")
    assert customer_side_heard(victim.id, held)


def test_authenticated_mail_for_an_unconfirmed_account_waits_for_confirmation(client, app_ctx):
    """Someone registered the address but never confirmed it: the real owner's mail
    goes to a guest record for the address, not theirs to read until the link is used."""
    created = client.post("/api/auth/register", json={
        "name": "Squatter", "email": "jane@example.org", "password": "longpass123"})
    token = created.get_json()["access_token"]
    response = deliver(client, payload("new_request", address="jane@example.org"))
    body = response.get_json()
    assert body["outcome"] == "created"
    assert ticket_named(body["ticket_number"]).customer.user_id is None
    listed = client.get("/api/support-tickets", headers={"Authorization": f"Bearer {token}"})
    assert listed.get_json()["data"]["total"] == 0
