"""The address's owner takes over an account someone else registered and never confirmed.

Registering an address blocks it for everyone else, and the registrant need not own
it. Whoever registers it again gets the usual "already taken" answer (so the answer
says nothing new about the address), and when the account holding it has never been
confirmed, the address is mailed a takeover link (signed like the confirmation link,
salted for this purpose, valid `EMAIL_CONFIRM_MAX_AGE`, at most one per
`ACCOUNT_CLAIM_INTERVAL` seconds per address). Only the mailbox's owner can open it:
they choose a name and a new password, the account becomes theirs and confirmed
(with what the address already has), and the password change ends every token and
socket the registrant had (`security.tokens`). A confirmed account is never taken
over: its links are used up.
"""
from __future__ import annotations

import datetime as dt

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from .. import database
from ..extensions import db
from ..models import Customer, EmailLog, SupportUser, utcnow
from ..notify import mail
from ..tickets.errors import ValidationFailed
from . import email_ownership, roles
from .passwords import password_problem

SALT = "support.account-takeover"
TEMPLATE = "claim_account"


def _unconfirmed_holder(email: str) -> SupportUser | None:
    user = db.session.scalar(select(SupportUser).where(
        func.lower(SupportUser.email) == email.strip().lower()))
    if user is None or user.email_confirmed_at is not None or not user.active \
            or not any(role.name == roles.CUSTOMER for role in user.roles):
        return None
    return user


def _recently_offered(address: str) -> bool:
    since = utcnow() - dt.timedelta(seconds=int(current_app.config["ACCOUNT_CLAIM_INTERVAL"]))
    return db.session.scalar(select(EmailLog.id).where(
        EmailLog.template == TEMPLATE, EmailLog.to_address == address,
        EmailLog.created_at >= since).limit(1)) is not None


def offer(email: str) -> None:
    """Someone registers an address that is taken: if the account holding it never
    confirmed it, mail the address a takeover link. The caller answers "taken" either
    way."""
    user = _unconfirmed_holder(email)
    if user is None or _recently_offered(user.email):
        return
    token = email_ownership.serializer(SALT).dumps({"u": user.id, "e": user.email.lower()})
    row = mail.account_email(
        TEMPLATE, user.email, user.locale, lambda: _("Is this your email address?"),
        email=user.email, hours=email_ownership.max_age() // 3600,
        link=email_ownership.confirmation_link(token, "ACCOUNT_CLAIM_URL", "email_confirmation.claim_page"))
    try:
        database.insert_row(EmailLog.__table__, row)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    email_ownership.wake_mail_sender()


def check(token: str) -> None:
    """Refuse a link that cannot be used, before asking for a password (writes nothing)."""
    try:
        email_ownership.unconfirmed_account(email_ownership.link_claims(token, SALT))
    finally:
        db.session.rollback()  # releases the row lock


def claim(token: str, password: str, first_name: str, last_name: str,
          locale: str | None = None) -> SupportUser:
    """Use a takeover link: the account gets the owner's name and password and is
    confirmed; the registrant's sign-ins end with the password change."""
    claims = email_ownership.link_claims(token, SALT)
    problem = password_problem(password)
    if problem:
        raise ValidationFailed({"password": [problem]})
    try:
        user = email_ownership.unconfirmed_account(claims)
        provisional = db.session.scalar(select(Customer).where(Customer.user_id == user.id))
        if provisional is not None:  # made at registration from what the registrant typed
            provisional.name = " ".join((first_name, last_name)).strip()[:150]
            provisional.phone = None
        user.first_name, user.last_name = first_name[:64], last_name[:64]
        user.password = generate_password_hash(password)
        user.locale = locale or user.locale
        email_ownership.mark_confirmed(user)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return user
