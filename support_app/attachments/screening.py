"""Which files we keep, decided from their bytes: the type comes from the content
(magic bytes, `filetype`), never from the declared type or the name; the limits are
settings (ATTACHMENT_MAX_BYTES, ATTACHMENTS_PER_MESSAGE, ATTACHMENT_TYPES,
ATTACHMENT_UNUSED_MAX)."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import IO

import filetype
from flask import current_app
from flask_babel import gettext as _

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_PER_MESSAGE = 10
DEFAULT_UNUSED_MAX = 20  # an account's uploads no message took yet (two messages' worth)
DEFAULT_TYPES = (
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/heic",
    "application/pdf", "text/plain",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
)
# Shown in the browser rather than downloaded (never HTML or SVG, which run script).
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp",
                          "application/pdf"})
THUMBNAIL_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class Refused(Exception):
    """A file we do not keep; the message says why, in the reader's language."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class Screened:
    name: str
    content_type: str
    data: bytes


def max_bytes() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def per_message() -> int:
    return int(current_app.config.get("ATTACHMENTS_PER_MESSAGE") or DEFAULT_PER_MESSAGE)


def unused_max() -> int:
    return int(current_app.config.get("ATTACHMENT_UNUSED_MAX") or DEFAULT_UNUSED_MAX)


def allowed_types() -> frozenset[str]:
    return frozenset(current_app.config.get("ATTACHMENT_TYPES") or DEFAULT_TYPES)


def clean_name(raw: str | None, fallback: str = "file") -> str:
    """A display name: the last path segment, no control or bidi-override characters,
    at most 255 characters. It never names a file on disk (storage keys do)."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 255 - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:255]
    return name or fallback


def _text_type(data: bytes) -> str | None:
    """Plain text: UTF-8 without NULs that is not markup (HTML, SVG, XML start with `<`)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text or text.lstrip("\ufeff \t\r\n").startswith("<"):
        return None
    return "text/plain"


def detect(data: bytes) -> str | None:
    kind = filetype.guess(data)
    if kind is not None:
        return kind.mime.lower()
    return _text_type(data)


def read_limited(stream: IO[bytes]) -> bytes:
    return stream.read(max_bytes() + 1)


def screen(raw_name: str | None, data: bytes, fallback: str = "file") -> Screened:
    """The file as we keep it, or Refused (empty, too large, a type not allowed)."""
    name = clean_name(raw_name, fallback)
    limit = max_bytes()
    if not data:
        raise Refused(_("%(name)s: empty file", name=name))
    if len(data) > limit:
        raise Refused(_("%(name)s: larger than %(mb)d MB", name=name,
                        mb=limit // (1024 * 1024)), too_large=True)
    detected = detect(data)
    if detected is None or detected not in allowed_types():
        raise Refused(_("%(name)s: file type %(type)s is not accepted", name=name,
                        type=detected or _("unknown")))
    return Screened(name, detected, data)
