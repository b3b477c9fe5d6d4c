"""Attachment rows and their bytes: uploads, mailed files, URLs and thumbnails."""
from __future__ import annotations

import hashlib
import io
import logging
from contextlib import contextmanager
from typing import IO, Iterator, Sequence
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from .. import database
from ..extensions import db
from ..models import Attachment, utcnow
from ..tickets.actor import Actor
from .screening import THUMBNAIL_TYPES, Refused, Screened, read_limited, screen, unused_max
from .storage import storage

log = logging.getLogger(__name__)

PATH_PREFIX = "/api/attachments/"
MAX_ID = 2**31 - 1  # an integer id column (PostgreSQL's 32 bits)
THUMBNAIL_SIZE = (320, 320)
MAX_THUMBNAIL_PIXELS = 40_000_000  # larger images get no thumbnail (decompression bombs)


def path_of(attachment_id: int) -> str:
    """The URL path of a file on this server (what messages store)."""
    return f"{PATH_PREFIX}{attachment_id}"


def public_url(path: str) -> str:
    """An absolute URL under PUBLIC_URL (never the request's Host header)."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def public_urls(stored: list[object] | None) -> list[str] | None:
    """A message's `attachments` as clients read them: absolute URLs of our files.
    (Strings stored before files were checked, e.g. foreign URLs, are not repeated.)"""
    urls = [public_url(path_of(found)) for found in map(id_from_url, stored or ())
            if found is not None]
    return urls or None


def id_from_url(value: object) -> int | None:
    """The attachment id a URL we issued names (absolute under PUBLIC_URL, or the bare
    path), or None for anything else: other hosts, schemes, paths, query strings."""
    if not isinstance(value, str) or len(value) > 2048:
        return None
    parts = urlsplit(value.strip())
    if parts.query or parts.fragment:
        return None
    if parts.scheme or parts.netloc:
        ours = urlsplit(current_app.config["PUBLIC_URL"])
        if (parts.scheme, parts.netloc) != (ours.scheme, ours.netloc):
            return None
        path = parts.path
        base = ours.path.rstrip("/")
        if base:
            if not path.startswith(base + "/"):
                return None
            path = path[len(base):]
    else:
        path = parts.path
    tail = path[len(PATH_PREFIX):] if path.startswith(PATH_PREFIX) else ""
    if not tail.isascii() or not tail.isdigit() or len(tail) > 10:
        return None
    found = int(tail)
    return found if 0 < found <= MAX_ID else None


def _row(screened: Screened, key: str, owner_id: int | None) -> Attachment:
    return Attachment(owner_id=owner_id, filename=screened.name,
                      content_type=screened.content_type, size=len(screened.data),
                      checksum=hashlib.sha256(screened.data).hexdigest(),
                      storage_key=key, created_at=utcnow())


def _check_room(actor: Actor) -> None:
    """Refused once the actor holds ATTACHMENT_UNUSED_MAX uploads no message or note
    took: they stay a day (`cleanup`), and one account must not fill the disk meanwhile.
    (Two uploads racing past the last place may both pass: a bound, not a count.)"""
    limit = unused_max()
    unused = db.session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.owner_id == actor.user_id, Attachment.message_id.is_(None),
        Attachment.note_id.is_(None)))
    if unused >= limit:
        raise Refused(_("You have %(count)d uploaded files no message uses yet: send "
                        "them with a message first (unused files are removed after a day).",
                        count=unused))


def upload(actor: Actor, raw_name: str | None, stream: IO[bytes]) -> Attachment:
    """Keep an uploaded file for the actor (Refused if we do not take it). It belongs
    to nobody else until a message or note of the actor carries it."""
    _check_room(actor)
    screened = screen(raw_name, read_limited(stream))
    files = storage()
    key = files.save(screened.data)
    try:
        row = _row(screened, key, actor.user_id)
        with database.writer_turn():
            db.session.add(row)
            db.session.commit()
    except BaseException:
        db.session.rollback()
        files.delete(key)
        raise
    return row


@contextmanager
def kept(screened: Sequence[Screened]) -> Iterator[list[Attachment]]:
    """Rows for mailed files, their bytes already stored; a message's transaction adds
    them. Should that transaction fail, the stored bytes are removed again."""
    files = storage()
    rows: list[Attachment] = []
    try:
        for item in screened:
            rows.append(_row(item, files.save(item.data), None))
        yield rows
    except BaseException:
        for row in rows:
            files.delete(row.storage_key)
        raise


def content(attachment: Attachment) -> bytes:
    return storage().read(attachment.storage_key)


def thumbnail(attachment: Attachment) -> bytes | None:
    """A small PNG of an image, made on first request and kept (one per file: the
    first writer wins, a concurrent second one drops its copy)."""
    if attachment.content_type not in THUMBNAIL_TYPES:
        return None
    files = storage()
    if attachment.thumbnail_key:
        try:
            return files.read(attachment.thumbnail_key)
        except FileNotFoundError:
            pass
    data = _render_thumbnail(content(attachment))
    if data is None:
        return None
    key = files.save(data)
    with database.writer_turn():
        won = db.session.execute(
            update(Attachment).where(Attachment.id == attachment.id, (
                Attachment.thumbnail_key.is_(None) if attachment.thumbnail_key is None
                else Attachment.thumbnail_key == attachment.thumbnail_key))
            .values(thumbnail_key=key)).rowcount == 1
        db.session.commit()
    if not won:
        files.delete(key)
    return data


def _render_thumbnail(data: bytes) -> bytes | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_THUMBNAIL_PIXELS:
                return None
            image.thumbnail(THUMBNAIL_SIZE)
            if image.mode not in ("RGB", "RGBA", "L", "LA"):
                image = image.convert("RGBA")
            out = io.BytesIO()
            image.save(out, format="PNG")
            return out.getvalue()
    except Exception:  # a truncated or hostile image: no thumbnail, the file stays
        log.info("no thumbnail for an image that does not decode", exc_info=True)
        return None


__all__ = ["Refused", "upload", "kept", "content", "thumbnail", "path_of", "public_url",
           "id_from_url"]
