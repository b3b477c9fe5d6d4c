"""Scans log records for credentials: bearer tokens, JWTs, known passwords and keys.

conftest attaches one `SecretGuard` for the whole test session (root and the app's
logger) and fails the session's last teardown if any record held a secret."""
from __future__ import annotations

import logging
import re
from typing import Iterable

from .factories import PASSWORD

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
BEARER = re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{8,}")
# Passwords the suite signs up and logs in with.
KNOWN_PASSWORDS = (PASSWORD, "longpass123", "admin-pass-1", "securepass123", "wrong-pass-1",
                   "plain-text-pass-9")


class SecretGuard(logging.Handler):
    """Keeps only the records that leak; memory stays flat over a long run."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(logging.NOTSET)
        self.secrets = {s for s in (*KNOWN_PASSWORDS, *secrets) if s}
        self.leaks: list[str] = []
        self.seen = 0
        self._last: logging.LogRecord | None = None
        self._text = logging.Formatter("%(name)s %(message)s")

    def leak_in(self, record: logging.LogRecord) -> str | None:
        text = self._text.format(record)
        text += " " + " ".join(str(v) for k, v in vars(record).items()
                               if k not in ("msg", "args", "message", "exc_text")
                               and isinstance(v, str))
        if JWT.search(text) or BEARER.search(text) or any(s in text for s in self.secrets):
            return text[:500]
        return None

    def emit(self, record: logging.LogRecord) -> None:
        if record is self._last:  # attached to a logger and its parent: reached twice
            return
        self._last = record
        self.seen += 1
        leak = self.leak_in(record)
        if leak is not None:
            self.leaks.append(leak)
