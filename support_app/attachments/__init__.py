"""Files customers and staff attach to messages and notes: where the bytes live
(`storage`), which bytes we accept (`screening`), uploads and their rows (`store`),
serving them to those who may read them (`serve`), and removing unclaimed uploads
(`cleanup`). Linking files to a message happens inside the ticket service
(`tickets.attachments`), in the message's own transaction."""
from __future__ import annotations

from flask import Flask


def register_attachments(app: Flask) -> None:
    from . import cleanup

    cleanup.register(app)
