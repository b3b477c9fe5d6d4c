"""Who may read a stored file, and how it is sent: the ticket access policy decides
(`tickets.policy`); internal-note files reach staff who see notes only; an upload
nothing carries yet reaches its uploader only. Anyone else gets the same 404 as for a
file that does not exist."""
from __future__ import annotations

import io

from flask import Response, send_file
from flask_babel import gettext as _

from ..extensions import db
from ..models import Attachment, Ticket
from ..tickets import policy
from ..tickets.actor import Actor
from ..tickets.errors import NotFound
from .screening import INLINE_TYPES

NEVER_INLINE = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml",
                "application/xml")


def may_read(actor: Actor, attachment: Attachment) -> bool:
    if attachment.message_id is None and attachment.note_id is None:
        return attachment.owner_id is not None and attachment.owner_id == actor.user_id
    ticket = db.session.get(Ticket, attachment.ticket_id) if attachment.ticket_id else None
    if ticket is None or not policy.can_view(actor, ticket):
        return False
    if attachment.note_id is not None:
        return policy.can_see_internal_notes(actor, ticket)
    return True


def readable(actor: Actor, attachment_id: int) -> Attachment:
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or not may_read(actor, attachment):
        raise NotFound("attachment", _("Attachment not found"))
    return attachment


def send(data: bytes, attachment: Attachment, *, content_type: str | None = None,
         name: str | None = None) -> Response:
    """The bytes with safe headers: inline only for images and PDF, never HTML/SVG,
    never sniffed, never cached by shared caches, scripts never run."""
    kind = content_type or attachment.content_type
    inline = kind in INLINE_TYPES
    if kind in NEVER_INLINE or kind.startswith("text/") and kind != "text/plain":
        kind, inline = "application/octet-stream", False
    response = send_file(io.BytesIO(data), mimetype=kind, as_attachment=not inline,
                         download_name=name or attachment.filename, etag=attachment.checksum,
                         max_age=0, conditional=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if kind == "text/plain":
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return response
