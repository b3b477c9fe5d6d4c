"""Records arriving for an address (commerce sync, contact form, inbound mail) reach an
account only once it has confirmed the address: until then they go to a guest record
for the address, which confirming links."""
from __future__ import annotations

import pytest

from support_app.extensions import db
from support_app.models import Booking, Customer, Order, Ride, Ticket

from .inbound_payloads import deliver, payload
from .test_email_ownership import emailed_token, register

ADDRESS = "fresh.owner@example.org"
SYNC = {
    "orders": (Order, "ORD-77", {"status": "processing", "total": "12.00"}),
    "rides": (Ride, "RIDE-77", {"pickup_location": "A St", "dropoff_location": "B St"}),
    "bookings": (Booking, "BOOK-77", {"venue": "La Terrazza"}),
}


def customer_id(client, headers: dict) -> int | None:
    me = client.get("/api/auth/me", headers={"Authorization": headers["Authorization"]})
    return me.get_json()["customer_id"]


def owner_of(customer_pk: int) -> int | None:
    db.session.expire_all()
    return db.session.get(Customer, customer_pk).user_id


def confirm(client) -> None:
    response = client.post("/api/auth/confirm-email", json={"token": emailed_token(ADDRESS)})
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("kind", sorted(SYNC))
def test_sync_for_an_unconfirmed_address_goes_to_a_guest_record(client, factory, kind):
    model, key, body = SYNC[kind]
    registrant = register(client, email=ADDRESS)
    assert customer_id(client, registrant) is not None  # a fresh address: provisional record
    admin = factory.staff()
    synced = client.put(f"/api/sync/{kind}/{key}", headers=admin.headers,
                        json={"customer_email": ADDRESS.upper(), **body})
    assert synced.status_code == 201, synced.get_json()
    row = db.session.get(model, synced.get_json()["id"])
    assert owner_of(row.customer_id) is None  # not the registrant's before they confirm
    assert customer_id(client, registrant) is None

    confirm(client)
    assert owner_of(row.customer_id) == registrant["user_id"]
    assert customer_id(client, registrant) == row.customer_id


def test_a_contact_form_message_releases_the_unconfirmed_accounts_record(client, factory):
    registrant = register(client, email=ADDRESS)
    auth = {"Authorization": registrant["Authorization"]}
    own = client.post("/api/support-tickets", headers=auth, json={
        "subject": "Mine", "description": "Written in the app."})
    assert own.status_code == 201
    sent = client.post("/api/contact", json={"name": "Someone", "email": ADDRESS,
                                             "subject": "Hi", "message": "From the form."})
    assert sent.status_code == 201, sent.get_json()
    ticket = db.session.query(Ticket).filter_by(number=sent.get_json()["data"]["ticketNumber"]).one()
    assert owner_of(ticket.customer_id) is None
    assert client.get("/api/support-tickets", headers=auth).get_json()["data"]["total"] == 0

    confirm(client)
    assert owner_of(ticket.customer_id) == registrant["user_id"]
    listed = client.get("/api/support-tickets", headers=auth).get_json()["data"]
    assert listed["total"] == 1  # their own; the form's message stays held for staff


def test_inbound_mail_for_an_unconfirmed_address_goes_to_a_guest_record(client, factory):
    registrant = register(client, email=ADDRESS)
    response = deliver(client, payload("new_request", address=ADDRESS))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["outcome"] == "created"  # authenticated: the owner's mail
    ticket = db.session.query(Ticket).filter_by(number=response.get_json()["ticket_number"]).one()
    assert owner_of(ticket.customer_id) is None
    auth = {"Authorization": registrant["Authorization"]}
    assert client.get("/api/support-tickets", headers=auth).get_json()["data"]["total"] == 0

    confirm(client)
    assert client.get("/api/support-tickets", headers=auth).get_json()["data"]["total"] == 1
