"""The public contact form (seed 000): no account needed, rate-limited per client address.

A message opens a ticket on channel `contact_form` for the customer with that email,
or for a new guest customer (never on an account that has not confirmed the address:
`security.email_ownership.record_for_address`), through the ticket service acting as
the system. The
form proves nothing about who typed the address: for an address that has an account
the ticket is held unverified, for staff only (`tickets.verification`). A bot
that fills the hidden `website` field gets the same success answer and nothing is
created. Names and subjects are folded onto one line, so they can never carry a
CR/LF into a mail header.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from marshmallow import EXCLUDE, Schema, fields, post_load, validate
from sqlalchemy import select

from ..extensions import db, limiter
from ..models import Order
from ..security import email_ownership
from ..tickets import Actor, service, verification
from .auth import EMAIL_RE, NO_NUL
from .openapi import Blueprint
from .storefront import StorefrontErrorSchema, surface

blp = Blueprint("Contact", __name__,
                description="Public contact form: opens a ticket, rate-limited per address.")

DEFAULT_LIMIT = "5 per minute;20 per day"


def one_line(value: str) -> str:
    """Collapse every whitespace run (CR, LF, tabs, ...) into one space."""
    return " ".join(value.split())


class ContactSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=[validate.Length(min=1, max=150), NO_NUL])
    email = fields.String(required=True, validate=[
        validate.Length(max=320),
        validate.Regexp(EMAIL_RE, error=_l("The email must be a valid email address.")),
    ])
    # NUL refused here, before a guest row is made for a message that cannot be stored.
    subject = fields.String(required=True, validate=[
        validate.Length(min=1, max=service.MAX_SUBJECT), NO_NUL])
    message = fields.String(required=True, validate=[
        validate.Length(min=1, max=service.MAX_BODY), NO_NUL])
    orderNumber = fields.String(load_default=None, allow_none=True,
                                validate=[validate.Length(max=64), NO_NUL])
    website = fields.String(load_default=None, allow_none=True, metadata={
        "description": "Leave empty. Filled in by bots only (honeypot)."})

    @post_load
    def tidy(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        data["name"] = one_line(data["name"])
        data["subject"] = one_line(data["subject"])
        data["email"] = data["email"].strip().lower()
        if data.get("orderNumber"):
            data["orderNumber"] = one_line(data["orderNumber"])
        return data


class ContactDataSchema(Schema):
    ticketNumber = fields.String(required=True, metadata={"example": "TKT-1A2B3C4D5E6F7"})


class ContactResponseSchema(Schema):
    success = fields.Boolean(required=True)
    message = fields.String(required=True)
    data = fields.Nested(ContactDataSchema, required=True)


def contact_limit() -> str:
    return current_app.config.get("CONTACT_RATE_LIMIT") or DEFAULT_LIMIT


def success(number: str) -> dict[str, Any]:
    return {"success": True,
            "message": _("Thank you! Your message was received; we will reply by email."),
            "data": {"ticketNumber": number}}


@blp.route("/api/contact", methods=["POST"])
@limiter.limit(contact_limit)
@blp.arguments(ContactSchema)
@blp.response(201, ContactResponseSchema)
@blp.alt_response(400, schema=StorefrontErrorSchema, description="Missing or invalid field")
@blp.alt_response(429, schema=StorefrontErrorSchema, headers={
    "Retry-After": {"description": "Seconds until a new request is accepted",
                    "schema": {"type": "integer"}}},
    description="Too many messages from this address")
def submit(data: dict[str, Any]) -> dict[str, Any]:
    """Send a message to support; returns the new ticket's number."""
    if data.get("website"):
        return success(service.new_ticket_number())
    locale = request.accept_languages.best_match(list(current_app.config["LANGUAGES"]))
    customer = email_ownership.record_for_address(
        data["email"], data["name"], locale or current_app.config["BABEL_DEFAULT_LOCALE"])
    description = data["message"]
    order = None
    if data.get("orderNumber"):
        description += "\n\n" + _("Order number: %(number)s", number=data["orderNumber"])
        order = db.session.scalar(select(Order).where(
            Order.order_number == data["orderNumber"], Order.customer_id == customer.id))
    outcome = service.open_ticket(
        Actor.system("contact form"), customer_id=customer.id, subject=data["subject"],
        description=description, category="order" if data.get("orderNumber") else "other",
        order_id=order.id if order else None, channel="contact_form", origin="contact",
        unverified_reason=verification.contact_form_reason(customer),
    )
    return success(outcome.ticket.number)


def register(api: Api) -> None:
    surface("contact", "/api/contact")
    api.register_blueprint(blp)
