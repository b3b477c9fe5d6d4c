"""Engine tuning and session hooks that every deployment needs."""
from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import ContextManager

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine

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


def writer_turn() -> ContextManager[object]:
    """Held around each ticket-service transaction on SQLite: the threads of a process
    queue here for SQLite's single writer lock. Left to SQLite, each waiting writer
    sleep-polls (up to 100 ms a nap), and under load some wait seconds while others
    get through; a Python lock hands the turn over the moment it is free. Other
    processes still wait on SQLite's own lock. PostgreSQL needs no turn: row locks."""
    lock = current_app.extensions.get(WRITER_LOCK)
    return lock if lock is not None else nullcontext()


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
        app.extensions[WRITER_LOCK] = threading.RLock()  # re-entrant: services nest
        with app.app_context():
            engine: Engine = db.engine
            if not event.contains(engine, "connect", _sqlite_pragmas):
                event.listen(engine, "connect", _sqlite_pragmas)
    events.install(db.session)
    counters.install(db.session)
