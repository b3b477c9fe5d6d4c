"""Auto-assignment of new tickets (AUTO_ASSIGN_POLICY): off, round robin, least open."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import Ticket, TicketEvent
from support_app.tickets import assignment, events, service


@pytest.fixture
def auto_assign(app, monkeypatch):
    def set_policy(policy: str) -> None:
        monkeypatch.setitem(app.config, "AUTO_ASSIGN_POLICY", policy)

    return set_policy


def assignees(tickets) -> list[int | None]:
    return [db.session.get(Ticket, t.id).assigned_to_id for t in tickets]


def test_off_by_default_leaves_new_tickets_in_the_pool(app, factory):
    assert app.config["AUTO_ASSIGN_POLICY"] == "off"
    factory.agent()
    ticket = factory.ticket(factory.customer())
    assert ticket.assigned_to_id is None
    assert db.session.scalar(select(TicketEvent).where(TicketEvent.kind == "auto_assigned")) is None


def test_round_robin_takes_turns_among_approved_active_agents(factory, auto_assign,
                                                              recorded_events):
    auto_assign("round_robin")
    customer = factory.customer()
    first, second, third = factory.agent(), factory.agent(), factory.agent()
    factory.agent(approved=False)
    inactive = factory.agent()
    inactive.user.active = False
    db.session.commit()

    tickets = [factory.ticket(customer) for _ in range(5)]
    assert assignees(tickets) == [first.id, second.id, third.id, first.id, second.id]
    assert all(db.session.get(Ticket, t.id).status == "open" for t in tickets)

    audit = db.session.scalars(
        select(TicketEvent).where(TicketEvent.kind == "auto_assigned").order_by(TicketEvent.id)
    ).all()
    assert [(e.ticket_id, e.actor_type, e.actor_id, e.new_value) for e in audit] == [
        (t.id, "system", None, str(agent)) for t, agent in zip(tickets, assignees(tickets))
    ]
    names = [e.name for e in recorded_events if e.ticket and e.ticket.id == tickets[0].id]
    assert names == [events.TICKET_CREATED, events.ASSIGNED]
    assigned = next(e for e in recorded_events if e.name == events.ASSIGNED)
    assert assigned.ticket.assigned_to_id == first.id and assigned.data["new_assignee"] == first.id


def test_round_robin_continues_after_the_last_automatic_choice_when_agents_change(
        factory, auto_assign):
    auto_assign("round_robin")
    customer = factory.customer()
    first, second = factory.agent(), factory.agent()
    one = factory.ticket(customer)
    late_joiner = factory.agent()
    two, three, four = (factory.ticket(customer) for _ in range(3))
    assert assignees([one, two, three, four]) == [first.id, second.id, late_joiner.id, first.id]


def test_least_open_picks_the_agent_with_fewest_unresolved_tickets(factory, auto_assign):
    customer = factory.customer()
    busy, idle, medium = factory.agent(), factory.agent(), factory.agent()
    for agent, count in ((busy, 3), (medium, 1)):
        for _ in range(count):
            service.assign_self(agent.actor, factory.ticket(customer).id)
    # Resolved work does not count as load.
    for _ in range(2):
        ticket = service.assign_self(idle.actor, factory.ticket(customer).id)
        service.update_ticket(idle.actor, ticket.id, status="resolved")

    auto_assign("least_open")
    new = [factory.ticket(customer) for _ in range(4)]
    # Each new ticket goes to the least loaded agent at that moment (ties: lower id).
    loads = {busy.id: 3, idle.id: 0, medium.id: 1}
    expected = []
    for _ in new:
        choice = min(loads, key=lambda uid: (loads[uid], uid))
        expected.append(choice)
        loads[choice] += 1
    assert assignees(new) == expected
    assert busy.id not in assignees(new)


def test_no_approved_agent_or_unknown_policy_leaves_the_ticket_unassigned(factory, auto_assign):
    customer = factory.customer()
    factory.agent(approved=False)
    auto_assign("round_robin")
    assert factory.ticket(customer).assigned_to_id is None
    factory.agent()
    auto_assign("fastest")
    assert factory.ticket(customer).assigned_to_id is None


def test_auto_assigned_ticket_shows_in_the_agents_open_list(client, factory, auto_assign):
    auto_assign("round_robin")
    customer, agent, other = factory.customer(), factory.agent(), factory.agent()
    r = client.post("/api/support/tickets/create/", headers=customer.headers,
                    json={"subject": "Late", "description": "Still not here", "category": "Late"})
    ticket_id = r.get_json()["ticket"]["id"]
    [listed] = client.get("/api/agent/tickets/?status=Open", headers=agent.headers).get_json()["tickets"]
    assert listed["id"] == ticket_id and listed["agent_id"] == str(agent.id)
    assert client.get("/api/agent/tickets/", headers=other.headers).get_json() == {"tickets": []}
    assert client.get(f"/api/support/tickets/{ticket_id}/",
                      headers=agent.headers).get_json()["internal_notes"] == []


def test_concurrent_tickets_are_spread_evenly(app, factory, auto_assign):
    """Tickets opened at the same time still take turns (agent rows are locked on PG)."""
    auto_assign("round_robin")
    customer = factory.customer()
    agents = [factory.agent() for _ in range(3)]
    actor = customer.actor
    errors: list[BaseException] = []

    def open_some() -> None:
        try:
            with app.app_context():
                for _ in range(4):
                    service.open_ticket(actor, subject="Burst", description="Many at once")
                db.session.remove()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=open_some) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counts = {agent.id: 0 for agent in agents}
    for user_id in db.session.scalars(select(Ticket.assigned_to_id)):
        counts[user_id] += 1
    assert sorted(counts.values()) == [4, 4, 4]


def test_next_in_turn_wraps_around():
    assert assignment.next_in_turn([3, 5, 9], None) == 3
    assert assignment.next_in_turn([3, 5, 9], 5) == 9
    assert assignment.next_in_turn([3, 5, 9], 9) == 3
    assert assignment.next_in_turn([3, 5, 9], 4) == 5
