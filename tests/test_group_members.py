"""Seed 004 `groupCustomerIds`: a customer adds to their ticket only the customers who
share its ride, order or booking, as the commerce sync records them. An unrelated
customer, a member of another of their services, and an id that does not exist are
refused alike (404 CUSTOMER_NOT_FOUND, same body): the list cannot probe which
customers exist, and nothing is written."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import ServiceMember, Ticket, TicketParticipant
from support_app.security import roles
from support_app.tickets import service
from support_app.tickets.errors import NotFound

BASE = "/api/customer/mtxi/support/"


def _create(client, person, **body):
    return client.post(BASE, headers=person.headers, json={
        "issueType": "OTHER", "description": "We were both overcharged for this.", **body})


def _tickets() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Ticket))


def test_only_customers_sharing_the_service_may_be_added(client, factory):
    alice, bob, carol, eve = (factory.customer() for _ in range(4))
    ride = factory.ride(alice.customer, members=[bob.customer.id])
    other_ride = factory.ride(alice.customer, members=[carol.customer.id])

    refusals = [
        _create(client, alice, serviceType="ride", rideId=ride.id, groupCustomerIds=ids)
        for ids in ([eve.customer.id], [carol.customer.id], [999_999],
                    [bob.customer.id, eve.customer.id])
    ]
    bodies = {(r.status_code, r.get_data(as_text=True)) for r in refusals}
    assert len(bodies) == 1, bodies  # unrelated, other service's member and unknown alike
    status, body = bodies.pop()
    assert status == 404 and '"CUSTOMER_NOT_FOUND"' in body
    assert _tickets() == 0

    booking = factory.booking(alice.customer)  # no members: nobody may be added
    assert _create(client, alice, serviceType="booking", bookingId=booking.id,
                   groupCustomerIds=[bob.customer.id]).status_code == 404

    created = _create(client, alice, serviceType="ride", rideId=ride.id,
                      groupCustomerIds=[bob.customer.id])
    assert created.status_code == 200, created.get_json()
    assert db.session.scalars(select(TicketParticipant.customer_id)).all() == [bob.customer.id]
    assert other_ride.id  # carol shares only the other ride


def test_the_commerce_sync_carries_the_group(client, factory):
    sync = factory.staff(roles.ADMIN).headers
    alice = factory.customer(email="alice@example.com")
    bob = factory.customer(email="bob@example.com")
    body = {"customer_email": "alice@example.com", "pickup_location": "A", "dropoff_location": "B",
            "group_member_emails": ["BOB@example.com", "new-rider@example.com", "alice@example.com"]}
    put = client.put("/api/sync/rides/SHARED-1", json=body, headers=sync)
    assert put.status_code == 201, put.get_json()
    ride_id = put.get_json()["id"]
    members = set(db.session.scalars(select(ServiceMember.customer_id)
                                     .where(ServiceMember.ride_id == ride_id)))
    assert bob.customer.id in members and alice.customer.id not in members and len(members) == 2

    assert _create(client, alice, serviceType="ride", rideId=ride_id,
                   groupCustomerIds=[bob.customer.id]).status_code == 200
    # Sent again without bob: he is no longer a member and cannot be added anew.
    again = client.put("/api/sync/rides/SHARED-1", headers=sync,
                       json={**body, "group_member_emails": ["new-rider@example.com"]})
    assert again.status_code == 200
    assert _create(client, alice, serviceType="ride", rideId=ride_id,
                   groupCustomerIds=[bob.customer.id]).status_code == 404
    bad = client.put("/api/sync/rides/SHARED-1", headers=sync,
                     json={**body, "group_member_emails": ["not an email"]})
    assert bad.status_code == 422



def test_a_ticket_about_no_service_takes_no_group(factory):
    """The invariant `groups.may_have_participants` relies on (a ticket about no order,
    ride or booking skips the participants query on every event): the ticket service,
    which every channel opens through, refuses even a customer who shares one of the
    owner's rides when the ticket is about none, and writes nothing."""
    alice, bob = factory.customer(), factory.customer()
    factory.ride(alice.customer, members=[bob.customer.id])
    with pytest.raises(NotFound):
        service.open_ticket(alice.actor, subject="Shared ride", description="Both charged.",
                            participant_customer_ids=[bob.customer.id])
    assert _tickets() == 0 and db.session.scalar(
        select(func.count()).select_from(TicketParticipant)) == 0
