"""Socket.IO connect authentication, ticket subscriptions, and dropping connections
whose access changed.

Clients authenticate once, at connect: `auth={"token": "<access token>"}` (the
bearer token from /api/auth/login), or the dashboard's session cookie. Anything
else is refused with a `ConnectionRefusedError` whose message says why.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user as session_user
from flask_socketio import ConnectionRefusedError, disconnect
from sqlalchemy import event as sa_event
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from ..extensions import db, socketio
from ..models import AgentProfile, SupportUser
from ..ops import metrics
from ..security.current import AuthError, actor_for_user, bearer_token, user_from_token
from ..tickets.actor import Actor
from . import rooms
from .dispatch import dispatcher


def _token(auth: Any) -> str | None:
    """The token from the auth payload, or an `Authorization: Bearer` header."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"].strip():
        token = auth["token"].strip()
        return bearer_token(token) or token
    return bearer_token(request.headers.get("Authorization"))


def authenticate(auth: Any) -> SupportUser:
    """The connecting user, or AuthError with the reason."""
    token = _token(auth)
    if token:
        return user_from_token(token)
    if isinstance(auth, dict) and "token" in auth:
        raise AuthError(_("Invalid token"))
    if getattr(session_user, "is_authenticated", False):
        user = db.session.get(SupportUser, session_user.id)
        if user is None or not user.active:
            raise AuthError(_("User is inactive or does not exist"))
        return user
    raise AuthError(_("Authentication required: pass {\"token\": \"<access token>\"} as auth"))


def on_connect(auth: Any = None) -> None:
    try:
        user = authenticate(auth)
    except AuthError as err:
        raise ConnectionRefusedError(err.reason, {"code": "UNAUTHORIZED"}) from err
    actor = actor_for_user(user)
    socketio.server.save_session(request.sid, {"user_id": user.id})
    for room in rooms.connection_rooms(actor):
        socketio.server.enter_room(request.sid, room)
    metrics.socket_connected()


def on_disconnect(reason: Any = None) -> None:
    metrics.socket_disconnected()  # only accepted connections reach here


def _current_actor() -> Actor | None:
    """Re-read the user for each request over the socket: an inactive one is dropped."""
    user_id = socketio.server.get_session(request.sid).get("user_id")
    user = db.session.get(SupportUser, user_id) if user_id is not None else None
    if user is None or not user.active:
        disconnect()
        return None
    return actor_for_user(user)


def on_subscribe(data: Any = None) -> dict[str, Any]:
    actor = _current_actor()
    if actor is None:
        return {"ok": False, "code": "UNAUTHORIZED", "error": _("User is inactive or does not exist")}
    return rooms.subscribe(actor, data)


def on_unsubscribe(data: Any = None) -> dict[str, Any]:
    return rooms.unsubscribe(data)


def register_handlers() -> None:
    """Bind the handlers to the server `socketio.init_app` just built for this app."""
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    socketio.on_event("subscribe", on_subscribe)
    socketio.on_event("unsubscribe", on_unsubscribe)


# --------------------------------------------------------------------------- revocation

_REVOKE_KEY = "support_revoke_user_ids"


def _access_changed(session: Session) -> set[int]:
    """Users whose activity, roles or agent approval this flush changes."""
    changed: set[int] = set()
    for obj in list(session.dirty) + list(session.deleted):
        state = inspect(obj)
        if isinstance(obj, SupportUser):
            if obj in session.deleted or any(
                state.attrs[name].history.has_changes() for name in ("active", "roles")
            ):
                changed.add(obj.id)
        elif isinstance(obj, AgentProfile):
            if obj in session.deleted or state.attrs.is_approved.history.has_changes():
                changed.add(obj.user_id)
    return changed


def install_revocation(session_factory: Any) -> None:
    """Drop a user's live connections once a change to their access commits.

    Covers the ORM paths (FAB's user screens, agent approval): `active`, `roles`,
    `AgentProfile.is_approved`. Editing a role's permissions touches many users at
    once and is not tracked: those users keep their rooms until they reconnect.
    """
    if getattr(session_factory, "_support_revocation_installed", False):
        return

    @sa_event.listens_for(session_factory, "before_flush")
    def _collect(session: Session, _context: Any, _instances: Any) -> None:
        ids = _access_changed(session)
        if ids:
            session.info.setdefault(_REVOKE_KEY, set()).update(ids)

    @sa_event.listens_for(session_factory, "after_commit")
    def _revoke(session: Session) -> None:
        ids = session.info.pop(_REVOKE_KEY, None)
        if ids:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            for user_id in ids:
                room = rooms.user_room(user_id)
                dispatcher.submit(lambda room=room: socketio.server.manager.disconnect_room(room),
                                  app)

    @sa_event.listens_for(session_factory, "after_soft_rollback")
    def _forget(session: Session, previous_transaction: Any) -> None:
        if previous_transaction.parent is None:
            session.info.pop(_REVOKE_KEY, None)

    session_factory._support_revocation_installed = True
