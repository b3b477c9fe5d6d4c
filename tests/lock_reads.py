"""Which reads of a table lock their row: tests that a change locks what it changes
before it reads it (SELECT ... FOR UPDATE), on SQLite too (the compiled statement's
for-update flag, not the SQL text SQLite leaves out)."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from support_app.extensions import db


@contextmanager
def reads_of(table: str, with_sql: bool = False) -> Iterator[list]:
    """For each read of `table` by this thread, in order: whether it locks the row
    (SELECT ... FOR UPDATE; on SQLite the writer turn stands in for it), or with
    `with_sql` its SQL and that."""
    seen: list = []
    me = threading.get_ident()

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.get_ident() != me or not statement.startswith("SELECT"):
            return
        if not re.search(rf"\bFROM {table}\b", statement):
            return
        compiled = getattr(context, "compiled", None)
        locks = compiled is not None and getattr(
            compiled.statement, "_for_update_arg", None) is not None
        seen.append((statement, locks) if with_sql else locks)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
