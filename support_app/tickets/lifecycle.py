"""The ticket lifecycle as a pure transition table: no Flask, no database.

open -> in_progress -> on_hold <-> in_progress -> resolved -> closed; staff may close
from any status and reopen; a customer closes a resolved ticket. Replies reopen
(002 behaviour notes). Escalation and feedback rules live here too.
"""
from __future__ import annotations

OPEN, IN_PROGRESS, ON_HOLD, RESOLVED, CLOSED = (
    "open", "in_progress", "on_hold", "resolved", "closed",
)
STATUSES = (OPEN, IN_PROGRESS, ON_HOLD, RESOLVED, CLOSED)
UNRESOLVED = frozenset({OPEN, IN_PROGRESS, ON_HOLD})
FINISHED = frozenset({RESOLVED, CLOSED})
ROLES = ("customer", "staff")

# (from, to) -> roles that may make the move.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (OPEN, IN_PROGRESS): frozenset({"staff"}),
    (OPEN, ON_HOLD): frozenset({"staff"}),
    (OPEN, RESOLVED): frozenset({"staff"}),
    (OPEN, CLOSED): frozenset({"staff"}),
    (IN_PROGRESS, ON_HOLD): frozenset({"staff"}),
    (IN_PROGRESS, RESOLVED): frozenset({"staff"}),
    (IN_PROGRESS, CLOSED): frozenset({"staff"}),
    (ON_HOLD, IN_PROGRESS): frozenset({"staff"}),
    (ON_HOLD, RESOLVED): frozenset({"staff"}),
    (ON_HOLD, CLOSED): frozenset({"staff"}),
    (RESOLVED, IN_PROGRESS): frozenset({"staff"}),
    (RESOLVED, CLOSED): frozenset({"staff", "customer"}),
    (CLOSED, IN_PROGRESS): frozenset({"staff"}),
}

MAX_ESCALATION_LEVEL = 3
PRIORITY_LADDER = ("low", "medium", "high", "urgent")


def can_transition(current: str, target: str, role: str) -> bool:
    return role in TRANSITIONS.get((current, target), frozenset())


def allowed_targets(current: str, role: str) -> list[str]:
    return [to for (frm, to), who in TRANSITIONS.items() if frm == current and role in who]


def status_after_reply(current: str, role: str) -> str:
    """A customer reply reopens a finished ticket; a staff reply puts it back in progress."""
    if current in FINISHED:
        return OPEN if role == "customer" else IN_PROGRESS
    return current


def escalation_refusal(status: str, level: int, role: str) -> str | None:
    """None if the escalation may happen, else `cannot_escalate` or `already_escalated`.

    A customer escalates once (level 0 -> 1); staff may raise it further up to the
    maximum level. Finished tickets are never escalated.
    """
    if status not in UNRESOLVED:
        return "cannot_escalate"
    ceiling = 1 if role == "customer" else MAX_ESCALATION_LEVEL
    if level >= ceiling:
        return "already_escalated"
    return None


def escalated_priority(priority: str) -> str:
    """Escalation raises the priority one step (never above urgent)."""
    index = PRIORITY_LADDER.index(priority) if priority in PRIORITY_LADDER else 1
    return PRIORITY_LADDER[min(index + 1, len(PRIORITY_LADDER) - 1)]


def close_refusal(status: str, role: str) -> str | None:
    """None if the ticket may be closed by this role, else the reason."""
    if status == CLOSED:
        return "already_closed"
    if not can_transition(status, CLOSED, role):
        return "not_resolved"
    return None


def feedback_refusal(status: str, has_feedback: bool) -> str | None:
    if status not in FINISHED:
        return "not_resolved"
    if has_feedback:
        return "already_submitted"
    return None


def valid_rating(rating: object) -> bool:
    return isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= 5
