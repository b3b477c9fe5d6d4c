"""Munch surface (seed 001): order tickets, tracking, escalation, every documented error."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import PointsTransaction, Ticket
from support_app.security import roles
from support_app.tickets import queries, service

BASE = "/api/customer/munch/support"
GOOD_DESCRIPTION = "The pizza arrived cold and half the order was missing."


def create(client, person, order, **overrides):
    body = {"orderId": order.id, "issueType": "FOOD_QUALITY", "description": GOOD_DESCRIPTION}
    body.update(overrides)
    return client.post(f"{BASE}/ticket", json=body, headers=person.headers)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["status"] == "error"
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def ticket_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Ticket.id)))


# --------------------------------------------------------------------------- create


def test_create_ticket_for_own_order(client, factory, recorded_events):
    alice = factory.customer()
    order = factory.order(alice.customer)

    response = create(client, alice, order)

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "success"
    data = body["data"]
    assert set(data) == {"ticketId", "ticketNumber", "status"}
    assert data["status"] == "OPEN"
    assert data["ticketNumber"].startswith("TKT-")
    ticket = db.session.get(Ticket, data["ticketId"])
    assert ticket.number == data["ticketNumber"]
    assert ticket.customer_id == alice.customer.id
    assert (ticket.order_id, ticket.service_type) == (order.id, "order")
    assert (ticket.issue_type, ticket.category) == ("FOOD_QUALITY", "quality")
    assert ticket.description == GOOD_DESCRIPTION
    assert ticket.subject == GOOD_DESCRIPTION
    created = [e for e in recorded_events if e.name == "ticket.created"]
    assert [(e.origin, e.ticket.id) for e in created] == [("munch", ticket.id)]
    # Munch documents no gamification.
    assert db.session.scalar(select(func.count(PointsTransaction.id))) == 0


def test_munch_ticket_is_the_desk_ticket(client, factory):
    alice = factory.customer()
    order = factory.order(alice.customer)
    ticket_id = create(client, alice, order).get_json()["data"]["ticketId"]

    admin = factory.staff(roles.ADMIN)
    seen = db.session.scalars(queries.visible_tickets(admin.actor)).all()
    assert [t.id for t in seen] == [ticket_id]
    assert service.get_ticket(alice.actor, ticket_id).order_id == order.id
    # The mtxi surface reads the same row.
    tracked = client.get(f"/api/customer/mtxi/support/{ticket_id}", headers=alice.headers)
    assert tracked.get_json()["data"]["order"]["orderNumber"] == order.order_number


@pytest.mark.parametrize("body", [
    {},
    {"issueType": "FOOD_QUALITY", "description": GOOD_DESCRIPTION},
    {"orderId": "1", "issueType": "FOOD_QUALITY", "description": GOOD_DESCRIPTION},
    {"orderId": True, "issueType": "FOOD_QUALITY", "description": GOOD_DESCRIPTION},
    {"orderId": 1.5, "issueType": "FOOD_QUALITY", "description": GOOD_DESCRIPTION},
    {"orderId": 2**31, "issueType": "FOOD_QUALITY", "description": GOOD_DESCRIPTION},
    {"orderId": 1, "issueType": 7, "description": GOOD_DESCRIPTION},
    {"orderId": 1, "issueType": "FOOD_QUALITY", "description": None},
    {"orderId": 1, "issueType": "FOOD_QUALITY", "description": GOOD_DESCRIPTION, "x": 1},
    [1, 2, 3],
])
def test_create_rejects_malformed_body(client, factory, body):
    alice = factory.customer()
    response = client.post(f"{BASE}/ticket", json=body, headers=alice.headers)
    error = assert_error(response, 400, "INVALID_REQUEST")
    assert error["message"] == "Invalid request parameters"
    assert ticket_count() == 0


@pytest.mark.parametrize("description", ["too short", " " * 20, "x" * 1001, "bad\x00text here"])
def test_create_enforces_description_10_to_1000(client, factory, description):
    alice = factory.customer()
    order = factory.order(alice.customer)
    response = create(client, alice, order, description=description)
    error = assert_error(response, 400, "INVALID_REQUEST")
    assert "description" in error["errors"]
    assert ticket_count() == 0


@pytest.mark.parametrize("length", [10, 1000])
def test_create_accepts_description_bounds(client, factory, length):
    alice = factory.customer()
    order = factory.order(alice.customer)
    description = "d" * length
    response = create(client, alice, order, description=description)
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["status"] == "OPEN"
    ticket = db.session.get(Ticket, data["ticketId"])
    assert (ticket.number, ticket.customer_id, ticket.order_id) == (
        data["ticketNumber"], alice.customer.id, order.id)
    assert ticket.description == description  # stored whole, never cut to the subject
    # The subject is the description's first line, at most 80 characters.
    assert ticket.subject == (description if length <= 80 else "d" * 79 + "…")
    assert ticket_count() == 1


def test_create_rejects_non_json_body(client, factory):
    alice = factory.customer()
    response = client.post(f"{BASE}/ticket", data="{not json",
                           headers={**alice.headers, "Content-Type": "application/json"})
    assert_error(response, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("issue_type", ["food_quality", "COLD_FOOD", ""])
def test_create_rejects_unknown_issue_type(client, factory, issue_type):
    alice = factory.customer()
    order = factory.order(alice.customer)
    assert_error(create(client, alice, order, issueType=issue_type), 400, "INVALID_ISSUE_TYPE")
    assert ticket_count() == 0


def test_every_documented_issue_type_is_accepted(client, factory):
    from support_app.api.munch import ISSUE_CATEGORIES

    alice = factory.customer()
    order = factory.order(alice.customer)
    for issue_type, category in ISSUE_CATEGORIES.items():
        data = create(client, alice, order, issueType=issue_type).get_json()["data"]
        assert db.session.get(Ticket, data["ticketId"]).category == category


def test_order_not_found_also_for_another_customers_order(client, factory):
    alice, bob = factory.customer(), factory.customer()
    bobs_order = factory.order(bob.customer)

    missing = assert_error(create(client, alice, bobs_order, orderId=999_999), 404,
                           "ORDER_NOT_FOUND")
    foreign = assert_error(create(client, alice, bobs_order), 404, "ORDER_NOT_FOUND")
    assert foreign == missing
    assert ticket_count() == 0


# --------------------------------------------------------------------------- access


ENDPOINTS = [
    ("post", "/ticket", {"orderId": 1, "issueType": "OTHER", "description": GOOD_DESCRIPTION},
     roles.CREATE),
    ("get", "/ticket/1/status", None, roles.TRACK),
    ("put", "/ticket/escalate", {"ticketId": 1}, roles.ESCALATE),
]


@pytest.mark.parametrize("method,path,body,permission", ENDPOINTS)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_unauthorized_without_a_valid_token(client, method, path, body, permission, headers):
    response = getattr(client, method)(BASE + path, json=body, headers=headers)
    assert_error(response, 401, "UNAUTHORIZED")


def test_unauthorized_comes_before_body_validation(client):
    response = client.post(f"{BASE}/ticket", json={"orderId": "x"})
    assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("method,path,body,permission", ENDPOINTS)
def test_permission_denied_when_the_customer_role_loses_the_permission(
        client, factory, method, path, body, permission):
    alice = factory.customer()
    with factory.revoked(permission):
        response = getattr(client, method)(BASE + path, json=body, headers=alice.headers)
        assert_error(response, 403, "PERMISSION_DENIED")
    # Granting it back (data, not code) restores access past the permission check.
    response = getattr(client, method)(BASE + path, json=body, headers=alice.headers)
    assert response.status_code != 403


@pytest.mark.parametrize("method,path,body,permission", ENDPOINTS)
def test_staff_without_the_permission_are_denied(client, factory, method, path, body,
                                                 permission):
    agent = factory.agent()
    response = getattr(client, method)(BASE + path, json=body, headers=agent.headers)
    assert_error(response, 403, "PERMISSION_DENIED")


@pytest.mark.parametrize("method,path,body,permission", ENDPOINTS)
def test_customer_not_found_for_a_user_without_customer_record(client, factory, method, path,
                                                               body, permission):
    admin = factory.staff(roles.ADMIN)  # holds every permission, is nobody's customer
    response = getattr(client, method)(BASE + path, json=body, headers=admin.headers)
    assert_error(response, 404, "CUSTOMER_NOT_FOUND")


# --------------------------------------------------------------------------- track


def test_track_reports_the_documented_fields(client, factory):
    alice = factory.customer()
    order = factory.order(alice.customer)
    ticket_id = create(client, alice, order).get_json()["data"]["ticketId"]
    admin = factory.staff(roles.ADMIN)
    service.update_ticket(admin.actor, ticket_id, status="resolved",
                          resolution_details="Refunded the pizza.")

    response = client.get(f"{BASE}/ticket/{ticket_id}/status", headers=alice.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "success"
    data = body["data"]
    ticket = db.session.get(Ticket, ticket_id)
    assert data == {
        "ticketId": ticket_id,
        "ticketNumber": ticket.number,
        "status": "RESOLVED",
        "priority": "MEDIUM",
        "issueType": "FOOD_QUALITY",
        "orderId": order.id,
        "orderNumber": order.order_number,
        "resolutionDetails": "Refunded the pizza.",
        "createdAt": ticket.created_at.replace(microsecond=0).isoformat() + "Z",
    }


def test_track_in_progress_spelling(client, factory):
    alice = factory.customer()
    ticket = factory.ticket(alice)
    service.update_ticket(factory.staff(roles.ADMIN).actor, ticket.id, status="in_progress")
    data = client.get(f"{BASE}/ticket/{ticket.id}/status", headers=alice.headers).get_json()
    assert data["data"]["status"] == "IN_PROGRESS"
    assert data["data"]["orderId"] is None and data["data"]["orderNumber"] is None


@pytest.mark.parametrize("ticket_id", ["999999", "0", "-3", str(2**31), str(10**30)])
def test_track_unknown_ticket(client, factory, ticket_id):
    alice = factory.customer()
    response = client.get(f"{BASE}/ticket/{ticket_id}/status", headers=alice.headers)
    assert_error(response, 404, "TICKET_NOT_FOUND")


def test_track_another_customers_ticket_is_not_found(client, factory):
    alice, bob = factory.customer(), factory.customer()
    bobs = factory.ticket(bob)
    missing = client.get(f"{BASE}/ticket/{bobs.id + 1000}/status", headers=alice.headers)
    foreign = client.get(f"{BASE}/ticket/{bobs.id}/status", headers=alice.headers)
    assert assert_error(foreign, 404, "TICKET_NOT_FOUND") == missing.get_json()


# --------------------------------------------------------------------------- escalate


def test_escalate_raises_priority_once(client, factory, recorded_events):
    alice = factory.customer()
    order = factory.order(alice.customer)
    data = create(client, alice, order).get_json()["data"]

    response = client.put(f"{BASE}/ticket/escalate", json={"ticketId": data["ticketId"]},
                          headers=alice.headers)

    assert response.status_code == 200
    assert response.get_json() == {"status": "success", "data": {
        "ticketId": data["ticketId"], "ticketNumber": data["ticketNumber"], "status": "OPEN"}}
    ticket = db.session.get(Ticket, data["ticketId"])
    assert (ticket.escalation_level, ticket.priority) == (1, "high")
    escalated = [e for e in recorded_events if e.name == "ticket.escalated"]
    assert [(e.origin, e.ticket.id) for e in escalated] == [("munch", ticket.id)]
    tracked = client.get(f"{BASE}/ticket/{ticket.id}/status", headers=alice.headers)
    assert tracked.get_json()["data"]["priority"] == "HIGH"

    again = client.put(f"{BASE}/ticket/escalate", json={"ticketId": ticket.id},
                       headers=alice.headers)
    assert_error(again, 400, "TICKET_ALREADY_ESCALATED")


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_cannot_escalate_a_finished_ticket(client, factory, status):
    alice = factory.customer()
    ticket = factory.ticket(alice)
    service.update_ticket(factory.staff(roles.ADMIN).actor, ticket.id, status=status)
    response = client.put(f"{BASE}/ticket/escalate", json={"ticketId": ticket.id},
                          headers=alice.headers)
    assert_error(response, 400, "CANNOT_ESCALATE_TICKET")
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).escalation_level == 0


def test_escalate_another_customers_ticket_is_not_found(client, factory):
    alice, bob = factory.customer(), factory.customer()
    bobs = factory.ticket(bob)
    for ticket_id in (bobs.id, bobs.id + 1000):
        response = client.put(f"{BASE}/ticket/escalate", json={"ticketId": ticket_id},
                              headers=alice.headers)
        assert_error(response, 404, "TICKET_NOT_FOUND")
    db.session.expire_all()
    assert db.session.get(Ticket, bobs.id).escalation_level == 0


@pytest.mark.parametrize("body", [{}, {"ticketId": "1"}, {"ticketId": 0}, {"ticketId": None},
                                  {"ticketId": 2**40}])
def test_escalate_rejects_malformed_body(client, factory, body):
    alice = factory.customer()
    response = client.put(f"{BASE}/ticket/escalate", json=body, headers=alice.headers)
    assert_error(response, 400, "INVALID_REQUEST")


def test_wrong_method_is_answered_in_the_munch_format(client, factory):
    alice = factory.customer()
    response = client.get(f"{BASE}/ticket/escalate", headers=alice.headers)
    assert response.status_code == 405
    assert response.get_json()["status"] == "error"
