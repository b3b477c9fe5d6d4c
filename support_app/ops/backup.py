"""`flask --app wsgi support backup FILE`: a consistent copy of a live SQLite database.

Copying `support.db` with `cp` while servers write can miss the WAL file's pages, or
catch a page mid-write; sqlite3's online backup API copies a consistent snapshot
while readers and writers carry on. PostgreSQL has its own tools (README, Operations).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..extensions import db


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(target: Path) -> None:
    """Copy the SQLite database to TARGET (a new file) without stopping the servers."""
    if db.engine.dialect.name != "sqlite":
        raise click.ClickException("backup copies SQLite only; for PostgreSQL use pg_dump "
                                   "(README, Operations)")
    if target.exists():
        raise click.ClickException(f"{target} exists; choose a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = db.engine.raw_connection()
    try:
        with sqlite3.connect(target) as copy:
            source.driver_connection.backup(copy)
            (result,) = copy.execute("PRAGMA integrity_check").fetchone()
        if result != "ok":
            raise click.ClickException(f"the copy failed its integrity check: {result}")
    finally:
        source.close()
    click.echo(f"Backed up to {target}")
