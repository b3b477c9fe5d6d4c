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
