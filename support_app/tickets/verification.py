"""Who wrote it? Tickets the desk cannot attribute to their customer are held for staff.

A ticket is *unverified* (`Ticket.unverified_reason` set) when it was opened by a
channel that proves nothing about the sender for an address whose owner can read
tickets: the contact form for an address that has an account, or inbound mail whose
From was not authenticated (no aligned SPF/DKIM pass, no signed reply address).
(`account_unconfirmed`, authenticated mail for an account that had not confirmed its
address, is no longer given: such mail now goes to a guest record; older tickets held
for it are released when the account confirms.) Such a
ticket is stored and shown to staff (marked), never to the customer side: the access
policy hides it, and its events notify, push and mail staff only. Nothing a customer
sent is lost; staff verify it (`verify`) or answer it by email.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from ..extensions import db
from ..models import Customer, SupportUser, Ticket
from .actor import Actor
from .errors import Conflict
from . import events
from .service import _audit, _publish, _require_staff_work, _transaction, get_ticket

CONTACT_FORM = "contact_form"
MAIL_UNAUTHENTICATED = "mail_unauthenticated"
ACCOUNT_UNCONFIRMED = "account_unconfirmed"

# What staff read next to an unverified ticket.
LABELS = {
    CONTACT_FORM: _l("Unverified sender: contact form for the address of a registered account"),
    MAIL_UNAUTHENTICATED: _l("Unverified sender: the email's From address was not authenticated"),
    ACCOUNT_UNCONFIRMED: _l("Unverified sender: the account has not confirmed its email address"),
}


def label(reason: str | None) -> str:
    """The staff-facing explanation of an unverified ticket ("" when verified)."""
    return str(LABELS.get(reason, reason)) if reason else ""


def has_account(customer: Customer) -> bool:
    """Does an account own, or claim (registered, not yet confirmed), this address?"""
    if customer.user_id is not None:
        return True
    return db.session.scalar(select(SupportUser.id).where(
        func.lower(SupportUser.email) == customer.email.lower())) is not None


def contact_form_reason(customer: Customer) -> str | None:
    """The contact form proves nothing about who typed the address: a message for an
    address with an account is held unverified, so it never appears as the owner's."""
    return CONTACT_FORM if has_account(customer) else None


def unconfirmed_account(customer: Customer) -> bool:
    """Linked to a self-registered account that has not proved it owns the address."""
    if customer.user_id is None:
        return False
    confirmed = db.session.scalar(
        select(SupportUser.email_confirmed_at).where(SupportUser.id == customer.user_id))
    return confirmed is None


def mail_reason(authenticated: bool) -> str | None:
    """Why a mail cannot open a ticket as its sender's (None: it can). Its customer
    record is never an unconfirmed account's (`email_ownership.record_for_address`)."""
    return None if authenticated else MAIL_UNAUTHENTICATED


def account_confirmed(customer_id: int) -> None:
    """The account proved it owns the address: authenticated mail it held for that
    reason was the owner's. Runs inside the confirmation's transaction."""
    db.session.execute(
        update(Ticket)
        .where(Ticket.customer_id == customer_id,
               Ticket.unverified_reason == ACCOUNT_UNCONFIRMED)
        .values(unverified_reason=None))


def verify(actor: Actor, ticket_id: int, *, origin: str = "api") -> Ticket:
    """Staff who work the ticket have established who wrote it: the customer sees it
    from now on (what happened before is not replayed to them)."""
    with _transaction():
        ticket = get_ticket(actor, ticket_id, lock=True)
        _require_staff_work(actor, ticket)
        if ticket.unverified_reason is None:
            raise Conflict(_("This ticket is not waiting for verification"))
        _audit(ticket, actor, "verified", ticket.unverified_reason, None)
        ticket.unverified_reason = None
        _publish(events.VERIFIED, ticket, actor, origin)
    return ticket
