"""Registering an address proves nothing: an account gets what the address already has
(a guest's tickets, orders, staff replies) only through the emailed confirmation link.

Every surface that shows tickets or orders is checked before and after confirming."""
from __future__ import annotations

import re
import time

from flask import current_app
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from support_app.extensions import db
from support_app.models import Customer, EmailLog, SupportUser, Ticket
from support_app.realtime.dispatch import dispatcher
from support_app.security import roles
from support_app.tickets import Actor, service

from .live import Listener

VICTIM = "victim@example.com"


def register(client, email: str = VICTIM, locale: str | None = None) -> dict:
    body = {"name": "Someone Else", "email": email, "password": "longpass123"}
    if locale:
        body["locale"] = locale
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    return {"Authorization": f"Bearer {data['access_token']}", "user_id": data["user"]["id"]}


def emailed_token(email: str = VICTIM) -> str:
    """The token in the newest confirmation email to `email` (as the owner would click it)."""
    db.session.expire_all()
    row = db.session.query(EmailLog).filter_by(to_address=email, template="confirm_email") \
        .order_by(EmailLog.id.desc()).first()
    assert row is not None, "no confirmation email was queued"
    match = re.search(r"/confirm-email/(\S+)", row.body_text)
    assert match, row.body_text
    return match.group(1)


def guest_history(factory) -> tuple[Customer, Ticket]:
    """A guest (contact form) with a ticket, a staff reply on it and an order."""
    guest = factory.guest(email=VICTIM, name="Real Owner")
    ticket = service.open_ticket(Actor.system("contact form"), customer_id=guest.id,
                                 subject="My private request", description="Card ending 4242.",
                                 channel="contact_form").ticket
    admin = factory.staff(roles.ADMIN)
    service.add_message(admin.actor, ticket.id, "We refunded card 4242.")
    factory.order(guest)
    return guest, ticket


def surfaces(client, headers: dict, ticket: Ticket) -> dict[str, tuple[int, str]]:
    """What each customer surface answers the account about the guest's ticket."""
    auth = {"Authorization": headers["Authorization"]}
    calls = {
        "002 list": client.get("/api/support-tickets", headers=auth),
        "002 detail": client.get(f"/api/support-tickets/{ticket.id}", headers=auth),
        "000 list": client.get("/api/customer/orders/support", headers=auth),
        "001 status": client.get(f"/api/customer/munch/support/ticket/{ticket.id}/status",
                                 headers=auth),
        "004 detail": client.get(f"/api/customer/mtxi/support/{ticket.id}", headers=auth),
    }
    return {name: (r.status_code, r.get_data(as_text=True)) for name, r in calls.items()}


def test_registering_a_guests_address_shows_nothing_until_confirmed(client, factory, server,
                                                                    opened):
    guest, ticket = guest_history(factory)
    headers = register(client)

    before = surfaces(client, headers, ticket)
    for name, (status, text) in before.items():
        assert ticket.number not in text and "4242" not in text, name
    assert before["002 list"][0] == 200 and '"total":0' in before["002 list"][1].replace(" ", "")
    assert {before[n][0] for n in ("002 detail", "001 status", "004 detail")} <= {403, 404}
    db.session.expire_all()
    assert db.session.get(Customer, guest.id).user_id is None  # the record was not taken

    socket = Listener(server.url, auth={"token": headers["Authorization"].split()[1]})
    opened.append(socket)
    socket.connect()
    assert socket.call("subscribe", {"ticketId": ticket.id})["ok"] is False

    # A staff reply meanwhile notifies nobody on the account's side.
    admin = factory.staff(roles.ADMIN)
    service.add_message(admin.actor, ticket.id, "Second reply, still private.")
    dispatcher.wait_idle()
    auth = {"Authorization": headers["Authorization"]}
    assert ticket.number not in client.get("/api/notifications", headers=auth).get_data(True)
    assert "support:message:created" not in socket.names()

    confirmed = client.post("/api/auth/confirm-email", json={"token": emailed_token()})
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["user"]["id"] == headers["user_id"]

    after = surfaces(client, headers, ticket)
    for name, (status, text) in after.items():
        assert status == 200 and (ticket.number in text or "4242" in text), (name, text[:300])
    db.session.expire_all()
    assert db.session.get(Customer, guest.id).user_id == headers["user_id"]

    assert socket.call("subscribe", {"ticketId": ticket.id})["ok"] is True
    service.add_message(admin.actor, ticket.id, "Third reply, now yours.")
    socket.wait_for("support:message:created")
    dispatcher.wait_idle()
    assert ticket.number in client.get("/api/notifications", headers=auth).get_data(True)


def test_the_confirmation_email_is_in_the_users_language_and_the_link_page_confirms(
        client, factory):
    guest_history(factory)
    register(client, locale="es")
    db.session.expire_all()
    row = db.session.query(EmailLog).filter_by(to_address=VICTIM, template="confirm_email").one()
    assert row.subject == "Confirma tu dirección de correo electrónico"
    assert row.direction == "out" and row.ticket_id is None

    page = client.get(f"/confirm-email/{emailed_token()}")
    assert page.status_code == 200 and "text/html" in page.content_type
    again = client.get(f"/confirm-email/{emailed_token()}")
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)


def test_forged_tampered_expired_and_reused_links_are_refused(client, factory):
    from support_app.security.email_ownership import SALT  # new with this change
    guest, _ticket = guest_history(factory)
    headers = register(client)
    token = emailed_token()

    def refused(value: str) -> str:
        response = client.post("/api/auth/confirm-email", json={"token": value})
        assert response.status_code == 400, response.get_json()
        return response.get_json()["message"]

    assert "not valid" in refused("not-a-token")
    signed, signature = token.rsplit(".", 1)
    assert "not valid" in refused(f"{signed}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}")
    payload, rest = token.split(".", 1)
    other = URLSafeTimedSerializer("x").dump_payload({"u": 1, "e": VICTIM}).decode()
    assert "not valid" in refused(f"{other}.{rest}")  # someone else's id, same signature
    forged = URLSafeTimedSerializer("guessed-secret", salt=SALT)
    assert "not valid" in refused(forged.dumps({"u": headers["user_id"], "e": VICTIM}))

    class ThreeDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3 * 24 * 3600

    old = URLSafeTimedSerializer(current_app.secret_key, salt=SALT,
                                 signer=ThreeDaysAgo)
    assert "expired" in refused(old.dumps({"u": headers["user_id"], "e": VICTIM}))
    db.session.expire_all()
    assert db.session.get(Customer, guest.id).user_id is None  # none of them linked it

    assert client.post("/api/auth/confirm-email", json={"token": token}).status_code == 200
    assert "already been used" in refused(token)
    assert client.post("/api/auth/confirm-email", json={}).status_code == 422


def test_a_record_that_belongs_to_an_account_is_never_moved(client, factory):
    """An admin changed a registered customer's email; registering that address later
    must not take the record (and with it the real owner's history)."""
    owner = factory.customer(email="old@example.com")
    ticket = factory.ticket(owner)
    owner.customer.email = "changed@example.com"
    db.session.commit()

    headers = register(client, email="changed@example.com")
    response = client.post("/api/auth/confirm-email", json={"token": emailed_token(
        "changed@example.com")})
    assert response.status_code == 400
    assert "another account" in response.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(Customer, owner.customer.id).user_id == owner.user.id
    auth = {"Authorization": headers["Authorization"]}
    assert ticket.number not in client.get("/api/support-tickets", headers=auth).get_data(True)
    assert client.get("/api/support-tickets", headers=owner.headers).get_json()["data"]["total"] == 1


def test_a_new_address_works_at_once_and_an_unconfirmed_one_is_told_to_confirm(client, factory):
    fresh = register(client, email="fresh@example.com")
    auth = {"Authorization": fresh["Authorization"]}
    created = client.post("/api/support-tickets", headers=auth, json={
        "subject": "Hello", "description": "Right after signing up."})
    assert created.status_code == 201

    guest_history(factory)
    pending = register(client)
    refused = client.post("/api/support-tickets", headers={
        "Authorization": pending["Authorization"]}, json={
        "subject": "Hello", "description": "Before confirming."})
    assert refused.status_code == 403
    assert db.session.query(Ticket).filter_by(subject="Hello").count() == 1


def test_resend_sends_a_new_link_until_confirmed(client, factory):
    guest_history(factory)
    headers = register(client)
    auth = {"Authorization": headers["Authorization"]}
    first = emailed_token()
    resent = client.post("/api/auth/confirm-email/resend", headers=auth)
    assert resent.status_code == 202
    assert db.session.query(EmailLog).filter_by(to_address=VICTIM,
                                                template="confirm_email").count() == 2
    assert client.post("/api/auth/confirm-email", json={"token": emailed_token()}).status_code == 200
    # Single use covers every link of the account, the earlier one included.
    assert client.post("/api/auth/confirm-email", json={"token": first}).status_code == 400
    assert client.post("/api/auth/confirm-email/resend", headers=auth).status_code == 400
    assert client.post("/api/auth/confirm-email/resend").status_code == 401
    user = db.session.get(SupportUser, headers["user_id"])
    assert user.email_confirmed_at is not None


def test_the_link_never_points_at_the_requests_host(client, app_ctx):
    """A registrant who sends `Host: evil.example` must not get the owner's link (and its
    token) pointed at their own server."""
    client.post("/api/auth/register", headers={"Host": "evil.example"}, json={
        "name": "Someone Else", "email": VICTIM, "password": "longpass123"})
    db.session.expire_all()
    row = db.session.query(EmailLog).filter_by(to_address=VICTIM, template="confirm_email").one()
    assert "evil.example" not in row.body_text + row.body_html
    assert f"{current_app.config['PUBLIC_URL']}/confirm-email/" in row.body_text
