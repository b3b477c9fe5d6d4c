"""Schemas shared by several surfaces (users, tokens, generic errors, attachments)."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from ..attachments.store import public_urls


class DefaultErrorSchema(Schema):
    """The default {"success": false, "message": ...} error body (002, auth, sync)."""

    success = fields.Boolean(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


def unverified_sender(**kwargs: Any) -> fields.String:
    """The staff-only marker of a held ticket (`tickets.verification`), on every surface
    where staff read tickets (000 admin, 002 staff answers, 003 agent and admin views)."""
    return fields.String(allow_none=True, metadata={
        "description": "Staff only (never in a customer's answer): why nobody has proved "
                       "the customer wrote the ticket (contact_form, mail_unauthenticated, "
                       "account_unconfirmed); the customer does not see it. null: verified."},
        **kwargs)


class CodedErrorSchema(DefaultErrorSchema):
    """The default error body with a stable machine `code` (email confirmation)."""

    code = fields.String(required=True, metadata={"example": "TOKEN_EXPIRED"})


class UserSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    roles = fields.List(fields.String())
    locale = fields.String(allow_none=True)
    customer_id = fields.Integer(allow_none=True, metadata={
        "description": "The customer id of 001/004 payloads; null for staff"})


def attachments_field() -> fields.List:
    """The optional `attachments` of a new message or ticket, as seed 002 names it ("array
    of attachment URLs"): URLs POST /api/attachments answered to the caller. Only the
    shape is checked here; which uploads may be linked is the ticket service's rule
    (`tickets.attachments`), the same on every surface."""
    return fields.List(
        fields.String(
            validate=validate.Length(min=1, max=2048, error=_l(
                "Each attachment must be a URL of 1 to 2048 characters.")),
            error_messages={"invalid": _l("Each attachment must be a URL string.")},
        ),
        allow_none=True,
        validate=validate.Length(max=10, error=_l(
            "The attachments may not have more than 10 items.")),
        error_messages={"invalid": _l("The attachments must be an array.")},
        metadata={"description": "URLs that POST /api/attachments answered to you "
                                  "(your own unused uploads only)"},
    )


def attachment_urls_field(**kwargs: Any) -> fields.Function:
    """A message's files as clients read them: their URLs on this server, or null."""
    return fields.Function(
        lambda message: public_urls(message.attachments), allow_none=True,
        metadata={"type": "array", "items": {"type": "string"},
                  "description": "URLs of the message's files (GET them with the token)"},
        **kwargs)
