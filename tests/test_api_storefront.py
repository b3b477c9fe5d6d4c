"""Storefront support (seed 000), customer side: order-tracking and legacy routes."""
from __future__ import annotations

import pytest

from support_app.extensions import db
from support_app.models import EmailLog, InternalNote, Ticket
from support_app.security import roles

STAFF_ROLES = (roles.SUPPORT_AGENT, roles.FULFILLMENT, roles.STORE_MANAGER, roles.ADMIN)


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is False and body["message"] and body["code"]
    if code:
        assert body["code"] == code
    return body


@pytest.fixture
def people(factory):
    a = factory.customer(name="Alice Buyer", email="alice@example.com")
    b = factory.customer(name="Bob Other", email="bob@example.com")
    return a, b


def test_create_order_ticket_links_order_and_queues_confirmation(client, factory, people,
                                                                 recorded_events):
    a, _b = people
    order = factory.order(a.customer)
    r = client.post("/api/customer/orders/support", headers=a.headers,
                    json={"subject": "Where is my parcel?", "message": "It is late.",
                          "orderId": order.id, "priority": "high"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["success"] is True
    data = body["data"]
    assert data["ticketNumber"].startswith("TKT-")
    assert (data["orderId"], data["orderNumber"]) == (order.id, order.order_number)
    assert (data["status"], data["priority"], data["category"]) == ("open", "high", "order")
    assert data["messages"] == []
    created = [e for e in recorded_events if e.name == "ticket.created"]
    assert created and created[0].data["notify"] is True
    logs = db.session.query(EmailLog).filter_by(ticket_id=data["id"]).all()
    assert [log.template for log in logs] == ["ticket_received"]


def test_legacy_create_sends_no_notifications(client, people, recorded_events):
    a, _b = people
    r = client.post("/api/customer/support", headers=a.headers,
                    json={"subject": "Legacy", "message": "Old client"})
    assert r.status_code == 201
    ticket_id = r.get_json()["data"]["id"]
    created = [e for e in recorded_events if e.name == "ticket.created"]
    assert created[0].data["notify"] is False
    assert db.session.query(EmailLog).filter_by(ticket_id=ticket_id).count() == 0


@pytest.mark.parametrize("path", ["/api/customer/orders/support", "/api/customer/support"])
def test_list_shows_only_own_tickets_with_thread_and_no_notes(client, factory, people, path):
    a, b = people
    admin = factory.staff(roles.ADMIN)
    mine = factory.ticket(a)
    factory.ticket(b, subject="Bob's secret")
    from support_app.tickets import service

    service.add_message(admin.actor, mine.id, "We are on it")
    service.add_note(admin.actor, mine.id, "internal: customer is VIP")
    r = client.get(path, headers=a.headers)
    assert r.status_code == 200
    body = r.get_json()
    assert body["pagination"] == {"page": 1, "perPage": 20, "total": 1}
    [ticket] = body["data"]
    assert ticket["id"] == mine.id
    assert [m["message"] for m in ticket["messages"]] == ["We are on it"]
    assert "VIP" not in r.get_data(as_text=True) and "secret" not in r.get_data(as_text=True)
    assert db.session.query(InternalNote).count() == 1


def test_list_pages(client, factory, people):
    a, _b = people
    for n in range(3):
        factory.ticket(a, subject=f"T{n}")
    r = client.get("/api/customer/orders/support?page=2&perPage=2", headers=a.headers)
    body = r.get_json()
    assert body["pagination"] == {"page": 2, "perPage": 2, "total": 3}
    assert [t["subject"] for t in body["data"]] == ["T0"]
    assert_error(client.get("/api/customer/orders/support?perPage=1000", headers=a.headers), 400)


def test_reply_by_owner_reopens_resolved_ticket(client, factory, people):
    a, _b = people
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(a)
    from support_app.tickets import service

    service.update_ticket(admin.actor, ticket.id, status="in_progress")
    service.update_ticket(admin.actor, ticket.id, status="resolved")
    r = client.post(f"/api/customer/orders/support/{ticket.id}/reply", headers=a.headers,
                    json={"message": "Still broken"})
    assert r.status_code == 201
    data = r.get_json()["data"]
    assert data["message"]["senderType"] == "customer"
    assert data["message"]["message"] == "Still broken"
    assert data["ticket"]["status"] == "open"


def test_reply_refusals(client, factory, people):
    a, b = people
    ticket = factory.ticket(a)
    assert_error(client.post(f"/api/customer/orders/support/{ticket.id}/reply",
                             headers=b.headers, json={"message": "mine now"}), 403)
    assert_error(client.post("/api/customer/orders/support/999999/reply",
                             headers=a.headers, json={"message": "x"}), 404)
    body = assert_error(client.post(f"/api/customer/orders/support/{ticket.id}/reply",
                                    headers=a.headers, json={"message": ""}), 400)
    assert "message" in body["errors"]
    assert db.session.get(Ticket, ticket.id).message_count == 0


def test_create_validation_and_foreign_order(client, factory, people):
    a, b = people
    body = assert_error(client.post("/api/customer/orders/support", headers=a.headers,
                                    json={"subject": "", "category": "nope"}), 400)
    assert {"subject", "message", "category"} <= set(body["errors"])
    foreign = factory.order(b.customer)
    assert_error(client.post("/api/customer/orders/support", headers=a.headers,
                             json={"subject": "S", "message": "M", "orderId": foreign.id}), 404)
    assert_error(client.post("/api/customer/orders/support", headers=a.headers,
                             data="not json", content_type="application/json"), 400)
    assert db.session.query(Ticket).count() == 0


ROUTES = [
    ("get", "/api/customer/orders/support", None),
    ("post", "/api/customer/orders/support", {"subject": "S", "message": "M"}),
    ("post", "/api/customer/orders/support/{id}/reply", {"message": "M"}),
    ("post", "/api/customer/support", {"subject": "S", "message": "M"}),
    ("get", "/api/customer/support", None),
]


@pytest.mark.parametrize("method,path,body", ROUTES)
@pytest.mark.parametrize("who", ["anonymous", "bad-token", "customer A", "customer B",
                                 *STAFF_ROLES])
def test_every_route_by_role(client, factory, people, method, path, body, who):
    a, b = people
    ticket = factory.ticket(a)
    url = path.format(id=ticket.id)
    known = {"anonymous": {}, "bad-token": {"Authorization": "Bearer not-a-token"},
             "customer A": a.headers, "customer B": b.headers}
    headers = known[who] if who in known else factory.staff(who).headers
    r = getattr(client, method)(url, headers=headers, json=body)
    if who in ("anonymous", "bad-token"):
        assert_error(r, 401, "UNAUTHORIZED")
    elif who in STAFF_ROLES:
        assert_error(r, 403)  # staff use the admin routes; these are for customer accounts
    elif who == "customer B" and "reply" in path:
        assert_error(r, 403)
    else:
        assert r.status_code in (200, 201), r.get_json()
        assert r.get_json()["success"] is True
        if who == "customer B" and method == "get":
            assert r.get_json()["data"] == []


def test_unknown_method_and_path_use_the_surface_format(client, people):
    a, _b = people
    assert_error(client.delete("/api/customer/support", headers=a.headers), 405)
    assert_error(client.get("/api/customer/orders/support/1/nope", headers=a.headers), 404)


def test_openapi_documents_the_surfaces(client):
    spec = client.get("/api/openapi.json").get_json()
    tags = {t["name"] for t in spec["tags"]}
    assert {"Storefront support (000)", "Storefront admin (000)", "Contact"} <= tags
    op = spec["paths"]["/api/customer/orders/support"]["post"]
    assert op["security"] == [{"bearerAuth": []}]
    assert {"201", "400", "401", "403", "404"} <= set(op["responses"])
    admin_op = spec["paths"]["/api/admin/support/{id}"]["patch"]
    assert admin_op["security"] == [{"sessionCookie": []}]
    assert {"200", "400", "401", "403", "404"} <= set(admin_op["responses"])
    assert "429" in spec["paths"]["/api/contact"]["post"]["responses"]
