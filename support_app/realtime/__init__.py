"""Socket.IO on the same process and port as the API."""
from __future__ import annotations

from flask import Flask

from ..extensions import socketio


def register_realtime(app: Flask) -> None:
    """Bind Socket.IO; with REDIS_URL set, processes share events through Redis."""
    socketio.init_app(
        app,
        message_queue=app.config.get("REDIS_URL"),
        async_mode="threading",
        cors_allowed_origins=app.config.get("SOCKETIO_CORS_ORIGINS", []),
    )
