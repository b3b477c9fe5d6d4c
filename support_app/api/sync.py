"""Commerce context sync: the platform pushes its orders, rides and bookings here so
tickets on every surface can refer to them (the returned `id` is what 001/003/004 take
as orderId / rideId / bookingId).

PUT is an upsert keyed by the platform's own identifier: 201 when created, 200 when
updated, and sending the same body twice changes nothing. Fields left out of the
body keep their stored value; an explicit null clears an optional field. The customer
is found by email or created as a guest (no account); an account that has not
confirmed the address does not get them (`security.email_ownership.record_for_address`). These rows are not tickets, so
this module writes them directly, each request in one transaction.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import BaseConverter

from ..extensions import db
from ..models import ORDER_STATUSES, Booking, Customer, Order, Ride, ServiceMember, utcnow
from ..security import email_ownership, roles
from ..security.current import require_actor
from ..tickets.errors import Forbidden, ValidationFailed
from .laravel import LaravelSchema, Text, choice, integer
from .openapi import Blueprint
from .schemas import DefaultErrorSchema

RIDE_STATUSES = ("requested", "accepted", "in_progress", "completed", "cancelled")
BOOKING_STATUSES = ("pending", "confirmed", "seated", "completed", "cancelled", "no_show")
MAX_TOTAL = 9_999_999_999  # Numeric(12, 2)
MAX_MEMBERS = 50
EMAIL_RE = re.compile(r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$")
EXTERNAL_ID = r"[A-Za-z0-9][A-Za-z0-9._:#-]{0,63}"
SECURITY = [{"bearerAuth": []}]

blp = Blueprint(
    "Commerce sync", __name__, url_prefix="/api/sync",
    description="Integrations (staff tokens holding `sync_commerce_data`) upsert the "
                "platform's orders, rides and bookings that tickets refer to.",
)


def _errors(view: Any) -> Any:
    for code, text in (
        (503, "Database temporarily unavailable (retry)"),
        (422, "Validation failed (per-field errors)"),
        (413, "Request body too large"),
        (404, "Identifier outside the documented pattern (no such resource)"),
        (403, "The token's role lacks the sync_commerce_data permission"),
        (401, "Missing, invalid or expired bearer token"),
        (400, "Malformed JSON"),
    ):
        view = blp.alt_response(code, schema=DefaultErrorSchema, description=text)(view)
    return view


class ExternalIdConverter(BaseConverter):
    """The platform's identifiers: letters, digits and . _ : # -, at most 64; anything
    else is no such resource (404)."""

    regex = EXTERNAL_ID


blp.record_once(lambda state: state.app.url_map.converters.setdefault(
    "external_id", ExternalIdConverter))


@blp.before_request
def authorize() -> None:
    """401 without a token, 403 without the permission, before the body is read."""
    if not require_actor().can(roles.SYNC_COMMERCE):
        raise Forbidden(_("You are not allowed to sync commerce data"))


class Moment(fields.AwareDateTime):
    """ISO 8601; a value without offset is taken as UTC; stored as naive UTC."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        invalid = _l("The %(attribute)s is not a valid date.", attribute=name.replace("_", " "))
        super().__init__(default_timezone=dt.timezone.utc, allow_none=True,
                         error_messages={"invalid": invalid}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise self.make_error("invalid") from exc


class CustomerFields(LaravelSchema):
    customer_email = Text("customer_email", required=True, max_len=320,
                          metadata={"pattern": EMAIL_RE.pattern})
    customer_name = Text("customer_name", max_len=150)

    group_member_emails = fields.List(
        fields.String(validate=validate.Length(max=320)), validate=validate.Length(max=MAX_MEMBERS),
        metadata={"description": "The other customers sharing it (a group order, a shared "
                                 "ride, a table for several): the only ones its owner may add "
                                 "to a ticket (004 groupCustomerIds). Sent: replaces the list."})

    @validates("customer_email")
    def _email(self, value: str, **_kwargs: Any) -> None:
        if not EMAIL_RE.fullmatch(value):
            raise ValidationError(_("The customer email must be a valid email address."))
        _fits_a_record(value)

    @validates("group_member_emails")
    def _members(self, value: list[str], **_kwargs: Any) -> None:
        if not all(EMAIL_RE.fullmatch(email) for email in value):
            raise ValidationError(_("Each group member email must be a valid email address."))
        for email in value:
            _fits_a_record(email)


def _fits_a_record(email: str) -> None:
    """The record funnel's length rule, said under the field the client sent."""
    try:
        email_ownership.normalized_email(email, email_ownership.CUSTOMER_EMAIL_MAX)
    except ValidationFailed as too_long:
        raise ValidationError(too_long.errors["email"]) from too_long


class OrderSync(CustomerFields):
    status = choice("status", ORDER_STATUSES, required=True)
    total = fields.Decimal(places=2, allow_none=True,
                           metadata={"minimum": 0, "maximum": MAX_TOTAL},
                           error_messages={"invalid": _l("The total must be a number."),
                                           "special": _l("The total must be a number.")})
    currency = fields.String(allow_none=True, validate=validate.Regexp(
        r"^[A-Z]{3}$", error=_l("The currency must be a 3-letter ISO 4217 code.")))
    placed_at = Moment("placed_at")

    @validates("total")
    def _total(self, value: Decimal | None, **_kwargs: Any) -> None:
        # A plain check: marshmallow's Range would print Decimal bounds as strings in the spec.
        if value is not None and not 0 <= value <= MAX_TOTAL:
            raise ValidationError(_("The total must be between 0 and %(max)d.", max=MAX_TOTAL))


class RideSync(CustomerFields):
    pickup_location = Text("pickup_location", required=True, max_len=255)
    dropoff_location = Text("dropoff_location", required=True, max_len=255)
    status = choice("status", RIDE_STATUSES, allow_none=True)
    requested_at = Moment("requested_at")


class BookingSync(CustomerFields):
    venue = Text("venue", required=True, max_len=255)
    booked_for = Moment("booked_for")
    party_size = integer("party_size", maximum=1000, strict=True, allow_none=True)
    status = choice("status", BOOKING_STATUSES, allow_none=True)


class SyncedSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "orderId / rideId / bookingId"})
    status = fields.String(required=True)


class SyncedOrder(SyncedSchema):
    order_number = fields.String(required=True)


class SyncedRide(SyncedSchema):
    external_id = fields.String(required=True)


class SyncedBooking(SyncedSchema):
    external_id = fields.String(required=True)


def _upsert(model: type, key_column: str, key: str, data: dict[str, Any],
            defaults: dict[str, Any]) -> tuple[Any, int]:
    """Create or update one row in one transaction; only changed attributes are written,
    so repeating a PUT leaves the row (and updated_at) untouched. Two first PUTs racing
    on the same key (or a new guest's email): the loser retries as an update."""
    try:
        return _write(model, key_column, key, data, defaults)
    except IntegrityError:
        return _write(model, key_column, key, data, defaults)


def _write(model: type, key_column: str, key: str, data: dict[str, Any],
           defaults: dict[str, Any]) -> tuple[Any, int]:
    try:
        customer = email_ownership.record_for_address(data["customer_email"],
                                                      data.get("customer_name"))
        row = db.session.scalar(select(model).where(getattr(model, key_column) == key))
        created = row is None
        if created:
            row = model(**{key_column: key}, customer_id=customer.id)
            for name, value in defaults.items():
                setattr(row, name, value)
            db.session.add(row)
        elif row.customer_id != customer.id:
            row.customer_id = customer.id
        for name, value in data.items():
            if name.startswith("customer_") or name == "group_member_emails":
                continue
            if value is None and name in defaults:
                value = defaults[name]
            if getattr(row, name) != value:
                setattr(row, name, value)
        if "group_member_emails" in data:
            db.session.flush()  # a new row's id
            _replace_members(row, customer, data["group_member_emails"])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return row, 201 if created else 200


def _replace_members(row: Order | Ride | Booking, owner: Customer, emails: list[str]) -> None:
    """The service's group members become exactly these customers (guests if new)."""
    column = {Order: ServiceMember.order_id, Ride: ServiceMember.ride_id,
              Booking: ServiceMember.booking_id}[type(row)]
    wanted = {email_ownership.record_for_address(email).id for email in emails} - {owner.id}
    have = set(db.session.scalars(select(ServiceMember.customer_id).where(column == row.id)))
    if have - wanted:
        db.session.execute(delete(ServiceMember).where(
            column == row.id, ServiceMember.customer_id.in_(have - wanted)))
    for customer_id in sorted(wanted - have):
        db.session.add(ServiceMember(customer_id=customer_id, **{column.key: row.id}))


@blp.route("/orders/<external_id:order_number>", methods=["PUT"])
@blp.doc(security=SECURITY)
@blp.arguments(OrderSync)
@blp.response(200, SyncedOrder, description="Updated (or unchanged)")
@blp.alt_response(201, schema=SyncedOrder, description="Created")
@_errors
def sync_order(data: dict[str, Any], order_number: str) -> tuple[Order, int]:
    """Upsert an order by its number. Moving to `cancelled` stamps cancelled_at;
    moving away from it clears cancelled_at and the cancellation reason."""
    existing = db.session.scalar(select(Order).where(Order.order_number == order_number))
    if existing is not None and data["status"] != existing.status:
        cancelled = data["status"] == "cancelled"
        data = {**data, "cancelled_at": utcnow() if cancelled else None}
        if not cancelled:
            data["cancellation_reason"] = None
    elif existing is None and data["status"] == "cancelled":
        data = {**data, "cancelled_at": utcnow()}
    return _upsert(Order, "order_number", order_number, data, {"status": "pending"})


@blp.route("/rides/<external_id:external_id>", methods=["PUT"])
@blp.doc(security=SECURITY)
@blp.arguments(RideSync)
@blp.response(200, SyncedRide, description="Updated (or unchanged)")
@blp.alt_response(201, schema=SyncedRide, description="Created")
@_errors
def sync_ride(data: dict[str, Any], external_id: str) -> tuple[Ride, int]:
    """Upsert a ride by the platform's id (status defaults to `requested`)."""
    return _upsert(Ride, "external_id", external_id, data,
                   {"status": "requested"})


@blp.route("/bookings/<external_id:external_id>", methods=["PUT"])
@blp.doc(security=SECURITY)
@blp.arguments(BookingSync)
@blp.response(200, SyncedBooking, description="Updated (or unchanged)")
@blp.alt_response(201, schema=SyncedBooking, description="Created")
@_errors
def sync_booking(data: dict[str, Any], external_id: str) -> tuple[Booking, int]:
    """Upsert a table booking by the platform's id (status defaults to `confirmed`)."""
    return _upsert(Booking, "external_id", external_id, data,
                   {"status": "confirmed"})


def register(api: Api) -> None:
    """Errors here use the default {"success": false, "message": ...} surface."""
    api.register_converter(ExternalIdConverter,
                           lambda _converter: {"type": "string", "pattern": f"^{EXTERNAL_ID}$"})
    api.register_blueprint(blp)
