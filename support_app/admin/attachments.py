"""Files on the dashboard's ticket page: staff attach them to replies and notes (kept
as the signed-in user's uploads, then linked by the ticket service), and see each
one's name and size."""
from __future__ import annotations

from typing import Iterable

from flask import flash
from flask_babel import format_decimal
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from ..attachments import screening, store
from .base import current_actor


def uploaded(files: Iterable[FileStorage] | None) -> list[int] | None:
    """The ids of the form's files, kept as the user's uploads; None (and a flash
    saying why) if one is refused, so nothing is sent without it."""
    chosen = [f for f in files or () if isinstance(f, FileStorage) and f.filename]
    if len(chosen) > screening.per_message():
        flash(_("The attachments may not have more than %(max)d items.",
                max=screening.per_message()), "danger")
        return None
    ids = []
    for upload in chosen:
        try:
            ids.append(store.upload(current_actor(), upload.filename, upload.stream).id)
        except screening.Refused as refusal:
            flash(str(refusal), "danger")
            return None
    return ids


def file_size(size: int) -> str:
    if size < 1024:
        return _("%(num)s B", num=format_decimal(size))
    if size < 1024 * 1024:
        return _("%(num)s KB", num=format_decimal(round(size / 1024, 1)))
    return _("%(num)s MB", num=format_decimal(round(size / (1024 * 1024), 1)))
