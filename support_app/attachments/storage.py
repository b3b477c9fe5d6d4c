"""Where attachment bytes live, behind one small interface.

`LocalStorage` (the default) keeps each file under the attachment folder (by default
`<instance>/attachments`) with a key this module generates: 32 random hex digits, so
no name a user chose ever reaches the file system, and a key that is not of that form
is refused before any path is built.

Scale-out: several server processes must share the files. Mount one shared folder
(NFS, a volume) as ATTACHMENT_STORAGE_PATH, or plug an object store in: anything with
`save`, `read` and `delete` over these keys will do (an S3-compatible bucket via boto3
is a few lines: put_object / get_object / delete_object with the key as object name).
No S3 backend ships here: boto3 is a heavy dependency this project does not take yet.
"""
from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Protocol

from flask import current_app

KEY = re.compile(r"^[0-9a-f]{32}$")


class Storage(Protocol):
    def save(self, data: bytes) -> str:
        """Store the bytes under a new key and return the key."""

    def read(self, key: str) -> bytes:
        """The bytes of a key (FileNotFoundError if absent)."""

    def delete(self, key: str) -> None:
        """Remove a key; absent keys are no error."""


class LocalStorage:
    """Files on disk: `<root>/<first two hex digits>/<key>`, written atomically."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        if not isinstance(key, str) or not KEY.match(key):
            raise ValueError("not an attachment storage key")
        return self.root / key[:2] / key

    def save(self, data: bytes) -> str:
        key = secrets.token_hex(16)
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return key

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


def storage() -> Storage:
    """The app's storage (built once per app)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get("attachment_storage")
    if found is None:
        root = app.config.get("ATTACHMENT_STORAGE_PATH") or os.path.join(
            app.instance_path, "attachments")
        found = app.extensions["attachment_storage"] = LocalStorage(root)
    return found
