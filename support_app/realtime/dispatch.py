"""Pushes leave the request thread: one queue and one sender thread per process.

A committed change must answer its HTTP request whatever happens to the push: a
slow or unreachable Redis, a payload that needs a query. After-commit subscribers
only enqueue a job; the sender thread runs it in a fresh app context (its own
database session, reading committed rows) and logs failures. One thread keeps
the pushes of a process in commit order.

A job that pushes current state (a navbar badge) carries a key: while one with the
same key waits in the queue, another is not added, since the waiting one will read
the newer state when it runs. Under a burst of writes the badges cost one count
per burst, not one per change. A keyed job may also be paced (`every`): after one
runs, the next waits out the interval in a timer, so a steady stream of changes
(a busy desk) pushes a badge a few times a second, not once per change: at 500
staff each desk badge is 500 frames, as many as the ticket event itself.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any, Callable, Hashable, Iterable

from flask import Flask, current_app

from ..extensions import socketio
from ..ops import metrics, request_log

log = logging.getLogger(__name__)

Job = Callable[[], None]
FORGET_ABOVE = 4096  # keys remembered before old runs are forgotten
FORGET_AFTER = 60.0  # seconds: longer than any pacing interval


class Dispatcher:
    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Flask, Job, Hashable | None]] = queue.Queue()
        self._waiting: set[Hashable] = set()
        self._last_run: dict[Hashable, float] = {}
        self._delayed = 0  # paced jobs waiting in a timer, not yet in the queue
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def submit(self, job: Job, app: Flask | None = None, *, key: Hashable | None = None,
               every: float = 0.0) -> None:
        """Run `job` soon on the sender thread, inside an app context of `app`; a keyed
        job is dropped if one with the same key has not started yet, and one paced
        `every` seconds starts no sooner than that after the last run of its key."""
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        job = request_log.bind(job)  # the push's log lines name the request that caused it
        self._ensure_thread()
        delay = 0.0
        if key is not None:
            with self._lock:
                if key in self._waiting:
                    return
                self._waiting.add(key)
                if every:
                    delay = self._last_run.get(key, -every) + every - time.monotonic()
                    if delay > 0:
                        self._delayed += 1
        if delay > 0:
            timer = threading.Timer(delay, self._enqueue_delayed, args=((app, job, key),))
            timer.daemon = True
            timer.start()
        else:
            self._queue.put((app, job, key))

    def _enqueue_delayed(self, item: tuple[Flask, Job, Hashable | None]) -> None:
        self._queue.put(item)
        with self._lock:  # only after the put: wait_idle finds the job in one place or the other
            self._delayed -= 1

    def _remember_run(self, key: Hashable) -> None:
        """Note when `key` last ran (under the lock). Keys are per user: runs older than
        any pacing interval are forgotten, so the map stays as small as the active set."""
        now = time.monotonic()
        self._last_run[key] = now
        if len(self._last_run) > FORGET_ABOVE:
            self._last_run = {k: at for k, at in self._last_run.items() if now - at < FORGET_AFTER}

    def wait_idle(self) -> None:
        """Block until every submitted job has run, paced ones included (tests,
        orderly shutdown)."""
        while True:
            self._queue.join()
            with self._lock:
                if not self._delayed:
                    return
            time.sleep(0.01)

    def running(self) -> bool:
        """Is this process's sender thread alive (readiness)? False before the first push."""
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def _ensure_thread(self) -> None:
        with self._lock:
            # A forked worker (gunicorn) inherits the queue but not the thread.
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="support-push", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            app, job, key = self._queue.get()
            if key is not None:
                with self._lock:  # from now on a newer change needs a new run
                    self._waiting.discard(key)
                    self._remember_run(key)
            try:
                with app.app_context():
                    job()
            except Exception:
                log.exception("socket push failed")
            finally:
                self._queue.task_done()


dispatcher = Dispatcher()


def listened(rooms: Iterable[str]) -> bool:
    """Whether anyone may receive an emit to `rooms`: pushes nobody can receive skip the
    queries that build them (a lone process knows its rooms; with a message queue,
    another process may have listeners, so the answer is yes)."""
    return socketio.server.manager.has_listeners(rooms)


def emit(event: str, payload: Any, rooms: Iterable[str]) -> None:
    """Emit to the union of `rooms` (each client once), then yield; never raises."""
    targets = sorted(set(rooms))
    if not targets:
        return
    try:
        socketio.emit(event, payload, to=targets, namespace="/")
        metrics.socket_emitted(event)
    except Exception:
        log.exception("emit of %s to %s failed", event, targets)
    # Let the websocket writers put this event on the wire before the next one is
    # queued: otherwise each client gets all of a change's events before the next
    # client gets its first, and the last of 500 staff waits for 1,000 frames, not 500.
    socketio.sleep(0)


def push(event: str, payload: Any, rooms: Iterable[str]) -> None:
    """Queue an emit whose payload is already built."""
    rooms = list(rooms)
    dispatcher.submit(lambda: emit(event, payload, rooms))
