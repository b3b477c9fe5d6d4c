"""Socket.IO client managers that can also drop every connection in a room.

python-socketio disconnects one sid at a time, and a sid lives on one process only.
When a user is deactivated (or their role changes) we know the user, not their sids,
so `disconnect_room("user:7")` drops every connection in that room: locally for the
in-memory manager, and on every process for the Redis manager, riding on the
`close_room` message that all processes sharing the channel already handle.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

import socketio

log = logging.getLogger(__name__)


def _drop_local(manager: socketio.Manager, room: str, namespace: str) -> None:
    for sid, _eio_sid in list(manager.get_participants(namespace, room)):
        manager.server.disconnect(sid, namespace=namespace, ignore_queue=True)


class LocalManager(socketio.Manager):
    """One process, no message queue (the embedded default)."""

    def has_listeners(self, rooms: Iterable[str], namespace: str = "/") -> bool:
        """Is any connection of this process (the only one) in one of `rooms`?"""
        joined = self.rooms.get(namespace, {})
        return any(joined.get(room) for room in rooms)

    def disconnect_room(self, room: str, namespace: str = "/") -> None:
        _drop_local(self, room, namespace)


class RedisManager(socketio.RedisManager):
    """Processes sharing REDIS_URL; a lost Redis only loses cross-process delivery."""

    def has_listeners(self, rooms: Iterable[str], namespace: str = "/") -> bool:
        """Connections of other processes are not known here: assume someone listens."""
        return True

    def disconnect_room(self, room: str, namespace: str = "/") -> None:
        message = {"method": "close_room", "room": room, "namespace": namespace,
                   "host_id": self.host_id, "disconnect": True}
        self._handle_close_room(message)
        self._publish(message)

    def _publish(self, data: dict[str, Any]) -> Any:
        """python-socketio logs and swallows a failed publish; name what was lost."""
        result = super()._publish(data)
        if result is None:
            log.error("Redis unavailable: %s %r for %r reached this process only",
                      data.get("method"), data.get("event"), data.get("room"))
        return result

    def _handle_close_room(self, message: dict[str, Any]) -> None:
        if message.get("disconnect"):
            _drop_local(self, message["room"], message.get("namespace") or "/")
        else:
            super()._handle_close_room(message)


def build_manager(redis_url: str | None, channel: str, connect_timeout: float) -> socketio.Manager:
    """The manager for this app: Redis-backed when REDIS_URL is set.

    Only the connect timeout is bounded: a read timeout would also break the
    listener's blocking read. Emits are sent off the request thread anyway
    (see `dispatch`), so a black-holed Redis can never stall an HTTP response.
    """
    if not redis_url:
        return LocalManager()
    return RedisManager(redis_url, channel=channel,
                        redis_options={"socket_connect_timeout": connect_timeout})
