"""Token login for API clients: register (customers), login (everyone), refresh (which
rotates the refresh token), logout, sign out everywhere, and who am I."""
from __future__ import annotations

import re

from typing import Any, Mapping

from flask import current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from ..extensions import db, limiter
from ..models import AgentProfile, Customer, SupportUser, utcnow
from ..realtime.connection import disconnect_after_commit
from ..security import account_claim, email_ownership, roles, tokens
from ..security.current import AuthError, bearer_token, require_actor, user_from_token
from ..security.passwords import password_problem
from ..tickets.errors import ValidationFailed
from .openapi import Blueprint
from .schemas import DefaultErrorSchema, UserSchema

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Sign up, sign in, refresh")

# No blanks and no control characters (a NUL cannot even be stored by PostgreSQL).
EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
NO_NUL = validate.Regexp(r"^[^\x00]*$", error=_l("May not contain NUL characters."))


class RegisterSchema(Schema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=128), NO_NUL])
    email = fields.String(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=NO_NUL)
    phone = fields.String(load_default=None, validate=[validate.Length(max=40), NO_NUL])
    locale = fields.String(load_default=None, validate=validate.OneOf(["en", "es", "fr", "ar", "bn"]))


class LoginSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    email = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class TokenSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    user = fields.Nested(UserSchema)


class RefreshSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    refresh_token = fields.String(load_default=None)


def split_name(name: str) -> tuple[str, str]:
    """FAB keeps first and last name; a single word is a first name."""
    name = " ".join(name.split())
    first, _sep, last = name.rpartition(" ")
    return (first, last) if first else (last, "")


def user_body(user: SupportUser) -> dict[str, Any]:
    """The `user` object of every auth answer; `customer_id` is the id the customer
    apps' payloads use (001/004 `customerId`, `groupCustomerIds`), null for staff."""
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "roles": [role.name for role in user.roles],
        "locale": user.locale,
        "customer_id": db.session.scalar(select(Customer.id).where(Customer.user_id == user.id)),
    }


def token_body(user: SupportUser, session_id: str | None = None) -> dict:
    """Tokens for a new sign-in session, or (`session_id`) the next pair of one."""
    return {**tokens.issue(user, session_id), "user": user_body(user)}


def create_user(name: str, email: str, password: str, role_name: str,
                phone: str | None = None, locale: str | None = None,
                confirmed: bool = True) -> SupportUser:
    """Create a FAB user (username = email) with what the role needs beside it: a
    customer's requester row, an agent's (unapproved) profile. ONE transaction; FAB's
    add_user commits on its own, so it is not used here.

    `confirmed=False` (self-registration): the address is unproven, so an existing
    customer record is not linked; a confirmation link is queued instead
    (`security.email_ownership`)."""
    email = email_ownership.normalized_email(email, email_ownership.ACCOUNT_EMAIL_MAX)
    sm = current_app.appbuilder.sm
    role = sm.find_role(role_name)
    if role is None:
        raise ValidationFailed({"role": [_("Unknown role %(role)s", role=role_name)]})
    first, last = split_name(name)
    user = SupportUser(first_name=first[:64], last_name=last[:64], username=email, email=email,
                       active=True, locale=locale, password=generate_password_hash(password),
                       email_confirmed_at=utcnow() if confirmed else None)
    user.roles = [role]
    db.session.add(user)
    try:
        db.session.flush()
        if role_name == roles.CUSTOMER and confirmed:
            email_ownership.link_customer(user, phone=phone, locale=locale)
        elif role_name == roles.CUSTOMER:
            email_ownership.claim_fresh_address(user, name, phone, locale)
            email_ownership.send_confirmation(user)
        elif role_name == roles.SUPPORT_AGENT:
            db.session.add(AgentProfile(user_id=user.id, contact_number=phone, is_approved=False))
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ValidationFailed({"email": [_("The email has already been taken.")]}) from exc
    except BaseException:
        db.session.rollback()
        raise
    if not confirmed:
        email_ownership.wake_mail_sender()
    return user


def check_new_account(email: str, password: str) -> None:
    errors: dict[str, list[str]] = {}
    try:
        email = email_ownership.normalized_email(email or "", email_ownership.ACCOUNT_EMAIL_MAX)
    except ValidationFailed as too_long:
        errors.update(too_long.errors)
    else:
        if not EMAIL_RE.match(email):
            errors["email"] = [_("The email must be a valid email address.")]
        elif db.session.scalar(
            select(SupportUser.id).where(func.lower(SupportUser.email) == email)
        ) is not None:
            errors["email"] = [_("The email has already been taken.")]
    problem = password_problem(password)
    if problem:
        errors["password"] = [problem]
    if errors:
        raise ValidationFailed(errors)


def register_limit():
    """Customer and agent sign-ups share one budget per client (see REGISTER_RATE_LIMIT)."""
    return limiter.shared_limit(lambda: current_app.config["REGISTER_RATE_LIMIT"], scope="register")


@blp.route("/register", methods=["POST"])
@register_limit()
@blp.arguments(RegisterSchema)
@blp.response(201, TokenSchema)
@blp.alt_response(422, schema=DefaultErrorSchema, description="Email taken, weak password, bad field")
@blp.alt_response(429, schema=DefaultErrorSchema, description="Too many sign-ups from this address")
def register(data: dict) -> dict:
    """Create a customer account and sign it in. A confirmation link is emailed; the
    account gets what its address already has (guest tickets, orders) only once it is
    confirmed (POST /api/auth/confirm-email). An address held by an account that never
    confirmed it answers "taken" as usual, and the address is mailed a link to take
    that account over (`security.account_claim`)."""
    try:
        check_new_account(data["email"], data["password"])
    except ValidationFailed:
        if EMAIL_RE.match(data["email"].strip().lower()):  # a real address, maybe taken
            account_claim.offer(data["email"])
        raise
    user = create_user(data["name"], data["email"], data["password"], roles.CUSTOMER,
                       phone=data.get("phone"), locale=data.get("locale"), confirmed=False)
    return token_body(user)


@blp.route("/login", methods=["POST"])
@limiter.limit(lambda: current_app.config.get("AUTH_RATE_LIMIT", "10 per 20 second"))
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Wrong credentials or inactive user")
@blp.alt_response(429, schema=DefaultErrorSchema, description="Too many attempts from this address")
def login(data: dict) -> dict:
    """Sign in with email and password (customers and staff alike)."""
    user = current_app.appbuilder.sm.auth_user_db(data["email"], data["password"])
    if user is None or not user.active:
        raise AuthError(_("Invalid credentials"))
    return token_body(user)


def end_sign_in(claims: Mapping[str, Any]) -> None:
    """Revoke every token of the sign-in a token belongs to, and close its sockets once
    that commits."""
    session_id = claims.get(tokens.SESSION_CLAIM)
    if session_id:
        tokens.end_session(session_id)
        disconnect_after_commit(session=session_id)
    else:  # issued before sign-in sessions existed: that one token
        tokens.revoke(claims["jti"], claims["exp"])


@blp.route("/refresh", methods=["POST"])
@blp.arguments(RefreshSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, schema=DefaultErrorSchema,
                  description="Missing, bad, expired, revoked or already used refresh token")
def refresh(data: dict) -> dict:
    """Exchange a refresh token (body or bearer header) for a new access token and a new
    refresh token; the one presented stops working. Presenting it again ends the whole
    sign-in session: a refresh token used twice has been copied."""
    token = data.get("refresh_token") or bearer_token(request.headers.get("Authorization"))
    if not token:
        raise AuthError(_("Missing refresh token"))
    user, claims = user_from_token(token, expected_type="refresh")
    if not tokens.consume(claims):
        end_sign_in(claims)
        db.session.commit()
        raise AuthError(_("Token has been revoked"))
    body = token_body(user, claims.get(tokens.SESSION_CLAIM))
    db.session.commit()
    return body


class LogoutSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    refresh_token = fields.String(load_default=None)


@blp.route("/logout", methods=["POST"])
@blp.arguments(LogoutSchema)
@blp.response(204)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired access token")
def logout(data: dict) -> None:
    """End this sign-in: the bearer access token, the refresh token in the body (if
    any) and every other token of the same session stop working, and its sockets close."""
    token = bearer_token(request.headers.get("Authorization"))
    if not token:
        raise AuthError(_("Unauthenticated"))
    user, access = user_from_token(token, expected_type="access")
    presented = [access]
    if data.get("refresh_token"):
        owner, refresh_claims = user_from_token(data["refresh_token"], expected_type="refresh")
        if owner.id != user.id:
            raise AuthError(_("Invalid token"))
        presented.append(refresh_claims)
    for claims in presented:
        end_sign_in(claims)
    db.session.commit()


@blp.route("/logout-all", methods=["POST"])
@blp.response(204)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired access token")
def logout_all() -> None:
    """Sign out everywhere: every token issued to this user so far stops working, on
    every device, and their sockets close."""
    actor = require_actor()
    user = db.session.get(SupportUser, actor.user_id)
    tokens.end_all(user)
    db.session.commit()


@blp.route("/me", methods=["GET"])
@blp.response(200, UserSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired access token")
def me() -> dict:
    """The signed-in user, with the `customer_id` the customer apps' payloads use."""
    return user_body(db.session.get(SupportUser, require_actor().user_id))
