"""Confirming an account's email address (`security.email_ownership`).

* `POST /api/auth/confirm-email` {token}: for apps that show the link in their own page;
* `GET /confirm-email/<token>`: the page the emailed link opens by default (opening it
  proves access to the mailbox, which is the point);
* `POST /api/auth/confirm-email/resend` (bearer): a new link for an unconfirmed account;
* `POST /api/auth/claim-account` {token, name, password} and the page
  `GET|POST /claim-account/<token>`: the address's owner takes over an account someone
  else registered and never confirmed (`security.account_claim`).

Errors are the auth endpoints' {"success": false, "message", "errors"?} plus a stable
`code`: 400 TOKEN_INVALID (forged, tampered), TOKEN_EXPIRED, TOKEN_USED, ADDRESS_CHANGED
(the account has another address now), RECORD_OWNED (the address's history belongs to
another account), ALREADY_CONFIRMED (resend); 401 UNAUTHORIZED; 422 INVALID_REQUEST;
429 TOO_MANY_REQUESTS.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint as FlaskBlueprint
from flask import current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_smorest import Api
from marshmallow import EXCLUDE, Schema, fields, validate

from ..extensions import db, limiter
from ..models import SupportUser
from ..security import account_claim, email_ownership
from ..security.current import require_actor
from ..tickets.errors import DomainError, ValidationFailed
from .auth import NO_NUL, TokenSchema, split_name, token_body
from .errors import Surface, register_surface
from .openapi import Blueprint
from .schemas import CodedErrorSchema, UserSchema
from .storefront import render_error

blp = Blueprint("email_confirmation_api", __name__, url_prefix="/api/auth",
                description="Prove ownership of the account's email address")
page_blp = FlaskBlueprint("email_confirmation", __name__)


class ConfirmSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    token = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ClaimSchema(ConfirmSchema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=128), NO_NUL])
    password = fields.String(required=True, load_only=True, validate=NO_NUL)
    locale = fields.String(load_default=None, validate=validate.OneOf(["en", "es", "fr", "ar", "bn"]))


class ConfirmedSchema(Schema):
    success = fields.Boolean(required=True)
    message = fields.String(required=True)
    user = fields.Nested(UserSchema)


class SentSchema(Schema):
    success = fields.Boolean(required=True)
    message = fields.String(required=True)


def auth_limit() -> str:
    return current_app.config.get("AUTH_RATE_LIMIT", "10 per 20 second")


def resend_limit() -> str:
    return current_app.config["EMAIL_CONFIRM_RESEND_LIMIT"]


def link_errors(invalid: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The documented refusals of an endpoint that uses an emailed link."""
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        for status, description in (
            (400, "`code`: TOKEN_INVALID (forged or tampered), TOKEN_EXPIRED, TOKEN_USED "
                  "(the account is confirmed already), ADDRESS_CHANGED (the account's "
                  "address changed since), RECORD_OWNED (the address's history belongs "
                  "to another account)"),
            (422, invalid),
            (429, "TOO_MANY_REQUESTS"),
        ):
            view = blp.alt_response(status, schema=CodedErrorSchema,
                                    description=description)(view)
        return view
    return decorate


def confirmed_message() -> str:
    return _("Your email address is confirmed. Your earlier requests and orders are now "
             "in your account.")


@blp.route("/confirm-email", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(ConfirmSchema)
@blp.response(200, ConfirmedSchema)
@link_errors("INVALID_REQUEST: no token")
@blp.doc(security=[])
def confirm(data: dict[str, Any]) -> dict[str, Any]:
    """Use a confirmation link's token: the account gets the address's history."""
    done = email_ownership.confirm(data["token"])
    user = done.user
    return {"success": True, "message": confirmed_message(),
            "user": {"id": user.id, "name": user.name, "email": user.email,
                     "roles": [role.name for role in user.roles]}}


@blp.route("/confirm-email/resend", methods=["POST"])
@limiter.limit(resend_limit)
@blp.response(202, SentSchema)
@blp.alt_response(400, schema=CodedErrorSchema, description="ALREADY_CONFIRMED")
@blp.alt_response(401, schema=CodedErrorSchema, description="UNAUTHORIZED: not signed in")
@blp.alt_response(429, schema=CodedErrorSchema, description="TOO_MANY_REQUESTS")
@blp.doc(security=[{"bearerAuth": []}])
def resend() -> dict[str, Any]:
    """Email a new confirmation link to the signed-in account's address."""
    user = db.session.get(SupportUser, require_actor().user_id)
    email_ownership.resend(user)
    return {"success": True,
            "message": _("We sent a new confirmation link to %(email)s.", email=user.email)}


@blp.route("/claim-account", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(ClaimSchema)
@blp.response(200, TokenSchema)
@link_errors("INVALID_REQUEST (missing field) or VALIDATION_FAILED (weak password, in "
             "`errors.password`)")
@blp.doc(security=[])
def claim(data: dict[str, Any]) -> dict[str, Any]:
    """Use a takeover link (mailed when someone registers an address held by an account
    that never confirmed it): the account gets this name and password, is confirmed and
    signed in here; every earlier sign-in of it ends."""
    first, last = split_name(data["name"])
    user = account_claim.claim(data["token"], data["password"], first, last, data["locale"])
    return token_body(user)


@page_blp.route("/claim-account/<path:token>", methods=["GET", "POST"])
@limiter.limit(auth_limit)
def claim_page(token: str) -> tuple[str, int]:
    """The page the takeover link opens: a name and password form."""
    locale = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    try:
        if request.method == "GET":
            account_claim.check(token)
            return render_template("claim_account.html", form=True, locale=locale), 200
        first, last = split_name(request.form.get("name", "")[:128].replace("\x00", ""))
        account_claim.claim(token, request.form.get("password", ""), first or "-", last)
    except DomainError as refusal:
        again = isinstance(refusal, ValidationFailed)  # a weak password: ask again
        message = " ".join(sum(refusal.errors.values(), [])) if again else refusal.message
        return render_template("claim_account.html", form=again, ok=False, message=message,
                               locale=locale), 400 if not again else 422
    return render_template("claim_account.html", ok=True, locale=locale,
                           message=_("The account is yours: sign in with your new "
                                     "password.")), 200


@page_blp.route("/confirm-email/<path:token>", methods=["GET"])
@limiter.limit(auth_limit)
def page(token: str) -> tuple[str, int]:
    """The page the emailed link opens."""
    locale = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    try:
        email_ownership.confirm(token)
    except DomainError as refusal:
        return render_template("confirm_email.html", ok=False, message=refusal.message,
                               locale=locale), 400
    return render_template("confirm_email.html", ok=True, message=confirmed_message(),
                           locale=locale), 200


def register(api: Api) -> None:
    register_surface(Surface("email_confirmation", ("/api/auth/confirm-email",
                                                    "/api/auth/claim-account"),
                             render=render_error))
    # The page is HTML, outside the OpenAPI document: registered with the API blueprint.
    blp.record_once(lambda state: state.app.register_blueprint(page_blp))
    api.register_blueprint(blp)
