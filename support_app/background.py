"""What every outbox (email, webhooks) shares: claiming rows one attempt at a time,
exponential backoff, and a per-process sender thread.

A row is claimed with one conditional UPDATE (status `sending`, `attempts + 1`, a lease
in `next_attempt_at`), so several processes never take the same row for the same
attempt, and a row whose sender died is picked up again when its lease expires.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Callable

from flask import Flask
from sqlalchemy import ColumnElement, or_, select, true, update

from .extensions import db

log = logging.getLogger(__name__)

QUEUED, SENDING = "queued", "sending"
LEASE = dt.timedelta(minutes=5)
BATCH = 50


class Outbox:
    """A table of rows waiting to be sent: `status`, `attempts`, `next_attempt_at`."""

    def __init__(self, model: Any, scope: ColumnElement[bool] | None = None) -> None:
        self.model = model
        self.scope = scope if scope is not None else true()  # e.g. outgoing emails only

    def _due(self, now: dt.datetime) -> ColumnElement[bool]:
        m = self.model
        return self.scope & m.status.in_((QUEUED, SENDING)) & or_(
            m.next_attempt_at.is_(None), m.next_attempt_at <= now)

    def due_ids(self, now: dt.datetime, limit: int = BATCH) -> list[int]:
        ids = list(db.session.scalars(
            select(self.model.id).where(self._due(now)).order_by(self.model.id).limit(limit)))
        db.session.commit()
        return ids

    def claim(self, row_id: int, now: dt.datetime) -> bool:
        """Take the row for one attempt; False if another sender took it first."""
        m = self.model
        result = db.session.execute(
            update(m).where(m.id == row_id, self._due(now))
            .values(status=SENDING, attempts=m.attempts + 1, next_attempt_at=now + LEASE))
        db.session.commit()
        return result.rowcount == 1


def backoff(attempts: int, base_seconds: float, max_seconds: float) -> dt.timedelta:
    """`base * 2^(attempts-1)`, capped: the wait before the next attempt."""
    return dt.timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempts - 1)))


class Worker:
    """One daemon thread per process running `deliver` (which returns how many rows it
    handled, at most `BATCH`); `wake()` after a commit that queued rows."""

    def __init__(self, app: Flask, name: str, deliver: Callable[[], int],
                 enabled_setting: str, poll_setting: str) -> None:
        self.app = app
        self.name = name
        self._deliver = deliver
        self._enabled_setting = enabled_setting
        self._poll_setting = poll_setting
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.app.config.get(self._enabled_setting, True))

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def ensure_started(self) -> None:
        """Started lazily (first request), so CLI commands and forks get no stray thread."""
        if self.enabled and (self._thread is None or not self._thread.is_alive()):
            self.start()

    def wake(self) -> None:
        self._wake.set()

    def running(self) -> bool:
        """Is the sender thread alive (readiness; main's ops checks call it on MailWorker)?"""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        interval = float(self.app.config.get(self._poll_setting) or 15)
        while not self._stop.is_set():
            handled = 0
            try:
                with self.app.app_context():
                    try:
                        handled = self._deliver()
                    finally:
                        db.session.remove()
            except Exception:  # a database hiccup: log and try again on the next tick
                log.exception("%s pass failed", self.name)
            if handled < BATCH:
                self._wake.wait(interval)
                self._wake.clear()
