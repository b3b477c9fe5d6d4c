"""Agent desk (seed 003) over HTTP: the document's flow, every error code, access rules."""
from __future__ import annotations

import re

from sqlalchemy import select

from support_app.extensions import db
from support_app.models import AgentProfile, InternalNote, Ticket, TicketEvent
from support_app.security import roles
from support_app.tickets import service

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CREATE = "/api/support/tickets/create/"

from .querycount import count_queries


def url(ticket_id, action: str = "") -> str:
    return f"/api/support/tickets/{ticket_id}/" + (f"{action}/" if action else "")


def login(client, email: str, password: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


def open_ticket(client, person, **body) -> str:
    body = {"subject": "Product damaged", "description": "Item arrived broken",
            "category": "Damaged", **body}
    r = client.post(CREATE, json=body, headers=person.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["ticket"]["id"]


def assert_error(r, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.get_json())
    body = r.get_json()
    assert set(body) == {"error"} and body["error"], body
    return body["error"]


def assert_fields(r, *fields: str) -> dict:
    assert r.status_code == 400, (r.status_code, r.get_json())
    body = r.get_json()
    for name in fields:
        assert isinstance(body.get(name), list) and body[name], body
        assert all(isinstance(m, str) for m in body[name])
    return body


# --------------------------------------------------------------------------- the flow


def test_documented_example_flow_end_to_end(client, factory):
    admin = factory.staff(roles.ADMIN, name="Ada Admin")
    customer = factory.customer(name="John Customer")

    # An agent registers (public) and is approved by an admin.
    r = client.post("/api/support/register-agent/", json={
        "email": "agent@example.com", "password": "securepass123",
        "name": "John Agent", "contact_number": "+91 98765 43210"})
    assert r.status_code == 201
    body = r.get_json()
    assert body["message"] == "Registration successful. Waiting for admin approval."
    agent_id = body["user"]["id"]
    assert isinstance(agent_id, str)
    assert body["user"] == {"id": agent_id, "email": "agent@example.com",
                            "name": "John Agent", "role": "support_agent"}
    agent = login(client, "agent@example.com", "securepass123")
    r = client.get("/api/agent/tickets/", headers=agent)
    assert "not approved" in assert_error(r, 403)
    r = client.post(f"/api/admin/approve-agent/{agent_id}/", headers=admin.headers)
    assert r.status_code == 200 and r.get_json() == {"message": "Agent approved successfully"}

    # 1. Customer creates a ticket.
    r = client.post(CREATE, headers=customer.headers, json={
        "subject": "Product damaged", "description": "Item arrived broken", "category": "Damaged"})
    assert r.status_code == 201
    created = r.get_json()
    assert created["message"] == "Support ticket created successfully"
    ticket = created["ticket"]
    assert set(ticket) == {"id", "subject", "status", "created_at"}
    assert isinstance(ticket["id"], str) and ticket["status"] == "Open"
    assert TS.match(ticket["created_at"])
    ticket_id = ticket["id"]

    # 2. Agent views available tickets.
    r = client.get("/api/agent/tickets/?status=Open", headers=agent)
    assert r.status_code == 200
    [listed] = r.get_json()["tickets"]
    assert listed["id"] == ticket_id and listed["status"] == "Open"
    assert listed["customer_name"] == "John Customer"
    assert listed["customer_id"] == str(customer.customer.id)
    assert listed["category"] == "Damaged" and listed["priority"] == "Medium"
    assert TS.match(listed["created_at"]) and TS.match(listed["updated_at"])

    # 3. Agent assigns to self.
    r = client.post(url(ticket_id, "assign-self"), headers=agent)
    assert r.status_code == 200
    assert r.get_json() == {"message": "Ticket assigned to you successfully",
                            "ticket": {"id": ticket_id, "status": "In Progress",
                                       "agent_id": agent_id}}

    # An internal note on the way.
    r = client.post(url(ticket_id, "add-note"), headers=agent,
                    json={"note": "Awaiting customer photos of damaged item"})
    assert r.status_code == 201
    note = r.get_json()
    assert note["message"] == "Internal note added successfully"
    assert note["note"]["note"] == "Awaiting customer photos of damaged item"
    assert isinstance(note["note"]["id"], str) and TS.match(note["note"]["created_at"])

    # 4. Agent updates status.
    r = client.put(url(ticket_id, "update-status"), headers=agent,
                   json={"status": "Resolved", "priority": "High"})
    assert r.status_code == 200
    assert r.get_json() == {"message": "Ticket status updated successfully",
                            "ticket": {"id": ticket_id, "status": "Resolved", "priority": "High"}}

    # 5. Customer submits feedback.
    r = client.post(url(ticket_id, "feedback"), headers=customer.headers,
                    json={"rating": "5", "comment": "Great support!"})
    assert r.status_code == 201
    fb = r.get_json()
    assert fb["message"] == "Feedback submitted successfully"
    assert fb["feedback"]["rating"] == "5" and isinstance(fb["feedback"]["id"], str)
    assert TS.match(fb["feedback"]["created_at"])

    # The customer's view: resolved, assigned, never a note.
    r = client.get(url(ticket_id), headers=customer.headers)
    assert r.status_code == 200
    seen = r.get_json()
    assert "internal_notes" not in seen
    assert "Awaiting customer photos" not in r.get_data(as_text=True)
    assert seen["ticket"]["status"] == "Resolved" and seen["ticket"]["agent_id"] == agent_id
    assert seen["ticket"]["customer_id"] == str(customer.customer.id)
    assert TS.match(seen["ticket"]["resolved_at"])
    r = client.get("/api/support/tickets/", headers=customer.headers)
    [mine] = r.get_json()["tickets"]
    assert mine["id"] == ticket_id and mine["priority"] == "High" and mine["agent_id"] == agent_id

    # The agent's and the admin's view include the note.
    for headers in (agent, admin.headers):
        r = client.get(url(ticket_id), headers=headers)
        [n] = r.get_json()["internal_notes"]
        assert n["note"] == "Awaiting customer photos of damaged item"
        assert n["agent_id"] == agent_id and n["id"] == note["note"]["id"]

    r = client.get("/api/admin/support/tickets/?status=Resolved", headers=admin.headers)
    [row] = r.get_json()["tickets"]
    assert row["customer_name"] == "John Customer" and row["agent_name"] == "John Agent"
    assert row["status"] == "Resolved" and row["priority"] == "High"
    assert client.get("/api/agent/tickets/?status=Open",
                      headers=agent).get_json()["tickets"] == []


# --------------------------------------------------------------------------- create / list


def test_create_validates_and_answers_400_with_field_lists(client, factory):
    customer = factory.customer()
    assert_fields(client.post(CREATE, headers=customer.headers, json={}), "subject", "description")
    assert_fields(client.post(CREATE, headers=customer.headers,
                              json={"subject": "x", "description": "y", "category": "damaged"}),
                  "category")
    assert_fields(client.post(CREATE, headers=customer.headers,
                              json={"subject": "   ", "description": "y\x00"}),
                  "subject", "description")
    assert_fields(client.post(CREATE, headers=customer.headers,
                              json={"subject": "x", "description": "y", "priority": "High"}),
                  "priority")
    r = client.post(CREATE, headers={**customer.headers, "Content-Type": "application/json"},
                    data="{not json")
    assert r.status_code == 400 and all(isinstance(v, list) for v in r.get_json().values())
    assert db.session.scalar(select(Ticket.id)) is None


def test_create_needs_a_signed_in_customer(client, factory):
    body = {"subject": "x", "description": "y"}
    assert_error(client.post(CREATE, json=body), 401)
    assert_error(client.post(CREATE, json={}), 401)  # 401 before validation
    assert_error(client.post(CREATE, json=body, headers={"Authorization": "Bearer nope"}), 401)
    assert_error(client.post(CREATE, json=body, headers=factory.agent().headers), 403)


def test_delivery_id_must_name_the_customers_own_order(client, factory):
    customer, other = factory.customer(), factory.customer()
    order, foreign = factory.order(customer.customer), factory.order(other.customer)
    by_id = open_ticket(client, customer, delivery_id=str(order.id))
    by_number = open_ticket(client, customer, delivery_id=order.order_number)
    assert {db.session.get(Ticket, int(t)).order_id for t in (by_id, by_number)} == {order.id}
    for bad in (str(foreign.id), foreign.order_number, "999999", "x" * 65):
        assert_fields(client.post(CREATE, headers=customer.headers, json={
            "subject": "x", "description": "y", "delivery_id": bad}), "delivery_id")


def test_list_shows_only_the_customers_own_tickets(client, factory):
    alice, bob = factory.customer(), factory.customer()
    first = open_ticket(client, alice)
    second = open_ticket(client, alice, subject="Late again", category="Late")
    open_ticket(client, bob)
    r = client.get("/api/support/tickets/", headers=alice.headers)
    tickets = r.get_json()["tickets"]
    assert [t["id"] for t in tickets] == [second, first]
    assert set(tickets[0]) == {"id", "subject", "description", "category", "status", "priority",
                               "agent_id", "created_at", "updated_at", "resolved_at"}
    assert tickets[0]["agent_id"] is None and tickets[0]["resolved_at"] is None
    assert client.get("/api/support/tickets/",
                      headers=factory.staff().headers).get_json() == {"tickets": []}
    assert_error(client.get("/api/support/tickets/"), 401)


def test_other_surfaces_spellings_print_in_this_documents_spelling(client, factory):
    customer, admin = factory.customer(), factory.staff()
    ticket = factory.ticket(customer, category="billing", priority="urgent")
    r = client.get(url(ticket.id), headers=customer.headers)
    assert r.get_json()["ticket"]["category"] == "Other"
    assert r.get_json()["ticket"]["priority"] == "High"
    [row] = client.get("/api/admin/support/tickets/", headers=admin.headers).get_json()["tickets"]
    assert row["category"] == "Other" and row["priority"] == "High" and row["agent_name"] is None


def test_paths_without_the_trailing_slash_redirect_to_the_documented_ones(client, factory):
    customer = factory.customer()
    r = client.post("/api/support/tickets/create", headers=customer.headers,
                    json={"subject": "x", "description": "y"})
    assert r.status_code == 308 and r.headers["Location"].endswith("/api/support/tickets/create/")
    r = client.get("/api/support/tickets", headers=customer.headers)
    assert r.status_code == 308
    r = client.get("/api/support/tickets/1/nothing-here/", headers=customer.headers)
    assert_error(r, 404)
    assert_error(client.delete("/api/support/tickets/", headers=customer.headers), 405)


# --------------------------------------------------------------------------- detail / notes


def test_detail_errors(client, factory):
    alice, bob = factory.customer(), factory.customer()
    ticket_id = open_ticket(client, alice)
    assert_error(client.get(url(ticket_id)), 401)
    assert_error(client.get(url(ticket_id), headers=bob.headers), 403)
    for missing in ("999999", "abc", "99999999999999999999", "0", "-1"):
        assert assert_error(client.get(url(missing), headers=alice.headers), 404) == \
            "Ticket not found"


def test_internal_notes_never_reach_customers_on_this_surface(client, factory):
    customer, agent = factory.customer(), factory.agent()
    ticket_id = open_ticket(client, customer)
    client.post(url(ticket_id, "assign-self"), headers=agent.headers)
    secret = "SECRET-NOTE customer is lying"
    assert client.post(url(ticket_id, "add-note"), headers=agent.headers,
                       json={"note": secret}).status_code == 201
    service.update_ticket(agent.actor, int(ticket_id), note="SECRET-NOTE via update")
    assert db.session.query(InternalNote).count() == 2
    for path in (url(ticket_id), "/api/support/tickets/", "/api/support/faq/"):
        r = client.get(path, headers=customer.headers)
        assert r.status_code == 200
        assert "SECRET-NOTE" not in r.get_data(as_text=True)
        assert "internal_notes" not in r.get_json()
    r = client.get(url(ticket_id), headers=agent.headers)
    assert len(r.get_json()["internal_notes"]) == 2


def test_add_note_errors(client, factory):
    customer, agent, pool_agent = factory.customer(), factory.agent(), factory.agent()
    ticket_id = open_ticket(client, customer)
    assert_error(client.post(url(ticket_id, "add-note"), json={"note": "x"}), 401)
    assert_error(client.post(url(ticket_id, "add-note"), headers=customer.headers,
                             json={"note": "x"}), 403)
    # Unassigned pool ticket: an agent must take it before writing notes.
    assert_error(client.post(url(ticket_id, "add-note"), headers=pool_agent.headers,
                             json={"note": "x"}), 403)
    client.post(url(ticket_id, "assign-self"), headers=agent.headers)
    assert_fields(client.post(url(ticket_id, "add-note"), headers=agent.headers, json={}), "note")
    assert_fields(client.post(url(ticket_id, "add-note"), headers=agent.headers,
                              json={"note": " "}), "note")
    assert_error(client.post(url("424242", "add-note"), headers=agent.headers,
                             json={"note": "x"}), 404)
    assert db.session.query(InternalNote).count() == 0


# --------------------------------------------------------------------------- agents' boundaries


def test_an_agent_cannot_read_or_change_another_agents_ticket(client, factory):
    customer, mine, other = factory.customer(), factory.agent(), factory.agent()
    ticket_id = open_ticket(client, customer)
    assert client.post(url(ticket_id, "assign-self"), headers=mine.headers).status_code == 200
    client.post(url(ticket_id, "add-note"), headers=mine.headers, json={"note": "private"})

    assert_error(client.get(url(ticket_id), headers=other.headers), 403)
    assert_error(client.put(url(ticket_id, "update-status"), headers=other.headers,
                            json={"status": "Resolved"}), 403)
    assert_error(client.post(url(ticket_id, "add-note"), headers=other.headers,
                             json={"note": "mine now"}), 403)
    assert "already assigned" in assert_fields(
        client.post(url(ticket_id, "assign-self"), headers=other.headers),
        "non_field_errors")["non_field_errors"][0]
    assert client.get("/api/agent/tickets/", headers=other.headers).get_json() == {"tickets": []}
    assert_error(client.post(url(ticket_id, "reassign"), headers=other.headers,
                             json={"agent_id": str(other.id)}), 403)

    ticket = db.session.get(Ticket, int(ticket_id))
    db.session.refresh(ticket)
    assert ticket.assigned_to_id == mine.id and ticket.status == "in_progress"
    assert db.session.query(InternalNote).count() == 1


def test_agent_ticket_list_rules(client, factory):
    customer, agent = factory.customer(), factory.agent()
    unapproved = factory.agent(approved=False)
    first, second = open_ticket(client, customer), open_ticket(client, customer)
    client.post(url(first, "assign-self"), headers=agent.headers)
    r = client.get("/api/agent/tickets/", headers=agent.headers)
    assert [t["id"] for t in r.get_json()["tickets"]] == [second, first]
    r = client.get("/api/agent/tickets/?status=In%20Progress", headers=agent.headers)
    assert [t["id"] for t in r.get_json()["tickets"]] == [first]
    assert_fields(client.get("/api/agent/tickets/?status=open", headers=agent.headers), "status")
    assert "not approved" in assert_error(
        client.get("/api/agent/tickets/", headers=unapproved.headers), 403)
    assert_error(client.get("/api/agent/tickets/", headers=customer.headers), 403)
    assert_error(client.get("/api/agent/tickets/?status=bogus"), 401)


# --------------------------------------------------------------------------- status


def test_update_status_rules(client, factory):
    customer, agent, pool_agent = factory.customer(), factory.agent(), factory.agent()
    admin = factory.staff()
    ticket_id = open_ticket(client, customer)
    path = url(ticket_id, "update-status")
    assert_error(client.put(path, json={"status": "Resolved"}), 401)
    assert_error(client.put(path, headers=customer.headers, json={"status": "Resolved"}), 403)
    assert_error(client.put(path, headers=pool_agent.headers, json={"status": "Resolved"}), 403)
    assert_error(client.put(url("999999", "update-status"), headers=admin.headers,
                            json={"status": "Resolved"}), 404)

    client.post(url(ticket_id, "assign-self"), headers=agent.headers)
    assert_fields(client.put(path, headers=agent.headers, json={}), "status")
    assert_fields(client.put(path, headers=agent.headers, json={"status": "resolved"}), "status")
    assert_fields(client.put(path, headers=agent.headers,
                             json={"status": "Resolved", "priority": "Urgent"}), "priority")
    for status in ("On Hold", "In Progress", "Closed"):
        r = client.put(path, headers=agent.headers, json={"status": status})
        assert r.status_code == 200 and r.get_json()["ticket"]["status"] == status
    body = assert_fields(client.put(path, headers=agent.headers, json={"status": "Open"}), "status")
    assert body["status"] == ["Cannot change status from Closed to Open"]
    r = client.put(path, headers=admin.headers, json={"status": "In Progress", "priority": "Low"})
    assert r.get_json()["ticket"] == {"id": ticket_id, "status": "In Progress", "priority": "Low"}


def test_high_on_an_urgent_ticket_keeps_it_urgent(client, factory):
    customer, admin = factory.customer(), factory.staff()
    ticket = factory.ticket(customer, priority="urgent")
    r = client.put(url(ticket.id, "update-status"), headers=admin.headers,
                   json={"status": "In Progress", "priority": "High"})
    assert r.get_json()["ticket"]["priority"] == "High"
    db.session.refresh(ticket)
    assert ticket.priority == "urgent" and ticket.status == "in_progress"


# --------------------------------------------------------------------------- assignment


def test_assign_self_errors(client, factory):
    customer, agent = factory.customer(), factory.agent()
    unapproved = factory.agent(approved=False)
    ticket_id = open_ticket(client, customer)
    path = url(ticket_id, "assign-self")
    assert_error(client.post(path), 401)
    assert_error(client.post(path, headers=unapproved.headers), 403)
    assert_error(client.post(path, headers=customer.headers), 403)
    assert_error(client.post(url("999999", "assign-self"), headers=agent.headers), 404)
    taken = client.post(path, headers=agent.headers)
    assert taken.status_code == 200
    assert taken.get_json() == {"message": "Ticket assigned to you successfully",
                                "ticket": {"id": ticket_id, "status": "In Progress",
                                           "agent_id": str(agent.id)}}
    ticket = db.session.get(Ticket, int(ticket_id))
    db.session.refresh(ticket)
    assert (ticket.assigned_to_id, ticket.status) == (agent.id, "in_progress")
    assert_fields(client.post(path, headers=agent.headers), "non_field_errors")
    db.session.refresh(ticket)
    assert ticket.assigned_to_id == agent.id


def test_reassign_rules(client, factory):
    customer, admin = factory.customer(), factory.staff()
    first, second = factory.agent(name="First Agent"), factory.agent(name="Second Agent")
    unapproved, manager = factory.agent(approved=False), factory.staff(roles.STORE_MANAGER)
    ticket_id = open_ticket(client, customer)
    client.post(url(ticket_id, "assign-self"), headers=first.headers)
    path = url(ticket_id, "reassign")

    r = client.post(path, headers=admin.headers, json={"agent_id": str(second.id)})
    assert r.status_code == 200
    assert r.get_json() == {"message": "Ticket reassigned successfully",
                            "ticket": {"id": ticket_id, "agent_id": str(second.id)}}
    assert client.post(path, headers=admin.headers,
                       json={"agent_id": first.id}).get_json()["ticket"]["agent_id"] == str(first.id)

    assert_error(client.post(path, json={"agent_id": str(second.id)}), 401)
    for who in (first, customer, manager):
        assert_error(client.post(path, headers=who.headers, json={"agent_id": str(second.id)}), 403)
    for target in (unapproved.id, customer.id, 999999):
        assert_error(client.post(path, headers=admin.headers, json={"agent_id": str(target)}), 404)
    assert_error(client.post(url("999999", "reassign"), headers=admin.headers,
                             json={"agent_id": str(second.id)}), 404)
    for bad in ({}, {"agent_id": "abc"}, {"agent_id": None}, {"agent_id": True}):
        assert_fields(client.post(path, headers=admin.headers, json=bad), "agent_id")
    assert db.session.get(Ticket, int(ticket_id)).assigned_to_id == first.id
    assert db.session.scalar(select(TicketEvent.id).where(TicketEvent.kind == "assigned")
                             .order_by(TicketEvent.id.desc())) is not None


# --------------------------------------------------------------------------- feedback


def test_feedback_rules(client, factory):
    customer, other, agent = factory.customer(), factory.customer(), factory.agent()
    ticket_id = open_ticket(client, customer)
    path = url(ticket_id, "feedback")
    assert_error(client.post(path, json={"rating": "5"}), 401)
    assert "resolved" in assert_fields(
        client.post(path, headers=customer.headers, json={"rating": "5"}),
        "non_field_errors")["non_field_errors"][0]

    client.post(url(ticket_id, "assign-self"), headers=agent.headers)
    client.put(url(ticket_id, "update-status"), headers=agent.headers, json={"status": "Resolved"})
    for bad in ("0", "6", "five", 6, 4.5, True, None, ""):
        assert_fields(client.post(path, headers=customer.headers, json={"rating": bad}), "rating")
    assert_fields(client.post(path, headers=customer.headers, json={}), "rating")
    assert_error(client.post(path, headers=other.headers, json={"rating": "5"}), 403)
    assert_error(client.post(path, headers=agent.headers, json={"rating": "5"}), 403)
    assert_error(client.post(url("999999", "feedback"), headers=customer.headers,
                             json={"rating": 4}), 404)

    r = client.post(path, headers=customer.headers, json={"rating": 4})
    assert r.status_code == 201 and r.get_json()["feedback"]["rating"] == "4"
    assert "already" in assert_fields(
        client.post(path, headers=customer.headers, json={"rating": "5"}),
        "non_field_errors")["non_field_errors"][0]


# --------------------------------------------------------------------------- agents / admin


def test_register_agent_errors(app, client, factory, monkeypatch):
    # Eight sign-up attempts in one test: above the per-client budget (test_login_limits).
    monkeypatch.setitem(app.config, "REGISTER_RATE_LIMIT", "100 per minute")
    body = {"email": "new.agent@example.com", "password": "securepass123", "name": "New Agent"}
    r = client.post("/api/support/register-agent/", json=body)
    assert r.status_code == 201
    profile = db.session.scalar(select(AgentProfile))
    assert profile.is_approved is False and profile.contact_number is None
    assert_fields(client.post("/api/support/register-agent/",
                              json={**body, "email": "NEW.agent@example.com"}), "email")
    factory.customer(email="taken@example.com")
    assert_fields(client.post("/api/support/register-agent/",
                              json={**body, "email": "taken@example.com"}), "email")
    assert_fields(client.post("/api/support/register-agent/",
                              json={**body, "email": "x@example.com", "password": "short"}),
                  "password")
    assert_fields(client.post("/api/support/register-agent/", json={}), "email", "password", "name")
    assert_fields(client.post("/api/support/register-agent/",
                              json={**body, "email": "not-an-email"}), "email")
    assert db.session.query(AgentProfile).count() == 1


def test_approve_agent_errors(client, factory):
    admin, customer = factory.staff(), factory.customer()
    pending = factory.agent(approved=False)
    path = f"/api/admin/approve-agent/{pending.id}/"
    assert_error(client.post(path), 401)
    for who in (customer, pending, factory.agent(), factory.staff(roles.STORE_MANAGER)):
        assert_error(client.post(path, headers=who.headers), 403)
    for missing in (999999, "abc", customer.id):
        assert assert_error(client.post(f"/api/admin/approve-agent/{missing}/",
                                        headers=admin.headers), 404) == "Agent not found"
    assert client.post(path, headers=admin.headers).status_code == 200
    profile = db.session.scalar(select(AgentProfile).where(AgentProfile.user_id == pending.id))
    db.session.refresh(profile)
    assert profile.is_approved and profile.approved_by_id == admin.id
    assert client.get("/api/agent/tickets/", headers=pending.headers).status_code == 200


def test_admin_ticket_list(client, factory):
    admin, agent = factory.staff(), factory.agent(name="Jane Agent")
    customer = factory.customer(name="John Customer")
    taken, waiting = open_ticket(client, customer), open_ticket(client, customer)
    client.post(url(taken, "assign-self"), headers=agent.headers)
    r = client.get("/api/admin/support/tickets/", headers=admin.headers)
    rows = {row["id"]: row for row in r.get_json()["tickets"]}
    assert rows[taken]["agent_name"] == "Jane Agent" and rows[waiting]["agent_name"] is None
    assert set(rows[taken]) == {"id", "subject", "category", "status", "priority",
                                "customer_name", "agent_name", "created_at", "updated_at",
                                "unverified_sender"}  # staff only: test_staff_markers
    r = client.get("/api/admin/support/tickets/?status=Open", headers=admin.headers)
    assert [row["id"] for row in r.get_json()["tickets"]] == [waiting]
    assert_fields(client.get("/api/admin/support/tickets/?status=Pending",
                             headers=admin.headers), "status")
    assert_error(client.get("/api/admin/support/tickets/"), 401)
    for who in (agent, customer):
        assert_error(client.get("/api/admin/support/tickets/", headers=who.headers), 403)


def test_admin_ticket_list_query_count_does_not_grow_with_tickets(client, factory):
    admin = factory.staff()
    agents = [factory.agent() for _ in range(3)]
    customers = [factory.customer() for _ in range(3)]

    def statements_for_listing() -> int:
        with count_queries() as seen:
            assert client.get("/api/admin/support/tickets/",
                              headers=admin.headers).status_code == 200
        return len(seen)

    for customer, agent in zip(customers[:1], agents[:1]):
        service.assign_self(agent.actor, factory.ticket(customer).id)
    few = statements_for_listing()
    for customer, agent in zip(customers, agents):
        for _ in range(3):
            service.assign_self(agent.actor, factory.ticket(customer).id)
    assert statements_for_listing() == few


def test_openapi_documents_every_endpoint_with_bearer_auth(client):
    spec = client.get("/api/openapi.json").get_json()
    expected = {
        ("/api/support/tickets/create/", "post"), ("/api/support/tickets/", "get"),
        ("/api/support/tickets/{ticket_id}/", "get"),
        ("/api/support/tickets/{ticket_id}/update-status/", "put"),
        ("/api/support/tickets/{ticket_id}/assign-self/", "post"),
        ("/api/support/tickets/{ticket_id}/reassign/", "post"),
        ("/api/support/tickets/{ticket_id}/add-note/", "post"),
        ("/api/support/tickets/{ticket_id}/feedback/", "post"),
        ("/api/support/register-agent/", "post"), ("/api/agent/tickets/", "get"),
        ("/api/admin/approve-agent/{agent_id}/", "post"),
        ("/api/admin/support/tickets/", "get"), ("/api/support/faq/", "get"),
    }
    public = {("/api/support/register-agent/", "post"), ("/api/support/faq/", "get")}
    for path, method in expected:
        operation = spec["paths"][path][method]
        assert operation["security"] == ([] if (path, method) in public else [{"bearerAuth": []}])
        if (path, method) not in public:
            assert "401" in operation["responses"]

