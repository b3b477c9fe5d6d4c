"""SQLite writers take turns: threads on a lock, processes on an flock of a file."""
from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading

from support_app.database import WriterTurn


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
