"""SQLite writers take turns: threads on a lock, processes on an flock of a file."""
from __future__ import annotations

import fcntl
import multiprocessing
import os
import sys
import threading
import time

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from support_app import database
from support_app.database import WRITER_LOCK, WriterTurn
from support_app.extensions import db
from support_app.models import EmailLog, Notification, Ticket
from support_app.tickets import events, service


def _hold(path: str, held: multiprocessing.Event, release: multiprocessing.Event) -> None:
    with WriterTurn(path):
        held.set()
        release.wait(10)


def _free(lock_file: str) -> bool:
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_another_process_waits_for_the_turn(tmp_path):
    path = str(tmp_path / "desk.db")
    ctx = multiprocessing.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold, args=(path, held, release))
    child.start()
    try:
        assert held.wait(10)
        assert not _free(path + "-writer.lock")
        release.set()
        child.join(10)
        assert _free(path + "-writer.lock")
    finally:
        release.set()
        child.join(10)


def test_threads_take_turns_and_a_holder_may_reenter(tmp_path):
    turn, inside, overlaps = WriterTurn(str(tmp_path / "desk.db")), [], []

    def write() -> None:
        for _ in range(50):
            with turn:
                with turn:  # a service calling another
                    inside.append(1)
                    overlaps.append(len(inside))
                    inside.pop()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [1] * 200


# --------------------------------------------------------------------------- in the app


def _taken(turn: WriterTurn) -> bool:
    """Whether another thread would have to wait for the turn now."""
    free: list[bool] = []

    def probe() -> None:
        if turn._threads.acquire(blocking=False):
            turn._threads.release()
            free.append(True)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(5)
    return not free


@pytest.fixture
def sqlite_turn(app_ctx) -> WriterTurn:
    turn = app_ctx.extensions.get(WRITER_LOCK)
    if turn is None:
        pytest.skip("PostgreSQL takes row locks, not a writer turn")
    return turn


def test_a_service_transaction_takes_the_turn_at_its_first_write(sqlite_turn, factory):
    ticket_id = factory.ticket(factory.customer()).id
    for first_write in (
        lambda: db.session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update()),
        lambda: db.session.execute(update(Ticket).where(Ticket.id == ticket_id)
                                   .values(priority="high")),
    ):
        with database.writer_turn():
            db.session.scalar(select(Ticket.subject).where(Ticket.id == ticket_id))
            assert not _taken(sqlite_turn)  # reads run beside other writers
            first_write()
            assert _taken(sqlite_turn)
            db.session.rollback()
        assert not _taken(sqlite_turn)  # given back when the transaction ends


def test_opening_a_ticket_renders_before_it_writes(app_ctx, factory):
    """Subscribers prepare (read, render) before the ticket's INSERT and write after it;
    on SQLite the turn is free while they prepare and taken while they write."""
    turn = app_ctx.extensions.get(WRITER_LOCK)  # None on PostgreSQL (row locks)
    seen: list[tuple[str, int, bool]] = []

    def look(phase: str) -> None:
        rows = db.session.scalar(select(func.count(Ticket.id)))
        seen.append((phase, rows, turn is not None and _taken(turn)))

    def prepare(event: events.DomainEvent) -> events.Write:
        look("prepare")
        return lambda: look("write")

    events.publisher.subscribe_in_transaction(prepare)
    try:
        ticket = service.open_ticket(factory.customer().actor, subject="Late parcel",
                                     description="It has not arrived.").ticket
    finally:
        events.publisher.unsubscribe(prepare)
    held = turn is not None
    assert seen == [("prepare", 0, False), ("write", 1, held)]
    assert turn is None or not _taken(turn)
    # and the rows written after the INSERT carry the new ticket's id
    assert db.session.scalar(select(Notification.ticket_id)) == ticket.id
    assert db.session.scalar(select(EmailLog.ticket_id)) == ticket.id


def test_a_write_outside_a_service_takes_the_turn_until_its_transaction_ends(sqlite_turn,
                                                                             factory):
    """A writer holding SQLite's lock without the turn would deadlock with a service
    that holds the turn and waits for SQLite's lock (the inbound webhook's replay
    memory and guest records wrote before the ticket service)."""
    ticket_id = factory.ticket(factory.customer()).id
    db.session.execute(update(Ticket).where(Ticket.id == ticket_id).values(priority="high"))
    assert _taken(sqlite_turn)
    db.session.commit()
    assert not _taken(sqlite_turn)
    db.session.execute(update(Ticket).where(Ticket.id == ticket_id).values(priority="low"))
    db.session.rollback()
    assert not _taken(sqlite_turn)


def test_a_nested_service_block_leaves_the_turn_to_the_outer_transaction(sqlite_turn, factory):
    ticket_id = factory.ticket(factory.customer()).id
    with database.writer_turn():
        db.session.execute(update(Ticket).where(Ticket.id == ticket_id).values(priority="high"))
        with database.writer_turn():
            pass
        assert _taken(sqlite_turn)
        db.session.commit()
        assert not _taken(sqlite_turn)


# --------------------------------------------------------------------------- metrics


def test_each_turn_is_told_once_with_its_queue_and_hold_time(tmp_path):
    told: list[tuple[float, float]] = []
    turn = WriterTurn(str(tmp_path / "desk.db"), observe=lambda *times: told.append(times))
    with turn:
        with turn:  # a service calling another: still one turn
            time.sleep(0.02)
        assert told == []  # nothing told while the turn is held
    [(waited, held)] = told
    assert held >= 0.02 and waited >= 0

    holder_in, release = threading.Event(), threading.Event()

    def hold() -> None:
        with turn:
            holder_in.set()
            release.wait(10)

    def write() -> None:
        with turn:
            pass

    holder, queued = threading.Thread(target=hold), threading.Thread(target=write)
    holder.start()
    assert holder_in.wait(10)
    queued.start()
    while sys._current_frames()[queued.ident].f_code.co_name != "__enter__":
        time.sleep(0.001)  # until the second writer is queued for the turn
    time.sleep(0.05)
    release.set()
    holder.join(10)
    queued.join(10)
    (_, first_held), (second_waited, _) = told[1:]
    assert first_held >= 0.05 and second_waited >= 0.04  # (it asked just after we saw it)


def test_the_app_counts_write_transactions_not_reads(sqlite_turn, client, factory):
    """`support_sqlite_writer_*`: one observation per write transaction (README, Metrics)."""
    alice = factory.customer()
    ticket_id = factory.ticket(alice).id
    before = REGISTRY.get_sample_value("support_sqlite_writer_hold_seconds_count") or 0.0
    assert client.get(f"/api/support-tickets/{ticket_id}", headers=alice.headers).status_code == 200
    assert REGISTRY.get_sample_value("support_sqlite_writer_hold_seconds_count") == before
    response = client.post(f"/api/support-tickets/{ticket_id}/messages", headers=alice.headers,
                           json={"message": "Any news on this?"})
    assert response.status_code == 201
    assert REGISTRY.get_sample_value("support_sqlite_writer_hold_seconds_count") == before + 1
    assert REGISTRY.get_sample_value("support_sqlite_writer_wait_seconds_count") == before + 1
