"""Real servers and real clients for tests.

`LiveServer` runs the test app on a free loopback port in this process; `ServerProcess`
starts a separate server process on the same database (two of them sharing Redis make
the scale-out test); `ServeCommand` runs `flask support serve` exactly as a user does,
`GunicornCommand` the production gunicorn command; `TcpProxy` sits between a server
and its database and can cut the link. `Listener` is a python-socketio client that
records every event it receives.
"""
from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
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
            # websocket-client's close() then waits up to 3 s for the server's close frame,
            # which engineio's read-loop thread receives instead: the frames are sent by
            # then, so wait a moment only.
            ws = self.client.eio.ws
            if ws is not None:
                ws.close = functools.partial(ws.close, timeout=0.2)
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


def app_env(app: Flask, tmp: Path, **env: str) -> dict[str, str]:
    """The environment of a server process sharing the test app's database and keys."""
    return {
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


class ServerProcess:
    """`create_app()` from the environment in a child process, on a free port."""

    script = SERVER_SCRIPT  # prints the port, then serves

    def __init__(self, app: Flask, tmp: Path, **env: str) -> None:
        self.env = app_env(app, tmp, **env)
        self.log_path = tmp / f"server-{id(self)}.log"
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> "ServerProcess":
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-c", self.script], cwd=ROOT,
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


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


closed_port = free_port


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


def flask_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "support", *args],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout, check=True)


class ServeCommand:
    """`flask --app wsgi support serve` as a user runs it; its log goes to a file (a pipe
    nobody reads would fill up and block the server's logging)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.log_path = Path(env.get("SUPPORT_INSTANCE_PATH", "/tmp")) / f"serve-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "flask", "--app", "wsgi", "support", "serve",
                "--host", "127.0.0.1", "--port", str(self.port)]

    def start(self, timeout: float = 60) -> "ServeCommand":
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.env, stdout=self._log,
            stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()[-3000:]}")
            if self.ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.command()[-1]} did not start in time: {self.log()[-3000:]}")

    def ready(self) -> bool:
        try:
            urllib.request.urlopen(self.url + "/api/openapi.json", timeout=2)
            return True
        except OSError:
            return False

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()

    def __enter__(self) -> "ServeCommand":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class GunicornCommand(ServeCommand):
    """`gunicorn -c gunicorn.conf.py wsgi:app` as README's production section runs it
    (`GUNICORN_WORKER_CLASS` in `env` picks the worker); bound through `BIND`."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self.env["BIND"] = f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]


class WorkerCommand(ServeCommand):
    """`flask --app wsgi support worker` (README, "SLA"), the SLA checks beside the web
    processes; ready once it says it is checking."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__({**env, "PYTHONUNBUFFERED": "1"})  # its banner reaches the log at once
        self.log_path = self.log_path.with_name(f"worker-{self.port}.log")

    def command(self) -> list[str]:
        return [sys.executable, "-m", "flask", "--app", "wsgi", "support", "worker"]

    def ready(self) -> bool:
        return "SLA worker: checking" in self.log()


def wait_until(check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    """Poll until `check()` holds (waiting for something to happen, never a timing
    assertion); fails with `what` after a generous deadline."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def wait_for_subscribers(redis_url: str, channel: str, count: int = 1) -> None:
    """A server process listens on the Redis channel once its first client connected:
    wait until `count` of them do, so an event published elsewhere reaches them all."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        wait_until(lambda: dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) >= count,
                   f"fewer than {count} server(s) subscribed to Redis", TIMEOUT)
    finally:
        client.close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream; `cut()` drops every connection and
    refuses new ones (a server restart as clients see it), `restore()` heals it."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._stopped = False

    def start(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                try:  # wakes the blocked accept(); close() alone lets it take one more client
                    self._listener.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._listener.close()
                self._listener = None
            for sock in self._conns:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                except OSError:
                    pass
            self._conns.clear()

    def restore(self) -> None:
        self.start()

    def stop(self) -> None:
        self.cut()
