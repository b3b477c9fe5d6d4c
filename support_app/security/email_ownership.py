"""An account proves it owns its email address before it gets what the address has.

Registering an address that already has a customer record (a guest from the contact
form, inbound mail or the commerce sync) does not link that record: the account
starts with no customer record at all, and an email with a signed, expiring link
(itsdangerous, salted for this purpose, as Flask signs its session) goes to the
address. Confirming links the record, with its tickets, orders, rides and bookings.
An address nobody has used yet gets a new, empty record at once (there is nothing
to take over), so a new customer can open tickets right after registering. That link
is provisional: as soon as records arrive for the address from elsewhere (commerce
sync, contact form, inbound mail: `record_for_address`), the record goes back to
being a guest record, and the account waits for confirmation like any other.

A link is refused when forged or tampered with, past `EMAIL_CONFIRM_MAX_AGE`, for an
address the account no longer has, or once the account is confirmed (single use).
A customer record that belongs to an account is never moved to another one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import database
from ..extensions import db
from ..models import Customer, EmailLog, SupportUser, utcnow
from ..notify import mail
from ..tickets import verification
from ..tickets.errors import Conflict, DomainError, ValidationFailed

SALT = "support.email-confirmation"


class LinkRefused(DomainError):
    """A confirmation link that cannot be used: `code` says why (400 on the API):
    TOKEN_INVALID (forged, tampered, unknown account), TOKEN_EXPIRED, TOKEN_USED (the
    account is confirmed already), ADDRESS_CHANGED (the account has another address)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RecordOwned(Conflict):
    """The address's customer record belongs to another account: it is never moved."""

    code = "RECORD_OWNED"


class AlreadyConfirmed(Conflict):
    code = "ALREADY_CONFIRMED"


@dataclass(frozen=True)
class Confirmed:
    user: SupportUser
    customer: Customer


def serializer(salt: str = SALT) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=salt)


def max_age() -> int:
    return int(current_app.config["EMAIL_CONFIRM_MAX_AGE"])


def make_token(user: SupportUser) -> str:
    """Signed (user, address): the link stops working if the account's address changes."""
    return serializer().dumps({"u": user.id, "e": user.email.lower()})


def confirmation_link(token: str, setting: str = "EMAIL_CONFIRM_URL",
                      page: str = "email_confirmation.page") -> str:
    """`setting` (a customer app's page, `{token}` in it), else our own page under
    `PUBLIC_URL`. Never built from the request's Host header: a registrant could
    point the owner's link at their own server and collect the token."""
    template = current_app.config.get(setting)
    if template:
        return template.replace("{token}", token)
    return current_app.config["PUBLIC_URL"] + url_for(page, token=token)


# As stored: a customer record's email; an account's, which is also its FAB username.
CUSTOMER_EMAIL_MAX: int = Customer.__table__.c.email.type.length
ACCOUNT_EMAIL_MAX: int = SupportUser.__table__.c.username.type.length


def normalized_email(email: str, limit: int) -> str:
    """`email` as the desk stores it (trimmed, lower-cased), refused past `limit`
    characters. Measured after lower-casing, which can lengthen it ("İ" becomes two
    characters): a check of the raw text let PostgreSQL refuse the row (a 500)."""
    email = email.strip().lower()
    if len(email) > limit:
        raise ValidationFailed({"email": [_(
            "The %(field)s may not be greater than %(max)d characters.", field="email",
            max=limit)]})
    return email


def customer_by_email(email: str) -> Customer | None:
    return db.session.scalar(select(Customer).where(func.lower(Customer.email) == email.lower()))


def claim_fresh_address(user: SupportUser, name: str, phone: str | None,
                        locale: str | None) -> Customer | None:
    """At registration: a new customer record for an address nobody has used; None (the
    account starts empty) when a record exists, whose history waits for confirmation."""
    if customer_by_email(user.email) is not None:
        return None
    customer = Customer(name=name.strip()[:150], email=user.email, user_id=user.id,
                        phone=phone, locale=locale or "en")
    db.session.add(customer)
    return customer


def record_for_address(email: str, name: str | None = None,
                       locale: str | None = None) -> Customer:
    """The customer record that records arriving for `email` (a synced order, a contact
    form message, inbound mail) go to: the address's record, or a new guest one.

    The sender proved nothing, and neither has an account that has not confirmed the
    address: a record linked to such an account is released (a guest record again,
    which confirming links back), so the registrant never gets what others send for an
    address they may not own."""
    email = normalized_email(email, CUSTOMER_EMAIL_MAX)
    customer = customer_by_email(email)
    if customer is None:
        customer = Customer(name=(name or email.split("@", 1)[0])[:150], email=email,
                            locale=locale or "en")
        try:
            with db.session.begin_nested():
                db.session.add(customer)
        except IntegrityError:  # the same address arrived concurrently
            customer = customer_by_email(email)
            if customer is None:
                raise
    if verification.unconfirmed_account(customer):
        customer.user_id = None
        db.session.flush()
    return customer


def link_customer(user: SupportUser, phone: str | None = None,
                  locale: str | None = None) -> Customer:
    """The address's customer record, linked to `user` (created if there is none).
    Never takes a record that belongs to another account."""
    customer = customer_by_email(user.email)
    if customer is None:
        customer = Customer(name=user.name[:150] or user.email, email=user.email)
        db.session.add(customer)
    elif customer.user_id not in (None, user.id):
        raise RecordOwned(_("This address's history belongs to another account; "
                         "please contact support."))
    customer.user_id = user.id
    customer.phone = phone or customer.phone
    customer.locale = locale or customer.locale or "en"
    return customer


def send_confirmation(user: SupportUser) -> None:
    """Queue the link in the user's language (committed with the caller's transaction)."""
    row: dict[str, Any] = mail.account_email(
        mail.CONFIRM_EMAIL, user.email, user.locale,
        lambda: _("Confirm your email address"),
        name=user.name or user.email, link=confirmation_link(make_token(user)),
        hours=max_age() // 3600)
    database.insert_row(EmailLog.__table__, row)


def wake_mail_sender() -> None:
    worker = current_app.extensions.get("support_mail")
    if worker is not None and worker.enabled and current_app.config.get("MAIL_SERVER"):
        worker.ensure_started()
        worker.wake()


def link_claims(token: str, salt: str = SALT) -> dict[str, Any]:
    """The (user, address) a link of this purpose was signed for, or LinkRefused."""
    try:
        claims = serializer(salt).loads(token, max_age=max_age())
    except SignatureExpired as exc:
        raise LinkRefused("TOKEN_EXPIRED", _("This confirmation link has expired; "
                                            "ask for a new one.")) from exc
    except BadSignature as exc:
        raise LinkRefused("TOKEN_INVALID", _("This confirmation link is not valid.")) from exc
    if not isinstance(claims, dict) or not isinstance(claims.get("u"), int):
        raise LinkRefused("TOKEN_INVALID", _("This confirmation link is not valid."))
    return claims


def unconfirmed_account(claims: dict[str, Any]) -> SupportUser:
    """The account a link names, locked, if the link can still be used: the account is
    active, still has the address the link went to, and has not been confirmed (every
    link of an account is single use: confirming uses them all up)."""
    user = db.session.scalar(select(SupportUser).where(SupportUser.id == claims["u"])
                             .with_for_update())
    if user is None or not user.active:
        raise LinkRefused("TOKEN_INVALID", _("This confirmation link is not valid."))
    if user.email.lower() != claims.get("e"):
        raise LinkRefused("ADDRESS_CHANGED", _("This confirmation link was sent to an "
                                               "address the account no longer has."))
    if user.email_confirmed_at is not None:
        raise LinkRefused("TOKEN_USED", _("This confirmation link has already been used."))
    return user


def mark_confirmed(user: SupportUser) -> Customer:
    """The address is proved: link its records and release mail held for it."""
    customer = link_customer(user)
    user.email_confirmed_at = utcnow()
    db.session.flush()
    verification.account_confirmed(customer.id)
    return customer


def confirm(token: str) -> Confirmed:
    """Use a link once: mark the account confirmed and link the address's records."""
    claims = link_claims(token)
    try:
        user = unconfirmed_account(claims)
        customer = mark_confirmed(user)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return Confirmed(user, customer)


def resend(user: SupportUser) -> None:
    if user.email_confirmed_at is not None:
        raise AlreadyConfirmed(_("Your email address is already confirmed."))
    try:
        send_confirmation(user)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    wake_mail_sender()
