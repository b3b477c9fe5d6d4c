"""The pure lifecycle table, exhaustively: every status x every action x every role."""
from __future__ import annotations

import itertools

import pytest

from support_app.tickets import lifecycle as lc

STAFF_MOVES = {
    ("open", "in_progress"), ("open", "on_hold"), ("open", "resolved"), ("open", "closed"),
    ("in_progress", "on_hold"), ("in_progress", "resolved"), ("in_progress", "closed"),
    ("on_hold", "in_progress"), ("on_hold", "resolved"), ("on_hold", "closed"),
    ("resolved", "in_progress"), ("resolved", "closed"),
    ("closed", "in_progress"),
}
CUSTOMER_MOVES = {("resolved", "closed")}


@pytest.mark.parametrize("current,target,role",
                         list(itertools.product(lc.STATUSES, lc.STATUSES, lc.ROLES)))
def test_every_transition(current, target, role):
    expected = (current, target) in (STAFF_MOVES if role == "staff" else CUSTOMER_MOVES)
    assert lc.can_transition(current, target, role) is expected


def test_no_status_moves_to_itself():
    for status, role in itertools.product(lc.STATUSES, lc.ROLES):
        assert not lc.can_transition(status, status, role)
        assert status not in lc.allowed_targets(status, role)


@pytest.mark.parametrize("current", lc.STATUSES)
def test_reply_reopens_only_finished_tickets(current):
    finished = current in ("resolved", "closed")
    assert lc.status_after_reply(current, "customer") == ("open" if finished else current)
    assert lc.status_after_reply(current, "staff") == ("in_progress" if finished else current)


@pytest.mark.parametrize("status,level,role", list(itertools.product(lc.STATUSES, range(5), lc.ROLES)))
def test_escalation(status, level, role):
    refusal = lc.escalation_refusal(status, level, role)
    if status in ("resolved", "closed"):
        assert refusal == "cannot_escalate"
    elif level >= (1 if role == "customer" else lc.MAX_ESCALATION_LEVEL):
        assert refusal == "already_escalated"
    else:
        assert refusal is None


def test_escalation_raises_priority_one_step_up_to_urgent():
    assert [lc.escalated_priority(p) for p in lc.PRIORITY_LADDER] == ["medium", "high", "urgent", "urgent"]


@pytest.mark.parametrize("status,role", list(itertools.product(lc.STATUSES, lc.ROLES)))
def test_close(status, role):
    refusal = lc.close_refusal(status, role)
    if status == "closed":
        assert refusal == "already_closed"
    elif role == "staff" or status == "resolved":
        assert refusal is None
    else:
        assert refusal == "not_resolved"


@pytest.mark.parametrize("status,has_feedback", list(itertools.product(lc.STATUSES, (False, True))))
def test_feedback(status, has_feedback):
    refusal = lc.feedback_refusal(status, has_feedback)
    if status not in ("resolved", "closed"):
        assert refusal == "not_resolved"
    elif has_feedback:
        assert refusal == "already_submitted"
    else:
        assert refusal is None


@pytest.mark.parametrize("rating,ok", [(1, True), (5, True), (0, False), (6, False),
                                       ("5", False), (True, False), (3.0, False), (None, False)])
def test_rating(rating, ok):
    assert lc.valid_rating(rating) is ok
