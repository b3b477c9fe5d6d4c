"""The files a staff reply's email carries to the customer.

When the reply is queued (`mail.prepare_email`), its files go either into the email as
MIME attachments, if together they stay within MAIL_ATTACHMENT_MAX_BYTES, or into its
body as signed links (`security.file_links`: `/files/<token>`, one per file and the
ticket's customer), which open without signing in (a guest who wrote through the
contact form or by email has no account) while the ticket policy still lets that
customer read the file. Only the message's own files are considered: internal-note
files have no message and never reach a mail. The outbox row keeps the attached files'
ids (`EmailLog.attachment_ids`); the sender reads their bytes from the attachment
storage at send time (`attach`), so a durable row rebuilds the same email anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Sequence

from flask import current_app
from sqlalchemy import select

from ..attachments import store
from ..extensions import db
from ..models import Attachment
from ..security import file_links

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Linked:
    name: str
    url: str


@dataclass
class ReplyFiles:
    """What the email does with the reply's files: attach them, or link to them."""

    attached: list[Attachment] = field(default_factory=list)
    linked: list[Linked] = field(default_factory=list)

    @property
    def attachment_ids(self) -> list[int] | None:
        return [row.id for row in self.attached] or None


def max_bytes() -> int:
    value = current_app.config.get("MAIL_ATTACHMENT_MAX_BYTES")
    return DEFAULT_MAX_BYTES if value is None else int(value)


def for_message(message_id: int, customer_id: int) -> ReplyFiles:
    """All of the message's files attached if their total fits the limit, else all
    linked (signed for `customer_id`, the recipient): one rule for the whole email, so
    the customer finds every file one way."""
    rows = list(db.session.scalars(
        select(Attachment).where(Attachment.message_id == message_id).order_by(Attachment.id)))
    if not rows:
        return ReplyFiles()
    if sum(row.size for row in rows) <= max_bytes():
        return ReplyFiles(attached=rows)
    return ReplyFiles(linked=[Linked(row.filename, file_links.url(row.id, customer_id))
                              for row in rows])


def attach(msg: EmailMessage, attachment_ids: Sequence[int] | None) -> None:
    """Add the files to the email, bytes read now. A file whose row is gone (its ticket
    or message was deleted since) is left out; bytes missing from the storage raise
    (FileNotFoundError), so the outbox retries and, in the end, records the failure."""
    for attachment_id in attachment_ids or ():
        row = db.session.get(Attachment, attachment_id)
        if row is None:
            continue
        maintype, _slash, subtype = row.content_type.partition("/")
        msg.add_attachment(store.content(row), maintype=maintype,
                           subtype=subtype or "octet-stream", filename=row.filename)
