"""Which mailed files we keep: the same rules as uploads (`attachments.screening`: type
from the bytes, size and count limits). The bytes are stored only once the mail is
known to be new (`intake`), with the message that carries them.

A refused file is reported back (and written into the message) rather than silently
dropped, so staff know the customer sent something we did not keep."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage, MultiDict

from ..attachments import screening

MAX_ATTACHMENTS = 20  # per mail; files past ATTACHMENTS_PER_MESSAGE are refused too


@dataclass
class Screened:
    kept: list[screening.Screened] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # readable lines, one per file


def uploads(files: MultiDict) -> list[FileStorage]:
    """Mailgun's attachment-1..N parts, in order (attachment-count says how many)."""
    numbered = [(key, f) for key, f in files.items(multi=True) if key.startswith("attachment-")]

    def position(item: tuple[str, FileStorage]) -> tuple[bool, int]:
        """Numbered parts by number, then any others (isdecimal: what int() reads)."""
        suffix = item[0].removeprefix("attachment-")
        return (False, int(suffix)) if suffix.isdecimal() else (True, 0)

    return [f for _key, f in sorted(numbered, key=position)]


def screen(files: MultiDict) -> Screened:
    result = Screened()
    limit = min(MAX_ATTACHMENTS, screening.per_message())
    for index, upload in enumerate(uploads(files), start=1):
        fallback = f"attachment-{index}"
        if index > limit:
            name = screening.clean_name(upload.filename, fallback)
            result.refused.append(_("%(name)s: too many attachments", name=name))
            continue
        try:
            result.kept.append(screening.screen(
                upload.filename, screening.read_limited(upload.stream), fallback))
        except screening.Refused as refusal:
            result.refused.append(str(refusal))
    return result
