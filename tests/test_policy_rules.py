"""The access policy's rules one by one, on plain actors and tickets (no request): the
cases the surface tests reach only indirectly, so a changed condition survived them
(issue 28's mutation run)."""
from __future__ import annotations

import pytest

from support_app.models import Ticket
from support_app.security import roles
from support_app.tickets import policy
from support_app.tickets.actor import Actor

AGENT = frozenset({roles.REPLY, roles.WORK})
DESK = frozenset({roles.REPLY, roles.VIEW_ALL, roles.MANAGE})
CUSTOMER = frozenset({roles.CREATE, roles.TRACK, roles.REPLY})


def agent(user_id: int = 7, approved: bool = True) -> Actor:
    return Actor(user_id=user_id, customer_id=None, permissions=AGENT, is_approved_agent=approved)


def ticket(assigned_to_id: int | None = None, customer_id: int = 100) -> Ticket:
    return Ticket(id=1, assigned_to_id=assigned_to_id, customer_id=customer_id)


@pytest.mark.parametrize("actor, view, values", [
    (Actor(1, None, DESK), (True, False, False), {}),
    (agent(), (False, True, False), {"viewer_user_id": 7}),
    (agent(approved=False), (False, False, False), {}),
    (Actor(None, None, AGENT, is_approved_agent=True), (False, False, False), {}),
    (Actor(3, 42, CUSTOMER), (False, False, True), {"viewer_customer_id": 42}),
    (Actor(7, 42, AGENT | CUSTOMER, is_approved_agent=True), (False, True, True),
     {"viewer_user_id": 7, "viewer_customer_id": 42}),
])
def test_view_of(actor, view, values):
    assert policy.view_of(actor) == (view, values)


def test_can_work():
    assert policy.can_work(Actor(1, None, DESK), ticket(assigned_to_id=99))
    assert policy.can_work(agent(), ticket(assigned_to_id=7))
    assert not policy.can_work(agent(), ticket(assigned_to_id=8))
    assert not policy.can_work(agent(), ticket())
    assert not policy.can_work(agent(approved=False), ticket(assigned_to_id=7))
    assert not policy.can_work(Actor(7, None, frozenset({roles.REPLY}), is_approved_agent=True),
                               ticket(assigned_to_id=7))
    # No user, no assignment: None == None must not make a worker.
    assert not policy.can_work(Actor(None, None, AGENT, is_approved_agent=True), ticket())


def test_can_see_internal_notes():
    assert policy.can_see_internal_notes(Actor(1, None, DESK), ticket(assigned_to_id=99))
    assert policy.can_see_internal_notes(agent(), ticket(assigned_to_id=7))
    assert not policy.can_see_internal_notes(agent(), ticket())
    assert not policy.can_see_internal_notes(agent(), ticket(assigned_to_id=8))
    assert not policy.can_see_internal_notes(Actor(3, 100, CUSTOMER), ticket())
    viewer = Actor(1, None, frozenset({roles.VIEW_ALL}))
    assert policy.can_view(viewer, ticket()) and not policy.can_see_internal_notes(viewer, ticket())


def test_is_owner():
    assert policy.is_owner(Actor(3, 100, CUSTOMER), ticket(customer_id=100))
    assert not policy.is_owner(Actor(3, 101, CUSTOMER), ticket(customer_id=100))
    assert not policy.is_owner(agent(), ticket(customer_id=100))


def test_can_view_without_the_database():
    """Staff rules decide before the participant lookup (which needs a session)."""
    assert policy.can_view(Actor(1, None, DESK), ticket(assigned_to_id=5))
    assert policy.can_view(agent(), ticket())
    assert policy.can_view(agent(), ticket(assigned_to_id=7))
    assert policy.can_view(Actor(3, 100, CUSTOMER), ticket(customer_id=100))


def test_can_view_refusals(app_ctx):
    assert not policy.can_view(agent(), ticket(assigned_to_id=8))
    assert not policy.can_view(agent(approved=False), ticket())
    assert not policy.can_view(Actor(3, 101, CUSTOMER), ticket(customer_id=100))
    assert not policy.is_participant(agent(), ticket())
