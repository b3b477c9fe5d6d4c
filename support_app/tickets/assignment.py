"""Auto-assignment: which approved agent a new ticket goes to (AUTO_ASSIGN_POLICY).

* `off` (default): new tickets wait in the unassigned pool;
* `round_robin`: approved agents take turns, in user-id order, continuing after the
  agent who received the last automatic assignment;
* `least_open`: the approved agent with the fewest unresolved tickets (ties: the
  lowest user id).

`service.open_ticket` asks `choose_agent` inside its transaction, after the ticket
row is written, and records the choice as a `auto_assigned` audit event. On
PostgreSQL the approved agents' profile rows are locked for the rest of that
transaction, so concurrent tickets see each other's choices (SQLite serializes
writers already).
"""
from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import AgentProfile, SupportUser, Ticket, TicketEvent
from . import lifecycle

log = logging.getLogger(__name__)

OFF, ROUND_ROBIN, LEAST_OPEN = "off", "round_robin", "least_open"
POLICIES = (OFF, ROUND_ROBIN, LEAST_OPEN)
AUDIT_KIND = "auto_assigned"


def configured_policy() -> str:
    policy = str(current_app.config.get("AUTO_ASSIGN_POLICY") or OFF).strip().lower()
    if policy not in POLICIES:
        log.error("AUTO_ASSIGN_POLICY=%r is not one of %s; not assigning", policy, POLICIES)
        return OFF
    return policy


def approved_agents(*, lock: bool = False) -> list[int]:
    """User ids of approved agents whose accounts are active, in id order."""
    stmt = (
        select(AgentProfile.user_id)
        .join(SupportUser, SupportUser.id == AgentProfile.user_id)
        .where(AgentProfile.is_approved.is_(True), SupportUser.active.is_(True))
        .order_by(AgentProfile.user_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=AgentProfile)
    return list(db.session.scalars(stmt))


def choose_agent(policy: str | None = None) -> int | None:
    """The agent a new ticket should go to under the policy, or None (pool)."""
    policy = policy or configured_policy()
    if policy == OFF:
        return None
    agents = approved_agents(lock=True)
    if not agents:
        return None
    if policy == ROUND_ROBIN:
        return next_in_turn(agents, last_auto_assignee())
    return least_loaded(agents)


def last_auto_assignee() -> int | None:
    """Who received the most recent automatic assignment (newest audit row first)."""
    value = db.session.scalar(
        select(TicketEvent.new_value)
        .where(TicketEvent.kind == AUDIT_KIND)
        .order_by(TicketEvent.id.desc())
        .limit(1)
    )
    return int(value) if value and value.isdigit() else None


def next_in_turn(agents: list[int], last: int | None) -> int:
    """The first agent after `last` in id order, wrapping around."""
    if last is not None:
        for user_id in agents:
            if user_id > last:
                return user_id
    return agents[0]


def least_loaded(agents: list[int]) -> int:
    counts = dict(
        db.session.execute(
            select(Ticket.assigned_to_id, func.count(Ticket.id))
            .where(Ticket.assigned_to_id.in_(agents),
                   Ticket.status.in_(sorted(lifecycle.UNRESOLVED)))
            .group_by(Ticket.assigned_to_id)
        ).all()
    )
    return min(agents, key=lambda user_id: (counts.get(user_id, 0), user_id))
