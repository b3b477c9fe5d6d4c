"""Customers see a staff member's display name, never their email address: on every
`/api/` response a customer-side role receives (the whole URL map, from the
authorization matrix) and in the socket pushes of their ticket's room. Staff-facing
output keeps the address."""
from __future__ import annotations

from typing import Iterator

import pytest

from support_app.tickets import service

from .admin_helpers import desk_client
from .live import Listener
from .test_authorization_matrix import MATRIX, STAFF, _build_world, _call

CUSTOMER_ROLES = ("owner", "participant")
STAFF_PEOPLE = (*STAFF, "assigned_agent", "other_agent", "unapproved_agent")


def _staff_emails(world) -> set[str]:
    return {world.people[role].user.email for role in STAFF_PEOPLE}


def _walk(app, world, person) -> Iterator[tuple[str, str]]:
    """Every `/api/` rule of the matrix called as `person` (dashboard-session routes
    refuse customers outright): (rule, response body)."""
    client = desk_client(app)
    for (method, rule), (call, _expected) in MATRIX.items():
        if not call.session:
            response = _call(client, method, call, world, {} if call.public else person.headers)
            # a file download is bytes: any text in it is still searched
            yield f"{method} {rule}", response.get_data().decode("utf-8", errors="replace")


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
def test_no_customer_side_response_carries_a_staff_email(app, factory, role):
    world = _build_world(factory)
    staff_reply = service.add_message(world.people["assigned_agent"].actor, world.ticket.id,
                                      "We are on it.")
    assert staff_reply.admin_id is not None
    person = world.people[role]
    emails, leaks, seen = _staff_emails(world), [], 0
    for route, body in _walk(app, world, person):
        seen += "We are on it." in body
        leaks += [f"{route}: {email}" for email in emails if email in body]
    assert seen, "the walk never showed the staff reply"
    assert leaks == []


def test_the_thread_shows_staff_their_colleagues_email(app, factory):
    world = _build_world(factory)
    agent = world.people["assigned_agent"]
    service.add_message(agent.actor, world.ticket.id, "We are on it.")
    client = desk_client(app)
    thread = client.get(f"/api/support-tickets/{world.ticket.id}/messages",
                        headers=world.people["admin"].headers).get_json()["data"]
    assert thread[-1]["admin"] == {"id": agent.id, "name": agent.user.name, "email": agent.user.email}
    mine = client.get(f"/api/support-tickets/{world.ticket.id}/messages",
                      headers=world.people["owner"].headers).get_json()["data"]
    assert mine[-1]["admin"] == {"id": agent.id, "name": agent.user.name}


def test_socket_pushes_to_the_customer_carry_no_staff_email(server, opened, factory):
    world = _build_world(factory)
    owner, agent = world.people["owner"], world.people["assigned_agent"]
    listener = Listener(server.url, auth={"token": owner.headers["Authorization"].split(" ", 1)[1]})
    opened.append(listener)
    listener.connect()
    assert listener.call("subscribe", {"ticketId": world.ticket.id})["ok"] is True
    service.add_message(agent.actor, world.ticket.id, "Socket reply from staff")
    pushed = listener.wait_for("support:message:created",
                               lambda d: d["message"]["message"] == "Socket reply from staff")
    assert pushed["message"]["admin"]["name"] == agent.user.name
    assert not any(email in repr(listener.events) for email in _staff_emails(world))


def test_a_group_participant_never_reads_the_owners_email_or_phone(server, opened, app, factory):
    world = _build_world(factory)
    owner, participant = world.people["owner"], world.people["participant"]
    owner.customer.phone = "+44 7700 900123"
    # The room's pushes carry names only (first: the walk below signs the participant out).
    listener = Listener(server.url,
                        auth={"token": participant.headers["Authorization"].split(" ", 1)[1]})
    opened.append(listener)
    listener.connect()
    assert listener.call("subscribe", {"ticketId": world.ticket.id})["ok"] is True
    service.add_message(owner.actor, world.ticket.id, "Any news from the driver?")
    pushed = listener.wait_for("support:message:created",
                               lambda d: d["message"]["message"] == "Any news from the driver?")
    assert pushed["message"]["customer"] == {"id": owner.customer.id, "name": owner.customer.name}
    assert owner.user.email not in repr(listener.events)
    client = desk_client(app)
    # The owner and staff still read them.
    mine = client.get(f"/api/support-tickets/{world.ticket.id}",
                      headers=owner.headers).get_json()["data"]["customer"]
    assert (mine["email"], mine["phone"]) == (owner.user.email, owner.customer.phone)
    staff = client.get(f"/api/support-tickets/{world.ticket.id}",
                       headers=world.people["admin"].headers).get_json()["data"]["customer"]
    assert staff["email"] == owner.user.email
    leaks, seen = [], 0
    for route, body in _walk(app, world, participant):
        seen += "Any news from the driver?" in body
        leaks += [route for secret in (owner.user.email, owner.customer.phone) if secret in body]
    assert seen, "the walk never showed the owner's message"
    assert leaks == []
