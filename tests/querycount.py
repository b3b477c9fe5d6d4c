"""Count the SQL statements a block of test code makes (for N+1 checks)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event

from support_app.extensions import db


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Statements run by this thread only: socket pushes query from background threads."""
    seen: list[str] = []
    me = threading.get_ident()

    def record(conn, cursor, statement, *args) -> None:
        if threading.get_ident() == me:
            seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
