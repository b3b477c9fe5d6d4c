"""SLA warnings and breaches (`tickets/sla_checks.py`): each target moves running ->
at risk -> breached exactly once, with its audit event, `support:ticket:sla` push,
stored notification and email in the recipient's language; escalation rules act
through the ticket service.

Default calendar Monday to Friday 09:00-17:00 UTC, default policy 240 / 480 / 2400
business minutes, at risk at 80%. Tickets open Monday 2026-12-07 10:00 UTC: the first
response is at risk at 13:12 and due at 14:00.
"""
from __future__ import annotations

import threading

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import EmailLog, Notification, SlaEscalationRule, SupportUser, TicketEvent
from support_app.security import roles
from support_app.tickets import service, sla_checks

from .sla_helpers import at, fresh, move


def _kinds(ticket_id: int, prefix: str = "sla") -> list[tuple[str, str | None, str | None]]:
    return [tuple(row) for row in db.session.execute(
        select(TicketEvent.kind, TicketEvent.old_value, TicketEvent.new_value)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind.startswith(prefix))
        .order_by(TicketEvent.id))]


def _notices(user_id: int) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(
        Notification.user_id == user_id, Notification.kind == "sla").order_by(Notification.id)))


def _mails(address: str) -> list[EmailLog]:
    return list(db.session.scalars(select(EmailLog).where(
        EmailLog.to_address == address, EmailLog.template == "sla_alert").order_by(EmailLog.id)))


def _set_locale(person, locale: str) -> None:
    db.session.get(SupportUser, person.id).locale = locale
    db.session.commit()


@pytest.fixture
def assigned(desk, factory):
    agent = factory.agent(name="Agent Smith")
    ticket = factory.ticket(desk.alice, subject="Printer on fire")
    service.reassign(desk.admin.actor, ticket.id, agent.id)
    return agent, ticket.id


def test_at_risk_then_breached_each_fire_once(desk, assigned, clock):
    agent, ticket_id = assigned
    move(clock, "2026-12-07 13:11")
    assert sla_checks.check_due() == 0  # not yet
    move(clock, "2026-12-07 13:12")
    assert sla_checks.check_due() == 1
    assert sla_checks.check_due() == 0  # called again: nothing more
    ticket = fresh(ticket_id)
    assert (ticket.first_response_state, ticket.sla_state) == ("at_risk", "at_risk")
    assert ticket.sla_check_at == at("2026-12-07 14:00")  # the due time is the next check
    move(clock, "2026-12-07 14:00")
    assert sla_checks.check_due() == 1
    assert sla_checks.check_due() == 0
    ticket = fresh(ticket_id)
    assert ticket.first_response_state == "breached" and ticket.first_response_breached
    assert ticket.resolution_state == "running"
    assert ticket.sla_check_at == at("2026-12-11 10:00")  # resolution at risk (80% of 2400)
    assert _kinds(ticket_id) == [("sla_at_risk", "first_response", "2026-12-07 14:00"),
                                 ("sla_breached", "first_response", "2026-12-07 14:00")]
    notices = _notices(agent.id)
    assert [n.title for n in notices] == [
        f"Ticket {ticket.number}: First response target at risk",
        f"Ticket {ticket.number}: First response target breached"]
    assert notices[1].body == ('The First response target of "Printer on fire" was due at '
                               "2026-12-07 14:00 UTC.")
    mails = _mails(agent.user.email)
    assert [m.subject for m in mails] == [f"[{ticket.number}] {n.title}" for n in notices]
    assert "Hello Agent Smith," in mails[1].body_text and notices[1].body in mails[1].body_text
    assert f"/tickets/show/{ticket_id}" in mails[1].body_text
    # Nobody else is told: not the customer, not the managers (the ticket has an assignee).
    assert not _notices(desk.alice.id) and not _notices(desk.admin.id)
    assert not _mails(desk.alice.customer.email)


def test_a_late_check_goes_straight_to_breached(desk, assigned, clock):
    _agent, ticket_id = assigned
    move(clock, "2026-12-07 16:00")
    assert sla_checks.check_due() == 1
    assert _kinds(ticket_id) == [("sla_breached", "first_response", "2026-12-07 14:00")]


def test_a_paused_or_answered_ticket_fires_nothing(desk, assigned, clock):
    _agent, ticket_id = assigned
    service.add_message(desk.admin.actor, ticket_id, "On it.")  # first response met
    move(clock, "2026-12-07 15:00")
    assert sla_checks.check_due() == 0
    assert fresh(ticket_id).first_response_state == "met"


def test_unassigned_tickets_alert_the_managers_in_their_language(desk, factory, clock):
    manager = factory.staff(roles.STORE_MANAGER, name="Mona")
    _set_locale(manager, "ar")
    agent = factory.agent()  # not a manager: told nothing about the pool
    ticket = factory.ticket(desk.alice, subject="Printer on fire")
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_due() == 1
    [arabic] = _notices(manager.id)
    [english] = _notices(desk.admin.id)
    assert arabic.locale == "ar" and english.locale == "en"
    with force_locale("ar"):
        title = _("Ticket %(number)s: %(target)s target breached",
                  number=ticket.number, target=_("First response"))
    assert arabic.title == title != english.title
    assert "First response" not in arabic.title
    [mail] = _mails(manager.user.email)
    assert mail.subject == f"[{ticket.number}] {title}"
    assert 'dir="rtl"' in mail.body_html and arabic.body in mail.body_text
    assert _mails(desk.admin.user.email)[0].subject.endswith("First response target breached")
    assert not _notices(agent.id)


def test_escalation_rule_acts_through_the_service(desk, assigned, factory, clock):
    agent, ticket_id = assigned
    other = factory.agent(name="Other Agent")
    db.session.add(SlaEscalationRule(name="Breach: escalate", on_state="breached",
                                     target="first_response", escalate=True, reassign=True,
                                     notify_managers=True))
    db.session.add(SlaEscalationRule(name="Only urgent", on_state="breached", priority="urgent",
                                     raise_priority=True))
    db.session.commit()
    move(clock, "2026-12-07 13:30")
    sla_checks.check_due()  # at risk: no rule is for it
    assert fresh(ticket_id).escalation_level == 0
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_due() == 1
    ticket = fresh(ticket_id)
    assert ticket.escalation_level == 1 and ticket.priority == "high"  # from medium
    assert ticket.assigned_to_id == other.id
    history = _kinds(ticket_id, "")
    assert ("sla_rule", "Breach: escalate", "first_response:breached") in history
    assert ("escalated", "0", "1") in history and ("priority", "medium", "high") in history
    assert ("assigned", str(agent.id), str(other.id)) in history
    assert not [h for h in history if h[1] == "Only urgent"]  # the priority did not match
    actors = set(db.session.scalars(select(TicketEvent.actor_type).where(
        TicketEvent.ticket_id == ticket_id, TicketEvent.kind.in_(("sla_rule", "escalated")))))
    assert actors == {"system"}
    assert _notices(desk.admin.id) and _notices(agent.id)  # managers too, by the rule


def test_racing_checkers_fire_each_transition_once(desk, factory, clock, app):
    ids = [factory.ticket(desk.alice).id for _ in range(6)]
    move(clock, "2026-12-07 14:30")
    now = at("2026-12-07 14:30")
    fired: list[int] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        with app.app_context():
            barrier.wait()
            try:
                fired.append(sla_checks.check_due(now))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(fired) == len(ids)
    count = db.session.scalar(select(func.count()).select_from(TicketEvent).where(
        TicketEvent.ticket_id.in_(ids), TicketEvent.kind == "sla_breached"))
    assert count == len(ids)
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "sla", Notification.user_id == desk.admin.id)) == len(ids)


def test_worker_command_runs_one_pass(desk, assigned, clock, app):
    move(clock, "2026-12-07 14:30")
    result = app.test_cli_runner().invoke(args=["support", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 SLA transition(s) fired" in result.output


def test_embedded_scheduler_starts_only_when_configured(app):
    from support_app.scheduler import EXTENSION

    embedded = app.extensions[EXTENSION]
    embedded.ensure_started()
    assert not embedded.running()  # SLA_SCHEDULER=off in tests
    app.config["SLA_SCHEDULER"] = "embedded"
    try:
        embedded.ensure_started()
        assert embedded.running()
    finally:
        embedded.stop()
        app.config["SLA_SCHEDULER"] = "off"


def test_sla_events_reach_the_assignee_and_desk_never_the_customer(
        factory, connect, app_ctx):
    from support_app.bootstrap import ensure_sla_defaults
    from support_app.tickets import sla

    sla.rules.clear()
    ensure_sla_defaults()
    alice = factory.customer()
    admin = factory.staff(roles.ADMIN)
    agent, bystander = factory.agent(), factory.agent()
    ticket = factory.ticket(alice)
    service.reassign(admin.actor, ticket.id, agent.id)
    due = fresh(ticket.id).first_response_due_at
    sockets = {name: connect(person) for name, person in
               (("agent", agent), ("admin", admin), ("alice", alice), ("bystander", bystander))}
    assert sla_checks.check_due(due) == 1
    expected = {"ticket_id": ticket.id, "ticket_number": ticket.number,
                "target": "first_response", "state": "breached",
                "due_at": due.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    assert sockets["agent"].wait_for("support:ticket:sla") == expected
    assert sockets["admin"].wait_for("support:ticket:sla") == expected
    notice = sockets["agent"].wait_for("notification", lambda d: d["kind"] == "sla")
    assert notice["ticket_id"] == ticket.id
    assert "support:ticket:sla" not in sockets["alice"].names()
    assert "support:ticket:sla" not in sockets["bystander"].names()
    sla.rules.clear()


CHECKER = """
import sys, datetime as dt
from support_app import create_app
from support_app.config import TestConfig
from support_app.tickets import sla_checks
app = create_app(TestConfig(sys.argv[1]))
with app.app_context():
    sys.stdin.readline()  # all processes start checking together
    print(sla_checks.check_due(dt.datetime.fromisoformat(sys.argv[2])))
"""


def test_checker_processes_racing_fire_each_transition_once(desk, factory, clock, app):
    """Separate processes (as two web processes and the worker would), one database."""
    import subprocess
    import sys

    ids = [factory.ticket(desk.alice).id for _ in range(8)]
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    procs = [subprocess.Popen([sys.executable, "-c", CHECKER, url, "2026-12-07 14:30"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    outputs = [p.communicate("go\n", timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert sum(int(out.strip().splitlines()[-1]) for out in outputs) == len(ids)
    db.session.expire_all()
    count = db.session.scalar(select(func.count()).select_from(TicketEvent).where(
        TicketEvent.ticket_id.in_(ids), TicketEvent.kind == "sla_breached"))
    assert count == len(ids)
    assert db.session.scalar(select(func.count()).select_from(EmailLog).where(
        EmailLog.template == "sla_alert", EmailLog.to_address == desk.admin.user.email)) == len(ids)
