"""GET /api/tickets/{id}/sla: staff read a ticket's targets as of now, with a real
client and the clock moved (default calendar Mon-Fri 09-17 UTC; policy 240 / 480 /
2400 business minutes, at risk from 80%; tickets open Monday 2026-12-07 10:00)."""
from __future__ import annotations

import pytest

from support_app.security import roles
from support_app.tickets import service

from .sla_helpers import move


def sla_of(client, factory, person, ticket_id) -> dict:
    """Headers made now: the clock may have moved past an older token's expiry."""
    response = client.get(f"/api/tickets/{ticket_id}/sla", headers=factory.headers(person.user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def targets(data: dict) -> dict[str, tuple]:
    return {t["target"]: (t["due_at"], t["state"], t["breached"], t["business_minutes_left"])
            for t in data["targets"]}


@pytest.mark.parametrize("now,first_response,resolution_left", [
    ("2026-12-07 10:00", ("2026-12-07T14:00:00Z", "running", False, 240), 2400),
    ("2026-12-07 13:30", ("2026-12-07T14:00:00Z", "at_risk", False, 30), 2190),
    ("2026-12-07 15:00", ("2026-12-07T14:00:00Z", "breached", True, -60), 2100),
    ("2026-12-08 09:30", ("2026-12-07T14:00:00Z", "breached", True, -210), 1950),
])
def test_targets_as_time_passes(client, factory, desk, clock, now, first_response,
                                resolution_left):
    ticket = factory.ticket(desk.alice)
    move(clock, now)
    data = sla_of(client, factory, desk.admin, ticket.id)
    assert data["ticket_id"] == ticket.id and data["policy"]["name"] == "Default"
    assert data["paused_since"] is None
    shown = targets(data)
    assert set(shown) == {"first_response", "resolution"}  # no customer message waits
    assert shown["first_response"] == first_response
    assert shown["resolution"] == ("2026-12-14T10:00:00Z", "running", False, resolution_left)


def test_a_paused_clock_stands_still_and_a_met_target_has_no_time_left(client, factory,
                                                                        desk, clock):
    ticket = factory.ticket(desk.alice)
    move(clock, "2026-12-07 11:00")
    service.add_message(desk.admin.actor, ticket.id, "Could you send a photo?")
    service.update_ticket(desk.admin.actor, ticket.id, status="on_hold")
    move(clock, "2026-12-09 16:00")
    data = sla_of(client, factory, desk.admin, ticket.id)
    assert data["paused_since"] == "2026-12-07T11:00:00Z"
    shown = targets(data)
    assert shown["first_response"] == ("2026-12-07T14:00:00Z", "met", False, None)
    assert shown["resolution"] == ("2026-12-14T10:00:00Z", "running", False, 2340)


def test_the_assigned_agent_sees_it_and_customers_never_do(client, factory, desk, clock):
    agent = factory.agent()
    ticket = factory.ticket(desk.alice)
    service.reassign(desk.admin.actor, ticket.id, agent.id)
    assert sla_of(client, factory, agent, ticket.id)["targets"]
    response = client.get(f"/api/tickets/{ticket.id}/sla", headers=factory.headers(desk.alice.user))
    assert response.status_code == 403
    assert response.get_json()["success"] is False and response.get_json()["message"]


def test_a_ticket_without_a_policy_has_no_targets(client, factory, clock):
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    data = sla_of(client, factory, admin, ticket.id)
    assert data["policy"] is None and data["targets"] == []


@pytest.mark.parametrize("ticket_id", [999_999, 2**63, 2**64 + 1])
def test_unknown_or_huge_ids_are_404(client, factory, clock, ticket_id):
    admin = factory.staff(roles.ADMIN)
    response = client.get(f"/api/tickets/{ticket_id}/sla", headers=factory.headers(admin.user))
    assert response.status_code == 404
    assert response.get_json()["success"] is False


def test_staff_list_tickets_at_risk_or_breached_that_they_may_see(client, factory, desk, clock):
    from support_app.tickets import sla_checks

    agent, other = factory.agent(), factory.agent()
    theirs = factory.ticket(desk.alice, subject="Agent's ticket")
    service.reassign(desk.admin.actor, theirs.id, agent.id)
    move(clock, "2026-12-07 11:00")
    pool = factory.ticket(desk.alice, subject="Pool ticket")  # due 15:00, at risk 14:12
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_due() == 2

    def listed(person, query=""):
        response = client.get(f"/api/tickets/sla{query}", headers=factory.headers(person.user))
        return response.status_code, response.get_json()

    status, body = listed(desk.admin)
    assert status == 200 and [t["number"] for t in body["data"]] == [theirs.number, pool.number]
    assert body["data"][0]["sla_state"] == "breached"
    assert body["data"][0]["sla_due_at"] == "2026-12-07T14:00:00Z"
    assert [t["number"] for t in listed(desk.admin, "?state=at_risk")[1]["data"]] == [pool.number]
    assert [t["number"] for t in listed(agent)[1]["data"]] == [theirs.number, pool.number]
    assert [t["number"] for t in listed(other)[1]["data"]] == [pool.number]  # not the agent's
    assert listed(desk.alice)[0] == 403
    for bad in ("?state=running", "?state=%00", "?limit=0", "?limit=101", "?limit=x"):
        status, body = listed(desk.admin, bad)
        assert status == 400 and body["success"] is False, (bad, body)
