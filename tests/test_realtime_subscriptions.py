"""`subscribe` / `unsubscribe` over a real Socket.IO connection: which ticket ids are
accepted and what each refusal says (rooms-module mutants the older tests let live,
issue 28)."""
from __future__ import annotations

import pytest


INVALID = {"ok": False, "code": "INVALID_REQUEST", "error": "ticketId must be a positive integer"}


@pytest.mark.parametrize("value", [0, -1, 2**31, True, False, "", "12a", "-3", 1.5, None])
def test_ticket_ids_outside_the_column_are_invalid(connect, factory, value):
    socket = connect(factory.customer())
    assert socket.call("subscribe", {"ticketId": value}) == INVALID
    assert socket.call("unsubscribe", {"ticketId": value}) == INVALID
    assert socket.call("subscribe", [value]) == INVALID


def test_largest_id_and_digit_strings_are_ticket_ids(connect, factory):
    customer = factory.customer()
    ticket = factory.ticket(customer)
    socket = connect(customer)
    assert socket.call("subscribe", {"ticketId": 2**31 - 1}) == {
        "ok": False, "code": "TICKET_NOT_FOUND", "error": "Ticket not found"}
    assert socket.call("subscribe", {"ticketId": str(ticket.id)}) == {
        "ok": True, "ticketId": ticket.id, "internalNotes": False}
    assert socket.call("unsubscribe", {"ticketId": str(ticket.id)}) == {
        "ok": True, "ticketId": ticket.id}


def test_forbidden_subscription_says_so(connect, factory):
    ticket = factory.ticket(factory.customer())
    assert connect(factory.customer()).call("subscribe", {"ticketId": ticket.id}) == {
        "ok": False, "code": "FORBIDDEN", "error": "Unauthorized access to this ticket"}


def test_unsubscribing_from_a_ticket_that_is_gone_still_answers_its_id(connect, factory):
    """No ticket resolves from the id (deleted, or never there): the id asked for is
    the one left and answered."""
    socket = connect(factory.customer())
    assert socket.call("unsubscribe", {"ticketId": 999}) == {"ok": True, "ticketId": 999}


def test_unsubscribe_leaves_the_ticket_the_id_resolves_to(connect, factory):
    """Among several tickets the id leaves its own; a merged ticket's id leaves the
    ticket it was merged into, the one its subscribe joined."""
    from support_app.security import roles
    from support_app.tickets import merge

    owner = factory.customer()
    first, second, third = (factory.ticket(owner) for _ in range(3))
    merge.merge(factory.staff(roles.ADMIN).actor, third.id, second.id)
    socket = connect(owner)
    assert socket.call("unsubscribe", {"ticketId": second.id}) == {"ok": True, "ticketId": second.id}
    assert socket.call("subscribe", {"ticketId": third.id})["ticketId"] == second.id
    assert socket.call("unsubscribe", {"ticketId": third.id}) == {"ok": True, "ticketId": second.id}
    assert socket.call("unsubscribe", {"ticketId": first.id}) == {"ok": True, "ticketId": first.id}


def _joined(socket) -> set[str]:
    """The rooms the server holds this connection in: what every emit is routed by
    (each room's events also reach a subscriber through another of its rooms, so no
    delivery shows a room that was not left)."""
    from support_app.extensions import socketio

    sid = socket.client.get_sid("/")
    return set(socketio.server.manager.get_rooms(sid, "/")) - {sid}


def test_subscribe_joins_and_unsubscribe_leaves_the_tickets_public_and_staff_rooms(connect, factory):
    from support_app.security import roles

    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    socket = connect(admin)
    connection_rooms = _joined(socket)
    assert socket.call("subscribe", {"ticketId": ticket.id})["internalNotes"] is True
    assert _joined(socket) == connection_rooms | {f"ticket:{ticket.id}", f"ticket:{ticket.id}:staff"}
    assert socket.call("unsubscribe", {"ticketId": ticket.id}) == {"ok": True, "ticketId": ticket.id}
    assert _joined(socket) == connection_rooms
