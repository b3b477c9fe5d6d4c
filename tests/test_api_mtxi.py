"""Mtxi surface (seed 004): ride/order/booking tickets, group members, escalate, close,
gamification points and the daily cap, every documented error code."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import Customer, PointsTransaction, Ticket, TicketParticipant
from support_app.security import roles
from support_app.tickets import queries, service

BASE = "/api/customer/mtxi/support"
DESCRIPTION = "Payment was charged twice"


def create(client, person, **body):
    body.setdefault("issueType", "PAYMENT_ISSUE")
    body.setdefault("description", DESCRIPTION)
    return client.post(f"{BASE}/", json=body, headers=person.headers)


def ride_ticket(client, factory, person, **body) -> int:
    """A ride shared with the group named in the body (only they may be added)."""
    ride = factory.ride(person.customer, members=body.get("groupCustomerIds", ()))
    response = create(client, person, serviceType="ride", rideId=ride.id, **body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]["ticketId"]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["status"] == "error"
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def ledger(customer_id: int) -> list[tuple[str, int, Decimal]]:
    db.session.expire_all()
    return [(p.action, p.points, p.credit) for p in db.session.scalars(
        select(PointsTransaction).where(PointsTransaction.customer_id == customer_id)
        .order_by(PointsTransaction.id))]


def ticket_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Ticket.id)))


def resolve(factory, ticket_id: int) -> None:
    service.update_ticket(factory.staff(roles.ADMIN).actor, ticket_id, status="resolved",
                          resolution_details="Refunded the second charge.")


# --------------------------------------------------------------------------- create


def test_create_ride_ticket_awards_points(client, factory, recorded_events):
    alice = factory.customer()
    ride = factory.ride(alice.customer)

    response = create(client, alice, serviceType="ride", rideId=ride.id)

    assert response.status_code == 200
    body = response.get_json()
    ticket_id = body["data"]["ticketId"]
    assert body == {"status": "success", "message": "Support ticket created",
                    "data": {"ticketId": ticket_id, "gamificationError": None}}
    ticket = db.session.get(Ticket, ticket_id)
    assert (ticket.customer_id, ticket.ride_id, ticket.service_type) == (
        alice.customer.id, ride.id, "ride")
    assert (ticket.issue_type, ticket.category, ticket.subject) == (
        "PAYMENT_ISSUE", "payment", DESCRIPTION)
    assert ledger(alice.customer.id) == [("support_interaction", 10, Decimal("0.20"))]
    customer = db.session.get(Customer, alice.customer.id)
    assert (customer.points, customer.credit_balance) == (10, Decimal("0.20"))
    created = [e for e in recorded_events if e.name == "ticket.created"]
    assert [(e.origin, e.ticket.id) for e in created] == [("mtxi", ticket_id)]


@pytest.mark.parametrize("service_type,field,builder", [
    ("ride", "rideId", "ride"),
    ("order", "orderId", "order"),
    ("in_dining_order", "orderId", "order"),
    ("booking", "bookingId", "booking"),
    ("event_service", "bookingId", "booking"),
])
def test_each_service_type_takes_its_reference(client, factory, service_type, field, builder):
    alice = factory.customer()
    ref = getattr(factory, builder)(alice.customer)
    response = create(client, alice, serviceType=service_type, **{field: ref.id})
    assert response.status_code == 200, response.get_json()
    ticket = db.session.get(Ticket, response.get_json()["data"]["ticketId"])
    assert ticket.service_type == service_type
    assert getattr(ticket, f"{builder}_id") == ref.id


def test_every_documented_issue_type_is_accepted(client, factory):
    from support_app.api.mtxi import ISSUE_CATEGORIES

    alice = factory.customer()
    ride = factory.ride(alice.customer)
    for issue_type, category in ISSUE_CATEGORIES.items():
        response = create(client, alice, serviceType="ride", rideId=ride.id, issueType=issue_type)
        assert db.session.get(Ticket, response.get_json()["data"]["ticketId"]).category == category


def test_mtxi_ticket_is_the_desk_ticket(client, factory):
    alice = factory.customer()
    order = factory.order(alice.customer)
    ticket_id = create(client, alice, serviceType="order",
                       orderId=order.id).get_json()["data"]["ticketId"]

    admin = factory.staff(roles.ADMIN)
    assert [t.id for t in db.session.scalars(queries.visible_tickets(admin.actor))] == [ticket_id]
    assert service.get_ticket(admin.actor, ticket_id).order_id == order.id
    munch = client.get(f"/api/customer/munch/support/ticket/{ticket_id}/status",
                       headers=alice.headers).get_json()["data"]
    assert (munch["orderNumber"], munch["issueType"]) == (order.order_number, "PAYMENT_ISSUE")


def test_invalid_service_type(client, factory):
    alice = factory.customer()
    ride = factory.ride(alice.customer)
    for service_type in ("taxi", "RIDE", "delivery"):
        response = create(client, alice, serviceType=service_type, rideId=ride.id)
        assert_error(response, 400, "INVALID_SERVICE_TYPE")
    assert ticket_count() == 0


def test_invalid_issue_type(client, factory):
    alice = factory.customer()
    ride = factory.ride(alice.customer)
    response = create(client, alice, serviceType="ride", rideId=ride.id, issueType="payment")
    assert_error(response, 400, "INVALID_ISSUE_TYPE")
    assert ticket_count() == 0


@pytest.mark.parametrize("refs", [
    {},
    {"orderId": 1},
    {"rideId": None},
    {"rideId": "RIDE", "orderId": 1},
    {"rideId": "RIDE", "bookingId": 1},
])
def test_ride_ticket_needs_exactly_its_ride(client, factory, refs):
    alice = factory.customer()
    ride = factory.ride(alice.customer)
    refs = {k: (ride.id if v == "RIDE" else v) for k, v in refs.items()}
    assert_error(create(client, alice, serviceType="ride", **refs), 400, "INVALID_TICKET")
    assert ticket_count() == 0


@pytest.mark.parametrize("body", [
    {"serviceType": "ride", "rideId": 1, "issueType": "OTHER"},
    {"serviceType": "ride", "rideId": 1, "issueType": "OTHER", "description": "   "},
    {"serviceType": "ride", "rideId": 1, "issueType": "OTHER", "description": "x" * 5001},
    {"serviceType": "ride", "rideId": "1", "issueType": "OTHER", "description": DESCRIPTION},
    {"serviceType": "ride", "rideId": -1, "issueType": "OTHER", "description": DESCRIPTION},
    {"serviceType": "ride", "rideId": 2**31, "issueType": "OTHER", "description": DESCRIPTION},
    {"serviceType": "ride", "rideId": 1, "issueType": "OTHER", "description": DESCRIPTION,
     "groupCustomerIds": "2,3"},
    {"serviceType": "ride", "rideId": 1, "issueType": "OTHER", "description": DESCRIPTION,
     "groupCustomerIds": list(range(1, 30))},
    {"issueType": "OTHER", "description": DESCRIPTION},
    {"serviceType": ["ride"], "rideId": 1, "issueType": "OTHER", "description": DESCRIPTION},
])
def test_malformed_create_is_invalid_ticket(client, factory, body):
    alice = factory.customer()
    factory.ride(alice.customer)
    response = client.post(f"{BASE}/", json=body, headers=alice.headers)
    assert_error(response, 400, "INVALID_TICKET")
    assert ticket_count() == 0
    assert ledger(alice.customer.id) == []


@pytest.mark.parametrize("service_type,field,builder,code", [
    ("ride", "rideId", "ride", "RIDE_NOT_FOUND"),
    ("order", "orderId", "order", "ORDER_FAILED"),
    ("booking", "bookingId", "booking", "BOOKING_FAILED"),
])
def test_unknown_or_foreign_reference(client, factory, service_type, field, builder, code):
    alice, bob = factory.customer(), factory.customer()
    bobs = getattr(factory, builder)(bob.customer)
    missing = assert_error(create(client, alice, serviceType=service_type,
                                  **{field: 999_999}), 404, code)
    foreign = assert_error(create(client, alice, serviceType=service_type,
                                  **{field: bobs.id}), 404, code)
    assert foreign == missing
    assert ticket_count() == 0


def test_unknown_group_member_is_customer_not_found(client, factory):
    alice, bob = factory.customer(), factory.customer()
    ride = factory.ride(alice.customer)
    response = create(client, alice, serviceType="ride", rideId=ride.id,
                      groupCustomerIds=[bob.customer.id, 999_999])
    assert_error(response, 404, "CUSTOMER_NOT_FOUND")
    assert ticket_count() == 0
    assert ledger(alice.customer.id) == []


def test_create_without_trailing_slash(client, factory):
    alice = factory.customer()
    ride = factory.ride(alice.customer)
    response = client.post(BASE, headers=alice.headers, json={
        "serviceType": "ride", "rideId": ride.id, "issueType": "OTHER",
        "description": DESCRIPTION})
    assert response.status_code == 200
    body = response.get_json()
    ticket_id = body["data"]["ticketId"]
    assert body == {"status": "success", "message": "Support ticket created",
                    "data": {"ticketId": ticket_id, "gamificationError": None}}
    ticket = db.session.get(Ticket, ticket_id)
    assert (ticket.customer_id, ticket.ride_id, ticket.service_type, ticket.issue_type) == (
        alice.customer.id, ride.id, "ride", "OTHER")
    assert ticket.description == DESCRIPTION
    assert ticket_count() == 1
    assert ledger(alice.customer.id) == [("support_interaction", 10, Decimal("0.20"))]


# --------------------------------------------------------------------------- group members


def test_group_members_track_but_cannot_escalate_or_close(client, factory):
    alice, bob, carol, dave = (factory.customer() for _ in range(4))
    ticket_id = ride_ticket(client, factory, alice,
                            groupCustomerIds=[bob.customer.id, carol.customer.id,
                                              alice.customer.id])
    members = set(db.session.scalars(select(TicketParticipant.customer_id)
                                     .where(TicketParticipant.ticket_id == ticket_id)))
    assert members == {bob.customer.id, carol.customer.id}

    for member in (bob, carol):
        tracked = client.get(f"{BASE}/{ticket_id}", headers=member.headers)
        assert tracked.status_code == 200
        assert tracked.get_json()["data"]["ticketId"] == ticket_id
    assert_error(client.get(f"{BASE}/{ticket_id}", headers=dave.headers), 404,
                 "SUPPORT_TICKET_NOT_FOUND")

    assert_error(client.post(f"{BASE}/escalate", json={"ticketId": ticket_id},
                             headers=bob.headers), 403, "PERMISSION_DENIED")
    resolve(factory, ticket_id)
    assert_error(client.post(f"{BASE}/close", json={"ticketId": ticket_id},
                             headers=bob.headers), 403, "PERMISSION_DENIED")
    assert_error(client.post(f"{BASE}/close", json={"ticketId": ticket_id},
                             headers=dave.headers), 404, "SUPPORT_TICKET_NOT_FOUND")
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    assert (ticket.status, ticket.escalation_level) == ("resolved", 0)
    assert ledger(bob.customer.id) == []


def test_group_member_sees_only_the_shared_ticket(client, factory):
    alice, bob = factory.customer(), factory.customer()
    shared = ride_ticket(client, factory, alice, groupCustomerIds=[bob.customer.id])
    private = ride_ticket(client, factory, alice)
    assert client.get(f"{BASE}/{shared}", headers=bob.headers).status_code == 200
    assert_error(client.get(f"{BASE}/{private}", headers=bob.headers), 404,
                 "SUPPORT_TICKET_NOT_FOUND")
    munch = client.get(f"/api/customer/munch/support/ticket/{private}/status",
                       headers=bob.headers)
    assert munch.status_code == 404


# --------------------------------------------------------------------------- track


def test_track_ride_ticket(client, factory):
    alice = factory.customer()
    ticket_id = ride_ticket(client, factory, alice)
    ticket = db.session.get(Ticket, ticket_id)

    response = client.get(f"{BASE}/{ticket_id}", headers=alice.headers)

    assert response.status_code == 200
    assert response.get_json() == {
        "status": "success",
        "message": "Ticket status retrieved",
        "data": {
            "ticketId": ticket_id,
            "serviceType": "ride",
            "issueType": "PAYMENT_ISSUE",
            "status": "OPEN",
            "description": DESCRIPTION,
            "updatedAt": ticket.updated_at.replace(microsecond=0).isoformat() + "Z",
            "ride": {"id": ticket.ride_id, "pickupLocation": "123 Main St",
                     "dropoffLocation": "456 Elm St"},
            "order": None,
            "booking": None,
        },
    }


def test_track_order_and_booking_tickets(client, factory):
    alice = factory.customer()
    order, booking = factory.order(alice.customer), factory.booking(alice.customer)
    order_ticket = create(client, alice, serviceType="in_dining_order",
                          orderId=order.id).get_json()["data"]["ticketId"]
    booking_ticket = create(client, alice, serviceType="event_service", bookingId=booking.id,
                            issueType="BOOKING_ISSUE").get_json()["data"]["ticketId"]

    data = client.get(f"{BASE}/{order_ticket}", headers=alice.headers).get_json()["data"]
    assert (data["ride"], data["booking"]) == (None, None)
    assert data["order"] == {"id": order.id, "orderNumber": order.order_number,
                             "status": "PENDING"}
    data = client.get(f"{BASE}/{booking_ticket}", headers=alice.headers).get_json()["data"]
    assert (data["ride"], data["order"]) == (None, None)
    assert data["booking"] == {"id": booking.id, "venue": "La Terrazza", "bookedFor": None,
                               "partySize": 4, "status": "CONFIRMED"}
    assert data["serviceType"] == "event_service"


def test_track_unknown_and_foreign_tickets(client, factory):
    alice, bob = factory.customer(), factory.customer()
    bobs = ride_ticket(client, factory, bob)
    missing = assert_error(client.get(f"{BASE}/{bobs + 1000}", headers=alice.headers), 404,
                           "SUPPORT_TICKET_NOT_FOUND")
    foreign = client.get(f"{BASE}/{bobs}", headers=alice.headers)
    assert foreign.status_code == 404 and foreign.get_json() == missing


@pytest.mark.parametrize("ticket_id", ["0", "-1", str(2**31), str(10**30)])
def test_track_invalid_ticket_id(client, factory, ticket_id):
    alice = factory.customer()
    assert_error(client.get(f"{BASE}/{ticket_id}", headers=alice.headers), 400,
                 "INVALID_TICKET")


# --------------------------------------------------------------------------- escalate


def test_escalate_awards_points_then_refuses_again(client, factory, recorded_events):
    alice = factory.customer()
    ticket_id = ride_ticket(client, factory, alice)

    response = client.post(f"{BASE}/escalate", json={"ticketId": ticket_id},
                           headers=alice.headers)

    assert response.status_code == 200
    assert response.get_json() == {"status": "success", "message": "Ticket escalated",
                                   "data": {"ticketId": ticket_id, "gamificationError": None}}
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    assert (ticket.escalation_level, ticket.priority) == (1, "high")
    assert [a for a, _p, _c in ledger(alice.customer.id)] == ["support_interaction"] * 2
    escalated = [e for e in recorded_events if e.name == "ticket.escalated"]
    assert [(e.origin, e.ticket.id) for e in escalated] == [("mtxi", ticket_id)]

    again = client.post(f"{BASE}/escalate", json={"ticketId": ticket_id},
                        headers=alice.headers)
    assert_error(again, 400, "SUPPORT_TICKET_NOT_ESCALATABLE")
    assert len(ledger(alice.customer.id)) == 2


def test_escalate_resolved_ticket_is_not_escalatable(client, factory):
    alice = factory.customer()
    ticket_id = ride_ticket(client, factory, alice)
    resolve(factory, ticket_id)
    response = client.post(f"{BASE}/escalate", json={"ticketId": ticket_id},
                           headers=alice.headers)
    assert_error(response, 400, "SUPPORT_TICKET_NOT_ESCALATABLE")


def test_escalate_unknown_or_foreign_ticket(client, factory):
    alice, bob = factory.customer(), factory.customer()
    bobs = ride_ticket(client, factory, bob)
    for ticket_id in (bobs, bobs + 1000):
        response = client.post(f"{BASE}/escalate", json={"ticketId": ticket_id},
                               headers=alice.headers)
        assert_error(response, 404, "SUPPORT_TICKET_NOT_FOUND")


@pytest.mark.parametrize("path", ["/escalate", "/close"])
@pytest.mark.parametrize("body", [{}, {"ticketId": "1"}, {"ticketId": -4}, {"ticketId": 2**40},
                                  {"ticketId": False}, {"ticketId": 1, "extra": 1}])
def test_malformed_ticket_id_body(client, factory, path, body):
    alice = factory.customer()
    assert_error(client.post(BASE + path, json=body, headers=alice.headers), 400,
                 "INVALID_TICKET")


# --------------------------------------------------------------------------- close


def test_close_resolved_ticket_awards_closure_points(client, factory, recorded_events):
    alice = factory.customer()
    ticket_id = ride_ticket(client, factory, alice)

    not_yet = client.post(f"{BASE}/close", json={"ticketId": ticket_id}, headers=alice.headers)
    assert_error(not_yet, 400, "SUPPORT_TICKET_FAILED")

    resolve(factory, ticket_id)
    response = client.post(f"{BASE}/close", json={"ticketId": ticket_id}, headers=alice.headers)

    assert response.status_code == 200
    assert response.get_json() == {"status": "success", "message": "Ticket closed",
                                   "data": {"ticketId": ticket_id, "gamificationError": None}}
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id).status == "closed"
    assert ledger(alice.customer.id) == [("support_interaction", 10, Decimal("0.20")),
                                         ("ticket_closure", 5, Decimal("0.00"))]
    closed = [e for e in recorded_events if e.name == "ticket.closed"]
    assert [(e.origin, e.ticket.id) for e in closed] == [("mtxi", ticket_id)]
    tracked = client.get(f"{BASE}/{ticket_id}", headers=alice.headers).get_json()
    assert tracked["data"]["status"] == "CLOSED"

    again = client.post(f"{BASE}/close", json={"ticketId": ticket_id}, headers=alice.headers)
    assert_error(again, 400, "SUPPORT_TICKET_FAILED")
    assert len(ledger(alice.customer.id)) == 2


def test_close_unknown_or_foreign_ticket(client, factory):
    alice, bob = factory.customer(), factory.customer()
    bobs = ride_ticket(client, factory, bob)
    resolve(factory, bobs)
    for ticket_id in (bobs, bobs + 1000):
        response = client.post(f"{BASE}/close", json={"ticketId": ticket_id},
                               headers=alice.headers)
        assert_error(response, 404, "SUPPORT_TICKET_NOT_FOUND")
    db.session.expire_all()
    assert db.session.get(Ticket, bobs).status == "resolved"


# --------------------------------------------------------------------------- gamification cap


def test_daily_cap_reports_gamification_error(client, factory, app):
    cap = app.config["GAMIFICATION_DAILY_CAP"]
    alice = factory.customer()
    ride = factory.ride(alice.customer)
    errors = []
    for _ in range(cap + 1):
        response = create(client, alice, serviceType="ride", rideId=ride.id)
        assert response.status_code == 200
        errors.append(response.get_json()["data"]["gamificationError"])
    assert errors == [None] * cap + ["DAILY_LIMIT_REACHED"]
    last = response.get_json()["data"]["ticketId"]

    escalated = client.post(f"{BASE}/escalate", json={"ticketId": last}, headers=alice.headers)
    assert escalated.status_code == 200
    assert escalated.get_json()["data"]["gamificationError"] == "DAILY_LIMIT_REACHED"

    assert ticket_count() == cap + 1
    assert len(ledger(alice.customer.id)) == cap
    customer = db.session.get(Customer, alice.customer.id)
    assert (customer.points, customer.credit_balance) == (10 * cap, Decimal("0.20") * cap)


# --------------------------------------------------------------------------- access


ENDPOINTS = [
    ("post", "/", {"serviceType": "ride", "rideId": 1, "issueType": "OTHER",
                   "description": DESCRIPTION}, roles.CREATE),
    ("get", "/1", None, roles.TRACK),
    ("post", "/escalate", {"ticketId": 1}, roles.ESCALATE),
    ("post", "/close", {"ticketId": 1}, roles.CLOSE),
]


@pytest.mark.parametrize("method,path,body,permission", ENDPOINTS)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"}])
def test_unauthorized(client, method, path, body, permission, headers):
    response = getattr(client, method)(BASE + path, json=body, headers=headers)
    assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("method,path,body,permission", ENDPOINTS)
def test_permission_denied_is_data(client, factory, method, path, body, permission):
    alice = factory.customer()
    with factory.revoked(permission):
        response = getattr(client, method)(BASE + path, json=body, headers=alice.headers)
        assert_error(response, 403, "PERMISSION_DENIED")
    response = getattr(client, method)(BASE + path, json=body, headers=alice.headers)
    assert response.status_code != 403


@pytest.mark.parametrize("method,path,body,permission", ENDPOINTS)
def test_customer_not_found_for_staff_account(client, factory, method, path, body, permission):
    admin = factory.staff(roles.ADMIN)
    response = getattr(client, method)(BASE + path, json=body, headers=admin.headers)
    assert_error(response, 404, "CUSTOMER_NOT_FOUND")
