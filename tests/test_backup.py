"""`flask --app wsgi support backup`: a consistent copy of a live SQLite database."""
from __future__ import annotations

import sqlite3
import subprocess

import pytest

from .live import app_env, flask_cli


def test_backup_copies_a_live_sqlite_database(app, factory, tmp_path):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        pytest.skip("SQLite only (PostgreSQL: pg_dump)")
    alice = factory.customer()
    factory.ticket(alice, subject="Kept in the backup")
    target = tmp_path / "copies" / "support-backup.db"
    env = app_env(app, tmp_path)
    result = flask_cli("backup", str(target), env=env)
    assert "Backed up" in result.stdout
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT subject FROM tickets").fetchall() == [("Kept in the backup",)]
        assert copy.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    with pytest.raises(subprocess.CalledProcessError) as refused:
        flask_cli("backup", str(target), env=env)  # never overwrites
    assert "exists" in refused.value.stderr
