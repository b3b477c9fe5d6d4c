"""The SLA clock on a ticket: which policy applies, when each target is due, pause
and resume, targets met. Called by `service.py` inside its transaction; the due
times live on the ticket row, so lists sort and filter on them through indexes.

Policies and calendars are read once per process and kept for `SLA_CACHE_SECONDS`
(a change committed in this process drops the copy at once; other processes see it
within that time), so opening a ticket or replying costs no extra query.

Each target (first response, next response, resolution) is `running` until it is
met; the background check (next step) moves it to `at_risk` and `breached` at
`sla_check_at`. A paused clock (`sla_paused_at`: on hold, or resolved/closed) keeps
its due times; on resume they move later by the business time spent paused.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any, Iterable

from flask_babel import gettext as _
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import (
    CATEGORIES, CHANNELS, PRIORITIES, SERVICE_TYPES, TARGETS, SlaCalendar, SlaPolicy, Ticket,
)
from . import lifecycle
from .business_time import Calendar, CalendarError, add_business_minutes, business_minutes_between
from .errors import ValidationFailed
from .rule_cache import RuleCache

log = logging.getLogger(__name__)

RUNNING, AT_RISK, BREACHED, MET = "running", "at_risk", "breached", "met"
OPEN_STATES = (RUNNING, AT_RISK, BREACHED)  # not met yet
PAUSED_STATUSES = frozenset({lifecycle.ON_HOLD}) | lifecycle.FINISHED
MATCH_VALUES = {"priority": PRIORITIES, "category": CATEGORIES, "channel": CHANNELS,
                "service_type": SERVICE_TYPES}
MATCH_FIELDS = tuple(MATCH_VALUES)


@dataclass(frozen=True)
class Rule:
    """One policy, with its calendar built and checked."""

    id: int
    name: str
    active: bool  # off: given to no more tickets; those already on it keep running on it
    match: tuple[tuple[str, str], ...]  # (field, value) pairs that must all hold
    calendar: Calendar
    minutes: dict[str, int | None]  # per target
    at_risk_percent: int

    def matches(self, fields: dict[str, Any]) -> bool:
        return all(fields.get(name) == value for name, value in self.match)

    def margin(self, target: str) -> float:
        """At risk once the policy's share of the target is used: this much business
        time before the due time (whole percents, so 20% of 240 is 48, not 47.999...)."""
        return (self.minutes[target] or 0) * (100 - self.at_risk_percent) / 100


def _load_rules() -> tuple[Rule, ...]:
    calendars: dict[int | None, Calendar] = {}
    for row in db.session.scalars(select(SlaCalendar)):
        try:
            built = Calendar.build(row.time_zone, row.hours, row.holidays or ())
        except CalendarError as err:  # written past the ORM's check (SQL by hand)
            log.warning("SLA calendar %s is unusable (%s); its policies are skipped", row.name, err)
            continue
        calendars[row.id] = built
        if row.is_default:
            calendars[None] = built
    loaded = []
    for policy in db.session.scalars(select(SlaPolicy)
                                     .order_by(SlaPolicy.position, SlaPolicy.id)):
        calendar = calendars.get(policy.calendar_id)
        if calendar is None:
            continue
        loaded.append(Rule(
            id=policy.id, name=policy.name, active=policy.active,
            match=tuple((name, getattr(policy, name)) for name in MATCH_FIELDS
                        if getattr(policy, name) is not None),
            calendar=calendar,
            minutes={target: getattr(policy, f"{target}_minutes") for target in TARGETS},
            at_risk_percent=policy.at_risk_percent,
        ))
    return tuple(loaded)


# Read on every ticket write: each process keeps a copy (rule_cache.py).
rules: RuleCache[tuple[Rule, ...]] = RuleCache(_load_rules, (SlaPolicy, SlaCalendar),
                                               "SLA_CACHE_SECONDS")


@event.listens_for(Session, "before_flush")
def _check_rule_changes(session: Session, _context: Any, _instances: Any) -> None:
    """Refuse unusable calendars and policies before they are written."""
    changed = [obj for obj in (*session.new, *session.dirty, *session.deleted)
               if isinstance(obj, (SlaPolicy, SlaCalendar))]
    for obj in changed:
        if obj in session.deleted:
            continue
        errors = errors_of(obj)
        if errors:
            raise ValidationFailed(errors)


def errors_of(obj: SlaCalendar | SlaPolicy) -> dict[str, list[str]]:
    """Why a calendar or policy cannot be used (empty: it can); forms ask first."""
    return _calendar_errors(obj) if isinstance(obj, SlaCalendar) else _policy_errors(obj)


def _calendar_errors(calendar: SlaCalendar) -> dict[str, list[str]]:
    try:
        Calendar.build(calendar.time_zone, calendar.hours, calendar.holidays or ())
    except CalendarError as err:
        return {err.field: [_(err.template, **err.params)]}
    return {}


def _policy_errors(policy: SlaPolicy) -> dict[str, list[str]]:
    """A match value no ticket can have would silently match nothing."""
    return {name: [_("%(value)s is not one of %(allowed)s", value=repr(getattr(policy, name)),
                     allowed=", ".join(allowed))]
            for name, allowed in MATCH_VALUES.items()
            if getattr(policy, name) is not None and getattr(policy, name) not in allowed}


def policy_for(fields: dict[str, Any]) -> Rule | None:
    """The policy a ticket with these fields gets: the first active one that matches."""
    return next((rule for rule in rules.get() if rule.active and rule.matches(fields)), None)


def policy_of(ticket: Ticket) -> Rule | None:
    """The ticket's policy as cached, switched off or not (switching a policy off stops
    it being given to tickets; those on it keep their clock). None when it has none,
    or its policy or calendar is gone."""
    return _rule(ticket.sla_policy_id)


def _rule(policy_id: int | None) -> Rule | None:
    if policy_id is None:
        return None
    return next((rule for rule in rules.get() if rule.id == policy_id), None)


class Clock:
    """The SLA columns of one ticket as a dict: read, changed by the steps below, and
    handed back as only what changed."""

    def __init__(self, ticket: Ticket, rule: Rule, now: dt.datetime) -> None:
        self.rule = rule
        self.now = now
        self.before = {name: getattr(ticket, name) for name in _COLUMNS}
        self.values = dict(self.before)
        self.at_risk: dict[str, dt.datetime | None] = {}  # known without a calendar walk

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.values[name] = value

    def _add(self, start: dt.datetime, minutes: float) -> dt.datetime | None:
        try:
            return add_business_minutes(self.rule.calendar, start, minutes)
        except CalendarError:  # a target further away than the calendar reaches
            return None

    @property
    def at(self) -> dt.datetime:
        """Where the clock stands: the pause instant while paused, else now."""
        return self["sla_paused_at"] or self.now

    def set_due(self, target: str, minutes: float | None) -> None:
        """`target` due after `minutes` more business time (none: no target)."""
        due = self._add(self.at, minutes) if minutes is not None else None
        self[f"{target}_due_at"] = due
        self[f"{target}_state"] = RUNNING if due else None
        if due is not None and self["sla_paused_at"] is None:
            self.at_risk[target] = self._add(self.at, max(minutes - self.rule.margin(target), 0))

    def meet(self, target: str) -> None:
        if self[f"{target}_state"] in OPEN_STATES:
            due = self[f"{target}_due_at"]
            self[f"{target}_state"] = MET
            if due is not None and self.at > due:
                self[f"{target}_breached"] = True

    def pause(self) -> None:
        if self["sla_paused_at"] is None:
            self["sla_paused_at"] = self.now

    def resume(self, reopen: Iterable[str] = ()) -> None:
        """Move the open targets (and `reopen`, met ones to run again) later by the
        business time spent paused; one already past due when paused stays put."""
        paused_at = self["sla_paused_at"]
        if paused_at is None:
            return
        for target in reopen:
            if self[f"{target}_state"] == MET and self[f"{target}_due_at"] is not None:
                self[f"{target}_state"] = BREACHED if self[f"{target}_breached"] else RUNNING
        paused = business_minutes_between(self.rule.calendar, paused_at, self.now)
        for target in TARGETS:
            due = self[f"{target}_due_at"]
            if self[f"{target}_state"] in OPEN_STATES and due is not None and due > paused_at:
                self[f"{target}_due_at"] = self._add(due, paused) or due
        self["sla_paused_at"] = None

    def changes(self) -> dict[str, Any]:
        """What changed, with the columns lists and the background check read."""
        self._summarize()
        return {name: value for name, value in self.values.items()
                if value != self.before[name]}

    def _summarize(self) -> None:
        open_targets = [t for t in TARGETS
                        if self[f"{t}_state"] in OPEN_STATES and self[f"{t}_due_at"]]
        if self["sla_paused_at"] is not None or not open_targets:
            self.values.update(sla_due_at=None, sla_state=None, sla_check_at=None)
            return
        self["sla_due_at"] = min(self[f"{t}_due_at"] for t in open_targets)
        states = {self[f"{t}_state"] for t in open_targets}
        self["sla_state"] = next(s for s in (BREACHED, AT_RISK, RUNNING) if s in states)
        checks = [self._next_check(t) for t in open_targets]
        self["sla_check_at"] = min((c for c in checks if c is not None), default=None)

    def _next_check(self, target: str) -> dt.datetime | None:
        """At-risk instant of a running target, due time of an at-risk one."""
        state, due = self[f"{target}_state"], self[f"{target}_due_at"]
        if state == AT_RISK:
            return due
        if state != RUNNING:
            return None
        if target in self.at_risk:
            return self.at_risk[target] or due
        left = business_minutes_between(self.rule.calendar, self.now, due)
        return self._add(self.now, max(left - self.rule.margin(target), 0)) or due


_COLUMNS = ("sla_policy_id", "sla_paused_at", "sla_due_at", "sla_state", "sla_check_at") + tuple(
    f"{target}_{suffix}" for target in TARGETS for suffix in ("due_at", "state", "breached"))


def _fields(ticket: Ticket) -> dict[str, Any]:
    return {name: getattr(ticket, name) for name in MATCH_FIELDS}


def _set(ticket: Ticket, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(ticket, name, value)


# --------------------------------------------------------------------------- service hooks


def stamp_new(ticket: Ticket, now: dt.datetime) -> None:
    """A ticket about to be inserted: its policy and due times (no query: cached)."""
    rule = policy_for(_fields(ticket))
    if rule is None:
        return
    clock = Clock(ticket, rule, now)
    clock["sla_policy_id"] = rule.id
    clock.set_due("first_response", rule.minutes["first_response"])
    clock.set_due("resolution", rule.minutes["resolution"])
    _set(ticket, clock.changes())


def reapply(ticket: Ticket, now: dt.datetime) -> tuple[str | None, str | None] | None:
    """A matching field of an unfinished ticket changed: if another policy matches now,
    switch to it, keeping the business time each clock has already used. Returns
    (old, new) policy names for the audit history, or None when the policy stays."""
    if ticket.status in lifecycle.FINISHED:
        return None
    old = _rule(ticket.sla_policy_id)
    new = policy_for(_fields(ticket))
    if (old and old.id) == (new and new.id):
        return None
    clock = Clock(ticket, new or old, now)  # type: ignore[arg-type]  # one is set
    clock["sla_policy_id"] = new and new.id
    if old is None and ticket.status in PAUSED_STATUSES:
        clock.pause()
    for target in TARGETS:
        if new is None:  # no policy any more: the open targets stop
            if clock[f"{target}_state"] in OPEN_STATES:
                clock.set_due(target, None)
            continue
        used = _used(ticket, old, new, target, clock.at)
        if used is not None:
            minutes = new.minutes[target]
            previous = clock[f"{target}_state"]
            clock.set_due(target, max(minutes - used, 0) if minutes else None)
            if previous in (AT_RISK, BREACHED) and clock[f"{target}_state"] == RUNNING:
                clock[f"{target}_state"] = previous  # a warning or breach happens once
    _set(ticket, clock.changes())
    return (old.name if old else None, new.name if new else None)


def _used(ticket: Ticket, old: Rule | None, new: Rule, target: str,
          at: dt.datetime) -> float | None:
    """Business minutes `target` has run until `at`; None when it is not to run (met,
    or a next response no customer message started). Known from the old policy's
    target and the time left; without an old policy, counted from the opening."""
    state = getattr(ticket, f"{target}_state")
    if state == MET or (target == "first_response" and ticket.first_response_at is not None):
        return None
    due = getattr(ticket, f"{target}_due_at")
    if old is not None and due is not None and old.minutes[target]:
        return old.minutes[target] - business_minutes_between(old.calendar, at, due)
    if target == "next_response":
        return None
    return business_minutes_between(new.calendar, ticket.created_at, at)


def after_reply(ticket: Ticket, role: str, new_status: str, now: dt.datetime) -> dict[str, Any]:
    """Column changes for a reply: staff meet the response targets; a customer starts
    the next-response clock, and their reply resumes a clock paused on hold."""
    rule = _rule(ticket.sla_policy_id)
    if rule is None:
        return {}
    clock = Clock(ticket, rule, now)
    if role == "staff":
        clock.meet("first_response")
        clock.meet("next_response")
    if new_status != ticket.status or (role == "customer" and new_status == lifecycle.ON_HOLD):
        clock.resume(reopen=("resolution",))
    if role == "customer" and clock["first_response_state"] == MET \
            and clock["next_response_state"] not in OPEN_STATES:
        clock.set_due("next_response", rule.minutes["next_response"])
    if clock.values == clock.before:
        # Nothing moved (most replies): the stored summary stands; recomputing it
        # would walk the calendar for the same answer.
        return {}
    return clock.changes()


def after_status(ticket: Ticket, old: str, new: str, now: dt.datetime) -> None:
    """On hold and finished tickets pause; finishing meets every open target; leaving
    for open or in progress resumes (a reopened ticket's resolution runs again)."""
    rule = _rule(ticket.sla_policy_id)
    if rule is None:
        return
    clock = Clock(ticket, rule, now)
    if new in lifecycle.FINISHED:
        for target in TARGETS:
            clock.meet(target)
    if new in PAUSED_STATUSES:
        clock.pause()
    else:
        clock.resume(reopen=("resolution",) if old in lifecycle.FINISHED else ())
    _set(ticket, clock.changes())


# --------------------------------------------------------------------------- read side


@dataclass(frozen=True)
class TargetView:
    target: str
    due_at: dt.datetime | None
    state: str  # TARGET_STATES, as of now (the stored state may lag the background check)
    breached: bool
    business_minutes_left: int | None  # negative: overdue; None once met


def view(ticket: Ticket, now: dt.datetime) -> list[TargetView]:
    """Each target that applies to the ticket, its state as of `now` (a paused clock
    stands at its pause) and the business time left."""
    rule = _rule(ticket.sla_policy_id)
    at = ticket.sla_paused_at or now
    shown = []
    for target in TARGETS:
        state, due = getattr(ticket, f"{target}_state"), getattr(ticket, f"{target}_due_at")
        if state is None:
            continue
        breached = getattr(ticket, f"{target}_breached")
        left = None
        if state in OPEN_STATES and due is not None and rule is not None:
            minutes = business_minutes_between(rule.calendar, at, due)
            left = math.floor(minutes)
            state = (BREACHED if minutes <= 0 else AT_RISK if minutes <= rule.margin(target)
                     else RUNNING)
            breached = breached or state == BREACHED
        shown.append(TargetView(target, due, state, breached, left))
    return shown
