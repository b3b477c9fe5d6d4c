"""Tests that kill tickets-sla-checks mutation survivors (`tickets/sla_checks.py` and
`tickets/rule_cache.py`): the per-process rules copy at its first load, its time to
live and two threads asking at once; the at-risk second of slack and a target with no
open time left; a met target beside a running one; the check's batch, order and row
(the one asked for, as stored, locked or skipped on PostgreSQL); a ticket whose policy
is gone; a failing ticket logged while the others still fire; the breached flag and the
ORM copy a rule's policy switch reads; who is alerted; and the escalation rules' order
and actions (priority steps, escalation and reassignment events, the next agent in turn).

As in test_sla_checks.py: the default calendar is Monday to Friday 09:00-17:00 UTC, the
default policy 240 / 480 / 2400 business minutes, at risk at 80%, and every ticket opens
on Monday 2026-12-07 10:00 UTC (first response at risk at 13:12 and due at 14:00, the
resolution at risk on Friday 12-11 10:00 and due on Monday 12-14 10:00).
"""
from __future__ import annotations

import logging
import threading

import pytest
from flask import Config, Flask
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import (
    Notification,
    SlaCalendar,
    SlaEscalationRule,
    SlaPolicy,
    SupportUser,
    TicketEvent,
)
from support_app.security import roles
from support_app.tickets import events, rule_cache, service, sla_checks

from .lock_reads import reads_of
from .sla_helpers import at, fresh, move


def _kinds(ticket_id: int, prefix: str = "sla") -> list[tuple[str, str | None, str | None]]:
    return [tuple(row) for row in db.session.execute(
        select(TicketEvent.kind, TicketEvent.old_value, TicketEvent.new_value)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind.startswith(prefix))
        .order_by(TicketEvent.id))]


def _notices(user_id: int) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(
        Notification.user_id == user_id, Notification.kind == "sla").order_by(Notification.id)))


def _rule(**fields) -> SlaEscalationRule:
    fields.setdefault("on_state", "breached")
    rule = SlaEscalationRule(**fields)
    db.session.add(rule)
    db.session.commit()
    return rule


def _seen(recorded, name: str) -> list[tuple[int, str, dict]]:
    return [(e.ticket.id, e.origin, e.data) for e in recorded if e.name == name]


# --------------------------------------------------------------------------- rule cache


class _FrozenClock:
    """What `time.monotonic()` reads in rule_cache while a test holds it still."""

    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def new_cache(monkeypatch):
    """A RuleCache built inside the test (on its own config setting, on a frozen
    clock), dropped from the module's list afterwards."""
    made: list[rule_cache.RuleCache] = []
    clock = _FrozenClock(0.0)
    monkeypatch.setattr(rule_cache, "time", clock)

    def build(load, ttl_setting: str = "TEST_RULES_SECONDS") -> rule_cache.RuleCache:
        cache = rule_cache.RuleCache(load, (), ttl_setting)
        made.append(cache)
        return cache
    build.clock = clock
    yield build
    for cache in made:
        rule_cache._caches.remove(cache)


def test_a_new_cache_loads_at_first_use_whatever_the_clock_reads(app_ctx, new_cache, monkeypatch):
    """`time.monotonic()` has no fixed starting point (it may read less than the TTL in
    a fresh process): the first `get()` loads all the same, and the copy is kept until
    it is older than the TTL, not when it is exactly that old."""
    monkeypatch.setitem(app_ctx.config, "TEST_RULES_SECONDS", 30)
    loads: list[float] = []

    def load() -> str:
        loads.append(new_cache.clock.now)
        return f"copy {len(loads)}"
    cache = new_cache(load)
    assert cache.get() == "copy 1" and loads == [0.0]
    new_cache.clock.now = 30.0
    assert cache.get() == "copy 1"
    new_cache.clock.now = 30.5
    assert cache.get() == "copy 2" and loads == [0.0, 30.5]


def test_a_thread_that_waited_for_anothers_load_takes_its_copy(app_ctx, new_cache):
    """Two threads ask an empty cache at once: one loads, the other waits for it and
    then takes its copy (made at the same clock reading: not older than a TTL of 0)
    instead of loading again. The second thread's config tells when it has read the
    TTL (right after the empty copy): only then does the first thread's load end."""
    new_cache.clock.now = 100.0
    main = threading.current_thread()
    read = threading.Event()  # the second thread has read the (empty) copy and the TTL

    class TellingConfig(Config):
        def __getitem__(self, key):
            value = super().__getitem__(key)
            if key == "TEST_RULES_SECONDS" and threading.current_thread() is not main:
                read.set()
            return value

    class TellingApp(Flask):
        config_class = TellingConfig

    side = TellingApp("rule-cache-race")
    side.config["TEST_RULES_SECONDS"] = 0
    loads: list[int] = []
    answers: list[str] = []
    others: list[threading.Thread] = []

    def second() -> None:
        with side.app_context():
            answers.append(cache.get())

    def load() -> str:
        loads.append(1)
        if not others:  # the first load: the other thread asks meanwhile
            others.append(threading.Thread(target=second))
            others[0].start()
            assert read.wait(30)
        return f"copy {len(loads)}"

    cache = new_cache(load)
    with side.app_context():
        answers.append(cache.get())
    others[0].join(30)
    assert loads == [1]
    assert answers == ["copy 1", "copy 1"]


# --------------------------------------------------------------------------- transitions


def test_a_target_is_at_risk_a_second_before_its_at_risk_instant(desk, factory, clock):
    """The second of slack: a target with its margin and one second left is at risk
    (the resolution on Friday at 09:59:59, 480 business minutes and a second before
    its due time, beside the long overdue first response)."""
    ticket_id = factory.ticket(desk.alice).id
    move(clock, "2026-12-11 09:59:59")
    assert sla_checks.check_due() == 2
    assert _kinds(ticket_id) == [("sla_breached", "first_response", "2026-12-07 14:00"),
                                 ("sla_at_risk", "resolution", "2026-12-14 10:00")]


def test_no_open_time_left_before_the_due_time_is_at_risk_not_yet_breached(desk, factory, clock):
    """Monday became a closing day after the ticket opened: at 13:30 no business time
    is left before the first response's 14:00, but 14:00 has not come. At risk now,
    breached at 14:00, not earlier."""
    ticket_id = factory.ticket(desk.alice).id
    office = db.session.scalar(select(SlaCalendar).where(SlaCalendar.is_default))
    office.holidays = [{"date": "2026-12-07", "name": "Closing day"}]
    db.session.commit()
    move(clock, "2026-12-07 13:30")
    assert sla_checks.check_due() == 1
    assert _kinds(ticket_id) == [("sla_at_risk", "first_response", "2026-12-07 14:00")]
    move(clock, "2026-12-07 14:00")
    assert sla_checks.check_due() == 1
    assert _kinds(ticket_id)[-1] == ("sla_breached", "first_response", "2026-12-07 14:00")


def test_a_met_first_response_leaves_the_resolution_checked_to_the_end(desk, factory, clock):
    """A met target is passed over, not taken for overdue, and the targets after it
    are still checked: the resolution goes at risk on Friday and breached on Monday;
    then nothing is left to check and the ticket is due no more."""
    ticket_id = factory.ticket(desk.alice).id
    service.add_message(desk.admin.actor, ticket_id, "On it.")  # first response met
    assert fresh(ticket_id).sla_check_at == at("2026-12-11 10:00")
    move(clock, "2026-12-11 10:00")
    assert sla_checks.check_due() == 1
    move(clock, "2026-12-14 10:00")
    assert sla_checks.check_due() == 1
    assert sla_checks.check_due() == 0
    ticket = fresh(ticket_id)
    assert (ticket.first_response_state, ticket.resolution_state) == ("met", "breached")
    assert ticket.sla_check_at is None
    assert _kinds(ticket_id) == [("sla_at_risk", "resolution", "2026-12-14 10:00"),
                                 ("sla_breached", "resolution", "2026-12-14 10:00")]


# --------------------------------------------------------------------------- check_due


def test_a_pass_handles_at_most_its_limit_oldest_check_first(desk, factory, clock):
    """`check_due(limit=1)` handles one ticket, the one whose check is oldest, even
    when it was stored after the other; the next pass takes the next."""
    move(clock, "2026-12-07 11:00")
    later = factory.ticket(desk.alice).id   # at risk 14:12
    move(clock, "2026-12-07 10:00")
    sooner = factory.ticket(desk.alice).id  # at risk 13:12, due 14:00
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_due(limit=1) == 1
    assert _kinds(sooner) == [("sla_breached", "first_response", "2026-12-07 14:00")]
    assert _kinds(later) == []
    assert sla_checks.check_due(limit=1) == 1
    assert _kinds(later) == [("sla_at_risk", "first_response", "2026-12-07 15:00")]
    assert sla_checks.check_due(limit=1) == 0


def test_a_failing_ticket_is_logged_by_id_and_stays_due(desk, factory, clock, caplog):
    """One ticket's check fails (here a subscriber of its event raises): the log names
    the ticket, with the traceback; the other ticket still fires; the failed one is
    still due and fires on the next pass."""
    broken, fine = factory.ticket(desk.alice).id, factory.ticket(desk.alice).id

    def refuse(e: events.DomainEvent) -> None:
        if e.name == events.SLA and e.ticket.id == broken:
            raise RuntimeError("the alert template is broken")

    caplog.set_level(logging.ERROR, logger=sla_checks.log.name)
    move(clock, "2026-12-07 14:30")
    events.publisher.subscribe_in_transaction(refuse)
    try:
        assert sla_checks.check_due() == 1
    finally:
        events.publisher.unsubscribe(refuse)
    records = [r for r in caplog.records if r.name == sla_checks.log.name]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.ERROR, f"SLA check of ticket {broken} failed")]
    assert records[0].exc_info[0] is RuntimeError
    assert _kinds(broken) == [] and len(_kinds(fine)) == 1
    assert sla_checks.check_due() == 1
    assert _kinds(broken) == [("sla_breached", "first_response", "2026-12-07 14:00")]


# --------------------------------------------------------------------------- check_ticket


def test_check_ticket_handles_the_ticket_it_is_given(desk, factory, clock):
    """Both tickets are due: checking the second moves the second, not the first."""
    first, second = factory.ticket(desk.alice).id, factory.ticket(desk.alice).id
    assert sla_checks.check_ticket(second, at("2026-12-07 14:30")) == 1
    assert _kinds(second) == [("sla_breached", "first_response", "2026-12-07 14:00")]
    assert _kinds(first) == [] and fresh(first).first_response_state == "running"


def test_a_ticket_handled_meanwhile_is_left_alone(desk, factory, clock):
    """Two checkers listed the ticket at 13:12; the other handled it first (its next
    check is now 14:00): this one, getting to it a minute later, finds it not due and
    neither fires nor writes anything (the ticket's `updated_at` stays the warning's)."""
    ticket_id = factory.ticket(desk.alice).id
    move(clock, "2026-12-07 13:12")
    assert sla_checks.check_due() == 1
    assert fresh(ticket_id).updated_at == at("2026-12-07 13:12")
    move(clock, "2026-12-07 13:13")
    assert sla_checks.check_ticket(ticket_id, at("2026-12-07 13:12")) == 0
    assert _kinds(ticket_id) == [("sla_at_risk", "first_response", "2026-12-07 14:00")]
    assert fresh(ticket_id).updated_at == at("2026-12-07 13:12")


def test_check_ticket_reads_the_stored_row_not_the_sessions_copy(desk, factory, clock, app):
    """The caller still holds the ticket as it opened (running, due for a check at
    13:12) while another process's checker moved it to at risk: the check reads what is
    stored and breaches it at 14:30 from at risk, instead of failing its conditional
    UPDATE on the old values."""
    ticket = factory.ticket(desk.alice)  # kept loaded by the service after its commit
    move(clock, "2026-12-07 13:12")

    def other_process() -> None:
        with app.app_context():
            try:
                sla_checks.check_due()
            finally:
                db.session.remove()
    other = threading.Thread(target=other_process)
    other.start()
    other.join(60)
    assert ticket.first_response_state == "running"  # this session's copy, not re-read
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_ticket(ticket.id, at("2026-12-07 14:30")) == 1
    assert _kinds(ticket.id) == [("sla_at_risk", "first_response", "2026-12-07 14:00"),
                                 ("sla_breached", "first_response", "2026-12-07 14:00")]


def test_the_checked_ticket_row_is_locked_or_skipped_on_postgresql(desk, factory, clock):
    """On PostgreSQL the ticket row is read FOR UPDATE SKIP LOCKED: a ticket another
    process is handling is skipped, not waited for (SQLite has no row locks: the
    conditional UPDATE alone keeps a transition to one writer there)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    ticket_id = factory.ticket(desk.alice).id
    with reads_of("tickets", with_sql=True) as reads:
        assert sla_checks.check_ticket(ticket_id, at("2026-12-07 14:30")) == 1
    statement, locks = reads[0]
    assert locks and "FOR UPDATE" in statement and "SKIP LOCKED" in statement


def test_a_ticket_whose_policy_is_gone_is_checked_no_more(desk, factory, clock):
    """The policy was deleted: the due ticket's check is cleared (its targets keep their
    states), nothing fires, and later passes find nothing."""
    ticket_id = factory.ticket(desk.alice).id
    db.session.delete(db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == "Default")))
    db.session.commit()
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_due() == 0
    ticket = fresh(ticket_id)
    assert ticket.sla_check_at is None and ticket.first_response_state == "running"
    assert sla_checks.check_due(at("2026-12-14 12:00")) == 0
    assert _kinds(ticket_id) == []


# --------------------------------------------------------------------------- _write


def test_only_a_breach_sets_the_breached_flag(desk, factory, clock):
    """A warning is not a breach: at risk leaves `first_response_breached` unset; the
    breach sets it."""
    ticket_id = factory.ticket(desk.alice).id
    move(clock, "2026-12-07 13:12")
    assert sla_checks.check_due() == 1
    assert fresh(ticket_id).first_response_breached is False
    move(clock, "2026-12-07 14:00")
    assert sla_checks.check_due() == 1
    assert fresh(ticket_id).first_response_breached is True


def test_a_rule_switching_the_policy_keeps_the_warning_just_written(desk, factory, clock):
    """An at-risk rule raises the priority onto another policy (High: 480 minutes for
    the first response). The switch reads the ticket as just written (at risk) and
    keeps the warning: it happens once, not again on the new due time."""
    db.session.add(SlaPolicy(name="High", position=10, priority="high",
                             first_response_minutes=480, next_response_minutes=480,
                             resolution_minutes=2400))
    db.session.commit()
    _rule(name="Warn: raise", on_state="at_risk", target="first_response",
          raise_priority=True)
    ticket_id = factory.ticket(desk.alice).id
    move(clock, "2026-12-07 13:12")
    assert sla_checks.check_due() == 1
    ticket = fresh(ticket_id)
    assert ticket.priority == "high"
    assert ticket.first_response_due_at == at("2026-12-08 10:00")  # 192 of 480 used
    assert (ticket.first_response_state, ticket.sla_state) == ("at_risk", "at_risk")
    assert ("sla_policy", "Default", "High") in _kinds(ticket_id, "")


# --------------------------------------------------------------------------- alerts


def test_the_sla_event_says_it_came_from_the_sla_check(desk, factory, clock, recorded_events):
    """Webhooks and sockets tell where a change came from: `sla` for the check's event."""
    ticket_id = factory.ticket(desk.alice).id
    move(clock, "2026-12-07 14:30")
    sla_checks.check_due()
    assert [(t, o) for t, o, _ in _seen(recorded_events, events.SLA)] == [(ticket_id, "sla")]


def test_a_rule_notifying_managers_adds_them_to_the_assignee(desk, factory, clock,
                                                           recorded_events):
    """With a notify-managers rule the breach goes to the assignee and the managers."""
    agent = factory.agent()
    ticket_id = factory.ticket(desk.alice).id
    service.reassign(desk.admin.actor, ticket_id, agent.id)
    _rule(name="Tell managers", notify_managers=True)
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_due() == 1
    [(_, _, data)] = _seen(recorded_events, events.SLA)
    assert data["recipients"] == sorted([desk.admin.id, agent.id])
    assert len(_notices(agent.id)) == 1 and len(_notices(desk.admin.id)) == 1


def test_asked_without_a_rule_the_assignee_alone_is_alerted(desk, factory, clock):
    """`alert_recipients` without `notify_managers`: the assignee, not the managers."""
    agent = factory.agent()
    ticket_id = factory.ticket(desk.alice).id
    service.reassign(desk.admin.actor, ticket_id, agent.id)
    assert sla_checks.alert_recipients(fresh(ticket_id)) == {agent.id}


def test_inactive_managers_are_not_alerted(desk, factory, clock, recorded_events):
    """An unassigned ticket alerts the managers whose accounts are active only."""
    gone = factory.staff(roles.ADMIN)
    db.session.get(SupportUser, gone.id).active = False
    db.session.commit()
    factory.ticket(desk.alice)
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_due() == 1
    [(_, _, data)] = _seen(recorded_events, events.SLA)
    assert data["recipients"] == [desk.admin.id]
    assert not _notices(gone.id)


# --------------------------------------------------------------------------- rules


def test_rules_run_in_position_order_then_creation_order_active_ones_only(desk, factory, clock):
    """The history shows each matching rule in position order, rules at the same
    position in the order they were made (an edit does not move a rule); a switched-off
    rule does not run."""
    second = _rule(name="Second draft", position=20)
    _rule(name="First", position=10)
    _rule(name="Third", position=20)
    _rule(name="Off", position=5, active=False)
    second.name = "Second"  # edited after Third was made
    db.session.commit()
    ticket_id = factory.ticket(desk.alice).id
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_due() == 1
    assert [old for kind, old, _ in _kinds(ticket_id, "sla_rule")] == ["First", "Second", "Third"]


def test_a_raise_priority_rule_steps_the_priority_up_once(desk, factory, clock, recorded_events):
    """Low goes to medium (one step, with its history and `sla` event); urgent is the
    top and stays."""
    _rule(name="Breach: raise", raise_priority=True)
    low = factory.ticket(desk.alice, priority="low").id
    urgent = factory.ticket(desk.alice, priority="urgent").id
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_due() == 2
    assert (fresh(low).priority, fresh(urgent).priority) == ("medium", "urgent")
    assert _kinds(low, "priority") == [("priority", "low", "medium")]
    assert _kinds(urgent, "priority") == []
    assert _seen(recorded_events, events.PRIORITY_CHANGED) == [(low, "sla", {"priority": "medium"})]


def test_an_escalate_and_reassign_rule_publishes_both_from_the_sla_check(
        desk, factory, clock, recorded_events):
    """The escalation event names the new level; both it and the reassignment say they
    came from the SLA check; the next approved agent after the assignee takes it (in
    id order, not the first one); the approved agents are read locked, so two checks
    picking the next in turn do not race."""
    first, current, following = factory.agent(), factory.agent(), factory.agent()
    ticket_id = factory.ticket(desk.alice).id
    service.reassign(desk.admin.actor, ticket_id, current.id)
    _rule(name="Breach: escalate", escalate=True, reassign=True)
    move(clock, "2026-12-07 14:30")
    recorded_events.clear()
    with reads_of("agent_profiles", with_sql=True) as reads:
        assert sla_checks.check_due() == 1
    assert reads and all(locks for _, locks in reads)
    ticket = fresh(ticket_id)
    assert (ticket.escalation_level, ticket.assigned_to_id) == (1, following.id)
    assert _seen(recorded_events, events.ESCALATED) == [(ticket_id, "sla", {"level": 1})]
    assert _seen(recorded_events, events.ASSIGNED) == [
        (ticket_id, "sla", {"old_assignee": current.id, "new_assignee": following.id})]
    assert first.id < current.id < following.id
