"""The satisfaction survey page: what the emailed rating links open (no sign-in).

* `GET /survey/<number>/<token>`: checks the signed link and shows the rating it
  carries, in the customer's language, with a one-click form that submits itself;
  a GET never records anything (mail scanners and link previews open links);
* `POST /survey/<number>/<token>` (CSRF token from that page): records the rating as
  the ticket's feedback (`tickets.feedback`), then offers a comment box and the survey
  opt-out, authorised by a short-lived follow-up token;
* `POST /survey/<number>/followup/comment` and `/survey/<number>/followup/opt-out`.

Refusals are the same page with a sentence: 400 for a forged, tampered, expired or
another ticket's link (and a stale form), 409 once the ticket's feedback is recorded
(the link is single-use) or while the ticket is not resolved; 422 for a bad comment.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from ..extensions import csrf, db, limiter
from ..i18n import current_locale
from ..models import Customer, Ticket
from ..notify.mail import language
from ..security import survey_links
from ..security.survey_links import LinkRefused
from ..tickets import feedback
from ..tickets.actor import Actor
from ..tickets.errors import Conflict, DomainError, ValidationFailed

page_blp = Blueprint("survey", __name__, url_prefix=survey_links.PATH)

MAX_NUMBER = 40


def rate_limit() -> str:
    return current_app.config["CSAT_RATE_LIMIT"]


def _ticket_id(number: str) -> int | None:
    if len(number) > MAX_NUMBER or "\x00" in number:
        return None
    return db.session.scalar(select(Ticket.id).where(Ticket.number == number))


def _locale_of(customer_id: int) -> str:
    return language(db.session.scalar(
        select(Customer.locale).where(Customer.id == customer_id)))


def _page(status: int, locale: str, **context: Any) -> tuple[str, int]:
    with force_locale(locale):
        return render_template("survey.html", locale=locale, **context), status


def _refused(refusal: DomainError, locale: str) -> tuple[str, int]:
    if isinstance(refusal, ValidationFailed):
        message = " ".join(sum(refusal.errors.values(), []))
        return _page(422, locale, message=message)
    status = 409 if isinstance(refusal, Conflict) or getattr(refusal, "code", "") == "TOKEN_USED" \
        else 400
    return _page(status, locale, message=refusal.message)


def _stale_form() -> DomainError:
    return LinkRefused("FORM_EXPIRED", _("This form has expired: please open the link in the "
                                         "email again."))


@page_blp.route("/<number>/<token>", methods=["GET", "POST"])
@limiter.limit(rate_limit)
def rate(number: str, token: str) -> tuple[str, int]:
    locale = current_locale()
    try:
        link = survey_links.read_rating(token, _ticket_id(number))
        locale = _locale_of(link.customer_id)
        if request.method == "GET":
            with force_locale(locale):
                feedback.check_survey_open(link.ticket_id)
            return _page(200, locale, rating=link.rating, number=number)
        try:
            csrf.protect()
        except CSRFError:
            raise _stale_form() from None
        with force_locale(locale):
            entry = feedback.rate_from_survey(link.ticket_id, link.customer_id, link.rating)
    except DomainError as refusal:
        return _refused(refusal, locale)
    return _page(200, locale, recorded=entry.rating, number=number,
                 followup=survey_links.followup_token(entry.id, link.ticket_id, link.customer_id))


def _followup(number: str) -> survey_links.FollowUp:
    followup = survey_links.read_followup(str(request.form.get("followup", ""))[:1000],
                                          _ticket_id(number))
    try:
        csrf.protect()
    except CSRFError:
        raise _stale_form() from None
    return followup


@page_blp.route("/<number>/followup/comment", methods=["POST"])
@limiter.limit(rate_limit)
def comment(number: str) -> tuple[str, int]:
    locale = current_locale()
    try:
        followup = _followup(number)
        locale = _locale_of(followup.customer_id)
        with force_locale(locale):
            feedback.comment_from_survey(followup.feedback_id, followup.ticket_id,
                                         followup.customer_id,
                                         str(request.form.get("comment", "")))
    except DomainError as refusal:
        return _refused(refusal, locale)
    return _page(200, locale, commented=True, number=number,
                 followup=request.form.get("followup"))


@page_blp.route("/<number>/followup/opt-out", methods=["POST"])
@limiter.limit(rate_limit)
def opt_out(number: str) -> tuple[str, int]:
    locale = current_locale()
    try:
        followup = _followup(number)
        locale = _locale_of(followup.customer_id)
        with force_locale(locale):
            # The signed page speaks for the customer it was sent to.
            feedback.set_survey_opt_out(Actor(user_id=None, customer_id=followup.customer_id),
                                        followup.customer_id, True)
    except DomainError as refusal:
        return _refused(refusal, locale)
    return _page(200, locale, opted_out=True, number=number)
