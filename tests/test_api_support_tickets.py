"""The 002 support-tickets API, checked against the document's examples and rules."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import update

from support_app.extensions import db
from support_app.models import Message, Order, Ticket
from support_app.security import roles
from support_app.tickets import service

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TICKET_KEYS = {
    "id", "ticket_number", "customer_id", "assigned_to", "subject", "description", "status",
    "priority", "category", "message_count", "is_customer_read", "is_admin_read",
    "resolved_at", "closed_at", "last_replied_at", "last_replied_by", "created_at", "updated_at",
}
MESSAGE_KEYS = {
    "id", "ticket_id", "customer_id", "admin_id", "message", "sender_type", "is_read",
    "read_at", "attachments", "created_at", "updated_at", "customer", "admin",
}
PAGINATOR_KEYS = {
    "current_page", "data", "first_page_url", "from", "last_page", "last_page_url",
    "next_page_url", "path", "per_page", "prev_page_url", "to", "total",
}
DOC_CREATE = {
    "subject": "Issue with order #12345",
    "description": "I received the wrong product in my order. I ordered a blue shirt but "
                   "received a red one.",
    "priority": "high",
    "category": "order",
}

from .querycount import count_queries


def fail(response, status, message=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["success"] is False
    if message is not None:
        assert body["message"] == message
    return body


# --------------------------------------------------------------------------- 1. create


def test_customer_creates_ticket_as_documented(client, factory):
    john = factory.customer("John Doe", "john@example.com")
    r = client.post("/api/support-tickets", json=DOC_CREATE, headers=john.headers)
    assert r.status_code == 201
    body = r.get_json()
    assert body["success"] is True
    assert body["message"] == "Support ticket created successfully"
    data = body["data"]
    assert set(data) == TICKET_KEYS | {"customer"}
    assert re.fullmatch(r"TKT-[0-9A-F]{13}", data["ticket_number"])
    assert data["customer"] == {"id": john.customer.id, "name": "John Doe",
                                "email": "john@example.com"}
    assert data["customer_id"] == john.customer.id
    assert (data["status"], data["priority"], data["category"]) == ("open", "high", "order")
    assert data["message_count"] == 0
    assert data["is_customer_read"] is True and data["is_admin_read"] is False
    assert data["assigned_to"] is None and data["last_replied_by"] is None
    assert data["resolved_at"] is None and data["closed_at"] is None
    assert STAMP.match(data["created_at"]) and STAMP.match(data["updated_at"])


def test_create_defaults_priority_medium_and_category_other(client, factory):
    john = factory.customer()
    r = client.post("/api/support-tickets", headers=john.headers,
                    json={"subject": "Product not as described",
                          "description": "The product does not match the description."})
    assert r.status_code == 201
    assert (r.get_json()["data"]["priority"], r.get_json()["data"]["category"]) == (
        "medium", "other")
    r = client.post("/api/support-tickets", headers=john.headers,
                    json={"subject": "Nulls", "description": "Null enums mean defaults.",
                          "priority": None, "category": None})
    assert (r.get_json()["data"]["priority"], r.get_json()["data"]["category"]) == (
        "medium", "other")


def test_create_validation_messages_are_laravel_style(client, factory):
    john = factory.customer()
    r = client.post("/api/support-tickets", json={"description": "short"}, headers=john.headers)
    body = fail(r, 422, "Validation failed")
    assert body["errors"] == {
        "subject": ["The subject field is required."],
        "description": ["The description must be at least 10 characters."],
    }
    r = client.post("/api/support-tickets", headers=john.headers, json={
        "subject": "x" * 256, "description": "d" * 5001, "priority": "critical",
        "category": "weather"})
    errors = fail(r, 422)["errors"]
    assert errors == {
        "subject": ["The subject may not be greater than 255 characters."],
        "description": ["The description may not be greater than 5000 characters."],
        "priority": ["The selected priority is invalid."],
        "category": ["The selected category is invalid."],
    }
    r = client.post("/api/support-tickets", headers=john.headers,
                    json={"subject": 123, "description": ["a list"], "priority": 3})
    errors = fail(r, 422)["errors"]
    assert errors["subject"] == ["The subject must be a string."]
    assert errors["description"] == ["The description must be a string."]
    assert errors["priority"] == ["The selected priority is invalid."]
    r = client.post("/api/support-tickets", headers=john.headers,
                    json={"subject": "   ", "description": "  long enough text  "})
    assert fail(r, 422)["errors"] == {"subject": ["The subject field is required."]}
    assert db.session.query(Ticket).count() == 0


def test_create_refuses_malformed_and_unexpected_bodies(client, factory, app):
    john = factory.customer()
    r = client.post("/api/support-tickets", data="{not json", headers=john.headers,
                    content_type="application/json")
    fail(r, 400)
    r = client.post("/api/support-tickets", json=["subject"], headers=john.headers)
    assert "_schema" in fail(r, 422)["errors"]
    r = client.post("/api/support-tickets", headers=john.headers,
                    json={**DOC_CREATE, "status": "closed"})
    assert fail(r, 422)["errors"] == {"status": ["This field is not allowed."]}
    r = client.post("/api/support-tickets", headers=john.headers,
                    json={**DOC_CREATE, "description": "NUL \x00 inside the text"})
    assert "description" in fail(r, 422)["errors"]
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 2000
    try:
        r = client.post("/api/support-tickets", headers=john.headers,
                        json={**DOC_CREATE, "description": "x" * 4000})
        fail(r, 413)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert db.session.query(Ticket).count() == 0


def test_unauthenticated_gets_401_before_validation(client, factory):
    r = client.post("/api/support-tickets", json={})
    fail(r, 401)
    r = client.get("/api/support-tickets", headers={"Authorization": "Bearer not-a-token"})
    fail(r, 401)
    for path in ("/api/support-tickets/1", "/api/support-tickets/navbar/count",
                 "/api/support-tickets/navbar/latest", "/api/support-tickets/1/messages"):
        fail(client.get(path), 401)
    fail(client.put("/api/support-messages/1/read"), 401)
    fail(client.post("/api/orders/1/cancel"), 401)


def test_staff_cannot_create_tickets_for_nobody(client, factory):
    admin = factory.staff()
    r = client.post("/api/support-tickets", json=DOC_CREATE, headers=admin.headers)
    fail(r, 403, "Only customers can create support tickets")


# --------------------------------------------------------------------------- 2. list


def _tickets(factory, person, *specs):
    return [factory.ticket(person, **spec) for spec in specs]


def test_list_customer_sees_only_own_with_embeds(client, factory):
    john, jane = factory.customer("John Doe"), factory.customer("Jane Smith")
    mine = factory.ticket(john, subject="Mine")
    factory.ticket(jane, subject="Hers")
    r = client.get("/api/support-tickets", headers=john.headers)
    assert r.status_code == 200
    page = r.get_json()["data"]
    assert set(page) == PAGINATOR_KEYS
    assert [t["id"] for t in page["data"]] == [mine.id]
    item = page["data"][0]
    assert set(item) == TICKET_KEYS | {"customer", "assigned_admin"}
    assert item["customer"] == {"id": john.customer.id, "name": "John Doe",
                                "email": john.user.email}
    assert item["assigned_admin"] is None


def test_list_statements_built_once_never_mix_up_viewers(client, factory):
    """The list's statements are built once per shape and bound per request: the same
    shape (a customer searching open tickets, an agent's default view) asked by
    different people, one after the other, gives each their own tickets and totals."""
    john, jane = factory.customer("John"), factory.customer("Jane")
    johns = _tickets(factory, john, {"subject": "Parcel late"}, {"subject": "Parcel lost"})
    janes = _tickets(factory, jane, {"subject": "Parcel torn"})
    agent, other = factory.agent(), factory.agent()
    service.assign_self(agent.actor, johns[0].id)
    service.assign_self(other.actor, janes[0].id)
    query = "/api/support-tickets?status=open&search=Parcel"

    def ids(person, path):
        page = client.get(path, headers=person.headers).get_json()["data"]
        assert page["total"] == len(page["data"])
        return sorted(t["id"] for t in page["data"])

    for _ in range(2):
        assert ids(john, query) == [johns[1].id]  # the other one is in progress now
        assert ids(jane, query) == []
        assert ids(john, "/api/support-tickets") == sorted(t.id for t in johns)
        assert ids(jane, "/api/support-tickets") == [janes[0].id]
        # agents: their own tickets and the unassigned pool
        assert ids(agent, "/api/support-tickets") == sorted([johns[0].id, johns[1].id])
        assert ids(other, "/api/support-tickets") == sorted([janes[0].id, johns[1].id])


def test_list_documented_example_for_staff(client, factory):
    john = factory.customer()
    admin = factory.staff(name="Admin User")
    agent = factory.agent()
    wanted = factory.ticket(john, priority="high")
    factory.ticket(john, priority="low")
    service.assign_self(agent.actor, wanted.id)  # moves it to in_progress
    service.update_ticket(admin.actor, wanted.id, status="in_progress")
    open_high = factory.ticket(john, priority="high")
    r = client.get("/api/support-tickets?status=open&priority=high&per_page=10",
                   headers=admin.headers)
    page = r.get_json()["data"]
    assert [t["id"] for t in page["data"]] == [open_high.id]
    assert page["per_page"] == 10 and page["total"] == 1
    r = client.get("/api/support-tickets?status=in_progress", headers=admin.headers)
    item = r.get_json()["data"]["data"][0]
    assert item["assigned_admin"] == {"id": agent.id, "name": agent.user.name,
                                      "email": agent.user.email}
    assert item["assigned_to"] == agent.id


def test_paginator_object_and_urls_keep_query(client, factory):
    john = factory.customer()
    made = _tickets(factory, john, *[{"subject": f"T{i}"} for i in range(5)])
    r = client.get("/api/support-tickets?per_page=2&page=2&status=open&sort_order=asc",
                   headers=john.headers)
    page = r.get_json()["data"]
    base = "http://localhost/api/support-tickets"
    assert page == {
        "current_page": 2,
        "data": page["data"],
        "first_page_url": f"{base}?per_page=2&status=open&sort_order=asc&page=1",
        "from": 3,
        "last_page": 3,
        "last_page_url": f"{base}?per_page=2&status=open&sort_order=asc&page=3",
        "next_page_url": f"{base}?per_page=2&status=open&sort_order=asc&page=3",
        "path": base,
        "per_page": 2,
        "prev_page_url": f"{base}?per_page=2&status=open&sort_order=asc&page=1",
        "to": 4,
        "total": 5,
    }
    assert [t["id"] for t in page["data"]] == [made[2].id, made[3].id]
    beyond = client.get("/api/support-tickets?page=9", headers=john.headers).get_json()["data"]
    assert beyond["data"] == [] and beyond["from"] is None and beyond["to"] is None
    assert beyond["current_page"] == 9 and beyond["last_page"] == 1
    assert beyond["prev_page_url"].endswith("page=8") and beyond["next_page_url"] is None
    default = client.get("/api/support-tickets", headers=john.headers).get_json()["data"]
    assert default["per_page"] == 15 and default["first_page_url"] == f"{base}?page=1"
    assert default["next_page_url"] is None and default["prev_page_url"] is None


def test_empty_list(client, factory):
    john = factory.customer()
    page = client.get("/api/support-tickets", headers=john.headers).get_json()["data"]
    assert page["total"] == 0 and page["data"] == [] and page["last_page"] == 1
    assert page["from"] is None and page["to"] is None


@pytest.mark.parametrize("query, field", [
    ("per_page=0", "per_page"), ("per_page=101", "per_page"), ("per_page=abc", "per_page"),
    ("page=0", "page"), ("page=-1", "page"), ("page=99999999999999999999", "page"),
    ("status=pending", "status"), ("priority=critical", "priority"),
    ("category=weather", "category"), ("sort_by=password", "sort_by"),
    ("sort_order=up", "sort_order"), ("date_from=yesterday", "date_from"),
    ("customer_id=x", "customer_id"), ("search=" + "s" * 256, "search"),
])
def test_list_rejects_bad_query_args(client, factory, query, field):
    admin = factory.staff()
    r = client.get(f"/api/support-tickets?{query}", headers=admin.headers)
    assert field in fail(r, 422, "Validation failed")["errors"]


def test_messages_for_bad_query_args(client, factory):
    admin = factory.staff()
    errors = client.get("/api/support-tickets?per_page=500&sort_by=x",
                        headers=admin.headers).get_json()["errors"]
    assert errors == {"per_page": ["The per page must be between 1 and 100."],
                      "sort_by": ["The selected sort by is invalid."]}


def test_blank_query_values_mean_no_filter(client, factory):
    john = factory.customer()
    factory.ticket(john)
    r = client.get("/api/support-tickets?status=&priority=&search=", headers=john.headers)
    assert r.get_json()["data"]["total"] == 1


def test_filters_combine(client, factory):
    john = factory.customer()
    admin = factory.staff()
    a = factory.ticket(john, priority="urgent", category="billing", subject="Payment failed")
    factory.ticket(john, priority="urgent", category="order", subject="Payment failed too")
    factory.ticket(john, priority="low", category="billing", subject="Payment question")
    r = client.get("/api/support-tickets?priority=urgent&category=billing&search=payment",
                   headers=admin.headers)
    assert [t["id"] for t in r.get_json()["data"]["data"]] == [a.id]


def test_surface_vocabulary_for_other_surfaces_values(client, factory):
    """on_hold prints (and filters) as in_progress; 003's `damaged` as order."""
    john = factory.customer()
    admin = factory.staff()
    held = factory.ticket(john, category="damaged")
    service.update_ticket(admin.actor, held.id, status="on_hold")
    r = client.get("/api/support-tickets?status=in_progress&category=order",
                   headers=john.headers)
    item = r.get_json()["data"]["data"][0]
    assert (item["id"], item["status"], item["category"]) == (held.id, "in_progress", "order")


def test_search_is_literal_for_wildcards_and_backslash(client, factory):
    john = factory.customer()
    pct = factory.ticket(john, subject="Discount 100% off not applied")
    under = factory.ticket(john, subject="Field user_name is wrong")
    slash = factory.ticket(john, subject="Path C:\\Users broken")
    factory.ticket(john, subject="Discount 1000 off", description="username and C:Users here")

    def ids(term):
        r = client.get("/api/support-tickets", query_string={"search": term},
                       headers=john.headers)
        return {t["id"] for t in r.get_json()["data"]["data"]}

    assert ids("100%") == {pct.id}
    assert ids("user_name") == {under.id}
    assert ids("C:\\Users") == {slash.id}
    assert ids("DISCOUNT 100%") == {pct.id}  # case-insensitive
    assert ids("received the wrong") == {pct.id, under.id, slash.id}  # description


def test_staff_only_filters_are_ignored_for_customers(client, factory):
    john, jane = factory.customer(), factory.customer()
    admin = factory.staff()
    own = factory.ticket(john)
    hers = factory.ticket(jane)
    r = client.get(f"/api/support-tickets?customer_id={jane.customer.id}", headers=john.headers)
    assert [t["id"] for t in r.get_json()["data"]["data"]] == [own.id]
    r = client.get(f"/api/support-tickets?customer_id={jane.customer.id}", headers=admin.headers)
    assert [t["id"] for t in r.get_json()["data"]["data"]] == [hers.id]
    r = client.get("/api/support-tickets?date_from=2999-01-01", headers=john.headers)
    assert r.get_json()["data"]["total"] == 1


def test_staff_assigned_to_and_date_filters(client, factory):
    john = factory.customer()
    admin = factory.staff()
    agent = factory.agent()
    old, mid, new = _tickets(factory, john, {}, {}, {})
    service.assign_self(agent.actor, mid.id)
    db.session.execute(update(Ticket).where(Ticket.id == old.id)
                       .values(created_at=dt.datetime(2026, 1, 1, 8, 0)))
    db.session.execute(update(Ticket).where(Ticket.id == mid.id)
                       .values(created_at=dt.datetime(2026, 1, 22, 23, 59, 59)))
    db.session.execute(update(Ticket).where(Ticket.id == new.id)
                       .values(created_at=dt.datetime(2026, 2, 1, 0, 0)))
    db.session.commit()

    def ids(query):
        r = client.get(f"/api/support-tickets?{query}", headers=admin.headers)
        return [t["id"] for t in r.get_json()["data"]["data"]]

    assert ids(f"assigned_to={agent.id}") == [mid.id]
    assert ids("date_from=2026-01-22&date_to=2026-01-22") == [mid.id]  # date_to inclusive
    assert ids("date_from=2026-01-02") == [new.id, mid.id]
    assert ids("date_to=2026-01-31") == [mid.id, old.id]
    assert ids("date_to=9999-12-31&date_from=0001-01-01") == [new.id, mid.id, old.id]


def test_sorting(client, factory):
    john = factory.customer()
    admin = factory.staff()
    low = factory.ticket(john, priority="low", subject="b")
    urgent = factory.ticket(john, priority="urgent", subject="c")
    medium = factory.ticket(john, priority="medium", subject="a")
    service.add_message(admin.actor, low.id, "We are on it.")
    service.update_ticket(admin.actor, low.id, status="in_progress")

    def ids(query):
        r = client.get(f"/api/support-tickets?{query}", headers=john.headers)
        return [t["id"] for t in r.get_json()["data"]["data"]]

    assert ids("") == [medium.id, urgent.id, low.id]  # created_at desc by default
    assert ids("sort_by=priority") == [urgent.id, medium.id, low.id]
    assert ids("sort_by=priority&sort_order=asc") == [low.id, medium.id, urgent.id]
    assert ids("sort_by=subject&sort_order=asc") == [medium.id, low.id, urgent.id]
    assert ids("sort_by=id&sort_order=asc") == [low.id, urgent.id, medium.id]
    assert ids("sort_by=last_replied_at")[0] == low.id  # NULLs last
    assert ids("sort_by=last_replied_at&sort_order=asc")[0] == low.id
    assert ids("sort_by=status")[0] == low.id  # in_progress ranks above open


def test_list_has_no_n_plus_one(client, factory):
    admin = factory.staff()
    agent = factory.agent()
    people = [factory.customer() for _ in range(3)]
    service.assign_self(agent.actor, factory.ticket(people[0]).id)
    with count_queries() as few:
        assert client.get("/api/support-tickets", headers=admin.headers).status_code == 200
    for person in people:
        for _ in range(4):
            ticket = factory.ticket(person)
            service.assign_self(agent.actor, ticket.id)
    with count_queries() as many:
        r = client.get("/api/support-tickets", headers=admin.headers)
    assert r.get_json()["data"]["total"] == 13
    assert all(t["assigned_admin"] for t in r.get_json()["data"]["data"][:12])
    assert len(many) == len(few)


# --------------------------------------------------------------------------- 3. show


def test_show_ticket_for_owner_and_staff(client, factory):
    john = factory.customer("John Doe", phone="+1234567890")
    admin = factory.staff(name="Admin User")
    ticket = factory.ticket(john, **DOC_CREATE)
    service.add_message(admin.actor, ticket.id, "Looking into it.")
    service.assign_self(admin.actor, ticket.id)
    for person in (john, admin):
        r = client.get(f"/api/support-tickets/{ticket.id}", headers=person.headers)
        assert r.status_code == 200
        data = r.get_json()["data"]
        staff_only = {"unverified_sender"} if person is admin else set()  # test_staff_markers
        assert set(data) == TICKET_KEYS | {"customer", "assigned_admin", "last_replied_by_user"} \
            | staff_only
        assert data["customer"] == {"id": john.customer.id, "name": "John Doe",
                                    "email": john.user.email, "phone": "+1234567890"}
        staff_email = {"email": admin.user.email} if person is admin else {}  # customers: name only
        assert data["assigned_admin"] == {"id": admin.id, "name": "Admin User", **staff_email}
        assert data["last_replied_by_user"] == {"id": admin.id, "name": "Admin User"}
        assert data["last_replied_by"] == admin.id and STAMP.match(data["last_replied_at"])
        assert data["status"] == "in_progress" and data["message_count"] == 1


def test_show_missing_and_foreign_ticket(client, factory):
    john, jane = factory.customer(), factory.customer()
    hers = factory.ticket(jane)
    fail(client.get(f"/api/support-tickets/{hers.id}", headers=john.headers), 403,
         "Unauthorized access to this ticket")
    fail(client.get("/api/support-tickets/999999", headers=john.headers), 404,
         "Ticket not found")
    fail(client.get(f"/api/support-tickets/{2**63}", headers=john.headers), 404,
         "Ticket not found")
    fail(client.get("/api/support-tickets/abc", headers=john.headers), 404)


def test_another_customers_ticket_is_403_on_every_endpoint(client, factory):
    john, jane = factory.customer(), factory.customer()
    hers = factory.ticket(jane)
    message = service.add_message(jane.actor, hers.id, "Private words")
    order = factory.order(jane.customer)
    msg = "Unauthorized access to this ticket"
    fail(client.get(f"/api/support-tickets/{hers.id}", headers=john.headers), 403, msg)
    fail(client.get(f"/api/support-tickets/{hers.id}/messages", headers=john.headers), 403, msg)
    fail(client.post(f"/api/support-tickets/{hers.id}/messages", json={"message": "hi"},
                     headers=john.headers), 403, msg)
    fail(client.put(f"/api/support-messages/{message.id}/read", headers=john.headers), 403,
         "Unauthorized access")
    fail(client.post(f"/api/orders/{order.id}/cancel", headers=john.headers), 403,
         "You are not authorized to cancel this order")
    listed = client.get("/api/support-tickets", headers=john.headers).get_json()["data"]
    latest = client.get("/api/support-tickets/navbar/latest", headers=john.headers).get_json()
    assert listed["total"] == 0 and latest["data"] == []
    db.session.expire_all()
    assert db.session.get(Ticket, hers.id).message_count == 1
    assert db.session.get(Message, message.id).is_read is False
    assert db.session.get(Order, order.id).status == "pending"


def test_unapproved_agent_sees_nothing_and_approved_agent_sees_pool(client, factory):
    john = factory.customer()
    pending, approved, other = factory.agent(approved=False), factory.agent(), factory.agent()
    pool = factory.ticket(john)
    taken = factory.ticket(john)
    service.assign_self(other.actor, taken.id)
    r = client.get("/api/support-tickets", headers=pending.headers)
    assert r.get_json()["data"]["total"] == 0
    r = client.get("/api/support-tickets", headers=approved.headers)
    assert [t["id"] for t in r.get_json()["data"]["data"]] == [pool.id]
    fail(client.get(f"/api/support-tickets/{taken.id}", headers=approved.headers), 403)


# --------------------------------------------------------------------------- 4/5. navbar


def test_navbar_count_customer_shape_and_rule(client, factory):
    john = factory.customer()
    admin = factory.staff()
    t1, t2, t3 = _tickets(factory, john, {}, {}, {})
    factory.ticket(factory.customer())
    r = client.get("/api/support-tickets/navbar/count", headers=john.headers)
    assert r.get_json() == {"success": True, "total_unresolved": 3, "unread_count": 0,
                            "count": 3}
    service.add_message(admin.actor, t1.id, "Reply one")
    service.add_message(admin.actor, t2.id, "Reply two")
    service.update_ticket(admin.actor, t3.id, status="resolved")
    service.mark_ticket_read(john.actor, t3.id)
    r = client.get("/api/support-tickets/navbar/count", headers=john.headers)
    assert r.get_json() == {"success": True, "total_unresolved": 2, "unread_count": 2,
                            "count": 2}


def test_navbar_count_staff_shape_and_rule(client, factory):
    john = factory.customer()
    admin = factory.staff()
    tickets = _tickets(factory, john, {}, {}, {}, {})
    service.update_ticket(admin.actor, tickets[0].id, status="in_progress")
    service.update_ticket(admin.actor, tickets[1].id, status="resolved")
    r = client.get("/api/support-tickets/navbar/count", headers=admin.headers)
    assert r.get_json() == {"success": True, "total_tickets": 4, "open_tickets": 2,
                            "in_progress_tickets": 1, "unread_count": 4, "count": 4}
    for ticket in tickets:
        service.mark_ticket_read(admin.actor, ticket.id)
    r = client.get("/api/support-tickets/navbar/count", headers=admin.headers)
    assert r.get_json()["unread_count"] == 0
    assert r.get_json()["count"] == 3  # nothing unread: open + in progress


def test_navbar_latest(client, factory):
    john, jane = factory.customer("John Doe"), factory.customer("Jane Smith")
    admin = factory.staff()
    mine = _tickets(factory, john, *[{"subject": f"S{i}"} for i in range(6)])
    hers = factory.ticket(jane, subject="Payment not processed", priority="urgent")
    r = client.get("/api/support-tickets/navbar/latest", headers=john.headers)
    data = r.get_json()["data"]
    assert [t["id"] for t in data] == [t.id for t in reversed(mine)][:5]
    assert set(data[0]) == {"id", "ticket_number", "subject", "status", "priority",
                            "is_customer_read", "created_at", "customer"}
    assert data[0]["customer"] == {"id": john.customer.id, "name": "John Doe"}
    r = client.get("/api/support-tickets/navbar/latest?limit=2", headers=admin.headers)
    assert [t["id"] for t in r.get_json()["data"]] == [hers.id, mine[-1].id]
    fail(client.get("/api/support-tickets/navbar/latest?limit=0", headers=john.headers), 422)
    fail(client.get("/api/support-tickets/navbar/latest?limit=51", headers=john.headers), 422)


# --------------------------------------------------------------------------- 6/7. messages


def test_get_messages_marks_ticket_read_for_customer_and_staff(client, factory):
    john = factory.customer("John Doe")
    admin = factory.staff(name="Admin User")
    ticket = factory.ticket(john)
    service.add_message(john.actor, ticket.id, "I received the wrong product in my order.")
    service.add_message(admin.actor, ticket.id, "We'll send you the correct product.")

    r = client.get(f"/api/support-tickets/{ticket.id}/messages", headers=john.headers)
    assert r.status_code == 200
    first, second = r.get_json()["data"]
    assert set(first) == MESSAGE_KEYS
    assert first["sender_type"] == "customer" and first["admin"] is None
    assert first["customer"] == {"id": john.customer.id, "name": "John Doe",
                                 "email": john.user.email}
    assert first["is_read"] is False  # staff has not read it yet
    assert second["sender_type"] == "admin" and second["customer"] is None
    assert second["admin"] == {"id": admin.id, "name": "Admin User"}  # customers: no staff email
    assert second["is_read"] is True and STAMP.match(second["read_at"])
    assert second["message"] == "We'll send you the correct product."
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).is_customer_read is True

    r = client.get(f"/api/support-tickets/{ticket.id}/messages", headers=admin.headers)
    assert all(m["is_read"] for m in r.get_json()["data"])
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).is_admin_read is True
    fail(client.get("/api/support-tickets/424242/messages", headers=admin.headers), 404,
         "Ticket not found")


def test_customer_reply_follows_behaviour_notes(client, factory):
    john = factory.customer("John Doe")
    admin = factory.staff()
    ticket = factory.ticket(john)
    service.update_ticket(admin.actor, ticket.id, status="in_progress")
    service.mark_ticket_read(admin.actor, ticket.id)
    body = {"message": "Thank you for your help! When can I expect the replacement?"}
    r = client.post(f"/api/support-tickets/{ticket.id}/messages", json=body,
                    headers=john.headers)
    assert r.status_code == 201
    payload = r.get_json()
    assert payload["success"] is True and payload["message"] == "Message sent successfully"
    data = payload["data"]
    assert set(data) == MESSAGE_KEYS
    assert (data["sender_type"], data["customer_id"], data["admin_id"]) == (
        "customer", john.customer.id, None)
    assert data["is_read"] is False and data["read_at"] is None and data["attachments"] is None
    assert data["message"] == body["message"] and data["admin"] is None
    db.session.expire_all()
    stored = db.session.get(Ticket, ticket.id)
    assert (stored.status, stored.is_admin_read, stored.is_customer_read,
            stored.message_count) == ("in_progress", False, True, 1)
    assert stored.last_replied_at is None

    service.update_ticket(admin.actor, ticket.id, status="resolved")
    client.post(f"/api/support-tickets/{ticket.id}/messages", json={"message": "Not fixed"},
                headers=john.headers)
    db.session.expire_all()
    stored = db.session.get(Ticket, ticket.id)
    assert stored.status == "open" and stored.resolved_at is None and stored.message_count == 2


def test_staff_reply_follows_behaviour_notes(client, factory):
    john = factory.customer()
    admin = factory.staff(name="Admin User")
    ticket = factory.ticket(john)
    service.update_ticket(admin.actor, ticket.id, status="closed")
    label = client.post("/api/attachments", headers=admin.headers, data={
        "file": (io.BytesIO(b"%PDF-1.7\n" + b"0" * 64), "label.pdf")}).get_json()["data"]
    r = client.post(f"/api/support-tickets/{ticket.id}/messages", headers=admin.headers,
                    json={"message": "Reopening: replacement is on its way.",
                          "attachments": [label["url"]]})
    assert r.status_code == 201
    data = r.get_json()["data"]
    assert (data["sender_type"], data["admin_id"], data["customer_id"]) == ("admin", admin.id,
                                                                            None)
    assert data["attachments"] == [label["url"]]
    assert data["admin"]["name"] == "Admin User"
    db.session.expire_all()
    stored = db.session.get(Ticket, ticket.id)
    assert stored.status == "in_progress" and stored.closed_at is None
    assert (stored.is_customer_read, stored.is_admin_read) == (False, True)
    assert stored.last_replied_by_id == admin.id and stored.last_replied_at is not None
    assert stored.message_count == 1


def test_message_validation(client, factory):
    john = factory.customer()
    ticket = factory.ticket(john)
    url = f"/api/support-tickets/{ticket.id}/messages"
    assert fail(client.post(url, json={}, headers=john.headers), 422)["errors"] == {
        "message": ["The message field is required."]}
    assert fail(client.post(url, json={"message": ""}, headers=john.headers), 422)["errors"] == {
        "message": ["The message field is required."]}
    errors = fail(client.post(url, json={"message": "m" * 5001}, headers=john.headers), 422)
    assert errors["errors"] == {"message": ["The message may not be greater than 5000 characters."]}
    r = client.post(url, json={"message": "ok", "attachments": "not-a-list"}, headers=john.headers)
    assert fail(r, 422)["errors"] == {"attachments": ["The attachments must be an array."]}
    r = client.post(url, json={"message": "ok", "attachments": ["u"] * 11}, headers=john.headers)
    assert "attachments" in fail(r, 422)["errors"]
    r = client.post(url, json={"message": "ok", "attachments": [5]}, headers=john.headers)
    assert "attachments" in fail(r, 422)["errors"]
    fail(client.post("/api/support-tickets/987654/messages", json={"message": "hi"},
                     headers=john.headers), 404, "Ticket not found")
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).message_count == 0


# --------------------------------------------------------------------------- 8. read


def test_mark_message_read(client, factory):
    john = factory.customer()
    admin = factory.staff()
    ticket = factory.ticket(john)
    reply = service.add_message(admin.actor, ticket.id, "Answer")
    r = client.put(f"/api/support-messages/{reply.id}/read", headers=john.headers)
    assert r.status_code == 200
    assert r.get_json() == {"success": True, "message": "Message marked as read"}
    db.session.expire_all()
    stored = db.session.get(Message, reply.id)
    assert stored.is_read is True and stored.read_at is not None
    r = client.put(f"/api/support-messages/{reply.id}/read", headers=admin.headers)
    assert r.status_code == 200
    fail(client.put("/api/support-messages/55555/read", headers=john.headers), 404,
         "Message not found")
    fail(client.get(f"/api/support-messages/{reply.id}/read", headers=john.headers), 405)


# --------------------------------------------------------------------------- 9. cancel


def test_customer_cancels_own_order_as_documented(client, factory):
    john = factory.customer()
    order = factory.order(john.customer, status="processing")
    r = client.post(f"/api/orders/{order.id}/cancel", headers=john.headers,
                    json={"reason": "Changed my mind about the purchase"})
    assert r.status_code == 200
    body = r.get_json()
    assert body["success"] is True and body["message"] == "Order cancelled successfully"
    assert body["data"]["id"] == order.id
    assert body["data"]["order_number"] == order.order_number
    assert body["data"]["status"] == "cancelled"
    assert body["data"]["cancellation_reason"] == "Changed my mind about the purchase"
    assert STAMP.match(body["data"]["cancelled_at"])
    fail(client.post(f"/api/orders/{order.id}/cancel", headers=john.headers), 400,
         "Order cannot be cancelled. It has already been cancelled.")


@pytest.mark.parametrize("status, message", [
    ("shipped", "Order cannot be cancelled. It has already been shipped."),
    ("delivered", "Order cannot be cancelled. It has already been delivered."),
])
def test_cancel_refused_after_shipping(client, factory, status, message):
    john = factory.customer()
    order = factory.order(john.customer, status=status)
    fail(client.post(f"/api/orders/{order.id}/cancel", json={}, headers=john.headers), 400,
         message)


def test_staff_cancels_any_order_without_body(client, factory):
    john = factory.customer()
    admin = factory.staff(roles.STORE_MANAGER)
    order = factory.order(john.customer)
    r = client.post(f"/api/orders/{order.id}/cancel", headers=admin.headers)
    assert r.status_code == 200
    assert r.get_json()["data"]["cancellation_reason"] is None
    fail(client.post("/api/orders/777777/cancel", headers=admin.headers), 404, "Order not found")
    r = client.post(f"/api/orders/{order.id}/cancel", headers=admin.headers,
                    json={"reason": "r" * 501})
    assert fail(r, 422)["errors"] == {
        "reason": ["The reason may not be greater than 500 characters."]}


# --------------------------------------------------------------------------- docs


def test_openapi_documents_the_surface(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "Support tickets (002)" in {tag["name"] for tag in spec["tags"]}
    expected = {
        ("/api/support-tickets", "get"): {"200", "401", "422"},
        ("/api/support-tickets", "post"): {"201", "400", "401", "403", "413", "422"},
        ("/api/support-tickets/{ticket}", "get"): {"200", "401", "403", "404"},
        ("/api/support-tickets/navbar/count", "get"): {"200", "401"},
        ("/api/support-tickets/navbar/latest", "get"): {"200", "401", "422"},
        ("/api/support-tickets/{ticket}/messages", "get"): {"200", "401", "403", "404"},
        ("/api/support-tickets/{ticket}/messages", "post"): {"201", "401", "403", "404", "422"},
        ("/api/support-messages/{message}/read", "put"): {"200", "401", "403", "404"},
        ("/api/orders/{order}/cancel", "post"): {"200", "400", "401", "403", "404", "422"},
    }
    for (path, method), codes in expected.items():
        operation = spec["paths"][path][method]
        assert codes <= set(operation["responses"]), (path, method)
        assert operation["security"] == [{"bearerAuth": []}]
        assert operation["tags"] == ["Support tickets (002)"]
        error = operation["responses"]["401"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/DefaultError"}


def test_swagger_ui_is_served_offline(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/static/swagger-ui/{asset}" in html
        served = client.get(f"/static/swagger-ui/{asset}")
        assert served.status_code == 200 and len(served.data) > 10_000
        served.close()
    assert "/api/openapi.json" in html


def test_blank_optional_reason_counts_as_none(client, factory):
    """Found by schemathesis: a blank optional string once reached a length check as None."""
    john = factory.customer()
    order = factory.order(john.customer)
    r = client.post(f"/api/orders/{order.id}/cancel", json={"reason": "  "}, headers=john.headers)
    assert r.status_code == 200 and r.get_json()["data"]["cancellation_reason"] is None


def test_nul_in_search_is_422_not_a_database_error(client, factory):
    john = factory.customer()
    r = client.get("/api/support-tickets", query_string={"search": "a\x00b"}, headers=john.headers)
    assert fail(r, 422)["errors"] == {"search": ["The search may not contain NUL characters."]}
