"""Uploads no message or note took within ATTACHMENT_ORPHAN_HOURS (a day) are removed,
rows and bytes: by `flask support attachments-cleanup`, and hourly by a background
thread of each process (the shared `background.Worker`). The DELETE re-checks that the
upload is still unclaimed, so a message taking it at that moment keeps it or is
refused as a whole; several processes never delete a row twice."""
from __future__ import annotations

import datetime as dt

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import delete, select

from .. import background, database
from ..extensions import db
from ..models import Attachment, utcnow
from .storage import storage


def _unclaimed(cutoff: dt.datetime):
    return (Attachment.message_id.is_(None), Attachment.note_id.is_(None),
            Attachment.created_at < cutoff)


def remove_orphans(now: dt.datetime | None = None, limit: int = background.BATCH) -> int:
    """One batch of orphaned uploads removed; how many."""
    hours = float(current_app.config.get("ATTACHMENT_ORPHAN_HOURS") or 24)
    cutoff = (now or utcnow()) - dt.timedelta(hours=hours)
    ids = list(db.session.scalars(select(Attachment.id).where(*_unclaimed(cutoff))
                                  .order_by(Attachment.id).limit(limit)))
    db.session.commit()
    if not ids:
        return 0
    with database.writer_turn():
        gone = db.session.execute(
            delete(Attachment).where(Attachment.id.in_(ids), *_unclaimed(cutoff))
            .returning(Attachment.storage_key, Attachment.thumbnail_key)
            .execution_options(synchronize_session=False)).all()
        db.session.commit()
    files = storage()
    for key, thumb in gone:
        files.delete(key)
        if thumb:
            files.delete(thumb)
    return len(gone)


def remove_all_orphans(now: dt.datetime | None = None) -> int:
    total = 0
    while (removed := remove_orphans(now)) > 0:
        total += removed
        if removed < background.BATCH:
            break
    return total


class CleanupWorker(background.Worker):
    def __init__(self, app: Flask) -> None:
        super().__init__(app, "support-attachment-cleanup", remove_orphans,
                         "ATTACHMENT_CLEANUP_BACKGROUND", "ATTACHMENT_CLEANUP_SECONDS")


@click.command("attachments-cleanup")
@with_appcontext
def cleanup_command() -> None:
    """Remove uploads no message or note used within ATTACHMENT_ORPHAN_HOURS."""
    click.echo(f"Removed {remove_all_orphans()} unused upload(s).")


def register(app: Flask) -> None:
    from ..cli import support_cli

    worker = CleanupWorker(app)
    app.extensions["support_attachment_cleanup"] = worker
    app.before_request(worker.ensure_started)
    support_cli.add_command(cleanup_command)
