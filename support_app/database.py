"""Engine tuning and session hooks that every deployment needs."""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from typing import Any, Callable, ContextManager, Iterator, TypeVar

from flask import Flask, current_app
from sqlalchemy import Executable, Insert, Table, event, insert
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import make_transient_to_detached

from .extensions import db
from .ops import metrics
from .tickets import counters, events

log = logging.getLogger(__name__)


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
    """Writers on SQLite queue here for SQLite's single writer lock.

    Left to SQLite, each waiting writer sleep-polls (naps of up to 100 ms): under load
    some wait seconds while others get through. Here the threads of a process queue on
    a lock and the processes on an flock of `<database>-writer.lock`; both hand the
    turn over the moment it is free. Re-entrant: a service may call another. An
    in-memory database has one process, so it needs no file. PostgreSQL takes no turn
    (row locks).

    Every write takes the turn, from its first write or `FOR UPDATE` read (the SQLite
    stand-in for a row lock) to the end of its transaction: a writer that held
    SQLite's lock without the turn would wait for the turn's holder while that holder
    waits for SQLite's lock (both stuck until the busy timeout). A service transaction
    runs its reads and renders beside the other writers and queues only for what must
    be serial."""

    def __init__(self, database_path: str | None,
                 observe: Callable[[float, float], None] | None = None) -> None:
        self._threads = threading.RLock()
        self._path = f"{database_path}-writer.lock" if database_path else None
        self._fd: int | None = None
        self._pid = 0
        self._depth = 0
        self._block = threading.local()  # whether this thread's transaction holds it
        # (seconds queued, seconds held) of each turn, told once it is given back.
        self._observe = observe
        self._asked = self._got = 0.0

    def __enter__(self) -> "WriterTurn":
        asked = time.perf_counter()
        self._threads.acquire()
        self._depth += 1
        if self._depth == 1:
            if self._path is not None:
                if self._pid != os.getpid():  # a forked worker needs its own open file
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                    self._pid = os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._asked, self._got = asked, time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        last = self._depth == 0
        if last:
            if self._path is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            waited, held = self._got - self._asked, time.perf_counter() - self._got
        self._threads.release()
        if last and self._observe is not None:
            self._observe(waited, held)  # after the release: the next writer is not kept

    @contextmanager
    def from_first_write(self) -> Iterator[None]:
        """A service transaction: the turn is taken at its first write (`claim`) and
        given back when it commits or rolls back, or at the latest when the block ends."""
        block = self._block
        block.nesting = getattr(block, "nesting", 0) + 1
        try:
            yield
        finally:
            block.nesting -= 1
            if not block.nesting:  # a nested block belongs to the outer one
                self.transaction_ended()

    def claim(self) -> None:
        """Before a write or a `FOR UPDATE` read: take the turn unless this thread's
        transaction already holds it."""
        block = self._block
        if not getattr(block, "held", False):
            self.__enter__()
            block.held = True

    def transaction_ended(self) -> None:
        """The thread's transaction committed or rolled back: give the turn back."""
        block = self._block
        if getattr(block, "held", False):
            block.held = False
            self.__exit__()


def writer_turn() -> ContextManager[object]:
    """A service transaction's writer turn on SQLite (taken at its first write or
    locking read); nothing to wait for on PostgreSQL."""
    turn = current_app.extensions.get(WRITER_LOCK)
    return turn.from_first_write() if turn is not None else nullcontext()


def _claim_turn_before_writes(engine: Engine, turn: WriterTurn) -> None:
    """Every statement but a plain SELECT claims the writer turn, just before the driver
    runs it. (Dialect `do_execute*` events: the engine's `before_cursor_execute` costs
    several times more per statement, reads included.)"""

    def claim(statement: str, context: Any) -> None:
        if not statement.startswith("SELECT"):
            turn.claim()
        elif context is not None and context.compiled is not None and getattr(
                context.compiled.statement, "_for_update_arg", None) is not None:
            turn.claim()  # SQLite drops FOR UPDATE from the SQL; the turn stands in

    def with_params(cursor: Any, statement: str, parameters: Any, context: Any) -> None:
        claim(statement, context)

    def without_params(cursor: Any, statement: str, context: Any) -> None:
        claim(statement, context)

    event.listen(engine, "do_execute", with_params)
    event.listen(engine, "do_executemany", with_params)
    event.listen(engine, "do_execute_no_params", without_params)

    # Given back once the transaction has really ended: the engine's `commit` event
    # fires before the COMMIT, and a writer let in then read the snapshot from before
    # it (a reply read a ticket the merge it waited for had just moved: lost message).
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            turn.transaction_ended()

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            turn.transaction_ended()

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


M = TypeVar("M")


def new_row(model: type[M], **values: Any) -> M:
    """A new (transient) object holding exactly what its row will: every column given,
    else its default, else NULL. Services build one, render what they must from it,
    and write it with `insert_loaded`."""
    table = model.__table__  # type: ignore[attr-defined]
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.key in values:
            row[column.key] = values[column.key]
        elif not column.primary_key:
            default = column.default
            row[column.key] = (None if default is None
                               else default.arg(None) if default.is_callable else default.arg)
    return model(**row)


@lru_cache(maxsize=None)
def _insert(table: Table) -> Insert:
    return insert(table)


def execute_core(statement: Executable, params: Any = None) -> CursorResult:
    """A Core statement (no ORM entities in it) in the session's transaction, on the
    session's connection: `Session.execute` would first look for ORM entities in it,
    a third of a small statement's cost, much of it inside SQLite's writer turn."""
    return db.session.connection().execute(statement, params)


def insert_row(table: Table, values: dict[str, Any]) -> CursorResult:
    """One Core INSERT in the session's transaction (`execute_core`), the statement
    built once per table. A key that is no column is refused: the INSERT itself would
    drop it silently."""
    unknown = values.keys() - _columns(table)
    if unknown:
        raise TypeError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    return _execute_insert(table, values)


def _execute_insert(table: Table, values: dict[str, Any]) -> CursorResult:
    return execute_core(_insert(table), values)


@lru_cache(maxsize=None)
def _columns(table: Table) -> frozenset[str]:
    return frozenset(table.c.keys())


def insert_loaded(obj: M) -> M:
    """Write a `new_row` object with one Core INSERT of its columns and make it a
    persistent, fully loaded ORM object, as if it had been added and flushed.

    The unit of work's flush of one new ticket costs more CPU than the rest of its
    INSERTs together; this skips it, and the object prints without a read-back.
    Relationships are not written: give the loaded ones with
    `sqlalchemy.orm.attributes.set_committed_value`."""
    table = obj.__table__  # type: ignore[attr-defined]
    [key] = [column.key for column in table.primary_key.columns]
    row = {column.key: getattr(obj, column.key) for column in table.columns
           if column.key != key}
    # Its keys are the table's own columns: no check needed (the hot path of every reply).
    setattr(obj, key, _execute_insert(table, row).inserted_primary_key[0])
    make_transient_to_detached(obj)
    db.session.add(obj)
    return obj


def _is_sqlite(app: Flask) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def configure(app: Flask) -> None:
    """Before the engine exists. SQLite: connections shared by threads, writers wait on
    locks; no pre-ping (a file does not drop connections, and the ping was a statement
    per request). PostgreSQL: a lost server fails fast (connect and statement timeouts,
    short pool wait) so requests answer 503 instead of hanging, and dead connections are
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
        options.setdefault("pool_pre_ping", True)  # a server restart leaves dead connections
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _create_private(path: str) -> None:
    """Create the SQLite file owner-only (0600, as the secret key) before SQLite does:
    it would create it with the umask's mode, world-readable (0644) by default, and
    its -wal/-shm files copy the database file's mode. An existing file is left as is."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def install(app: Flask) -> None:
    """After the engine exists: SQLite pragmas (and a private database file),
    domain-event delivery and counter writes on commit."""
    if _is_sqlite(app):
        with app.app_context():
            path = db.engine.url.database
            in_memory = path in (None, "", ":memory:")
            if not in_memory:
                _create_private(path)
            turn = WriterTurn(None if in_memory else path, observe=metrics.writer_turn)
            app.extensions[WRITER_LOCK] = turn
            engine: Engine = db.engine
            if not event.contains(engine, "connect", _sqlite_pragmas):
                event.listen(engine, "connect", _sqlite_pragmas)
            _claim_turn_before_writes(engine, turn)
    app.teardown_appcontext(_end_session)  # runs before Flask-SQLAlchemy's own
    events.install(db.session)
    counters.install(db.session)


def _end_session(exc: BaseException | None) -> None:
    """End the request's session. A connection that died after the request's last
    statement fails the closing ROLLBACK; the answer is already made (and the server
    drops an open transaction with its connection), so the connection is discarded,
    the pool opens a new one, and the client still gets its answer rather than a 500."""
    try:
        db.session.remove()
    except DBAPIError as err:
        if not err.connection_invalidated:
            raise
        log.warning("database connection lost at the end of a request: %s", err.orig)
        db.session().invalidate()  # the request's Session (scoped_session does not proxy it)
        db.session.remove()
