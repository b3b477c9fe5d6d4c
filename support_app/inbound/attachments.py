"""Which mailed files we keep: common document and image types up to a size limit.

A refused file is reported back (and written into the message) rather than silently
dropped, so staff know the customer sent something we did not keep."""
from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field

from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.utils import secure_filename

from ..models import Attachment

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 20
ALLOWED_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/heic",
    "application/pdf", "text/plain", "text/csv",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
})


@dataclass
class Screened:
    kept: list[Attachment] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # readable lines, one per file


def _declared_type(upload: FileStorage) -> str:
    return (upload.mimetype or "application/octet-stream").lower()


def _type_from_name(filename: str) -> str | None:
    guessed, _encoding = mimetypes.guess_type(filename, strict=False)
    return guessed.lower() if guessed else None


def uploads(files: MultiDict) -> list[FileStorage]:
    """Mailgun's attachment-1..N parts, in order (attachment-count says how many)."""
    numbered = [(key, f) for key, f in files.items(multi=True) if key.startswith("attachment-")]

    def position(item: tuple[str, FileStorage]) -> int:
        suffix = item[0].removeprefix("attachment-")
        return int(suffix) if suffix.isdigit() else 1 << 30

    return [f for _key, f in sorted(numbered, key=position)]


def screen(files: MultiDict) -> Screened:
    result = Screened()
    for index, upload in enumerate(uploads(files), start=1):
        name = secure_filename(upload.filename or "") or f"attachment-{index}"
        name = name[-255:]
        if index > MAX_ATTACHMENTS:
            result.refused.append(_("%(name)s: too many attachments", name=name))
            continue
        declared = _declared_type(upload)
        by_name = _type_from_name(name)
        if declared not in ALLOWED_TYPES or (by_name is not None and by_name not in ALLOWED_TYPES):
            result.refused.append(_("%(name)s: file type %(type)s is not accepted",
                                    name=name, type=declared))
            continue
        data = upload.stream.read(MAX_ATTACHMENT_BYTES + 1)
        if len(data) > MAX_ATTACHMENT_BYTES:
            result.refused.append(_("%(name)s: larger than %(mb)d MB",
                                    name=name, mb=MAX_ATTACHMENT_BYTES // (1024 * 1024)))
            continue
        if not data:
            result.refused.append(_("%(name)s: empty file", name=name))
            continue
        result.kept.append(Attachment(filename=name, content_type=declared,
                                      size=len(data), data=data))
    return result
