"""Issue 22 end to end: two web processes (the production gevent gunicorn command, each
with the embedded SLA scheduler) and one `support worker`, on one PostgreSQL database
and one Redis, all check the same due tickets every second. Each transition fires
exactly once whoever wins: one audit row, one stored notification, one email through
a real SMTP server, and one `support:ticket:sla` at a staff client of EACH web process
(the event crosses to the other process through Redis).

The policy: a 24/7 calendar, first response and resolution due 1 business minute after
opening, at risk at 50%. Tickets are opened 30 s in the past, so they are at risk at
once and breached 30 s later: every process races for both transitions.
"""
from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import EmailLog, Notification, SlaCalendar, SlaPolicy, TicketEvent
from support_app.security import roles
from support_app.tickets import sla

from .conftest import require_service
from .live import (GunicornCommand, Listener, WorkerCommand, app_env, wait_for_subscribers,
                   wait_until)
from .mail_server import Sink

TICKETS = 5
TARGETS = ("first_response", "resolution")
STATES = ("at_risk", "breached")
KINDS = tuple(f"sla_{state}" for state in STATES)
CHECK_SECONDS = "1"
PASS_LINE = "SLA check pass done"
ROUNDS_AFTER = 3  # passes every process runs after the last transition, before counting


@pytest.fixture
def services(app) -> str:
    """PostgreSQL (row locks across processes) and Redis (events across processes)."""
    require_service("PostgreSQL", "TEST_DATABASE_URL")
    return require_service("Redis", "TEST_REDIS_URL")


def _one_minute_policy() -> None:
    always = SlaCalendar(name="Always open", time_zone="UTC", is_default=True,
                         hours={day: [["00:00", "24:00"]] for day in
                                ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    db.session.add_all([always, SlaPolicy(name="One minute", position=1, calendar=always,
                                          first_response_minutes=1, resolution_minutes=1,
                                          at_risk_percent=50)])
    db.session.commit()
    sla.rules.clear()  # this process's cached policies predate the rows


def _passes(process: GunicornCommand | WorkerCommand) -> int:
    return process.log().count(PASS_LINE)


def _wait_for_rounds(processes: list, rounds: int) -> None:
    """Every process has run `rounds` more check passes from now (each logs one line at
    DEBUG): what it would fire twice, it has had the chance to."""
    start = {id(p): _passes(p) for p in processes}
    for process in processes:
        wait_until(lambda: _passes(process) >= start[id(process)] + rounds,
                   f"{process.command()} ran no SLA checks: {process.log()[-2000:]}")


def test_two_web_processes_and_the_worker_fire_each_transition_once(
        services, app, factory, smtp, tmp_path: Path):
    redis_url = services
    _one_minute_policy()
    admin = factory.staff(roles.ADMIN)  # sees every ticket; the only manager: every alert
    customer = factory.customer()
    channel = f"support-test-sla-{secrets.token_hex(6)}"
    env = app_env(app, tmp_path, REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel,
                  SLA_SCHEDULER="embedded", SLA_CHECK_SECONDS=CHECK_SECONDS, LOG_LEVEL="DEBUG",
                  GUNICORN_WORKER_CLASS="gevent", MAIL_SERVER="127.0.0.1",
                  MAIL_PORT=str(app.config["MAIL_PORT"]), MAIL_POLL_SECONDS="0.5",
                  MAIL_RETRY_BASE_SECONDS="0", MAIL_DEFAULT_SENDER="help@shop.example")
    token = admin.headers["Authorization"].split(" ", 1)[1]

    with ExitStack() as stack:  # processes stopped (killed if need be) even on failure
        web = [stack.enter_context(GunicornCommand(env)) for _ in range(2)]
        worker = stack.enter_context(WorkerCommand({**env, "SLA_SCHEDULER": "off"}))
        processes = [*web, worker]
        clients = []
        for server in web:
            client = Listener(server.url, auth={"token": token})
            stack.callback(client.close)  # before its server stops (LIFO)
            clients.append(client.connect())
        wait_for_subscribers(redis_url, channel, count=len(web))
        _wait_for_rounds(processes, 1)  # every scheduler is ticking

        opened_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=30)
        with time_machine.travel(opened_at, tick=True):
            ids = sorted(factory.ticket(customer).id for _ in range(TICKETS))

        expected = {(ticket_id, target, state) for ticket_id in ids
                    for target in TARGETS for state in STATES}
        wait_until(lambda: _audited(ids) >= len(expected),
                   f"not all {len(expected)} transitions fired: {worker.log()[-2000:]}")
        _wait_for_rounds(processes, ROUNDS_AFTER)
        wait_until(lambda: all(len(c.received("support:ticket:sla")) >= len(expected)
                               for c in clients), "a socket client missed transitions")
        logged = _sla_message_ids()
        wait_until(lambda: len(_delivered(smtp, logged)) >= len(expected),
                   "the SLA emails were not all delivered")

        # The database: one audit row per ticket, target and state; one notification
        # and one email row each (their titles name the target and the state).
        events = Counter(db.session.execute(
            select(TicketEvent.ticket_id, TicketEvent.old_value, TicketEvent.kind)
            .where(TicketEvent.ticket_id.in_(ids), TicketEvent.kind.in_(KINDS))).all())
        assert events == Counter({(t, target, f"sla_{state}"): 1
                                  for t, target, state in expected})
        notices = Counter(db.session.execute(
            select(Notification.ticket_id, Notification.title)
            .where(Notification.kind == "sla", Notification.user_id == admin.id)).all())
        assert len(notices) == len(expected) and set(notices.values()) == {1}, notices
        mails = Counter(db.session.execute(
            select(EmailLog.ticket_id, EmailLog.subject, EmailLog.to_address)
            .where(EmailLog.template == "sla_alert")).all())
        assert len(mails) == len(expected) and set(mails.values()) == {1}, mails
        assert {address for _t, _s, address in mails} == {admin.user.email}

        # Each socket client (one per web process) heard every transition once.
        for client in clients:
            heard = Counter((e["ticket_id"], e["target"], e["state"])
                            for e in client.received("support:ticket:sla"))
            assert heard == Counter({key: 1 for key in expected}), client.url

        # Each email reached the SMTP server once, though both web processes send mail.
        assert len(logged) == len(expected)
        assert Counter(_delivered(smtp, logged)) == Counter({message_id: 1
                                                             for message_id in logged})


def _audited(ids: list[int]) -> int:
    count = db.session.scalar(select(func.count()).select_from(TicketEvent).where(
        TicketEvent.ticket_id.in_(ids), TicketEvent.kind.in_(KINDS)))
    db.session.commit()  # no snapshot held while the processes write
    return count


def _sla_message_ids() -> set[str]:
    ids = set(db.session.scalars(select(EmailLog.message_id).where(
        EmailLog.template == "sla_alert")))
    db.session.commit()
    return ids


def _delivered(sink: Sink, message_ids: set[str]) -> list[str]:
    """Message-IDs of the SLA emails the SMTP server received, repeats included."""
    received = (str(m["Message-ID"]).strip() for m in list(sink.messages))
    return [message_id for message_id in received if message_id in message_ids]
