"""Files on the thread: the service's hook that links attachments to a new message or
internal note inside that change's own transaction.

Uploads are named by the URL the upload answered (or its id). Only the actor's own
uploads that nothing carries yet can be linked; anything else (another user's file,
one already on a message, a URL of another server, `javascript:`) is refused as a
whole, before or together with the message: never half-written."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from flask_babel import gettext as _
from sqlalchemy import update

from ..attachments import screening
from ..attachments.store import MAX_ID, id_from_url, path_of
from ..extensions import db
from ..models import Attachment, Message, Ticket
from .actor import Actor
from .errors import ValidationFailed

FIELD = "attachments"


def _refused(text: str) -> ValidationFailed:
    return ValidationFailed({FIELD: [text]})


def wanted(refs: Iterable[Any] | None) -> list[int]:
    """The upload ids named by `refs` (URLs we issued, or ids), in order, once each;
    ValidationFailed for anything else. Reads nothing: call it before the transaction."""
    ids: list[int] = []
    for ref in refs or ():
        found = ref if isinstance(ref, int) and not isinstance(ref, bool) else id_from_url(ref)
        if found is None or not 0 < found <= MAX_ID:
            raise _refused(_("Each attachment must be the URL of a file uploaded to "
                             "POST /api/attachments."))
        if found not in ids:
            ids.append(found)
    if len(ids) > screening.per_message():
        raise _refused(_("The attachments may not have more than %(max)d items.",
                         max=screening.per_message()))
    return ids


def paths(ids: Sequence[int]) -> list[str] | None:
    """What the message stores in its `attachments` (None without files, as before)."""
    return [path_of(i) for i in ids] or None


def claim(actor: Actor, ticket: Ticket, ids: Sequence[int], *, message_id: int | None = None,
          note_id: int | None = None) -> None:
    """Inside the caller's transaction: the actor's unclaimed uploads `ids` now belong to
    the message (or note) of `ticket`; ValidationFailed (rolling it all back) if any is
    not the actor's or is already used. One conditional UPDATE: two messages racing for
    one upload cannot both get it."""
    if not ids:
        return
    if actor.user_id is None:
        raise _refused(_("Only signed-in users may attach uploaded files."))
    claimed = db.session.execute(
        update(Attachment)
        .where(Attachment.id.in_(list(ids)), Attachment.owner_id == actor.user_id,
               Attachment.message_id.is_(None), Attachment.note_id.is_(None))
        .values(ticket_id=ticket.id, message_id=message_id, note_id=note_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != len(ids):
        raise _refused(_("An attachment was not found among your unused uploads: "
                         "upload it again."))


def mailed(ticket: Ticket, message: Message, files: Sequence[Attachment]) -> None:
    """Files that came with an email (rows `attachments.store.kept` made) join the
    message, and the message lists their URLs like any other."""
    if not files:
        return
    for row in files:
        row.ticket_id = ticket.id
    message.files.extend(files)
    db.session.flush()
    message.attachments = paths([row.id for row in message.files])
