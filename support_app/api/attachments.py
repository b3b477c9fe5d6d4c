"""POST /api/attachments (upload) and GET /api/attachments/<id>[/thumbnail] (download).

Upload: multipart `file`, bearer token, customers and staff; answers the file's id,
name, size, type (decided from its bytes) and the URL a message names it by in its
`attachments` (seed 002). Download: to those who may read the message or note that
carries it (`attachments.serve`); the dashboard's session cookie works too, so its
ticket page shows thumbnails. Errors: {"success": false, "message", "errors"?}."""
from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_babel import gettext as _
from marshmallow import Schema, fields

from ..attachments import screening, serve, store
from ..security.current import require_actor
from ..tickets.errors import NotFound, ValidationFailed
from .errors import Surface, register_surface, surface_for_path
from .openapi import Blueprint
from .schemas import DefaultErrorSchema

PREFIX = "/api/attachments"
SECURITY = [{"bearerAuth": []}]
FORM_OVERHEAD = 256 * 1024  # multipart boundaries and headers around the file

blp = Blueprint("attachments", __name__, url_prefix=PREFIX,
                description="Files for messages and notes: upload, then name the URL in a "
                            "message's `attachments`; download as the ticket policy allows.")


class UploadedSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True, attribute="filename")
    size = fields.Integer(required=True)
    type = fields.String(required=True, attribute="content_type",
                         metadata={"description": "Decided from the file's bytes"})
    url = fields.Function(lambda row: store.public_url(store.path_of(row.id)), required=True)


class UploadedEnvelope(Schema):
    success = fields.Boolean(required=True)
    data = fields.Nested(UploadedSchema, required=True)


@blp.before_request
def _allow_file_sized_bodies() -> None:
    if request.method == "POST":
        request.max_content_length = screening.max_bytes() + FORM_OVERHEAD


@blp.route("", methods=["POST"])
@blp.doc(security=SECURITY, requestBody={"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["file"],
               "properties": {"file": {"type": "string", "format": "binary"}}}}}})
@blp.response(201, UploadedEnvelope)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(413, schema=DefaultErrorSchema,
                  description="Larger than ATTACHMENT_MAX_BYTES (10 MB by default)")
@blp.alt_response(422, schema=DefaultErrorSchema,
                  description="No file, an empty file, a type not accepted (from its bytes), "
                              "or ATTACHMENT_UNUSED_MAX uploads no message uses yet")
def upload() -> Any:
    """Store a file for a message of mine; unused uploads are removed after a day."""
    actor = require_actor()
    if actor.user_id is None:  # pragma: no cover - every token names a user
        raise NotFound("attachment")
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed({"file": [_("Send the file as the multipart field `file`.")]})
    try:
        row = store.upload(actor, upload.filename, upload.stream)
    except screening.Refused as refusal:
        if refusal.too_large:
            return _too_large(str(refusal))
        raise ValidationFailed({"file": [str(refusal)]}) from None
    return {"success": True, "data": row}


def _too_large(message: str) -> Response:
    return surface_for_path(request.path).respond(413, message, {"file": [message]},
                                                  "REQUEST_ENTITY_TOO_LARGE")


@blp.route("/<int:attachment_id>", methods=["GET"])
@blp.doc(security=SECURITY)
@blp.response(200, description="The file: inline for images and PDF, else a download")
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(404, schema=DefaultErrorSchema,
                  description="No such file, or not one you may read")
def download(attachment_id: int) -> Response:
    """A file of a message (or note) I may read, or my own unused upload."""
    row = serve.readable(require_actor(allow_session=True), attachment_id)
    return serve.send(store.content(row), row)


@blp.route("/<int:attachment_id>/thumbnail", methods=["GET"])
@blp.doc(security=SECURITY)
@blp.response(200, description="A PNG at most 320×320 (images only)")
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(404, schema=DefaultErrorSchema,
                  description="No such file, not yours to read, or not an image")
def thumbnail(attachment_id: int) -> Response:
    """A small preview of an image file, made once."""
    row = serve.readable(require_actor(allow_session=True), attachment_id)
    data = store.thumbnail(row)
    if data is None:
        raise NotFound("attachment", _("No preview for this file"))
    return serve.send(data, row, content_type="image/png", name="thumbnail.png")


def register(api: Any) -> None:
    register_surface(Surface("attachments", (PREFIX,)))
    api.register_blueprint(blp)
