"""Pushes leave the request thread: one queue and one sender thread per process.

A committed change must answer its HTTP request whatever happens to the push: a
slow or unreachable Redis, a payload that needs a query. After-commit subscribers
only enqueue a job; the sender thread runs it in a fresh app context (its own
database session, reading committed rows) and logs failures. One thread keeps
the pushes of a process in commit order.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from typing import Any, Callable, Iterable

from flask import Flask, current_app

from ..extensions import socketio

log = logging.getLogger(__name__)

Job = Callable[[], None]


class Dispatcher:
    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Flask, Job]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def submit(self, job: Job, app: Flask | None = None) -> None:
        """Run `job` soon on the sender thread, inside an app context of `app`."""
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        self._ensure_thread()
        self._queue.put((app, job))

    def wait_idle(self) -> None:
        """Block until every submitted job has run (tests, orderly shutdown)."""
        self._queue.join()

    def _ensure_thread(self) -> None:
        with self._lock:
            # A forked worker (gunicorn) inherits the queue but not the thread.
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="support-push", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            app, job = self._queue.get()
            try:
                with app.app_context():
                    job()
            except Exception:
                log.exception("socket push failed")
            finally:
                self._queue.task_done()


dispatcher = Dispatcher()


def emit(event: str, payload: Any, rooms: Iterable[str]) -> None:
    """Emit to the union of `rooms` (each client once); never raises."""
    targets = sorted(set(rooms))
    if not targets:
        return
    try:
        socketio.emit(event, payload, to=targets, namespace="/")
    except Exception:
        log.exception("emit of %s to %s failed", event, targets)


def push(event: str, payload: Any, rooms: Iterable[str]) -> None:
    """Queue an emit whose payload is already built."""
    rooms = list(rooms)
    dispatcher.submit(lambda: emit(event, payload, rooms))
