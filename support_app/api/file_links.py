"""The page an emailed file link opens (`GET /files/<token>`, no sign-in): the file, with
the download route's headers (`attachments.serve`), if the signed link is genuine and
unexpired (`security.file_links`) and the file still belongs to a message the link's
customer may read — the ticket policy re-checked now (a merged ticket's files went to
the ticket it was merged into, which the customer may read; internal-note files and
unused uploads never). Anything else is the same 404 page, whatever the reason."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template
from flask_babel import force_locale

from ..attachments import serve, store
from ..extensions import db, limiter
from ..i18n import current_locale
from ..models import Attachment
from ..security import file_links
from ..tickets.actor import Actor

page_blp = Blueprint("file_links", __name__, url_prefix=file_links.PATH)

MAX_TOKEN = 500


def rate_limit() -> str:
    return current_app.config["FILE_LINK_RATE_LIMIT"]


def _not_found() -> tuple[str, int]:
    locale = current_locale()
    with force_locale(locale):
        return render_template("file_link.html", locale=locale), 404


@page_blp.route("/<token>", methods=["GET"])
@limiter.limit(rate_limit)
def download(token: str) -> Response | tuple[str, int]:
    if len(token) > MAX_TOKEN:
        return _not_found()
    try:
        link = file_links.read(token)
    except file_links.LinkRefused:
        return _not_found()
    attachment = db.session.get(Attachment, link.attachment_id)
    # The signed page speaks for the customer it was mailed to, as that customer would.
    reader = Actor(user_id=None, customer_id=link.customer_id)
    if attachment is None or attachment.message_id is None or not serve.may_read(
            reader, attachment):
        return _not_found()
    try:
        data = store.content(attachment)
    except FileNotFoundError:
        return _not_found()
    response = serve.send(data, attachment)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is a key: never pass it on
    return response
