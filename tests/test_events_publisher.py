"""The publisher's own contract, which every push, notification and mail relies on:
one subscription per handler, unsubscribe from both phases, a preparer that has
nothing to write is skipped, a failing after-commit handler neither undoes the commit
nor keeps the others from running, and installing the hooks twice delivers once."""
from __future__ import annotations

import logging

import pytest

from support_app.extensions import db
from support_app.models import Customer
from support_app.tickets import events
from support_app.tickets.events import DomainEvent, publisher


@pytest.fixture
def subscribed():
    """Handlers subscribed by a test, unsubscribed afterwards."""
    handlers = []
    yield handlers
    for handler in handlers:
        publisher.unsubscribe(handler)


def _commit_one(name: str = "test.event") -> None:
    db.session.add(Customer(name="Event Customer", email=f"{name}@example.org"))
    db.session.flush()
    publisher.publish(db.session, DomainEvent(name, None, None))
    db.session.commit()


def test_a_handler_subscribed_twice_runs_once(app_ctx, subscribed):
    seen, written = [], []

    def after(event):
        seen.append(event.name)

    def prepare(event):
        return lambda: written.append(event.name)

    subscribed += [after, prepare]
    for _ in range(2):
        publisher.subscribe_after_commit(after)
        publisher.subscribe_in_transaction(prepare)
    _commit_one()
    assert (seen, written) == (["test.event"], ["test.event"])

    publisher.unsubscribe(after)
    publisher.unsubscribe(prepare)
    _commit_one("test.later")
    assert (seen, written) == (["test.event"], ["test.event"])


def test_a_preparer_with_nothing_to_write_is_skipped(app_ctx, subscribed):
    calls = []

    def nothing(event):
        calls.append(event.name)
        return None

    subscribed.append(nothing)
    publisher.subscribe_in_transaction(nothing)
    assert publisher.prepare(DomainEvent("test.nothing", None, None)) == []
    assert calls == ["test.nothing"]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_failing_handler_neither_undoes_the_commit_nor_stops_the_others(
        app_ctx, subscribed, recorded_events):
    def broken(event):
        raise RuntimeError("push failed")

    subscribed.append(broken)
    publisher.subscribe_after_commit(broken)
    logged, disabled = Records(), events.log.disabled
    # Alembic's fileConfig (the test app migrates in-process) disables existing loggers.
    events.log.disabled = False
    events.log.addHandler(logged)
    try:
        _commit_one("test.survives")
    finally:
        events.log.removeHandler(logged)
        events.log.disabled = disabled
    assert [e.name for e in recorded_events] == ["test.survives"]
    assert db.session.query(Customer).count() == 1
    (record,) = logged.records
    assert record.getMessage().startswith("after-commit handler <function ")
    assert ".broken at " in record.getMessage()
    assert record.getMessage().endswith(" failed for test.survives")
    assert record.exc_info[0] is RuntimeError


def test_installing_twice_still_delivers_each_event_once(app_ctx, recorded_events):
    events.install(db.session)
    _commit_one("test.once")
    assert [e.name for e in recorded_events] == ["test.once"]


def test_a_new_publisher_starts_with_no_subscribers(app_ctx):
    fresh = events.Publisher()
    assert fresh.prepare(DomainEvent("test.fresh", None, None)) == []
    seen = []
    fresh.subscribe_after_commit(seen.append)
    fresh.deliver([DomainEvent("test.fresh", None, None)])
    assert [event.name for event in seen] == ["test.fresh"]
