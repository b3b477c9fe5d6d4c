"""Real servers and real Socket.IO clients for the realtime tests.

`serve_in_thread` runs the test app on a free loopback port in this process;
`ServerProcess` starts a separate server process on the same database (two of them
sharing Redis make the scale-out test). `Listener` is a python-socketio client that
records every event it receives.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import socketio
from flask import Flask
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10.0


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._thread.join(TIMEOUT)


class Listener:
    """A connected python-socketio client that keeps every event it receives, in order."""

    def __init__(self, url: str, auth: Any = None, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.auth = auth
        self.headers = headers or {}
        self.events: list[tuple[str, Any]] = []
        self.refusal: Any = None
        self.disconnected = threading.Event()
        self._cond = threading.Condition()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record)
        self.client.on("connect_error", self._refused)
        self.client.on("disconnect", lambda *args: self.disconnected.set())

    def _record(self, event: str, *args: Any) -> None:
        with self._cond:
            self.events.append((event, args[0] if len(args) == 1 else list(args)))
            self._cond.notify_all()

    def _refused(self, data: Any = None) -> None:
        self.refusal = data

    def connect(self) -> "Listener":
        self.client.connect(self.url, auth=self.auth, headers=self.headers,
                            transports=["websocket"], wait_timeout=TIMEOUT)
        return self

    def try_connect(self) -> Any:
        """Connect expecting a refusal; returns the server's reason."""
        try:
            self.client.connect(self.url, auth=self.auth, headers=self.headers,
                                transports=["websocket"], wait_timeout=TIMEOUT)
        except socketio.exceptions.ConnectionError:
            return self.refusal
        raise AssertionError("connection was accepted")

    def call(self, event: str, data: Any) -> Any:
        return self.client.call(event, data, timeout=TIMEOUT)

    def wait_for(self, name: str, where: Callable[[Any], bool] = lambda d: True,
                 timeout: float = TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event, data in self.events:
                    if event == name and where(data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {name!r} event; got {self.names()}")
                self._cond.wait(left)

    def names(self) -> list[str]:
        return [event for event, _data in self.events]

    def received(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


SERVER_SCRIPT = """
import sys
from werkzeug.serving import make_server
from support_app import create_app
app = create_app()
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


class ServerProcess:
    """`create_app()` from the environment in a child process, on a free port."""

    def __init__(self, app: Flask, tmp: Path, **env: str) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SUPPORT_INSTANCE_PATH": str(tmp),
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "JWT_SECRET_KEY": app.config["JWT_SECRET_KEY"],
            "SOCKETIO_CHANNEL": app.config["SOCKETIO_CHANNEL"],
            "FAB_UPDATE_PERMS": "false",
            "RATELIMIT_ENABLED": "false",
            **env,
        }
        self.log_path = tmp / f"server-{id(self)}.log"
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> "ServerProcess":
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT], cwd=ROOT,
                                     env=self.env, stdout=subprocess.PIPE, stderr=self._log,
                                     text=True)
        port = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        if not port.isdigit():
            self.__exit__()
            raise RuntimeError(f"server did not start: {self.log()}")
        self.url = f"http://127.0.0.1:{port}"
        return self

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(TIMEOUT)
        self._log.close()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listeners() -> Iterator[list[Listener]]:
    """Fixture body: collect Listeners, close them all afterwards."""
    opened: list[Listener] = []
    yield opened
    # A websocket close waits up to 3 s for the server's close frame under the
    # werkzeug server: close them side by side rather than one after another.
    closing = [threading.Thread(target=listener.close) for listener in opened]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join(TIMEOUT)
