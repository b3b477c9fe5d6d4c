"""Shared by the ticket service's tests (conftest.py registers the fixtures): a customer
and an admin, a clock frozen at 09:00 on Monday 2026-12-07 that `later()` moves to 11:30,
and the audit trail."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import Ticket, TicketEvent
from support_app.security import roles

OPENED = dt.datetime(2026, 12, 7, 9, 0)
LATER = dt.datetime(2026, 12, 7, 11, 30)


@pytest.fixture
def alice(factory):
    return factory.customer(name="Alice Liddell")


@pytest.fixture
def admin(factory):
    return factory.staff(roles.ADMIN)


@pytest.fixture
def morning(app_ctx) -> Iterator[time_machine.Coordinates]:
    """Tickets open at 09:00; `later(morning)` before the change under test."""
    with time_machine.travel(OPENED.replace(tzinfo=dt.timezone.utc), tick=False) as moved:
        yield moved


def later(clock: time_machine.Coordinates) -> None:
    clock.move_to(LATER.replace(tzinfo=dt.timezone.utc))


def fresh(ticket_id: int) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)


def history(ticket_id: int) -> list[tuple]:
    """The audit trail after opening: (kind, actor, old, new)."""
    return [tuple(row) for row in db.session.execute(
        select(TicketEvent.kind, TicketEvent.actor_id, TicketEvent.old_value,
               TicketEvent.new_value)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind != "created")
        .order_by(TicketEvent.id))]
