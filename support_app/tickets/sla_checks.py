"""SLA warnings and breaches: the background check that moves each target of a ticket
from running to at risk to breached at `sla_check_at`, exactly once, and runs the
escalation rules (`SlaEscalationRule`) through the ticket service.

`check_due(now)` is plain: the scheduler (`support_app/scheduler.py`, embedded or in
`support worker`) calls it every `SLA_CHECK_SECONDS`, tests call it with time moved.
It reads the ids of due tickets through the `sla_check_at` index, then handles each in
its own service transaction:

* the ticket row is locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL: a ticket another
  process is handling is skipped, not waited for);
* the new states are written by one conditional UPDATE (`WHERE sla_check_at` and each
  moved target's state are still what was read), so with several processes (or
  SQLite, which has no row locks) only one writes a transition; the others see no row
  and fire nothing;
* in the same transaction: an `sla_at_risk` / `sla_breached` audit event, the
  `ticket.sla` domain event (realtime `support:ticket:sla`, a stored notification and
  an email to the assignee, or to the managers when unassigned) and the matching
  escalation rules' actions, each audited. A process that dies mid-way rolls it all
  back and the next pass finds the ticket still due: no check is lost.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from flask_appbuilder.security.sqla.models import Role
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..extensions import db
from ..models import TARGETS, SlaEscalationRule, SupportUser, Ticket, utcnow
from ..security import roles
from . import assignment, events, lifecycle, service, sla
from .actor import Actor
from .business_time import business_minutes_between

log = logging.getLogger(__name__)

BATCH = 100
ORIGIN = "sla"
MANAGER_ROLES = (roles.ADMIN, roles.STORE_MANAGER)
# A check lands on the at-risk instant itself: a second's slack for rounding.
SLACK_MINUTES = 1 / 60
AUDIT_KINDS = {sla.AT_RISK: "sla_at_risk", sla.BREACHED: "sla_breached"}


@dataclass(frozen=True)
class Transition:
    target: str
    old: str
    new: str
    due_at: dt.datetime


def transitions(ticket: Ticket, rule: sla.Rule, now: dt.datetime) -> list[Transition]:
    """Each open target's move as of `now`: at risk once its share is used, breached
    past its due time (straight to breached when the check comes late)."""
    if ticket.sla_paused_at is not None:
        return []
    moves = []
    for target in TARGETS:
        state, due = getattr(ticket, f"{target}_state"), getattr(ticket, f"{target}_due_at")
        if state not in (sla.RUNNING, sla.AT_RISK) or due is None:
            continue
        left = business_minutes_between(rule.calendar, now, due)
        if left <= 0 and now >= due:
            moves.append(Transition(target, state, sla.BREACHED, due))
        elif state == sla.RUNNING and left <= rule.margin(target) + SLACK_MINUTES:
            moves.append(Transition(target, state, sla.AT_RISK, due))
    return moves


def due_ticket_ids(now: dt.datetime, limit: int = BATCH) -> list[int]:
    """Tickets whose next check is due, oldest first (the `ix_tickets_sla_check` index)."""
    ids = list(db.session.scalars(select(Ticket.id).where(Ticket.sla_check_at <= now)
                                  .order_by(Ticket.sla_check_at).limit(limit)))
    db.session.commit()  # no read transaction held between the tickets
    return ids


def check_due(now: dt.datetime | None = None, limit: int = BATCH) -> int:
    """One pass: every due ticket's transitions; returns how many were fired here."""
    now = now or utcnow()
    fired = 0
    for ticket_id in due_ticket_ids(now, limit):
        try:
            fired += check_ticket(ticket_id, now)
        except Exception:  # one bad ticket must not stop the others; it stays due
            log.exception("SLA check of ticket %s failed", ticket_id)
    return fired


def _locked_due(ticket_id: int, now: dt.datetime) -> Ticket | None:
    stmt = (select(Ticket).where(Ticket.id == ticket_id, Ticket.sla_check_at <= now)
            .execution_options(populate_existing=True))  # what is stored, not a kept copy
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Ticket)
    return db.session.scalar(stmt)


def check_ticket(ticket_id: int, now: dt.datetime) -> int:
    """One ticket, one transaction: its transitions written once, with their audit,
    events and rules. Returns how many transitions this call fired."""
    actor = Actor.system(ORIGIN)
    with service._transaction():
        ticket = _locked_due(ticket_id, now)
        if ticket is None:  # handled meanwhile, or locked by another process
            return 0
        rule = sla.policy_of(ticket)
        moves = transitions(ticket, rule, now) if rule is not None else []
        if not _write(ticket, rule, moves, now):
            return 0
        for move in moves:
            _fire(ticket, actor, move)
    return len(moves)


def _write(ticket: Ticket, rule: sla.Rule | None, moves: list[Transition],
           now: dt.datetime) -> bool:
    """The conditional UPDATE; False when another process got there first."""
    if rule is None:  # the policy went away: nothing left to check
        changes: dict[str, Any] = {"sla_check_at": None}
    else:
        clock = sla.Clock(ticket, rule, now)
        for move in moves:
            clock[f"{move.target}_state"] = move.new
            if move.new == sla.BREACHED:
                clock[f"{move.target}_breached"] = True
        changes = clock.changes()
        check_at = changes.get("sla_check_at", ticket.sla_check_at)
        if check_at is not None and check_at <= now:  # never due again at once
            changes["sla_check_at"] = now + dt.timedelta(minutes=1)
    table = Ticket.__table__
    conditions = [table.c.id == ticket.id, table.c.sla_check_at == ticket.sla_check_at]
    conditions += [table.c[f"{m.target}_state"] == m.old for m in moves]
    written = db.session.execute(update(table).where(*conditions).values(**changes))
    if written.rowcount != 1:
        return False
    for name, value in changes.items():  # the ORM copy follows the Core UPDATE
        set_committed_value(ticket, name, value)
    return True


def _fire(ticket: Ticket, actor: Actor, move: Transition) -> None:
    rules = matching_rules(ticket, move)
    service._audit(ticket, actor, AUDIT_KINDS[move.new], move.target,
                   move.due_at.strftime("%Y-%m-%d %H:%M"))
    recipients = alert_recipients(ticket, notify_managers=any(r.notify_managers for r in rules))
    service._publish(events.SLA, ticket, actor, ORIGIN, target=move.target, state=move.new,
                     due_at=move.due_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                     recipients=sorted(recipients))
    for rule in rules:
        apply_rule(ticket, actor, rule, move)


def managers() -> set[int]:
    """Active users holding a manager role (Admin, Store Manager)."""
    return set(db.session.scalars(
        select(SupportUser.id).join(SupportUser.roles)
        .where(Role.name.in_(MANAGER_ROLES), SupportUser.active.is_(True))))


def alert_recipients(ticket: Ticket, *, notify_managers: bool = False) -> set[int]:
    """The assignee, else the managers; the managers too when a rule says so."""
    recipients = {ticket.assigned_to_id} if ticket.assigned_to_id is not None else managers()
    if notify_managers:
        recipients |= managers()
    return recipients


# --------------------------------------------------------------------------- rules


def matching_rules(ticket: Ticket, move: Transition) -> list[SlaEscalationRule]:
    """Active rules for this transition and ticket, in position order."""
    candidates = db.session.scalars(
        select(SlaEscalationRule)
        .where(SlaEscalationRule.active.is_(True), SlaEscalationRule.on_state == move.new)
        .order_by(SlaEscalationRule.position, SlaEscalationRule.id))
    return [rule for rule in candidates
            if rule.target in (None, move.target)
            and rule.priority in (None, ticket.priority)
            and rule.category in (None, ticket.category)]


def apply_rule(ticket: Ticket, actor: Actor, rule: SlaEscalationRule, move: Transition) -> None:
    """A rule's actions through the service's own steps (each audited and published);
    an action the lifecycle refuses (a finished ticket, the top level) is skipped."""
    service._audit(ticket, actor, "sla_rule", rule.name, f"{move.target}:{move.new}")
    if rule.escalate:
        if lifecycle.escalation_refusal(ticket.status, ticket.escalation_level, "staff") is None:
            service.raise_escalation(ticket, actor)
            service._publish(events.ESCALATED, ticket, actor, ORIGIN,
                             level=ticket.escalation_level)
    elif rule.raise_priority:  # escalating raises the priority already
        priority = lifecycle.escalated_priority(ticket.priority)
        if priority != ticket.priority:
            service.change_priority(ticket, actor, priority, ORIGIN)
    if rule.reassign:
        agents = assignment.approved_agents(lock=True)
        others = [agent for agent in agents if agent != ticket.assigned_to_id]
        if others:
            service._assign(ticket, actor, assignment.next_in_turn(others, ticket.assigned_to_id),
                            ORIGIN)
