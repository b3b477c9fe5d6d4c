"""Which Socket.IO rooms a connection joins and which rooms a ticket's events go to,
as plain functions of the actor and the ticket (`realtime/rooms.py`): the full
lists, so a room added or lost shows (issue 28's mutation run)."""
from __future__ import annotations

import pytest

from support_app.realtime import rooms
from support_app.security import roles
from support_app.tickets.actor import Actor
from support_app.tickets.events import TicketSnapshot

AGENT = frozenset({roles.REPLY, roles.WORK})
CUSTOMER = frozenset({roles.CREATE, roles.TRACK, roles.REPLY})


def snapshot(assigned_to_id: int | None, participant_user_ids=(), customer_user_id=5,
             unverified=False):
    return TicketSnapshot(
        id=9, number="TKT-9", status="open", priority="medium", subject="s", customer_id=50,
        customer_user_id=customer_user_id, customer_email="c@example.org", customer_name="C",
        customer_locale="en", assigned_to_id=assigned_to_id,
        participant_user_ids=list(participant_user_ids), channel="api", escalation_level=0,
        unverified=unverified)


@pytest.mark.parametrize("actor, expected", [
    (Actor(5, 50, CUSTOMER), ["user:5"]),
    (Actor(7, None, AGENT, is_approved_agent=True), ["user:7", "staff"]),
    (Actor(7, None, AGENT, is_approved_agent=False), ["user:7"]),
    (Actor(1, None, frozenset({roles.VIEW_ALL})), ["user:1", "staff", "staff:all"]),
    (Actor(1, None, frozenset({roles.VIEW_ALL, roles.MANAGE})),
     ["user:1", "staff", "staff:all", "staff:notes"]),
    (Actor(1, None, frozenset({roles.MANAGE})), ["user:1", "staff:notes"]),
    (Actor.system(), ["staff", "staff:all", "staff:notes"]),
])
def test_connection_rooms(actor, expected):
    assert rooms.connection_rooms(actor) == expected


def test_an_unassigned_tickets_events_reach_the_queue():
    audience = rooms.ticket_audience(snapshot(None, participant_user_ids=[6]), None, 8)
    assert audience[:2] == ["ticket:9", "staff:all"]
    assert sorted(audience[2:]) == ["staff", "user:5", "user:6", "user:8"]


def test_an_assigned_tickets_events_reach_its_agent_not_the_queue():
    audience = rooms.ticket_audience(snapshot(7, customer_user_id=None))
    assert audience[:2] == ["ticket:9", "staff:all"]
    assert sorted(audience[2:]) == ["user:7"]


def test_notes_go_to_the_staff_rooms_and_the_assigned_agent_only():
    assert rooms.staff_audience(snapshot(None, participant_user_ids=[6])) == [
        "ticket:9:staff", "staff:notes"]
    assert rooms.staff_audience(snapshot(7)) == ["ticket:9:staff", "staff:notes", "user:7"]


def test_an_unverified_tickets_events_reach_staff_only():
    """Nobody has shown the customer wrote it: neither the customer's nor a
    participant's room hears of it; the queue, the assignee and named users do."""
    audience = rooms.ticket_audience(snapshot(None, participant_user_ids=[6], unverified=True), 8)
    assert audience == ["ticket:9", "staff:all", "user:8", "staff"]
    audience = rooms.ticket_audience(snapshot(7, participant_user_ids=[6], unverified=True))
    assert audience == ["ticket:9", "staff:all", "user:7"]


def test_sla_alerts_go_to_the_assigned_agent_and_staff_all_only():
    assert rooms.alert_audience(snapshot(None, participant_user_ids=[6])) == ["staff:all"]
    assert rooms.alert_audience(snapshot(7, participant_user_ids=[6])) == ["staff:all", "user:7"]
