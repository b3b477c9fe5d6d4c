"""Socket.IO on the same process and port as the API: authenticated connections,
policy-checked rooms, and domain events pushed after commit (see `publisher`)."""
from __future__ import annotations

from flask import Flask

from ..extensions import db, socketio
from . import connection, publisher
from .manager import build_manager


def register_realtime(app: Flask) -> None:
    """Bind Socket.IO; with REDIS_URL set, processes share events through Redis."""
    manager = build_manager(app.config.get("REDIS_URL"),
                            app.config.get("SOCKETIO_CHANNEL", "support-socketio"),
                            app.config.get("SOCKETIO_REDIS_CONNECT_TIMEOUT", 2))
    socketio.init_app(
        app,
        client_manager=manager,
        async_mode="threading",
        cors_allowed_origins=app.config.get("SOCKETIO_CORS_ORIGINS", []),
    )
    connection.register_handlers()
    connection.install_revocation(db.session)
    publisher.install()
