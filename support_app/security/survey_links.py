"""The satisfaction survey's signed links (itsdangerous, salted per purpose, as
`security.email_ownership` signs its confirmation links).

* a rating link, one per rating in the survey email: signed (ticket, customer, rating),
  valid for `CSAT_LINK_MAX_AGE` seconds from when the survey was scheduled; it is
  single-use per ticket because the ticket takes one feedback (`tickets.feedback`);
* a follow-up token, given on the page once the rating is recorded: signed (feedback,
  ticket, customer), valid for `CSAT_FOLLOWUP_MAX_AGE`; it lets the same person add the
  one comment and stop further surveys, without signing in.

A link names its ticket twice, in the path (`/survey/<number>/<token>`) and inside the
signature: a token moved onto another ticket's path is refused like a forged one.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..tickets.errors import DomainError

RATING_SALT = "support.csat-rating"
FOLLOWUP_SALT = "support.csat-followup"
PATH = "/survey"  # the page blueprint's prefix (`api.survey`)


class LinkRefused(DomainError):
    """`code`: TOKEN_INVALID (forged, tampered, another ticket's), TOKEN_EXPIRED,
    TOKEN_USED (this ticket's feedback is recorded already)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RatingLink:
    ticket_id: int
    customer_id: int
    rating: int


@dataclass(frozen=True)
class FollowUp:
    feedback_id: int
    ticket_id: int
    customer_id: int


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=salt)


def rating_token(ticket_id: int, customer_id: int, rating: int) -> str:
    return _serializer(RATING_SALT).dumps({"t": ticket_id, "c": customer_id, "r": rating})


def rating_url(ticket_number: str, token: str) -> str:
    """Under `PUBLIC_URL`, never the request's Host (a survey is rendered off-request too)."""
    return f"{current_app.config['PUBLIC_URL']}{PATH}/{ticket_number}/{token}"


def followup_token(feedback_id: int, ticket_id: int, customer_id: int) -> str:
    return _serializer(FOLLOWUP_SALT).dumps({"f": feedback_id, "t": ticket_id, "c": customer_id})


def _load(token: str, salt: str, max_age: int, keys: tuple[str, ...]) -> dict[str, int]:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkRefused("TOKEN_EXPIRED", _("This survey link has expired.")) from None
    except BadSignature:
        raise LinkRefused("TOKEN_INVALID", _("This survey link is not valid.")) from None
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), int) and not isinstance(data.get(k), bool) for k in keys):
        raise LinkRefused("TOKEN_INVALID", _("This survey link is not valid."))
    return data


def read_rating(token: str, ticket_id: int | None) -> RatingLink:
    """The rating link's content, if it is genuine, unexpired and for `ticket_id` (the
    ticket the path names; None when the path names no ticket)."""
    data = _load(token, RATING_SALT, int(current_app.config["CSAT_LINK_MAX_AGE"]),
                 ("t", "c", "r"))
    if data["t"] != ticket_id or not 1 <= data["r"] <= 5:
        raise LinkRefused("TOKEN_INVALID", _("This survey link is not valid."))
    return RatingLink(data["t"], data["c"], data["r"])


def read_followup(token: str, ticket_id: int | None) -> FollowUp:
    data = _load(token, FOLLOWUP_SALT, int(current_app.config["CSAT_FOLLOWUP_MAX_AGE"]),
                 ("f", "t", "c"))
    if data["t"] != ticket_id:
        raise LinkRefused("TOKEN_INVALID", _("This survey link is not valid."))
    return FollowUp(data["f"], data["t"], data["c"])
