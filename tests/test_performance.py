"""What the benchmark-driven optimisations (issue 12) must keep true: exact page totals
whichever way they are computed, counters that follow commits and rollbacks only,
and authentication that resolves the same Actor in a fixed, small number of queries.
Speed itself is measured by `python -m bench`, never here."""
from __future__ import annotations

import re
import threading
import time

import pytest
from flask import Flask, current_app
from marshmallow import Schema
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import SupportUser, Ticket
from support_app.security import roles
from support_app.security.current import actor_for_user
from support_app.tickets import counters, service

from .querycount import count_queries


@pytest.fixture
def desk(factory):
    """Tickets in every status, over two customers, some assigned to an agent."""
    john, jane = factory.customer("John"), factory.customer("Jane")
    admin, agent = factory.staff(roles.ADMIN), factory.agent()
    made = [factory.ticket(person, priority=priority)
            for person in (john, jane) for priority in ("low", "high", "urgent")]
    service.assign_self(agent.actor, made[0].id)                      # in_progress
    service.assign_self(agent.actor, made[1].id)
    service.update_ticket(admin.actor, made[1].id, status="on_hold")  # reads as in_progress
    service.update_ticket(admin.actor, made[2].id, status="resolved")
    service.close_ticket(admin.actor, made[3].id)
    return {"admin": admin, "agent": agent, "john": john}


def _exact(**where) -> int:
    stmt = select(func.count()).select_from(Ticket)
    for column, values in where.items():
        stmt = stmt.where(getattr(Ticket, column).in_(values))
    return db.session.scalar(stmt)


def _total(client, person, query: str) -> int:
    r = client.get(f"/api/support-tickets?{query}", headers=person.headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["data"]["total"]


@pytest.mark.parametrize("query, where", [
    ("", {}),
    ("status=open", {"status": ["open"]}),
    ("status=in_progress", {"status": ["in_progress", "on_hold"]}),
    ("status=resolved", {"status": ["resolved"]}),
    ("status=closed", {"status": ["closed"]}),
])
def test_desk_wide_status_totals_read_the_counters_and_are_exact(client, desk, query, where):
    with count_queries() as seen:
        total = _total(client, desk["admin"], query)
    assert total == _exact(**where)
    assert not any("count(" in s.lower() for s in seen)  # no COUNT on this path


@pytest.mark.parametrize("query, where", [
    ("status=open&priority=high", {"status": ["open"], "priority": ["high"]}),
    ("status=in_progress&priority=low", {"status": ["in_progress", "on_hold"],
                                          "priority": ["low"]}),
    ("priority=urgent", {"priority": ["urgent"]}),
])
def test_narrower_filters_count_rows_and_are_exact(client, desk, query, where):
    with count_queries() as seen:
        total = _total(client, desk["admin"], query)
    assert total == _exact(**where)
    assert any("count(" in s.lower() for s in seen)


def test_staff_without_view_all_get_totals_of_what_they_may_see(client, desk):
    """An agent sees unassigned and own tickets: the desk-wide counters would be wrong."""
    agent = desk["agent"]
    visible = db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.status.in_(["in_progress", "on_hold"]),
        (Ticket.assigned_to_id == agent.id) | Ticket.assigned_to_id.is_(None)))
    assert _total(client, agent, "status=in_progress") == visible


def test_customer_totals_count_only_their_own(client, desk):
    assert _total(client, desk["john"], "status=open") == db.session.scalar(
        select(func.count()).select_from(Ticket).where(
            Ticket.status == "open", Ticket.customer_id == desk["john"].customer.id))


def test_counters_follow_the_commit_and_forget_a_rollback(app_ctx):
    before = counters.read(counters.TOTAL)[counters.TOTAL]
    counters.bump({counters.TOTAL: 5})
    db.session.rollback()
    db.session.commit()
    assert counters.read(counters.TOTAL)[counters.TOTAL] == before
    counters.bump({counters.TOTAL: 2})
    counters.bump({counters.TOTAL: 1})
    db.session.commit()
    assert counters.read(counters.TOTAL)[counters.TOTAL] == before + 3


def test_created_tickets_keep_counters_exact_under_the_api(client, factory):
    john = factory.customer()
    for n in range(3):
        r = client.post("/api/support-tickets", headers=john.headers, json={
            "subject": f"Parcel {n}", "description": "The parcel never arrived at all."})
        assert r.status_code == 201
    kept = counters.read(counters.TOTAL, counters.status_key("open"), counters.ADMIN_UNREAD)
    assert kept == {name: value for name, value in counters.recount().items() if name in kept}


def _permissions_by_walking_roles(user: SupportUser) -> frozenset[str]:
    """The ORM walk the one-query lookup replaced, as the reference."""
    names = {pv.permission.name for role in user.roles for pv in role.permissions
             if pv.view_menu and pv.view_menu.name == roles.SUPPORT_VIEW}
    if any(role.name == current_app.config.get("AUTH_ROLE_ADMIN", "Admin") for role in user.roles):
        names.update(roles.API_PERMISSIONS)
    return frozenset(names)


def test_actor_lookup_matches_the_roles_in_one_query(factory):
    people = [factory.staff(roles.ADMIN), factory.staff(roles.STORE_MANAGER), factory.agent(),
              factory.agent(approved=False), factory.customer()]
    for person in people:
        user = db.session.get(SupportUser, person.id)
        with count_queries() as seen:
            actor = actor_for_user(user)
        assert len(seen) == 1  # user, customer, agent profile and role permissions
        assert actor.permissions == _permissions_by_walking_roles(user)
        customer = person.customer
        assert actor.customer_id == (customer.id if customer else None)
        assert actor.is_approved_agent == (person is people[2])


def test_an_api_request_authenticates_in_one_query(client, factory):
    admin = factory.staff(roles.ADMIN)
    db.session.expunge_all()  # the user row is read by the request, not found in memory
    with count_queries() as seen:
        r = client.get("/api/support-tickets/navbar/count", headers=admin.headers)
    assert r.status_code == 200
    assert len(seen) == 2  # the identity, then the counters


def test_state_pushes_with_one_key_wait_in_the_queue_once(app):
    """A badge push still waiting covers later changes; one that started does not."""
    from support_app.realtime.dispatch import Dispatcher

    dispatcher, gate, ran = Dispatcher(), threading.Event(), []
    dispatcher.submit(gate.wait, app)  # hold the sender thread
    for n in range(3):
        dispatcher.submit(lambda n=n: ran.append(("badge", n)), app, key="badge")
    dispatcher.submit(lambda: ran.append(("event", 0)), app)
    dispatcher.submit(lambda: ran.append(("event", 1)), app)
    gate.set()
    dispatcher.wait_idle()
    assert ran == [("badge", 0), ("event", 0), ("event", 1)]
    dispatcher.submit(lambda: ran.append(("badge", 3)), app, key="badge")
    dispatcher.wait_idle()
    assert ran[-1] == ("badge", 3)


def test_paced_state_pushes_run_once_at_once_then_once_per_interval(app):
    """A quiet key pushes at once; changes inside the interval after a run become one
    push when it ends, which reads the state of that moment; wait_idle waits for it."""
    from support_app.realtime.dispatch import Dispatcher

    dispatcher, state, ran = Dispatcher(), {"value": 0}, []
    every = 0.3

    def push() -> None:
        ran.append((time.monotonic(), state["value"]))

    for value in range(1, 6):
        state["value"] = value
        dispatcher.submit(push, app, key="badge", every=every)
        time.sleep(0.02)
    dispatcher.wait_idle()
    assert [value for _at, value in ran] == [1, 5]
    assert ran[1][0] - ran[0][0] >= every * 0.9  # the second waited out the interval
    dispatcher.submit(lambda: ran.append((time.monotonic(), "other")), app, key="other",
                      every=every)
    dispatcher.wait_idle()
    assert ran[-1][1] == "other" and len(ran) == 3  # another key is not held back


def test_paced_keys_do_not_pile_up(app, monkeypatch):
    """One key per user: runs older than any interval are forgotten past a bound."""
    from support_app.realtime import dispatch

    monkeypatch.setattr(dispatch, "FORGET_ABOVE", 10)
    dispatcher = dispatch.Dispatcher()
    for user in range(30):
        dispatcher.submit(lambda: None, app, key=("navbar", user), every=0.25)
    dispatcher.wait_idle()
    assert len(dispatcher._last_run) == 30  # all recent: nothing to forget yet
    monkeypatch.setattr(dispatch, "FORGET_AFTER", 0.0)
    dispatcher.submit(lambda: None, app, key=("navbar", "next"), every=0.25)
    dispatcher.wait_idle()
    assert set(dispatcher._last_run) <= {("navbar", "next")}


def test_detail_loads_ticket_and_people_in_one_query(client, factory):
    john, admin, agent = factory.customer("John"), factory.staff(roles.ADMIN), factory.agent()
    ticket = factory.ticket(john)
    service.assign_self(agent.actor, ticket.id)
    service.add_message(agent.actor, ticket.id, "On it.")
    ticket_id, customer_id, agent_id = ticket.id, john.customer.id, agent.id
    db.session.expunge_all()
    with count_queries() as seen:
        r = client.get(f"/api/support-tickets/{ticket_id}", headers=admin.headers)
    data = r.get_json()["data"]
    assert data["customer"]["id"] == customer_id
    assert data["assigned_admin"]["id"] == data["last_replied_by_user"]["id"] == agent_id
    assert len(seen) == 2  # the identity, then the ticket with its people


def _read_back(seen: list[str], table: str) -> list[str]:
    """Statements that read one row of `table` by its id."""
    return [s for s in seen if re.search(rf"FROM {table}\s+WHERE {table}\.id = ", s)]


def test_create_and_reply_answer_from_what_they_wrote(client, factory):
    """The write's response is printed from the rows as written, not read back after
    commit, and says exactly what a later read says."""
    john = factory.customer("John")
    db.session.expunge_all()
    with count_queries() as seen:
        r = client.post("/api/support-tickets", headers=john.headers, json={
            "subject": "Parcel", "description": "The parcel never arrived at all."})
    assert r.status_code == 201
    # The customer is read once, in the transaction (and proves the pattern matches).
    assert _read_back(seen, "tickets") == [] and _read_back(seen, "customers") != []
    created = r.get_json()["data"]
    shown = client.get(f"/api/support-tickets/{created['id']}", headers=john.headers).get_json()["data"]
    for key, value in created.items():
        if key in shown and key != "customer":  # the detail prints the customer with phone
            assert shown[key] == value, key
    assert {k: shown["customer"][k] for k in created["customer"]} == created["customer"]

    db.session.expunge_all()
    with count_queries() as seen:
        r = client.post(f"/api/support-tickets/{created['id']}/messages", headers=john.headers,
                        json={"message": "Any news?"})
    assert r.status_code == 201
    assert _read_back(seen, "ticket_messages") == [] and _read_back(seen, "customers") == []
    reply = r.get_json()["data"]
    thread = client.get(f"/api/support-tickets/{created['id']}/messages",
                        headers=john.headers).get_json()["data"]
    assert reply in thread


def test_a_request_builds_no_schema_and_runs_through_no_layer_per_documented_error(
        client, factory, monkeypatch):
    """The reply route's schemas are built once, when the routes are declared (webargs
    would build an argument schema class anew for every request), and its seven
    documented error responses are documentation, not one pass-through call each."""
    alice = factory.customer("Alice")
    ticket = factory.ticket(alice)
    built, synced = [], []
    schema_init, ensure_sync = Schema.__init__, Flask.ensure_sync

    def counting_init(self, *args, **kwargs):
        built.append(type(self).__name__)
        schema_init(self, *args, **kwargs)

    def counting_sync(self, func):
        synced.append(func)
        return ensure_sync(self, func)

    def reply() -> None:
        r = client.post(f"/api/support-tickets/{ticket.id}/messages", headers=alice.headers,
                        json={"message": "Any news?"})
        assert r.status_code == 201

    reply()  # nested response schemas are built at their first use, once
    monkeypatch.setattr(Schema, "__init__", counting_init)
    monkeypatch.setattr(Flask, "ensure_sync", counting_sync)
    reply()
    assert built == []
    # Flask's MethodView dispatch, smorest's route, arguments and response wrappers;
    # an alternative response adds none (smorest's own added one per documented error).
    assert len([f for f in synced if getattr(f, "__name__", "") == "post"]) == 4
    spec = client.get("/api/openapi.json").get_json()
    documented = spec["paths"]["/api/support-tickets/{ticket}/messages"]["post"]["responses"]
    assert {"400", "401", "403", "404", "413", "422", "503"} <= set(documented)
