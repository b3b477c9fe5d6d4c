"""Is this POST really from Mailgun? HMAC of timestamp+token, a freshness window, and a
memory of the tokens used (Redis when configured, else the database), each with a digest
of the delivery it came with.

Mailgun signs only timestamp+token, not the mail: a captured signature must not carry
another mail, so a token comes back only with the very delivery it first came with.
That is what Mailgun's retry of a delivery we failed (5xx) sends; the same delivery
again after we took it is a duplicate by its Message-Id (`intake`). Nothing has to be
forgotten when a delivery fails, so a failure in the middle can never lose the mail.

Mailgun does not retry a 406, so every refusal here is final for that delivery."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from ..extensions import db
from ..models import InboundToken, utcnow

SIGNED_FIELDS = ("timestamp", "token", "signature")
REDIS_PREFIX = "support:mailgun:token:"
MAX_TOKEN = 128  # the inbound_tokens key; Mailgun's tokens are 50 characters


class SignatureRefused(Exception):
    """The delivery is not (provably) Mailgun's: answered 406, never retried."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ReplayStoreDown(Exception):
    """The token memory (Redis) is unreachable: a temporary failure, answered 503."""


@dataclass(frozen=True)
class SignedDelivery:
    timestamp: int
    token: str


def sign(key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature: hex HMAC-SHA256 of timestamp and token, concatenated."""
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def _single(form: MultiDict, files: MultiDict, name: str) -> str | None:
    values = form.getlist(name)
    if len(values) > 1 or files.getlist(name):
        # Two tokens (or a token smuggled in as a file part) make "which one was
        # signed" ambiguous: refuse rather than pick one.
        raise SignatureRefused("DUPLICATE_SIGNATURE_FIELDS",
                               _("Signature fields must appear exactly once."))
    return values[0] if values else None


def verify(form: MultiDict, files: MultiDict, *, now: float | None = None) -> SignedDelivery:
    """Check key, fields, signature and freshness; raise SignatureRefused otherwise."""
    key = current_app.config.get("MAILGUN_SIGNING_KEY")
    if not key:
        raise SignatureRefused("NOT_CONFIGURED",
                               _("Inbound email is disabled: no signing key is configured."))
    timestamp, token, signature = (_single(form, files, name) for name in SIGNED_FIELDS)
    if not (timestamp and token and signature):
        raise SignatureRefused("MISSING_SIGNATURE", _("The request is not signed."))
    if len(token) > MAX_TOKEN:
        raise SignatureRefused("INVALID_SIGNATURE", _("The token is too long."))
    expected = sign(key, timestamp, token)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise SignatureRefused("INVALID_SIGNATURE", _("The signature does not match."))
    try:
        stamp = int(timestamp)
    except ValueError:
        raise SignatureRefused("INVALID_SIGNATURE", _("The timestamp is not a number.")) from None
    max_age = int(current_app.config.get("MAILGUN_MAX_AGE", 900))
    if abs((time.time() if now is None else now) - stamp) > max_age:
        raise SignatureRefused("STALE_TIMESTAMP",
                               _("The timestamp is outside the accepted window."))
    return SignedDelivery(stamp, token)


# --------------------------------------------------------------------------- replay


def _redis() -> Any | None:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    clients = current_app.extensions.setdefault("mailgun_replay_redis", {})
    if url not in clients:
        import redis

        clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return clients[url]


def _window() -> int:
    # Tokens are only replayable while their (signed) timestamp is fresh, in either
    # direction of clock skew: remember them for twice the window.
    return 2 * int(current_app.config.get("MAILGUN_MAX_AGE", 900))


def digest(form: MultiDict, files: MultiDict) -> str:
    """SHA-256 of every form field and every file (field, name, type, content) of a
    delivery: the same on Mailgun's retry, different for any other mail. Each part is
    length-framed, so no two deliveries hash alike by moving bytes between fields; the
    file streams are read and rewound for the intake."""
    whole = hashlib.sha256()

    def part(value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        whole.update(b"%d:" % len(data) + data)

    # By name only (a stable sort): the intake reads a field's first value, so the
    # order of one field's values is part of the mail; that of different fields is not.
    for name, value in sorted(form.items(multi=True), key=lambda pair: pair[0]):
        part(name)
        part(value)
    for name, upload in sorted(files.items(multi=True), key=lambda pair: pair[0]):
        content = hashlib.sha256()
        start = upload.stream.tell()
        for chunk in iter(lambda: upload.stream.read(1 << 16), b""):
            content.update(chunk)
        upload.stream.seek(start)
        for value in (name, upload.filename or "", upload.content_type or "", content.digest()):
            part(value)
    return whole.hexdigest()


def claim(token: str, delivery_digest: str) -> None:
    """Remember the token with its delivery's digest; raise SignatureRefused if the
    token came before with another delivery."""
    client = _redis()
    if client is not None:
        import redis

        key = REDIS_PREFIX + token
        try:
            same = bool(client.set(key, delivery_digest, nx=True, ex=_window())) or (
                client.get(key) == delivery_digest.encode())
        except redis.RedisError as exc:
            raise ReplayStoreDown(str(exc)) from exc
    else:
        same = _claim_in_database(token, delivery_digest)
    if not same:
        raise SignatureRefused("REPLAYED_TOKEN", _("This delivery was already received."))


def _claim_in_database(token: str, delivery_digest: str) -> bool:
    cutoff = utcnow() - dt.timedelta(seconds=_window())
    try:
        db.session.execute(delete(InboundToken).where(InboundToken.seen_at < cutoff))
        db.session.add(InboundToken(token=token, digest=delivery_digest, seen_at=utcnow()))
        db.session.commit()
    except IntegrityError:  # seen before (or racing an identical delivery)
        db.session.rollback()
        seen = db.session.scalar(select(InboundToken.digest).where(InboundToken.token == token))
        db.session.rollback()  # ends the read: nothing was written
        return seen == delivery_digest
    except BaseException:
        db.session.rollback()
        raise
    return True
