"""A group participant takes part in THEIR group's ticket, never in any other: each
way of reaching a ticket on 002 and over Socket.IO, for a member of ticket A aiming
at an unrelated ticket B (one of the bugs the suite let through, issue 28)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import Message, Ticket
from support_app.security import roles
from support_app.tickets import service


B_SUBJECT = "Unrelated ticket B 91e2"


@dataclass
class Tickets:
    member: object
    a: Ticket
    b: Ticket
    b_message_id: int


@pytest.fixture
def tickets(factory) -> Tickets:
    """Member takes part in A (owned by someone else); B belongs to a third customer
    who has their own group, and has an unread desk reply."""
    owner_a, member, owner_b = factory.customer(), factory.customer(), factory.customer()
    other_member = factory.customer()
    a = factory.ticket(owner_a, participant_customer_ids=[member.customer.id])
    b = factory.ticket(owner_b, subject=B_SUBJECT,
                       participant_customer_ids=[other_member.customer.id])
    reply = service.add_message(factory.staff(roles.ADMIN).actor, b.id, "We are looking at it.")
    return Tickets(member, a, b, reply.id)


def _forbidden(response) -> None:
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.get_json()["success"] is False
    assert B_SUBJECT not in response.get_data(as_text=True)


def test_member_opens_their_group_ticket_but_not_another(client, tickets):
    headers = tickets.member.headers
    mine = client.get(f"/api/support-tickets/{tickets.a.id}", headers=headers)
    assert mine.status_code == 200 and mine.get_json()["data"]["id"] == tickets.a.id
    _forbidden(client.get(f"/api/support-tickets/{tickets.b.id}", headers=headers))


def test_member_cannot_reply_to_another_ticket(client, tickets):
    headers = tickets.member.headers
    _forbidden(client.post(f"/api/support-tickets/{tickets.b.id}/messages",
                           json={"message": "Me too, please refund me."}, headers=headers))
    assert db.session.scalar(select(func.count(Message.id))
                             .where(Message.ticket_id == tickets.b.id)) == 1
    ok = client.post(f"/api/support-tickets/{tickets.a.id}/messages",
                     json={"message": "Same problem here."}, headers=headers)
    assert ok.status_code == 201


def test_member_cannot_read_another_tickets_thread(client, tickets):
    headers = tickets.member.headers
    _forbidden(client.get(f"/api/support-tickets/{tickets.b.id}/messages", headers=headers))
    db.session.expire_all()
    assert db.session.get(Message, tickets.b_message_id).is_read is False
    assert db.session.get(Ticket, tickets.b.id).is_customer_read is False


def test_member_cannot_mark_another_tickets_message_read(client, tickets):
    _forbidden(client.put(f"/api/support-messages/{tickets.b_message_id}/read",
                          headers=tickets.member.headers))
    db.session.expire_all()
    message = db.session.get(Message, tickets.b_message_id)
    assert (message.is_read, message.read_at) == (False, None)


def test_member_cannot_subscribe_to_another_ticket(connect, tickets):
    socket = connect(tickets.member)
    assert socket.call("subscribe", {"ticketId": tickets.a.id}) == {
        "ok": True, "ticketId": tickets.a.id, "internalNotes": False}
    refused = socket.call("subscribe", {"ticketId": tickets.b.id})
    assert refused["ok"] is False and refused["code"] == "FORBIDDEN"
