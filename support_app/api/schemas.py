"""Schemas shared by several surfaces (users, tokens, generic errors)."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields


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
