"""Commerce sync: idempotent upserts of orders, rides and bookings by integrations."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from support_app.extensions import db
from support_app.models import Booking, Customer, Order, Ride
from support_app.security import roles

ORDER = {"customer_email": "New.Buyer@Example.com", "customer_name": "New Buyer",
         "status": "processing", "total": "42.50", "currency": "USD",
         "placed_at": "2026-01-22T10:30:00+02:00"}


def fail(response, status, message=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is False
    if message is not None:
        assert body["message"] == message
    return body


def test_order_upsert_creates_guest_then_is_idempotent(client, factory):
    admin = factory.staff()
    r = client.put("/api/sync/orders/ORD-2026-001234", json=ORDER, headers=admin.headers)
    assert r.status_code == 201
    body = r.get_json()
    assert body == {"id": body["id"], "order_number": "ORD-2026-001234", "status": "processing"}
    order = db.session.get(Order, body["id"])
    assert order.total == Decimal("42.50") and order.currency == "USD"
    assert order.placed_at == dt.datetime(2026, 1, 22, 8, 30)  # stored as UTC
    guest = db.session.get(Customer, order.customer_id)
    assert (guest.email, guest.name, guest.user_id) == ("new.buyer@example.com", "New Buyer", None)
    stamp = order.updated_at

    again = client.put("/api/sync/orders/ORD-2026-001234", json=ORDER, headers=admin.headers)
    assert again.status_code == 200 and again.get_json() == body
    db.session.expire_all()
    assert db.session.get(Order, body["id"]).updated_at == stamp
    assert db.session.query(Customer).count() == 1
    assert db.session.query(Order).count() == 1


def test_order_update_keeps_absent_fields_and_tracks_cancellation(client, factory):
    admin = factory.staff()
    created = client.put("/api/sync/orders/A-1", json=ORDER, headers=admin.headers).get_json()
    r = client.put("/api/sync/orders/A-1", headers=admin.headers,
                   json={"customer_email": "new.buyer@example.com", "status": "cancelled"})
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    order = db.session.get(Order, created["id"])
    assert order.total == Decimal("42.50") and order.cancelled_at is not None
    client.put("/api/sync/orders/A-1", headers=admin.headers,
               json={"customer_email": "new.buyer@example.com", "status": "processing",
                     "total": None})
    db.session.expire_all()
    order = db.session.get(Order, created["id"])
    assert order.status == "processing" and order.cancelled_at is None and order.total is None


def test_order_is_linked_to_existing_customer_and_cancellable_via_002(client, factory):
    admin = factory.staff()
    john = factory.customer(email="john@example.com")
    r = client.put("/api/sync/orders/ORD-7", headers=admin.headers,
                   json={"customer_email": "JOHN@example.com", "status": "pending"})
    assert r.status_code == 201
    order_id = r.get_json()["id"]
    assert db.session.get(Order, order_id).customer_id == john.customer.id
    cancelled = client.post(f"/api/orders/{order_id}/cancel", headers=john.headers)
    assert cancelled.status_code == 200
    assert cancelled.get_json()["data"]["order_number"] == "ORD-7"


def test_sync_needs_the_permission(client, factory):
    manager = factory.staff(roles.STORE_MANAGER)
    john = factory.customer()
    for person in (manager, john):
        fail(client.put("/api/sync/orders/X1", json=ORDER, headers=person.headers), 403,
             "You are not allowed to sync commerce data")
    fail(client.put("/api/sync/rides/R1", json={}), 401)
    assert db.session.query(Order).count() == 0


@pytest.mark.parametrize("change, field", [
    ({"customer_email": None}, "customer_email"),
    ({"customer_email": "not-an-email"}, "customer_email"),
    ({"status": "lost"}, "status"),
    ({"total": "-1"}, "total"),
    ({"total": "abc"}, "total"),
    ({"total": 10_000_000_000}, "total"),
    ({"total": "NaN"}, "total"),
    ({"currency": "usd"}, "currency"),
    ({"placed_at": "yesterday"}, "placed_at"),
    ({"surprise": 1}, "surprise"),
])
def test_order_validation(client, factory, change, field):
    admin = factory.staff()
    body = {**ORDER, **change}
    r = client.put("/api/sync/orders/V-1", json=body, headers=admin.headers)
    assert field in fail(r, 422, "Validation failed")["errors"]
    assert db.session.query(Order).count() == 0 and db.session.query(Customer).count() == 0


def test_identifiers_outside_the_pattern_are_404(client, factory):
    admin = factory.staff()
    for key in ("bad%00number", "x" * 65, "-starts-with-dash", "sp%20ace"):
        fail(client.put(f"/api/sync/orders/{key}", json=ORDER, headers=admin.headers), 404)
        fail(client.put(f"/api/sync/rides/{key}", json={}, headers=admin.headers), 404)
    assert client.put("/api/sync/orders/ORD.2026:1#A_b-c", json=ORDER,
                      headers=admin.headers).status_code == 201
    fail(client.put("/api/sync/orders/X", data="{", content_type="application/json",
                    headers=admin.headers), 400)


def test_nul_characters_and_out_of_range_moments_are_422(client, factory):
    admin = factory.staff()
    r = client.put("/api/sync/rides/R1", headers=admin.headers, json={
        "customer_email": "a@example.com", "pickup_location": "A\u0000B",
        "dropoff_location": "B", "requested_at": "0001-01-01T00:00:00+01:00"})
    errors = fail(r, 422)["errors"]
    assert errors["pickup_location"] == ["The pickup location may not contain NUL characters."]
    assert errors["requested_at"] == ["The requested at is not a valid date."]


def test_ride_upsert(client, factory):
    admin = factory.staff()
    body = {"customer_email": "rider@example.com", "pickup_location": "123 Main St",
            "dropoff_location": "456 Elm St"}
    r = client.put("/api/sync/rides/RIDE-00001", json=body, headers=admin.headers)
    assert r.status_code == 201
    created = r.get_json()
    assert created == {"id": created["id"], "external_id": "RIDE-00001", "status": "requested"}
    assert client.put("/api/sync/rides/RIDE-00001", json=body,
                      headers=admin.headers).status_code == 200
    r = client.put("/api/sync/rides/RIDE-00001", headers=admin.headers,
                   json={**body, "status": "completed", "requested_at": "2026-01-22T09:00:00Z"})
    assert r.status_code == 200 and r.get_json()["status"] == "completed"
    ride = db.session.get(Ride, created["id"])
    assert ride.requested_at == dt.datetime(2026, 1, 22, 9, 0)
    guest = db.session.get(Customer, ride.customer_id)
    assert guest.name == "rider" and guest.user_id is None
    r = client.put("/api/sync/rides/RIDE-2", headers=admin.headers,
                   json={"customer_email": "rider@example.com", "status": "flying"})
    errors = fail(r, 422)["errors"]
    assert errors["pickup_location"] == ["The pickup location field is required."]
    assert errors["status"] == ["The selected status is invalid."]


def test_booking_upsert(client, factory):
    admin = factory.staff()
    body = {"customer_email": "diner@example.com", "venue": "La Terrazza", "party_size": 4,
            "booked_for": "2026-02-14T20:00:00+01:00"}
    r = client.put("/api/sync/bookings/BOOK-1", json=body, headers=admin.headers)
    assert r.status_code == 201
    created = r.get_json()
    assert created["status"] == "confirmed" and created["external_id"] == "BOOK-1"
    booking = db.session.get(Booking, created["id"])
    assert booking.booked_for == dt.datetime(2026, 2, 14, 19, 0) and booking.party_size == 4
    assert client.put("/api/sync/bookings/BOOK-1", json=body,
                      headers=admin.headers).status_code == 200
    for bad in ({"party_size": 4.5}, {"party_size": "4"}, {"party_size": 0},
                {"venue": ""}, {"status": "eaten"}):
        r = client.put("/api/sync/bookings/BOOK-2", json={**body, **bad}, headers=admin.headers)
        fail(r, 422)
    assert db.session.query(Booking).count() == 1


def test_sync_is_documented(client):
    spec = client.get("/api/openapi.json").get_json()
    assert "Commerce sync" in {tag["name"] for tag in spec["tags"]}
    for path in ("/api/sync/orders/{order_number}", "/api/sync/rides/{external_id}",
                 "/api/sync/bookings/{external_id}"):
        operation = spec["paths"][path]["put"]
        assert {"200", "201", "401", "403", "422"} <= set(operation["responses"])
        assert operation["security"] == [{"bearerAuth": []}]
        assert operation["tags"] == ["Commerce sync"]
