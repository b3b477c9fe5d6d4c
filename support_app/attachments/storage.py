"""Where attachment bytes live, behind one small interface.

`LocalStorage` (the default) keeps each file under the attachment folder (by default
`<instance>/attachments`) with a key this module generates: 32 random hex digits, so
no name a user chose ever reaches the file system, and a key that is not of that form
is refused before any path is built.

Scale-out: several server processes must share the files. Either mount one shared
folder (NFS, a volume) as ATTACHMENT_STORAGE_PATH, or set ATTACHMENT_STORAGE=s3:
`S3Storage` (`attachments.s3`, the `s3` extra: boto3) keeps the same keys as objects
`<ATTACHMENT_S3_PREFIX><key>` in ATTACHMENT_S3_BUCKET on AWS S3 or any S3-compatible
store (MinIO, Ceph, ...: ATTACHMENT_S3_ENDPOINT_URL). Credentials come from boto3's own
chain (environment, ~/.aws, instance role), never from this app's settings. boto3 is
imported only when s3 is configured.
"""
from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Protocol

from flask import current_app

KEY = re.compile(r"^[0-9a-f]{32}$")


class Storage(Protocol):
    def save(self, data: bytes) -> str:
        """Store the bytes under a new key and return the key."""

    def read(self, key: str) -> bytes:
        """The bytes of a key (FileNotFoundError if absent)."""

    def delete(self, key: str) -> None:
        """Remove a key; absent keys are no error."""


def checked(key: str) -> str:
    """The key if it is one this module could have made (else ValueError): no name a
    caller passes ever becomes a path or an object name of its choosing."""
    if not isinstance(key, str) or not KEY.match(key):
        raise ValueError("not an attachment storage key")
    return key


def new_key() -> str:
    return secrets.token_hex(16)


class LocalStorage:
    """Files on disk: `<root>/<first two hex digits>/<key>`, written atomically."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        checked(key)
        return self.root / key[:2] / key

    def save(self, data: bytes) -> str:
        key = new_key()
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
        found = app.extensions["attachment_storage"] = configured(app.config)
    return found


def configured(config: Mapping[str, Any]) -> Storage:
    """The storage ATTACHMENT_STORAGE names: `local` (default) or `s3`."""
    kind = (config.get("ATTACHMENT_STORAGE") or "local").strip().lower()
    if kind == "s3":
        from .s3 import S3Storage  # boto3 only where s3 is configured

        return S3Storage.from_config(config)
    if kind != "local":
        raise ValueError(f"ATTACHMENT_STORAGE must be local or s3, not {kind!r}")
    root = config.get("ATTACHMENT_STORAGE_PATH") or os.path.join(
        current_app.instance_path, "attachments")
    return LocalStorage(root)
