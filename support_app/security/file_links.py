"""Signed download links for a staff reply's files mailed as links (`notify.mail_files`),
so a customer without an account (contact form, email) opens them without signing in
(itsdangerous, salted per purpose, as `security.survey_links` signs the survey's).

A link is signed (attachment, customer): one per file and recipient, valid for
FILE_LINK_MAX_AGE seconds (30 days by default). It opens nothing by itself: the page
(`api.file_links`) re-checks at every request that the file still belongs to a message
that customer may read (the ticket policy, as `attachments.serve` applies it).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "support.attachment-link"
PATH = "/files"  # the page blueprint's prefix (`api.file_links`)
DEFAULT_MAX_AGE = 30 * 86400


class LinkRefused(Exception):
    """Forged, tampered, expired or malformed: the page answers 404 whichever."""


@dataclass(frozen=True)
class FileLink:
    attachment_id: int
    customer_id: int


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def token(attachment_id: int, customer_id: int) -> str:
    return _serializer().dumps({"a": attachment_id, "c": customer_id})


def url(attachment_id: int, customer_id: int) -> str:
    """Under `PUBLIC_URL`, never the request's Host (emails are rendered off-request too)."""
    return f"{current_app.config['PUBLIC_URL']}{PATH}/{token(attachment_id, customer_id)}"


def read(signed: str) -> FileLink:
    max_age = int(current_app.config.get("FILE_LINK_MAX_AGE") or DEFAULT_MAX_AGE)
    try:
        data = _serializer().loads(signed, max_age=max_age)
    except BadSignature:  # SignatureExpired included
        raise LinkRefused() from None
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), int) and not isinstance(data.get(k), bool) for k in "ac"):
        raise LinkRefused()
    return FileLink(data["a"], data["c"])
