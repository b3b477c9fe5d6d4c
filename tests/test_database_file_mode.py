"""The embedded SQLite database is private to its owner, as the secret key is: created
0600 by `support init` (and its WAL files with it), whatever the umask leaves."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

from .live import ROOT


def test_sqlite_database_and_its_companions_are_created_owner_only(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["SUPPORT_INSTANCE_PATH"] = str(tmp_path)  # the default database: instance/support.db
    done = subprocess.run(
        [sys.executable, "-c", "import os; os.umask(0o022); from flask.cli import main; main()",
         "--app", "wsgi", "support", "init"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    created = sorted(p.name for p in tmp_path.iterdir())
    assert "support.db" in created and "secret_key" in created, created
    for path in tmp_path.iterdir():
        if path.name.startswith("support.db") or path.name == "secret_key":
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o077 == 0, f"{path.name} is {oct(mode)}"
