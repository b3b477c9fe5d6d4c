"""A change that rolls back takes its pending events with it: nothing of it is pushed
or mailed when the same session later commits something else (issue 28)."""
from __future__ import annotations

from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import Customer
from support_app.tickets.events import DomainEvent, publisher


def _change(name: str, email: str) -> None:
    """A write and its event, as a service does them inside one transaction."""
    db.session.add(Customer(name=name, email=email))
    db.session.flush()
    publisher.publish(db.session, DomainEvent(name, None, None))


def _customers() -> list[str]:
    return list(db.session.scalars(select(Customer.email).order_by(Customer.email)))


def test_rolled_back_change_delivers_nothing_after_a_later_commit(app_ctx, recorded_events):
    _change("test.rolled_back", "gone@example.org")
    db.session.rollback()
    assert recorded_events == []

    _change("test.committed", "kept@example.org")
    db.session.commit()

    assert [event.name for event in recorded_events] == ["test.committed"]
    assert _customers() == ["kept@example.org"]


def test_a_rolled_back_savepoint_keeps_the_outer_changes_events(app_ctx, recorded_events):
    _change("test.outer", "outer@example.org")
    savepoint = db.session.begin_nested()
    db.session.add(Customer(name="Inner", email="inner@example.org"))
    savepoint.rollback()
    db.session.commit()

    assert [event.name for event in recorded_events] == ["test.outer"]
    assert db.session.scalar(select(func.count(Customer.id))) == 1
