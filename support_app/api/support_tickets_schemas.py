"""Request and response schemas of the 002 support-tickets API, field for field as the
document prints them. The domain keeps one status and category list; this surface
prints its documented subset (see `STATUS_OUT`, `CATEGORY_OUT`)."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, missing, post_dump

from ..security.current import require_actor
from .laravel import (
    LaravelSchema,
    PaginatorSchema,
    QuerySchema,
    Text,
    choice,
    date,
    integer,
)
from .schemas import attachment_urls_field, attachments_field, unverified_sender

STATUSES = ("open", "in_progress", "resolved", "closed")
PRIORITIES = ("low", "medium", "high", "urgent")
CATEGORIES = ("technical", "billing", "order", "product", "account", "other")
SORT_FIELDS = ("created_at", "updated_at", "priority", "status", "subject", "last_replied_at", "id")

# Stored values another surface uses, printed in this document's vocabulary.
STATUS_OUT = {"on_hold": "in_progress"}
CATEGORY_OUT = {
    "damaged": "order", "lost": "order", "late": "order", "delivery": "order",
    "cancellation": "order", "quality": "product", "payment": "billing",
    "service_quality": "other", "booking": "other",
}


def stored_values(value: str, mapping: dict[str, str]) -> list[str]:
    """Every stored value this surface prints as `value` (for filters)."""
    return [value] + [stored for stored, shown in mapping.items() if shown == value]


class Timestamp(fields.String):
    """A naive-UTC datetime printed as the document prints it (2026-01-22T10:30:00.000000Z),
    or null."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_none=True, dump_only=True, metadata={
            "format": "date-time", "example": "2026-01-22T10:30:00.000000Z"}, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        # isoformat, not strftime: a third of the cost, and a page of 15 tickets prints 90.
        return None if value is None else value.isoformat(timespec="microseconds") + "Z"


class Shown(fields.String):
    """A stored enum value printed in this surface's spelling."""

    def __init__(self, mapping: dict[str, str], choices: tuple[str, ...], **kwargs: Any) -> None:
        self.mapping = mapping
        super().__init__(metadata={"enum": list(choices)}, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else self.mapping.get(value, value)


# --------------------------------------------------------------------------- requests


class TicketCreateSchema(LaravelSchema):
    subject = Text("subject", required=True, max_len=255)
    description = Text("description", required=True, min_len=10, max_len=5000)
    priority = choice("priority", PRIORITIES, allow_none=True, load_default="medium")
    category = choice("category", CATEGORIES, allow_none=True, load_default="other")


class TicketListArgs(QuerySchema):
    status = choice("status", STATUSES)
    priority = choice("priority", PRIORITIES)
    category = choice("category", CATEGORIES)
    search = Text("search", max_len=255)
    customer_id = integer("customer_id", metadata={"description": "Staff only"})
    assigned_to = integer("assigned_to", metadata={"description": "Staff only"})
    date_from = date("date_from", metadata={"description": "Staff only (YYYY-MM-DD)"})
    date_to = date("date_to", metadata={"description": "Staff only (YYYY-MM-DD), inclusive"})
    sort_by = choice("sort_by", SORT_FIELDS, load_default="created_at")
    sort_order = choice("sort_order", ("asc", "desc"), load_default="desc")
    per_page = integer("per_page", maximum=100, load_default=15)
    page = integer("page", maximum=1_000_000, load_default=1)


class LatestArgs(QuerySchema):
    limit = integer("limit", maximum=50, load_default=5)


class MessageCreateSchema(LaravelSchema):
    message = Text("message", required=True, max_len=5000)
    attachments = attachments_field()


class CancelOrderSchema(LaravelSchema):
    reason = Text("reason", max_len=500)


# --------------------------------------------------------------------------- responses


def _own_or_staff(customer: Any) -> bool:
    actor = require_actor()  # cached for the request: no query
    return actor.is_staff or actor.customer_id == customer.id


class CustomerBrief(Schema):
    """The requester as 002 prints them. Their contact details go to themselves and to
    staff: a group participant shares the ticket, not the owner's address or phone."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.Method("_email", metadata={"type": "string",
                                              "description": "The customer and staff only"})

    def _email(self, customer: Any) -> Any:
        return customer.email if _own_or_staff(customer) else missing


class CustomerDetail(CustomerBrief):
    phone = fields.Method("_phone", metadata={"type": "string", "nullable": True,
                                              "description": "The customer and staff only"})

    def _phone(self, customer: Any) -> Any:
        return customer.phone if _own_or_staff(customer) else missing


class CustomerName(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class AdminBrief(Schema):
    """A staff member as the thread or ticket shows them: a customer sees the display
    name only (a staff address is not theirs to know), staff also the email."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.Method("_email_for_staff", metadata={"description": "Staff only"})

    def _email_for_staff(self, user: Any) -> Any:
        return user.email if require_actor().is_staff else missing


class UserName(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class TicketSchema(Schema):
    id = fields.Integer(required=True)
    ticket_number = fields.String(attribute="number", required=True)
    customer_id = fields.Integer(required=True)
    assigned_to = fields.Integer(attribute="assigned_to_id", required=True, allow_none=True)
    subject = fields.String(required=True)
    description = fields.String(required=True)
    status = Shown(STATUS_OUT, STATUSES, required=True)
    priority = fields.String(required=True, metadata={"enum": list(PRIORITIES)})
    category = Shown(CATEGORY_OUT, CATEGORIES, required=True)
    message_count = fields.Integer(required=True)
    is_customer_read = fields.Boolean(required=True)
    is_admin_read = fields.Boolean(required=True)
    resolved_at = Timestamp(required=True)
    closed_at = Timestamp(required=True)
    last_replied_at = Timestamp(required=True)
    last_replied_by = fields.Integer(attribute="last_replied_by_id", required=True,
                                     allow_none=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)


class StaffMarkers(Schema):
    """Fields for staff only: the 002 document's shape plus `unverified_sender` for the
    staff who read every ticket; a customer's answer never has the key (it could only
    be null there: a held ticket is not shown to the customer at all)."""

    unverified_sender = unverified_sender(attribute="unverified_reason")

    @post_dump
    def _customers_never(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if not require_actor().is_staff:  # cached for the request: no query
            data.pop("unverified_sender", None)
        return data


class CreatedTicketSchema(TicketSchema):
    customer = fields.Nested(CustomerBrief, required=True)


class ListedTicketSchema(StaffMarkers, CreatedTicketSchema):
    assigned_admin = fields.Nested(AdminBrief, attribute="assigned_to", required=True,
                                   allow_none=True)


class TicketDetailSchema(StaffMarkers, TicketSchema):
    customer = fields.Nested(CustomerDetail, required=True)
    assigned_admin = fields.Nested(AdminBrief, attribute="assigned_to", required=True,
                                   allow_none=True)
    last_replied_by_user = fields.Nested(UserName, attribute="last_replied_by", required=True,
                                         allow_none=True)


class LatestTicketSchema(Schema):
    id = fields.Integer(required=True)
    ticket_number = fields.String(attribute="number", required=True)
    subject = fields.String(required=True)
    status = Shown(STATUS_OUT, STATUSES, required=True)
    priority = fields.String(required=True, metadata={"enum": list(PRIORITIES)})
    is_customer_read = fields.Boolean(required=True)
    created_at = Timestamp(required=True)
    customer = fields.Nested(CustomerName, required=True)


class MessageSchema(Schema):
    id = fields.Integer(required=True)
    ticket_id = fields.Integer(required=True)
    customer_id = fields.Integer(required=True, allow_none=True)
    admin_id = fields.Integer(required=True, allow_none=True)
    message = fields.String(attribute="body", required=True)
    sender_type = fields.String(required=True, metadata={"enum": ["customer", "admin"]})
    is_read = fields.Boolean(required=True)
    read_at = Timestamp(required=True)
    attachments = attachment_urls_field(required=True)
    created_at = Timestamp(required=True)
    updated_at = Timestamp(required=True)
    customer = fields.Nested(CustomerBrief, required=True, allow_none=True)
    admin = fields.Nested(AdminBrief, required=True, allow_none=True)


class CancelledOrderSchema(Schema):
    id = fields.Integer(required=True)
    order_number = fields.String(required=True)
    status = fields.String(required=True)
    cancellation_reason = fields.String(required=True, allow_none=True)
    cancelled_at = Timestamp(required=True)


class TicketPageSchema(PaginatorSchema):
    data = fields.List(fields.Nested(ListedTicketSchema), required=True)


# Envelopes: {"success": true, ...} around each payload.


class SuccessSchema(Schema):
    success = fields.Boolean(required=True)


class SuccessMessageSchema(SuccessSchema):
    message = fields.String(required=True)


class TicketCreatedEnvelope(SuccessMessageSchema):
    data = fields.Nested(CreatedTicketSchema, required=True)


class TicketPageEnvelope(SuccessSchema):
    data = fields.Nested(TicketPageSchema, required=True)


class TicketDetailEnvelope(SuccessSchema):
    data = fields.Nested(TicketDetailSchema, required=True)


class NavbarCountSchema(SuccessSchema):
    """Customers get total_unresolved; staff get total/open/in_progress tickets."""

    total_unresolved = fields.Integer(metadata={"description": "Customers only"})
    total_tickets = fields.Integer(metadata={"description": "Staff only"})
    open_tickets = fields.Integer(metadata={"description": "Staff only"})
    in_progress_tickets = fields.Integer(metadata={"description": "Staff only"})
    unread_count = fields.Integer(required=True)
    count = fields.Integer(required=True)


class LatestEnvelope(SuccessSchema):
    data = fields.List(fields.Nested(LatestTicketSchema), required=True)


class MessageListEnvelope(SuccessSchema):
    data = fields.List(fields.Nested(MessageSchema), required=True)


class MessageCreatedEnvelope(SuccessMessageSchema):
    data = fields.Nested(MessageSchema, required=True)


class OrderCancelledEnvelope(SuccessMessageSchema):
    data = fields.Nested(CancelledOrderSchema, required=True)
