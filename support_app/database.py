"""Engine tuning and session hooks that every deployment needs."""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import nullcontext
from typing import Any, ContextManager, TypeVar

from flask import Flask, current_app
from sqlalchemy import event, insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import make_transient_to_detached

from .extensions import db
from .tickets import counters, events


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets readers run beside the writer; busy_timeout makes writers wait, not fail."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


WRITER_LOCK = "support_sqlite_writer"


class WriterTurn:
    """Ticket-service transactions on SQLite queue here for SQLite's single writer lock.

    Left to SQLite, each waiting writer sleep-polls (naps of up to 100 ms): under load
    some wait seconds while others get through. Here the threads of a process queue on
    a lock and the processes on an flock of `<database>-writer.lock`; both hand the
    turn over the moment it is free. Re-entrant: a service may call another. An
    in-memory database has one process, so it needs no file. PostgreSQL takes no turn
    (row locks)."""

    def __init__(self, database_path: str | None) -> None:
        self._threads = threading.RLock()
        self._path = f"{database_path}-writer.lock" if database_path else None
        self._fd: int | None = None
        self._pid = 0
        self._depth = 0

    def __enter__(self) -> "WriterTurn":
        self._threads.acquire()
        self._depth += 1
        if self._depth == 1 and self._path is not None:
            if self._pid != os.getpid():  # a forked worker needs its own open file
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._path is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


def writer_turn() -> ContextManager[object]:
    """The app's WriterTurn on SQLite; nothing to wait for on PostgreSQL."""
    turn = current_app.extensions.get(WRITER_LOCK)
    return turn if turn is not None else nullcontext()


M = TypeVar("M")


def insert_loaded(model: type[M], **values: Any) -> M:
    """Write one new row with a Core INSERT and return it as a persistent, fully loaded
    ORM object, as if it had been added and flushed.

    The unit of work's flush of one new ticket costs more CPU than the rest of its
    INSERTs together; this skips it, and the object prints without a read-back.
    Columns not given are written as their default or NULL: exactly what the object
    holds, so object and row cannot differ. Relationships are not set: give the
    loaded ones with `sqlalchemy.orm.attributes.set_committed_value`."""
    table = model.__table__  # type: ignore[attr-defined]
    [key] = [column.key for column in table.primary_key.columns]
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.key in values:
            row[column.key] = values[column.key]
        elif column.key != key:
            default = column.default
            row[column.key] = (None if default is None
                               else default.arg(None) if default.is_callable else default.arg)
    row[key] = db.session.execute(insert(table), row).inserted_primary_key[0]
    obj = model(**row)
    make_transient_to_detached(obj)
    db.session.add(obj)
    return obj


def _is_sqlite(app: Flask) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def configure(app: Flask) -> None:
    """Before the engine exists. SQLite: connections shared by threads, writers wait on
    locks. PostgreSQL: a lost server fails fast (connect and statement timeouts, short
    pool wait) so requests answer 503 instead of hanging, and dead connections are
    replaced on checkout (pre-ping)."""
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args", {}))
    if _is_sqlite(app):
        connect_args.update({"timeout": 30, "check_same_thread": False})
    elif app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        connect_args.setdefault("connect_timeout", int(app.config.get("DB_CONNECT_TIMEOUT", 5)))
        timeout_ms = int(app.config.get("DB_STATEMENT_TIMEOUT_MS", 15000))
        connect_args.setdefault("options", f"-c statement_timeout={timeout_ms}")
        options.setdefault("pool_timeout", 10)
        options.setdefault("pool_size", int(app.config.get("DB_POOL_SIZE", 10)))
        options.setdefault("max_overflow", 10)
    options["connect_args"] = connect_args
    options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def install(app: Flask) -> None:
    """After the engine exists: SQLite pragmas, domain-event delivery and counter
    writes on commit."""
    if _is_sqlite(app):
        with app.app_context():
            path = db.engine.url.database
            in_memory = path in (None, "", ":memory:")
            app.extensions[WRITER_LOCK] = WriterTurn(None if in_memory else path)
            engine: Engine = db.engine
            if not event.contains(engine, "connect", _sqlite_pragmas):
                event.listen(engine, "connect", _sqlite_pragmas)
    events.install(db.session)
    counters.install(db.session)
