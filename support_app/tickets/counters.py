"""Desk-wide ticket counts, changed by the same transaction that changes a ticket.

Every change is either a conditional UPDATE whose row count says whether the ticket
really changed, or a change to a row the caller holds locked (`locked_change`), whose
loaded values are the current ones; either way the counters stay exact under
concurrent writers on SQLite and PostgreSQL.
The counter rows themselves are written just before the transaction commits: every
writer updates the same few rows, so on PostgreSQL their row locks serialise writers
for exactly as long as they are held; held from the ticket change to the commit they
would also cover notifications, outbox rows and audit rows.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

from sqlalchemy import event as sa_event
from sqlalchemy import Insert, Select, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import STATUSES, Ticket, TicketCounter

TOTAL = "tickets"
ADMIN_UNREAD = "admin_unread"


def status_key(status: str) -> str:
    return f"status:{status}"


PENDING = "ticket_counter_deltas"


def bump(deltas: dict[str, int]) -> None:
    """Add to counters in the current transaction (written when it commits)."""
    pending: dict[str, int] = db.session.info.setdefault(PENDING, {})
    for name, delta in deltas.items():
        pending[name] = pending.get(name, 0) + delta


@lru_cache(maxsize=2)
def _upsert(dialect: str) -> Insert:
    """`value += delta`, inserting the row if missing. Built once per dialect: a Core
    statement (no ORM bookkeeping) that SQLAlchemy compiles once."""
    table = TicketCounter.__table__
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.name], set_={"value": table.c.value + stmt.excluded.value})


def _write_pending(session: Session) -> None:
    """before_commit: upsert the accumulated deltas, rows in a fixed order (writers lock
    the counter rows in the same order: no deadlocks)."""
    deltas = {name: d for name, d in session.info.pop(PENDING, {}).items() if d}
    if not deltas:
        return
    # On the session's connection: a Core statement needs no ORM execution.
    connection = session.connection()
    connection.execute(_upsert(connection.dialect.name),
                       [{"name": name, "value": delta} for name, delta in sorted(deltas.items())])


def _discard_pending(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(PENDING, None)


def install(session_factory: Any) -> None:
    """Write pending deltas on commit and drop them on rollback for this session factory."""
    if not sa_event.contains(session_factory, "before_commit", _write_pending):
        sa_event.listen(session_factory, "before_commit", _write_pending)
        sa_event.listen(session_factory, "after_soft_rollback", _discard_pending)


def move_status(ticket_id: int, old: str, new: str) -> bool:
    """Set the status only if it still is `old`; count the move. False if it was not."""
    result = db.session.execute(
        update(Ticket).where(Ticket.id == ticket_id, Ticket.status == old).values(status=new)
    )
    if result.rowcount != 1:
        return False
    bump({status_key(old): -1, status_key(new): 1})
    return True


def set_admin_read(ticket_id: int, read: bool) -> None:
    """Flip the staff-side read flag; the unread counter follows only a real flip."""
    result = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.is_admin_read.is_(not read))
        .values(is_admin_read=read)
    )
    if result.rowcount == 1:
        bump({ADMIN_UNREAD: -1 if read else 1})


def locked_change(ticket: Ticket, changes: dict[str, Any]) -> None:
    """Count `changes` about to be written to a ticket row the caller holds locked: its
    loaded values are the row's current ones, so no conditional UPDATE is needed."""
    deltas: dict[str, int] = {}
    status = changes.get("status", ticket.status)
    if status != ticket.status:
        deltas.update({status_key(ticket.status): -1, status_key(status): 1})
    read = changes.get("is_admin_read", ticket.is_admin_read)
    if read != ticket.is_admin_read:
        deltas[ADMIN_UNREAD] = -1 if read else 1
    bump(deltas)


def ticket_opened(status: str, admin_read: bool) -> None:
    bump({TOTAL: 1, status_key(status): 1, ADMIN_UNREAD: 0 if admin_read else 1})


@lru_cache(maxsize=1)
def _read_statement() -> Select:
    """Built once: every staff list page and badge reads the counters."""
    return select(TicketCounter.name, TicketCounter.value).where(
        TicketCounter.name.in_(bindparam("names", expanding=True)))


def read(*names: str) -> dict[str, int]:
    # On the session's connection, not through the ORM session: plain columns need no
    # ORM execution, and every staff list page and badge comes here (80 µs of 140).
    rows = dict(db.session.connection().execute(_read_statement(), {"names": sorted(names)}).all())
    return {name: int(rows.get(name, 0)) for name in names}


def tickets_with_status(statuses: Iterable[str] | None = None) -> int:
    """Exact desk-wide number of tickets in any of `statuses` (all tickets if None),
    read from the counters: O(1) whatever the size of the table."""
    if statuses is None:
        return read(TOTAL)[TOTAL]
    return sum(read(*{status_key(s) for s in statuses}).values())


def recount() -> dict[str, int]:
    """Rebuild every counter from the tickets table (after bulk loads, or as a repair)."""
    values = {TOTAL: 0, ADMIN_UNREAD: 0, **{status_key(s): 0 for s in STATUSES}}
    for status, count in db.session.execute(
        select(Ticket.status, func.count()).group_by(Ticket.status)
    ):
        values[status_key(status)] = count
        values[TOTAL] += count
    values[ADMIN_UNREAD] = db.session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.is_admin_read.is_(False))
    )
    db.session.info.pop(PENDING, None)
    db.session.execute(TicketCounter.__table__.delete())
    db.session.add_all(TicketCounter(name=k, value=v) for k, v in values.items())
    db.session.commit()
    return values
