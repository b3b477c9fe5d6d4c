"""Socket.IO connect authentication, the Origin policy, ticket subscriptions, and
dropping connections whose access changed or whose tokens were ended.

Clients authenticate once, at connect: `auth={"token": "<access token>"}` (the
bearer token from /api/auth/login), or the dashboard's session cookie. Anything
else is refused with a `ConnectionRefusedError` whose message says why.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask_babel import gettext as _
from flask_login import current_user as session_user
from flask_socketio import ConnectionRefusedError, disconnect
from sqlalchemy import event as sa_event
from sqlalchemy import inspect
from sqlalchemy.orm import Session
from werkzeug.http import parse_cookie

from ..extensions import db, socketio
from ..models import AgentProfile, SupportUser
from ..ops import metrics
from ..security import tokens
from ..security.current import AuthError, actor_for_user, bearer_token, user_from_token
from ..tickets.actor import Actor
from . import rooms
from .dispatch import dispatcher


def origin_policy(app: Flask) -> Callable[[str | None, dict], bool]:
    """python-engineio's `cors_allowed_origins` callable: which `Origin` may open a
    socket (a browser always sends it; other clients may not, and are not checked).

    The page's own host (http or https: a TLS proxy in front changes the scheme), the
    customer apps' origins in SOCKETIO_ALLOWED_ORIGINS, and any origin that sends no
    dashboard cookie: such a connection can only authenticate with a bearer token, which
    a foreign page cannot read. A foreign page riding a staff member's cookie is
    refused before the handshake (400), so it never reaches the connect handler."""
    config = app.config  # engineio asks before any app context exists

    def allow(origin: str | None, environ: dict) -> bool:
        if not origin:
            return False  # asked only for CORS headers: none without an Origin
        allowed = config.get("SOCKETIO_ALLOWED_ORIGINS") or ()
        if origin in allowed:
            return True
        parts = urlsplit(origin)
        if parts.scheme in ("http", "https") and parts.netloc == environ.get("HTTP_HOST"):
            return True
        sent = parse_cookie(environ.get("HTTP_COOKIE", ""))
        return not any(name in sent for name in (config.get("SESSION_COOKIE_NAME", "session"),
                                                 config.get("REMEMBER_COOKIE_NAME", "remember_token")))

    return allow


def _token(auth: Any) -> str | None:
    """The token from the auth payload, or an `Authorization: Bearer` header."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"].strip():
        token = auth["token"].strip()
        return bearer_token(token) or token
    return bearer_token(request.headers.get("Authorization"))


def authenticate(auth: Any) -> tuple[SupportUser, dict[str, Any]]:
    """The connecting user and their token's claims (empty for a session), or AuthError."""
    token = _token(auth)
    if token:
        user, claims = user_from_token(token)
        return user, dict(claims)
    if isinstance(auth, dict) and "token" in auth:
        raise AuthError(_("Invalid token"))
    if getattr(session_user, "is_authenticated", False):
        user = db.session.get(SupportUser, session_user.id)
        if user is None or not user.active:
            raise AuthError(_("User is inactive or does not exist"))
        return user, {}
    raise AuthError(_("Authentication required: pass {\"token\": \"<access token>\"} as auth"))


def session_room(session_id: str) -> str:
    """Every socket opened with a token of one sign-in session (ended by logout)."""
    return f"session:{session_id}"


def on_connect(auth: Any = None) -> None:
    try:
        user, claims = authenticate(auth)
    except AuthError as err:
        raise ConnectionRefusedError(err.reason, {"code": "UNAUTHORIZED"}) from err
    actor = actor_for_user(user)
    socketio.server.save_session(request.sid, {"user_id": user.id, "claims": claims})
    joined = rooms.connection_rooms(actor)
    if claims.get(tokens.SESSION_CLAIM):
        joined = [*joined, session_room(claims[tokens.SESSION_CLAIM])]
    for room in joined:
        socketio.server.enter_room(request.sid, room)
    metrics.socket_connected()


def on_disconnect(reason: Any = None) -> None:
    metrics.socket_disconnected()  # only accepted connections reach here


def _current_actor() -> Actor | None:
    """Re-read the user for each request over the socket: an inactive user, or a token
    ended since connect, is dropped (the disconnect after commit may still be on its way)."""
    saved = socketio.server.get_session(request.sid)
    user_id, claims = saved.get("user_id"), saved.get("claims") or {}
    user = db.session.get(SupportUser, user_id) if user_id is not None else None
    if user is None or not user.active or (claims and (
            tokens.outdated(claims, user.token_version, user.created_on)
            or tokens.revoked(claims))):
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

_REVOKE_KEY = "support_revoke_rooms"


def disconnect_after_commit(*, session: str) -> None:
    """Close every socket of a sign-in session once the transaction ending it commits."""
    db.session.info.setdefault(_REVOKE_KEY, set()).add(session_room(session))


def _access_changed(session: Session) -> Iterable[str]:
    """Rooms of the users whose activity, roles, agent approval or tokens
    (`token_version`: password change, sign-out everywhere) this flush changes."""
    changed: set[int] = set()
    for obj in list(session.dirty) + list(session.deleted):
        state = inspect(obj)
        if isinstance(obj, SupportUser):
            if obj in session.deleted or any(
                state.attrs[name].history.has_changes()
                for name in ("active", "roles", "password", "token_version")
            ):
                changed.add(obj.id)
        elif isinstance(obj, AgentProfile):
            if obj in session.deleted or state.attrs.is_approved.history.has_changes():
                changed.add(obj.user_id)
    return [rooms.user_room(user_id) for user_id in changed]


def install_revocation(session_factory: Any) -> None:
    """Drop a user's live connections once a change to their access commits, and a
    sign-in session's once it is ended (`disconnect_after_commit`).

    Covers the ORM paths (FAB's user screens, agent approval, password resets):
    `active`, `roles`, `password`, `token_version`, `AgentProfile.is_approved`. Editing
    a role's permissions touches many users at once and is not tracked: those users
    keep their rooms until they reconnect.
    """
    if getattr(session_factory, "_support_revocation_installed", False):
        return

    @sa_event.listens_for(session_factory, "before_flush")
    def _collect(session: Session, _context: Any, _instances: Any) -> None:
        changed = _access_changed(session)
        if changed:
            session.info.setdefault(_REVOKE_KEY, set()).update(changed)

    @sa_event.listens_for(session_factory, "after_commit")
    def _revoke(session: Session) -> None:
        ended = session.info.pop(_REVOKE_KEY, None)
        if ended:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            for room in ended:
                dispatcher.submit(lambda room=room: socketio.server.manager.disconnect_room(room),
                                  app)

    @sa_event.listens_for(session_factory, "after_soft_rollback")
    def _forget(session: Session, previous_transaction: Any) -> None:
        if previous_transaction.parent is None:
            session.info.pop(_REVOKE_KEY, None)

    session_factory._support_revocation_installed = True
