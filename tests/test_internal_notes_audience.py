"""Internal notes reach who works the ticket (its agent) and desk managers, not every
agent who may look at it: an approved agent sees the unassigned pool, but a note is
for whoever takes it (issue 28's missing checks, on 003 and over Socket.IO)."""
from __future__ import annotations


from support_app.realtime.dispatch import dispatcher
from support_app.security import roles
from support_app.tickets import service

from .live import Listener

NOTE = "Known reseller, check stock 4b7e"


def detail(client, ticket_id: int, person) -> dict:
    response = client.get(f"/api/support/tickets/{ticket_id}/", headers=person.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_agent_viewing_an_unassigned_ticket_gets_no_internal_notes(client, factory):
    customer, agent, admin = factory.customer(), factory.agent(), factory.staff(roles.ADMIN)
    ticket = factory.ticket(customer)
    service.add_note(admin.actor, ticket.id, NOTE)

    pool_view = detail(client, ticket.id, agent)
    assert pool_view["ticket"]["id"] == str(ticket.id)
    assert "internal_notes" not in pool_view and NOTE not in repr(pool_view)

    service.assign_self(agent.actor, ticket.id)
    assert [n["note"] for n in detail(client, ticket.id, agent)["internal_notes"]] == [NOTE]
    assert [n["note"] for n in detail(client, ticket.id, admin)["internal_notes"]] == [NOTE]


def settled(socket: Listener) -> Listener:
    """Every push emitted so far has reached `socket`: pushes and an ack travel the
    same websocket in order, so a round trip after the dispatcher is idle is a barrier."""
    dispatcher.wait_idle()
    socket.call("unsubscribe", {"ticketId": 1})
    return socket


def test_subscribe_ack_gives_internal_notes_only_to_who_works_it(connect, factory):
    customer, agent, manager = factory.customer(), factory.agent(), factory.staff(roles.ADMIN)
    ticket = factory.ticket(customer)
    agent_socket, manager_socket = connect(agent), connect(manager)

    assert agent_socket.call("subscribe", {"ticketId": ticket.id}) == {
        "ok": True, "ticketId": ticket.id, "internalNotes": False}
    assert manager_socket.call("subscribe", {"ticketId": ticket.id})["internalNotes"] is True

    service.add_note(manager.actor, ticket.id, NOTE)
    manager_socket.wait_for("support:note:created")
    assert "support:note:created" not in settled(agent_socket).names()

    service.assign_self(agent.actor, ticket.id)  # empties the ticket's rooms
    assert agent_socket.call("subscribe", {"ticketId": ticket.id})["internalNotes"] is True


def test_an_agent_receives_no_notes_of_a_ticket_another_agent_works(connect, factory):
    customer, manager = factory.customer(), factory.staff(roles.ADMIN)
    working, other = factory.agent(name="Working Agent"), factory.agent(name="Other Agent")
    ticket = factory.ticket(customer)
    service.assign_self(working.actor, ticket.id)
    working_socket, other_socket = connect(working), connect(other)

    service.add_note(manager.actor, ticket.id, NOTE)

    assert working_socket.wait_for("support:note:created")["note"]["note"] == NOTE
    assert "support:note:created" not in settled(other_socket).names()
    assert all(NOTE not in repr(data) for _event, data in other_socket.events)
