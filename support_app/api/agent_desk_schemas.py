"""Agent desk (seed 003) spellings and schemas: string ids, Title Case enums, `Z` times.

The domain stores `in_progress`, `high`, `damaged`; this surface reads and prints
`In Progress`, `High`, `Damaged`. Stored values this document does not know are
printed as their nearest documented spelling (`urgent` -> `High`, any category
outside the five -> `Other`).
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate

from .ids import parse_id
from .schemas import attachments_field, unverified_sender

STATUS_IN = {
    "Open": "open",
    "In Progress": "in_progress",
    "On Hold": "on_hold",
    "Resolved": "resolved",
    "Closed": "closed",
}
STATUS_OUT = {stored: label for label, stored in STATUS_IN.items()}
PRIORITY_IN = {"Low": "low", "Medium": "medium", "High": "high"}
PRIORITY_OUT = {"low": "Low", "medium": "Medium", "high": "High", "urgent": "High"}
CATEGORY_IN = {
    "Damaged": "damaged",
    "Lost": "lost",
    "Late": "late",
    "Quality": "quality",
    "Other": "other",
}
CATEGORY_OUT = {stored: label for label, stored in CATEGORY_IN.items()}
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


def status_label(stored: str) -> str:
    return STATUS_OUT.get(stored, stored)


def priority_label(stored: str) -> str:
    return PRIORITY_OUT.get(stored, "Medium")


def category_label(stored: str) -> str:
    return CATEGORY_OUT.get(stored, "Other")


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError(_("May not contain NUL characters."))


def Text(*, max_len: int, min_len: int = 0, **kwargs: Any) -> fields.String:  # noqa: N802
    """A string input: length-checked, no NUL (PostgreSQL refuses it), not only blanks."""
    checks: list[Any] = [validate.Length(min=min_len, max=max_len), _no_nul]
    if min_len:
        checks.append(validate.Regexp(r"\s*\S", error=_l("May not be blank.")))
    return fields.String(validate=checks, **kwargs)


def _one_of(labels: dict[str, str]) -> validate.OneOf:
    return validate.OneOf(list(labels), error=_l("Must be one of: {choices}."))


class Timestamp(fields.Field):
    """UTC (stored naive) printed as `2026-01-09T10:30:00Z`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update({"type": "string", "format": "date-time"})
        super().__init__(**kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.strftime(TIMESTAMP)


def Id(**kwargs: Any) -> fields.String:  # noqa: N802
    """Ids are printed as strings."""
    kwargs.setdefault("metadata", {}).setdefault("example", "12")
    return fields.String(**kwargs)


def Label(labels: dict[str, str]) -> fields.String:  # noqa: N802
    """An output enum in this document's spelling."""
    return fields.String(metadata={"enum": list(labels)})


class IdField(fields.Field):
    """An id given as a JSON string ("12") or number (12)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        parsed = parse_id(value)
        if parsed is None:
            raise ValidationError(_("A valid id is required."))
        return parsed


class RatingField(fields.Field):
    """A rating given as "5" (as the document shows) or 5; only 1..5."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and value.strip() in {"1", "2", "3", "4", "5"}:
            return int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
            return value
        raise ValidationError(_("Rating must be one of 1, 2, 3, 4, 5."))


# --------------------------------------------------------------------------- requests


class DeskCreateTicketSchema(Schema):
    subject = Text(required=True, min_len=1, max_len=255)
    description = Text(required=True, min_len=1, max_len=5000)
    category = fields.String(load_default="Other", validate=_one_of(CATEGORY_IN),
                             metadata={"enum": list(CATEGORY_IN)})
    delivery_id = Text(load_default=None, allow_none=True, min_len=1, max_len=64,
                       metadata={"description": "Your order's id or order number"})
    attachments = attachments_field()


class DeskUpdateStatusSchema(Schema):
    status = fields.String(required=True, validate=_one_of(STATUS_IN),
                           metadata={"enum": list(STATUS_IN)})
    priority = fields.String(load_default=None, validate=_one_of(PRIORITY_IN),
                             metadata={"enum": list(PRIORITY_IN)})


class DeskReassignSchema(Schema):
    agent_id = IdField(required=True, metadata={"type": "string", "example": "7"})


class DeskNoteSchema(Schema):
    note = Text(required=True, min_len=1, max_len=5000)


class DeskFeedbackRequestSchema(Schema):
    rating = RatingField(required=True, metadata={"type": "string", "enum": ["1", "2", "3", "4", "5"]})
    comment = Text(load_default=None, allow_none=True, max_len=5000)


class DeskRegisterAgentSchema(Schema):
    email = Text(required=True, min_len=1, max_len=320)
    password = Text(required=True, load_only=True, max_len=128)
    name = Text(required=True, min_len=1, max_len=128)
    contact_number = Text(load_default=None, allow_none=True, max_len=40)


class DeskStatusFilterSchema(Schema):
    status = fields.String(load_default=None, validate=_one_of(STATUS_IN),
                           metadata={"enum": list(STATUS_IN)})


class DeskCategoryFilterSchema(Schema):
    category = fields.String(load_default=None, validate=_one_of(CATEGORY_IN),
                             metadata={"enum": list(CATEGORY_IN)})


# --------------------------------------------------------------------------- responses

# 400: {"field_name": ["Error message"], ...} (any field name, so a plain JSON schema).
FIELD_ERRORS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


class DeskErrorSchema(Schema):
    """401 / 403 / 404: {"error": "..."}."""

    error = fields.String(required=True)



class DeskMessageSchema(Schema):
    message = fields.String(required=True)


def _envelope(name: str, key: str, item: dict[str, fields.Field]) -> type[Schema]:
    """{"message": "...", key: {...}}: the shape of every change this document answers."""
    return Schema.from_dict(
        {"message": fields.String(required=True),
         key: fields.Nested(Schema.from_dict(item, name=f"Desk{name}Item"))},
        name=f"Desk{name}Response",
    )


DeskCreateTicketResponse = _envelope("CreateTicket", "ticket", {
    "id": Id(), "subject": fields.String(), "status": Label(STATUS_IN), "created_at": Timestamp()})
DeskStatusChangeResponse = _envelope("StatusChange", "ticket", {
    "id": Id(), "status": Label(STATUS_IN), "priority": Label(PRIORITY_IN)})
DeskAssignSelfResponse = _envelope("AssignSelf", "ticket", {
    "id": Id(), "status": Label(STATUS_IN), "agent_id": Id(allow_none=True)})
DeskReassignResponse = _envelope("Reassign", "ticket", {
    "id": Id(), "agent_id": Id(allow_none=True)})
DeskNoteResponse = _envelope("Note", "note", {
    "id": Id(), "note": fields.String(), "created_at": Timestamp()})
DeskFeedbackResponse = _envelope("Feedback", "feedback", {
    "id": Id(), "rating": fields.String(metadata={"enum": ["1", "2", "3", "4", "5"]}),
    "created_at": Timestamp()})
DeskRegisterAgentResponse = _envelope("RegisterAgent", "user", {
    "id": Id(), "email": fields.String(), "name": fields.String(),
    "role": fields.String(metadata={"enum": ["support_agent"]})})


class _DeskTicketCore(Schema):
    """Fields every ticket listing of this document shares."""

    id = Id()
    subject = fields.String()
    category = Label(CATEGORY_IN)
    status = Label(STATUS_IN)
    priority = Label(PRIORITY_IN)
    created_at = Timestamp()
    updated_at = Timestamp()


class DeskCustomerTicketSchema(_DeskTicketCore):
    description = fields.String()
    agent_id = Id(allow_none=True)
    resolved_at = Timestamp(allow_none=True)


class DeskTicketListResponse(Schema):
    tickets = fields.List(fields.Nested(DeskCustomerTicketSchema))


class DeskTicketDetailSchema(DeskCustomerTicketSchema):
    customer_id = Id()
    unverified_sender = unverified_sender()


class DeskInternalNoteSchema(Schema):
    id = Id()
    agent_id = Id(allow_none=True)
    note = fields.String()
    created_at = Timestamp()


class DeskTicketDetailResponse(Schema):
    ticket = fields.Nested(DeskTicketDetailSchema)
    internal_notes = fields.List(
        fields.Nested(DeskInternalNoteSchema),
        metadata={"description": "Only for the assigned agent and admins; absent for customers"},
    )


class DeskAgentTicketSchema(_DeskTicketCore):
    description = fields.String()
    agent_id = Id(allow_none=True, metadata={"description": "null for the unassigned pool"})
    customer_name = fields.String()
    customer_id = Id()
    unverified_sender = unverified_sender()


class DeskAgentTicketListResponse(Schema):
    tickets = fields.List(fields.Nested(DeskAgentTicketSchema))


class DeskAdminTicketSchema(_DeskTicketCore):
    customer_name = fields.String()
    agent_name = fields.String(allow_none=True)
    unverified_sender = unverified_sender()


class DeskAdminTicketListResponse(Schema):
    tickets = fields.List(fields.Nested(DeskAdminTicketSchema))


class DeskFAQEntrySchema(Schema):
    id = Id()
    question = fields.String()
    answer = fields.String()
    category = Label(CATEGORY_IN)


class DeskFAQListResponse(Schema):
    faqs = fields.List(fields.Nested(DeskFAQEntrySchema))
