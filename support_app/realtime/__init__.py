"""Socket.IO on the same process and port as the API: authenticated connections,
policy-checked rooms, and domain events pushed after commit (see `publisher`)."""
from __future__ import annotations

import sys

from flask import Flask

from ..extensions import db, socketio
from . import connection, publisher
from .manager import build_manager
from .packets import PacketJSON

ASYNC_MODES = ("threading", "gevent")


def _gevent_patched() -> bool:
    """Has gevent monkey-patched this process (`gunicorn -k gevent`)? Never imports it."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


def async_mode(configured: str | None) -> str:
    """SOCKETIO_ASYNC_MODE, or unset: gevent under gevent's patching, else threading.

    gevent mode in an unpatched process would park every websocket on a hub that
    nothing runs, so that combination is refused at start-up rather than hanging."""
    patched = _gevent_patched()
    mode = configured or ("gevent" if patched else "threading")
    if mode not in ASYNC_MODES:
        raise RuntimeError(f"SOCKETIO_ASYNC_MODE={mode!r}: expected one of {ASYNC_MODES}")
    if mode == "gevent" and not patched:
        raise RuntimeError("SOCKETIO_ASYNC_MODE=gevent needs a gevent server "
                           "(gunicorn -k gevent); this process is not monkey-patched")
    return mode


def register_realtime(app: Flask) -> None:
    """Bind Socket.IO; with REDIS_URL set, processes share events through Redis."""
    manager = build_manager(app.config.get("REDIS_URL"),
                            app.config.get("SOCKETIO_CHANNEL", "support-socketio"),
                            app.config.get("SOCKETIO_REDIS_CONNECT_TIMEOUT", 2))
    socketio.init_app(
        app,
        client_manager=manager,
        async_mode=async_mode(app.config.get("SOCKETIO_ASYNC_MODE")),
        cors_allowed_origins=connection.origin_policy(app),
        json=PacketJSON,
    )
    connection.register_handlers()
    connection.install_revocation(db.session)
    publisher.install()
