"""`POST /api/webhooks/mailgun/inbound` (seed 000): Mailgun's parsed inbound mail.

Answers: 200 once the mail is safely stored, ignored or recognised as a duplicate;
406 (Mailgun never retries it) for anything not provably from Mailgun; 503 when the
database or replay store is down, so Mailgun retries later."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, fields

from ..api.errors import Surface, register_surface
from ..api.openapi import Blueprint
from ..tickets.errors import DomainError
from . import intake, signature
from .attachments import screen
from .parse import parse

PREFIX = "/api/webhooks"
# Mailgun accepts messages up to 25 MB; base64 and form encoding add about a third.
MAX_WEBHOOK_BYTES = 40 * 1024 * 1024
MAX_FORM_FIELDS_BYTES = 10 * 1024 * 1024

blp = Blueprint(
    "mailgun_inbound", __name__, url_prefix=f"{PREFIX}/mailgun",
    description="Inbound email: Mailgun route forwards, signed with the webhook signing key.",
)


def render(status: int, message: str, errors: Any, code: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "code": code or "ERROR", "message": message}
    if errors:
        body["errors"] = errors
    return body


def _domain_error(err: DomainError) -> tuple[int, str, None, str]:
    # A mail the desk cannot take will not become acceptable on retry.
    return 406, err.message, None, err.code or "NOT_APPLICABLE"


SURFACE = Surface("webhooks", (PREFIX,), render=render, validation_status=406,
                  domain_error=_domain_error)


class InboundMailSchema(Schema):
    """The fields of Mailgun's forward() POST this desk reads (others are ignored)."""

    class Meta:
        unknown = EXCLUDE

    timestamp = fields.String(metadata={"description": "Unix seconds, signed"})
    token = fields.String(metadata={"description": "50 random characters, signed, single use"})
    signature = fields.String(metadata={"description": "hex HMAC-SHA256(timestamp+token)"})
    sender = fields.String(metadata={"description": "SMTP MAIL FROM"})
    from_ = fields.String(data_key="from", metadata={"description": "From header"})
    recipient = fields.String(metadata={"description": "SMTP RCPT TO, e.g. support+TKT-…@"})
    subject = fields.String()
    body_plain = fields.String(data_key="body-plain")
    body_html = fields.String(data_key="body-html",
                              metadata={"description": "read only when there is no text"})
    stripped_text = fields.String(data_key="stripped-text")
    message_headers = fields.String(data_key="message-headers",
                                    metadata={"description": "JSON list of [name, value]"})
    attachment_count = fields.String(data_key="attachment-count")


class ReceiptSchema(Schema):
    success = fields.Boolean(required=True)
    outcome = fields.String(required=True, metadata={
        "description": "created | held (unverified sender: for staff only) | replied | "
                       "duplicate | ignored"})
    ticket_number = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class WebhookErrorSchema(Schema):
    success = fields.Boolean(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict()


@blp.before_request
def _allow_mail_sized_bodies() -> None:
    """Mail with attachments is larger than the API's default limit; set before parsing."""
    request.max_content_length = MAX_WEBHOOK_BYTES
    request.max_form_memory_size = MAX_FORM_FIELDS_BYTES


@blp.route("/inbound", methods=["POST"])
@blp.arguments(InboundMailSchema, location="form", content_type="multipart/form-data",
               description="Also accepted as application/x-www-form-urlencoded; "
                           "files arrive as attachment-1..N.")
@blp.response(200, ReceiptSchema)
@blp.alt_response(406, schema=WebhookErrorSchema,
                  description="Refused for good: unsigned, bad signature, stale, replayed")
@blp.alt_response(413, schema=WebhookErrorSchema)
@blp.alt_response(503, schema=WebhookErrorSchema, description="Temporary: Mailgun retries")
@blp.doc(security=[])
def inbound(_fields: dict[str, Any]) -> Any:
    """Process inbound email (new ticket or reply)."""
    # The schema documents the fields; the raw form is read because a signature field
    # sent twice must be refused, not silently reduced to its first value.
    try:
        delivery = signature.verify(request.form, request.files)
        signature.claim(delivery.token, signature.digest(request.form, request.files))
    except signature.SignatureRefused as refusal:
        return SURFACE.respond(406, refusal.message, None, refusal.code)
    except signature.ReplayStoreDown:
        return SURFACE.respond(503, _("Service temporarily unavailable"), None, "UNAVAILABLE",
                               {"Retry-After": "60"})
    # A failure from here on is answered 5xx and its retry accepted (`signature.claim`).
    receipt = intake.receive(parse(request.form), screen(request.files))
    return {"success": True, "outcome": receipt.outcome,
            "ticket_number": receipt.ticket_number, "reason": receipt.reason}


def register(api) -> None:
    register_surface(SURFACE)
    api.register_blueprint(blp)
