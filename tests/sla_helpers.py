"""Shared by the SLA tests: a frozen clock from Monday 2026-12-07 10:00 UTC, the
default calendar and policy of `support init`, a customer and an admin."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine

from support_app.bootstrap import ensure_sla_defaults
from support_app.extensions import db
from support_app.models import Ticket
from support_app.security import roles
from support_app.tickets import sla

MONDAY_10 = dt.datetime(2026, 12, 7, 10, 0)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def clock(app_ctx) -> Iterator[time_machine.Coordinates]:
    sla.rules.clear()  # rows of an earlier test are gone; so is their cached copy
    with time_machine.travel(MONDAY_10.replace(tzinfo=dt.timezone.utc), tick=False) as moved:
        yield moved
    sla.rules.clear()


@pytest.fixture
def desk(factory, clock):
    ensure_sla_defaults()

    class Desk:
        alice = factory.customer(name="Alice")
        admin = factory.staff(roles.ADMIN)
    return Desk


def move(clock: time_machine.Coordinates, text: str) -> None:
    clock.move_to(at(text).replace(tzinfo=dt.timezone.utc))


def fresh(ticket_id: int) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)
