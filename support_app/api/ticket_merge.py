"""POST /api/tickets/{id}/merge: staff merge a duplicate into another ticket of the
same customer (`tickets/merge.py`; our own surface, not a seed's). Errors use the
default {"success": false, "message"} format, as GET /api/tickets/{id}/sla does.

Staff who may work both tickets (desk staff with the manage permission, or the agent
assigned to both) merge; anyone else gets 403, customers included.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from ..security.current import require_actor
from ..tickets import merge
from .ids import ID_RANGE, MAX_ID
from .openapi import Blueprint
from .schemas import DefaultErrorSchema

blp = Blueprint("Ticket merge", __name__, url_prefix="/api/tickets",
                description="Merge a duplicate ticket into another of the same customer (staff)")
SECURITY = [{"bearerAuth": []}]


class MergeBodySchema(Schema):
    into = fields.Integer(required=True, strict=True, validate=ID_RANGE, metadata={
        "description": "The id of the ticket that remains (same customer, not closed)"})


class MergedSchema(Schema):
    ticket_id = fields.Integer(metadata={"description": "The surviving ticket"})
    ticket_number = fields.String()
    status = fields.String()
    message_count = fields.Integer()
    merged_ticket_id = fields.Integer()
    merged_ticket_number = fields.String()


class MergeResponseSchema(Schema):
    success = fields.Boolean()
    data = fields.Nested(MergedSchema)


# Ids past the integer key range do not route (404): no such ticket can exist.
@blp.route(f"/<int(max={MAX_ID}):ticket_id>/merge", methods=["POST"])
@blp.arguments(MergeBodySchema)
@blp.response(200, MergeResponseSchema)
@blp.alt_response(400, schema=DefaultErrorSchema,
                  description="Refused: other customer, closed or merged ticket, unverified sender, "
                              "a group ticket with one about another order, ride or booking")
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(403, schema=DefaultErrorSchema, description="Not staff who may work both tickets")
@blp.alt_response(404, schema=DefaultErrorSchema, description="No such ticket")
@blp.alt_response(422, schema=DefaultErrorSchema, description="`into` missing, invalid or the same ticket")
@blp.doc(security=SECURITY)
def merge_ticket(data: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """Move the ticket's messages and notes into `into` in time order, join its
    participants, close it with a pointer; its id and number then resolve to `into`."""
    actor = require_actor(allow_session=True)
    merged = merge.merge(actor, ticket_id, data["into"], origin="api")
    survivor = merged.ticket
    return {"success": True, "data": {
        "ticket_id": survivor.id, "ticket_number": survivor.number, "status": survivor.status,
        "message_count": survivor.message_count, "merged_ticket_id": merged.merged_id,
        "merged_ticket_number": merged.merged_number,
    }}


def register(api: Any) -> None:
    api.register_blueprint(blp)
