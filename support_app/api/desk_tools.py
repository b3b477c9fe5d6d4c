"""Agent tools on our own REST surface (not a seed's): a ticket's tags and macros.
Staff only; errors use the default {"success": false, "message"} format.

    PUT    /api/tickets/{id}/tags/{name}      add a tag (created on first use)
    DELETE /api/tickets/{id}/tags/{name}      remove it
    GET    /api/macros                        the active macros
    POST   /api/tickets/{id}/apply-macro      {"macro_id", "mode": "preview"|"send", "body"?}
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from ..models import MACRO_LANGUAGES
from ..security import roles
from ..security.current import require_actor
from ..tickets import macros, tags
from ..tickets.errors import Forbidden
from ..tickets.queries import survivor_id
from .ids import MAX_ID
from .openapi import Blueprint
from .schemas import DefaultErrorSchema

blp = Blueprint("Desk tools", __name__, url_prefix="/api",
                description="Tags and macros on tickets (staff)")
SECURITY = [{"bearerAuth": []}]


class TagsSchema(Schema):
    ticket_id = fields.Integer()
    tags = fields.List(fields.String())


class TagsResponseSchema(Schema):
    success = fields.Boolean()
    data = fields.Nested(TagsSchema)


class MacroSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    languages = fields.List(fields.String(), metadata={
        "description": "Languages the reply is written in"})
    set_status = fields.String(allow_none=True)
    set_priority = fields.String(allow_none=True)
    add_tags = fields.List(fields.String())
    remove_tags = fields.List(fields.String())
    assign_to_me = fields.Boolean()
    adds_internal_note = fields.Boolean()


class MacroListSchema(Schema):
    success = fields.Boolean()
    data = fields.List(fields.Nested(MacroSchema))


class ApplyMacroSchema(Schema):
    macro_id = fields.Integer(required=True, strict=True,
                              validate=validate.Range(min=1, max=MAX_ID))
    mode = fields.String(load_default="preview", validate=validate.OneOf(("preview", "send")))
    body = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=5000),
                         metadata={"description": "send: the reply as edited (else the rendered one)"})


class AppliedSchema(Schema):
    ticket_id = fields.Integer()
    macro_id = fields.Integer()
    mode = fields.String()
    language = fields.String()
    body = fields.String()
    missing = fields.List(fields.String(), metadata={
        "description": "Variables without a value, shown as [[name]] in the body"})
    sendable = fields.Boolean()
    message_id = fields.Integer(allow_none=True)


class AppliedResponseSchema(Schema):
    success = fields.Boolean()
    data = fields.Nested(AppliedSchema)


def _staff() -> Any:
    """Desk staff, and agents once approved (an unapproved agent works no ticket)."""
    actor = require_actor(allow_session=True)
    if not (actor.can(roles.MANAGE) or (actor.is_staff and actor.is_approved_agent)):
        raise Forbidden(_("Only support staff may use this"))
    return actor


def _tags_answer(ticket_id: int, names: list[str]) -> dict[str, Any]:
    """`ticket_id`: the ticket changed (a merged ticket's id names the survivor)."""
    return {"success": True, "data": {"ticket_id": survivor_id(ticket_id), "tags": names}}


TAG_ROUTE = f"/tickets/<int(max={MAX_ID}):ticket_id>/tags/<string(maxlength=200):name>"


@blp.route(TAG_ROUTE, methods=["PUT"])
@blp.response(200, TagsResponseSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(403, schema=DefaultErrorSchema, description="Not staff, or not their ticket")
@blp.alt_response(404, schema=DefaultErrorSchema, description="No such ticket")
@blp.alt_response(422, schema=DefaultErrorSchema, description="Not a valid tag name")
@blp.doc(security=SECURITY)
def put_tag(ticket_id: int, name: str) -> dict[str, Any]:
    """Tag the ticket (the tag is created on first use; names match case-insensitively)."""
    return _tags_answer(ticket_id, tags.add_tags(_staff(), ticket_id, [name], origin="api"))


@blp.route(TAG_ROUTE, methods=["DELETE"])
@blp.response(200, TagsResponseSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(403, schema=DefaultErrorSchema, description="Not staff, or not their ticket")
@blp.alt_response(404, schema=DefaultErrorSchema, description="No such ticket")
@blp.doc(security=SECURITY)
def delete_tag(ticket_id: int, name: str) -> dict[str, Any]:
    """Take the tag off the ticket (a tag it does not carry changes nothing)."""
    return _tags_answer(ticket_id, tags.remove_tags(_staff(), ticket_id, [name], origin="api"))


@blp.route("/macros", methods=["GET"])
@blp.response(200, MacroListSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(403, schema=DefaultErrorSchema, description="Not staff")
@blp.doc(security=SECURITY)
def list_macros() -> dict[str, Any]:
    """The active macros, with what applying each does."""
    _staff()
    return {"success": True, "data": [{
        "id": m.id, "name": m.name,
        "languages": [lang for lang in MACRO_LANGUAGES if (m.body(lang) or "").strip()],
        "set_status": m.set_status or None, "set_priority": m.set_priority or None,
        "add_tags": tags.split_names(m.add_tags), "remove_tags": tags.split_names(m.remove_tags),
        "assign_to_me": bool(m.assign_to_me),
        "adds_internal_note": bool((m.internal_note or "").strip()),
    } for m in macros.active_macros()]}


@blp.route(f"/tickets/<int(max={MAX_ID}):ticket_id>/apply-macro", methods=["POST"])
@blp.arguments(ApplyMacroSchema)
@blp.response(200, AppliedResponseSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(403, schema=DefaultErrorSchema, description="Not staff, or not their ticket")
@blp.alt_response(404, schema=DefaultErrorSchema, description="No such ticket or macro")
@blp.alt_response(400, schema=DefaultErrorSchema,
                  description="send: an action the ticket's state refuses (nothing written)")
@blp.alt_response(422, schema=DefaultErrorSchema,
                  description="Bad body; send: placeholders left in the reply")
@blp.doc(security=SECURITY)
def apply_macro(payload: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """`preview`: the reply in the customer's language with the variables filled, nothing
    written. `send`: reply and run the macro's actions in one transaction."""
    actor = _staff()
    if payload["mode"] == "send":
        result = macros.send(actor, ticket_id, payload["macro_id"], body=payload["body"],
                             origin="api")
    else:
        result = macros.preview(actor, ticket_id, payload["macro_id"])
    return {"success": True, "data": {
        "ticket_id": survivor_id(ticket_id), "macro_id": result.macro.id,
        "mode": payload["mode"],
        "language": result.language, "body": result.body, "missing": result.missing,
        "sendable": not result.missing,
        "message_id": result.message.id if result.message is not None else None,
    }}


def register(api: Any) -> None:
    api.register_blueprint(blp)
