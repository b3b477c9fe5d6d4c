"""GET /api/notifications and mark-read: the stored side of realtime notifications,
for clients that were offline (or reconnect and resynchronise).

Everyone signed in (bearer token, or the dashboard session) sees their own
notifications only. Errors use the default {"success": false, "message"} format.
"""
from __future__ import annotations

import math
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import func, select, update

from ..extensions import db
from ..i18n import RANGE_BETWEEN
from ..models import Notification, utcnow
from ..notify.notifications import payload
from ..realtime import rooms
from ..realtime.dispatch import push
from ..security.current import require_actor
from ..tickets.errors import NotFound
from .errors import Surface, register_surface
from .openapi import Blueprint
from .schemas import DefaultErrorSchema

blp = Blueprint("Notifications", __name__, url_prefix="/api/notifications",
                description="Stored, localized notifications of the signed-in user")
SECURITY = [{"bearerAuth": []}]


class ListArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1,
                          validate=validate.Range(min=1, max=100_000, error=RANGE_BETWEEN))
    per_page = fields.Integer(load_default=15,
                              validate=validate.Range(min=1, max=100, error=RANGE_BETWEEN))
    unread = fields.Boolean(load_default=False, metadata={"description": "Only unread ones"})


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "ticket_created, message, status, escalated, "
                                                  "assigned, note, feedback, ticket_participant, "
                                                  "webhook_disabled (admins)"})
    ticket_id = fields.Integer(allow_none=True)
    locale = fields.String(metadata={"description": "Language the text was rendered in"})
    title = fields.String()
    body = fields.String()
    data = fields.Dict()
    is_read = fields.Boolean()
    read_at = fields.String(allow_none=True)
    created_at = fields.String()


class PaginationSchema(Schema):
    current_page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    last_page = fields.Integer()


class ListSchema(Schema):
    success = fields.Boolean()
    data = fields.List(fields.Nested(NotificationSchema))
    unread_count = fields.Integer()
    pagination = fields.Nested(PaginationSchema)


class OneSchema(Schema):
    success = fields.Boolean()
    data = fields.Nested(NotificationSchema)
    unread_count = fields.Integer()


class AllReadSchema(Schema):
    success = fields.Boolean()
    updated = fields.Integer()
    unread_count = fields.Integer()


def _user_id() -> int:
    actor = require_actor(allow_session=True)  # a session's change needs its CSRF token
    if actor.user_id is None:  # pragma: no cover - every signed-in actor is a user
        raise NotFound("notification")
    return actor.user_id


def _unread(user_id: int) -> int:
    return db.session.scalar(
        select(func.count(Notification.id))
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    ) or 0


def _announce(user_id: int, ids: list[int] | None, unread: int) -> None:
    """The user's other devices drop their badges too."""
    push("support:notifications:read", {"ids": ids, "all": ids is None, "unread_count": unread},
         [rooms.user_room(user_id)])


@blp.route("", methods=["GET"])
@blp.arguments(ListArgs, location="query")
@blp.response(200, ListSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(422, schema=DefaultErrorSchema, description="Bad page, per_page or unread")
@blp.doc(security=SECURITY)
def list_notifications(args: dict[str, Any]) -> dict[str, Any]:
    """My notifications, newest first, paginated; `unread=true` for unread ones only."""
    user_id = _user_id()
    where = [Notification.user_id == user_id]
    if args["unread"]:
        where.append(Notification.read_at.is_(None))
    total = db.session.scalar(select(func.count(Notification.id)).where(*where)) or 0
    per_page, page = args["per_page"], args["page"]
    rows = db.session.scalars(
        select(Notification).where(*where)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    )
    return {
        "success": True,
        "data": [payload(row) for row in rows],
        "unread_count": _unread(user_id),
        "pagination": {"current_page": page, "per_page": per_page, "total": total,
                       "last_page": max(1, math.ceil(total / per_page))},
    }


@blp.route("/<int:notification_id>/read", methods=["POST", "PUT"])
@blp.response(200, OneSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.alt_response(404, schema=DefaultErrorSchema, description="No such notification of yours")
@blp.doc(security=SECURITY)
def mark_read(notification_id: int) -> dict[str, Any]:
    """Mark one of my notifications read (repeating it changes nothing)."""
    user_id = _user_id()
    row = db.session.scalar(select(Notification).where(
        Notification.id == notification_id, Notification.user_id == user_id))
    if row is None:
        raise NotFound("notification")
    changed = row.read_at is None
    if changed:
        row.read_at = utcnow()
        db.session.commit()
    unread = _unread(user_id)
    if changed:
        _announce(user_id, [row.id], unread)
    return {"success": True, "data": payload(row), "unread_count": unread}


@blp.route("/read-all", methods=["POST", "PUT"])
@blp.response(200, AllReadSchema)
@blp.alt_response(401, schema=DefaultErrorSchema, description="Missing, bad or expired token")
@blp.doc(security=SECURITY)
def mark_all_read() -> dict[str, Any]:
    """Mark every unread notification of mine read."""
    user_id = _user_id()
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    updated = result.rowcount or 0
    _announce(user_id, None, 0)
    return {"success": True, "updated": updated, "unread_count": 0}


def register(api: Any) -> None:
    register_surface(Surface("notifications", ("/api/notifications",)))
    api.register_blueprint(blp)
