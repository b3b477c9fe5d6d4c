"""Lifecycle rules the exhaustive table tests did not pin down (mutants that survived
them, issue 28): the moves the dashboard offers (`allowed_targets`) are exactly the
table's, and escalating a ticket whose priority the ladder does not know."""
from __future__ import annotations

import itertools

import pytest

from support_app.tickets import lifecycle as lc


@pytest.mark.parametrize("current,role", list(itertools.product(lc.STATUSES, lc.ROLES)))
def test_allowed_targets_are_the_permitted_moves(current, role):
    permitted = [target for target in lc.STATUSES if lc.can_transition(current, target, role)]
    assert sorted(lc.allowed_targets(current, role)) == sorted(permitted)


def test_allowed_targets_examples():
    assert lc.allowed_targets("open", "staff") == ["in_progress", "on_hold", "resolved", "closed"]
    assert lc.allowed_targets("resolved", "customer") == ["closed"]
    assert lc.allowed_targets("open", "customer") == []
    assert lc.allowed_targets("closed", "staff") == ["in_progress"]


def test_an_unknown_priority_escalates_as_if_it_were_medium():
    """Legacy rows may hold a priority the ladder does not know: treated as medium."""
    assert lc.escalated_priority("critical") == "high"
    assert lc.escalated_priority("") == "high"
