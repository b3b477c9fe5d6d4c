"""Token login for API clients: register (customers), login (everyone), refresh."""
from __future__ import annotations

import re

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import create_access_token, create_refresh_token
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from ..extensions import db, limiter
from ..models import AgentProfile, Customer, SupportUser
from ..security import roles
from ..security.current import AuthError, bearer_token, user_from_token
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
    refresh_token = fields.String(load_default=None)


def split_name(name: str) -> tuple[str, str]:
    """FAB keeps first and last name; a single word is a first name."""
    name = " ".join(name.split())
    first, _sep, last = name.rpartition(" ")
    return (first, last) if first else (last, "")


def token_body(user: SupportUser) -> dict:
    identity = str(user.id)
    return {
        "access_token": create_access_token(identity=identity, fresh=True),
        "refresh_token": create_refresh_token(identity=identity),
        "user": {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "roles": [role.name for role in user.roles],
        },
    }


def create_user(name: str, email: str, password: str, role_name: str,
                phone: str | None = None, locale: str | None = None) -> SupportUser:
    """Create a FAB user (username = email) with what the role needs beside it: a
    customer's requester row, an agent's (unapproved) profile. ONE transaction; FAB's
    add_user commits on its own, so it is not used here."""
    email = email.strip().lower()
    sm = current_app.appbuilder.sm
    role = sm.find_role(role_name)
    if role is None:
        raise ValidationFailed({"role": [_("Unknown role %(role)s", role=role_name)]})
    first, last = split_name(name)
    user = SupportUser(first_name=first[:64], last_name=last[:64], username=email, email=email,
                       active=True, locale=locale, password=generate_password_hash(password))
    user.roles = [role]
    db.session.add(user)
    try:
        db.session.flush()
        if role_name == roles.CUSTOMER:
            customer = db.session.scalar(select(Customer).where(func.lower(Customer.email) == email))
            if customer is None:  # a guest who now signs up keeps their history
                customer = Customer(name=name.strip(), email=email)
                db.session.add(customer)
            customer.user_id = user.id
            customer.phone = phone or customer.phone
            customer.locale = locale or customer.locale or "en"
        elif role_name == roles.SUPPORT_AGENT:
            db.session.add(AgentProfile(user_id=user.id, contact_number=phone, is_approved=False))
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ValidationFailed({"email": [_("The email has already been taken.")]}) from exc
    except BaseException:
        db.session.rollback()
        raise
    return user


def check_new_account(email: str, password: str) -> None:
    errors: dict[str, list[str]] = {}
    email = (email or "").strip().lower()
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


@blp.route("/register", methods=["POST"])
@blp.arguments(RegisterSchema)
@blp.response(201, TokenSchema)
@blp.alt_response(422, schema=DefaultErrorSchema, description="Email taken, weak password, bad field")
def register(data: dict) -> dict:
    """Create a customer account and sign it in."""
    check_new_account(data["email"], data["password"])
    user = create_user(data["name"], data["email"], data["password"], roles.CUSTOMER,
                       phone=data.get("phone"), locale=data.get("locale"))
    return token_body(user)


@blp.route("/login", methods=["POST"])
@limiter.limit(lambda: current_app.config.get("AUTH_RATE_LIMIT", "10 per 20 second"))
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Wrong credentials or inactive user")
def login(data: dict) -> dict:
    """Sign in with email and password (customers and staff alike)."""
    user = current_app.appbuilder.sm.auth_user_db(data["email"], data["password"])
    if user is None or not user.active:
        raise AuthError(_("Invalid credentials"))
    return token_body(user)


@blp.route("/refresh", methods=["POST"])
@blp.arguments(RefreshSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired refresh token")
def refresh(data: dict) -> dict:
    """Exchange a refresh token (body or bearer header) for a new access token."""
    from flask import request

    token = data.get("refresh_token") or bearer_token(request.headers.get("Authorization"))
    if not token:
        raise AuthError(_("Missing refresh token"))
    user = user_from_token(token, expected_type="refresh")
    body = token_body(user)
    body["refresh_token"] = token
    return body
