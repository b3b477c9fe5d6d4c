"""Who works a ticket (taking it, reassigning it, approving agents) and the orders the
desk cancels, pinned where the mutation run (tests/mutation/REPORT.md, target
tickets-service-assignment) needs it: what is written, audited and announced, which
rows are locked, and what each refusal says."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from support_app.extensions import db
from support_app.models import AgentProfile, Order, Ticket
from support_app.security import roles
from support_app.tickets import Actor, events, service
from support_app.tickets.errors import (
    AlreadyAssigned,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from tests.lock_reads import reads_of

from .service_helpers import LATER, fresh, history, later


# --------------------------------------------------------------------- taking one


def test_taking_an_open_ticket_assigns_it_starts_it_and_says_both(factory, alice,
                                                                  recorded_events, morning):
    ticket = factory.ticket(alice)
    agent = factory.agent(approved=True)
    actor, ticket_id = agent.actor, ticket.id
    later(morning)
    with reads_of("tickets") as reads:
        taken = service.assign_self(actor, ticket_id, origin="admin")
    assert reads == [True]  # the row is locked before it is judged
    assert (taken.assigned_to_id, taken.status) == (agent.id, "in_progress")
    stored = fresh(ticket.id)
    assert (stored.assigned_to_id, stored.status, stored.updated_at) == (
        agent.id, "in_progress", LATER)
    assert history(ticket.id) == [("assigned", agent.id, None, str(agent.id)),
                                  ("status", agent.id, "open", "in_progress")]
    assert [(e.name, e.origin, e.actor_user_id, e.data) for e in recorded_events[-2:]] == [
        (events.ASSIGNED, "admin", agent.id, {"old_assignee": None, "new_assignee": agent.id}),
        (events.STATUS_CHANGED, "admin", agent.id,
         {"old_status": "open", "new_status": "in_progress"}),
    ]


def test_taking_a_ticket_on_hold_leaves_its_status(factory, alice, admin):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, status="on_hold")
    agent = factory.agent(approved=True)
    assert service.assign_self(agent.actor, ticket.id).status == "on_hold"
    assert [kind for kind, *_ in history(ticket.id)] == ["status", "assigned"]


def test_a_merged_tickets_number_takes_the_ticket_it_went_into(factory, alice):
    kept, merged = factory.ticket(alice, subject="Kept"), factory.ticket(alice, subject="Gone")
    db.session.execute(update(Ticket).where(Ticket.id == merged.id)
                       .values(merged_into_id=kept.id))
    db.session.commit()
    agent = factory.agent(approved=True)
    assert service.assign_self(agent.actor, merged.id).id == kept.id
    assert fresh(kept.id).assigned_to_id == agent.id


@pytest.mark.parametrize("who", ["unapproved agent", "customer", "system"])
def test_only_approved_agents_and_the_desk_take_tickets(factory, alice, who):
    ticket = factory.ticket(alice)
    actor = {"unapproved agent": lambda: factory.agent(approved=False).actor,
             "customer": lambda: alice.actor,
             "system": lambda: Actor.system("rules")}[who]()
    with pytest.raises(Forbidden) as refused:
        service.assign_self(actor, ticket.id)
    assert refused.value.message == "Only approved support agents can take tickets"
    assert fresh(ticket.id).assigned_to_id is None


def test_a_manager_takes_a_ticket_as_the_desk(factory, alice):
    ticket = factory.ticket(alice)
    manager = factory.staff(roles.STORE_MANAGER)
    assert service.assign_self(manager.actor, ticket.id).assigned_to_id == manager.id


def test_a_taken_ticket_is_already_assigned_even_to_one_who_cannot_see_it(factory, alice):
    ticket = factory.ticket(alice)
    service.assign_self(factory.agent(approved=True).actor, ticket.id)
    with pytest.raises(AlreadyAssigned) as refused:
        service.assign_self(factory.agent(approved=True).actor, ticket.id)
    assert refused.value.message == "Ticket is already assigned"


def test_one_who_may_manage_but_not_see_the_ticket_is_refused(factory, alice):
    ticket = factory.ticket(alice)
    blind = Actor(user_id=factory.staff(roles.FULFILLMENT).id, customer_id=None,
                  permissions=frozenset({roles.MANAGE}))
    with pytest.raises(Forbidden) as refused:
        service.assign_self(blind, ticket.id)
    assert refused.value.message == "Unauthorized access to this ticket"
    assert fresh(ticket.id).assigned_to_id is None


def test_taking_an_unknown_ticket_is_not_found(factory):
    with pytest.raises(NotFound) as missing:
        service.assign_self(factory.agent(approved=True).actor, 987654)
    assert missing.value.resource == "ticket"


# -------------------------------------------------------------------- reassigning


def test_an_admin_moves_a_ticket_between_agents_and_back_to_the_pool(
        factory, alice, admin, recorded_events, morning):
    ticket = factory.ticket(alice)
    first, second = factory.agent(approved=True), factory.agent(approved=True)
    service.assign_self(first.actor, ticket.id)
    later(morning)
    moved = service.reassign(admin.actor, ticket.id, second.id, origin="admin")
    assert moved.assigned_to_id == second.id
    assert fresh(ticket.id).updated_at == LATER
    event = recorded_events[-1]
    assert (event.name, event.origin, event.actor_user_id, event.data) == (
        events.ASSIGNED, "admin", admin.id, {"old_assignee": first.id, "new_assignee": second.id})
    assert service.reassign(admin.actor, ticket.id, None).assigned_to_id is None
    assert fresh(ticket.id).assigned_to_id is None
    assert history(ticket.id)[-2:] == [("assigned", admin.id, str(first.id), str(second.id)),
                                       ("assigned", admin.id, str(second.id), None)]
    assert fresh(ticket.id).status == "in_progress"


def test_reassigning_is_for_admins_and_to_approved_agents(factory, alice, admin):
    ticket = factory.ticket(alice)
    with pytest.raises(Forbidden) as refused:
        service.reassign(factory.staff(roles.STORE_MANAGER).actor, ticket.id, admin.id)
    assert refused.value.message == "Only admins can reassign tickets"
    for target in (factory.agent(approved=False).id, alice.id, 987654):
        with pytest.raises(NotFound) as missing:
            service.reassign(admin.actor, ticket.id, target)
        assert (missing.value.resource, missing.value.message) == (
            "agent", "Agent not found or not approved")
    assert fresh(ticket.id).assigned_to_id is None and history(ticket.id) == []


# ---------------------------------------------------------------------- approving


def test_approving_an_agent_records_who_and_when_and_revoking_clears_both(factory, admin,
                                                                         morning):
    rookie = factory.agent(approved=False)
    later(morning)
    profile = service.approve_agent(admin.actor, rookie.id)
    stored = db.session.scalar(select(AgentProfile).where(AgentProfile.user_id == rookie.id))
    assert (stored.is_approved, stored.approved_by_id, stored.approved_at) == (
        True, admin.id, LATER)
    assert profile.id == stored.id
    service.approve_agent(admin.actor, rookie.id, approved=False)
    db.session.expire_all()
    stored = db.session.get(AgentProfile, profile.id)
    assert (stored.is_approved, stored.approved_by_id, stored.approved_at) == (False, None, None)


def test_approving_is_for_admins_and_only_agents_have_profiles(factory, alice, admin):
    rookie = factory.agent(approved=False)
    with pytest.raises(Forbidden) as refused:
        service.approve_agent(factory.staff(roles.STORE_MANAGER).actor, rookie.id)
    assert refused.value.message == "Only admins can approve agents"
    with pytest.raises(NotFound) as missing:
        service.approve_agent(admin.actor, alice.id)
    assert (missing.value.resource, missing.value.message) == ("agent", "Agent not found")
    assert db.session.scalar(select(AgentProfile.is_approved)
                             .where(AgentProfile.user_id == rookie.id)) is False


# ------------------------------------------------------------------------- orders


def test_cancelling_an_order_keeps_the_reason_and_time_and_announces_it(
        factory, alice, recorded_events, morning):
    order = factory.order(alice.customer, status="processing")
    actor, order_id = alice.actor, order.id
    later(morning)
    with reads_of("orders") as reads:
        service.cancel_order(actor, order_id, "r" * 500)
    assert reads == [True]
    db.session.expire_all()
    stored = db.session.get(Order, order.id)
    assert (stored.status, stored.cancellation_reason, stored.cancelled_at) == (
        "cancelled", "r" * 500, LATER)
    event = recorded_events[-1]
    assert (event.name, event.ticket, event.actor_user_id) == (
        events.ORDER_CANCELLED, None, alice.id)
    assert event.data == {"order_id": order.id, "customer_id": alice.customer.id}


def test_a_reason_one_past_the_limit_is_refused_before_anything_is_read(factory, alice):
    order = factory.order(alice.customer)
    with pytest.raises(ValidationFailed) as refused:
        service.cancel_order(alice.actor, order.id, "r" * 501)
    assert refused.value.details["errors"] == {
        "reason": ["The reason may not be greater than 500 characters."]}
    assert db.session.get(Order, order.id).status == "pending"


def test_only_the_orders_customer_or_the_desk_cancels_it(factory, alice):
    order = factory.order(alice.customer)
    for actor in (factory.customer().actor, factory.agent(approved=True).actor):
        with pytest.raises(Forbidden) as refused:
            service.cancel_order(actor, order.id)
        assert refused.value.message == "You are not authorized to cancel this order"
    with pytest.raises(NotFound) as missing:
        service.cancel_order(alice.actor, 987654)
    assert missing.value.resource == "order"
    cancelled = service.cancel_order(factory.staff(roles.STORE_MANAGER).actor, order.id)
    assert (cancelled.status, cancelled.cancellation_reason) == ("cancelled", None)


def test_an_order_in_another_state_cannot_be_cancelled(factory, alice):
    order = factory.order(alice.customer, status="refunded")
    with pytest.raises(InvalidTransition) as refused:
        service.cancel_order(alice.actor, order.id)
    assert refused.value.message == "Order cannot be cancelled."


def test_taking_and_reassigning_come_from_the_api_unless_told(factory, alice, admin,
                                                              recorded_events):
    ticket = factory.ticket(alice)
    agent = factory.agent(approved=True)
    service.assign_self(agent.actor, ticket.id)
    service.reassign(admin.actor, ticket.id, None)
    assert [e.origin for e in recorded_events if e.name == events.ASSIGNED] == ["api", "api"]


def test_reassigning_locks_the_ticket_first(factory, alice, admin):
    ticket_id, actor = factory.ticket(alice).id, admin.actor
    with reads_of("tickets") as reads:
        service.reassign(actor, ticket_id, None)
    assert reads[0] is True
