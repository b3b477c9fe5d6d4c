"""Databases, tokens and servers for a benchmark run: a seeded template database that
each target gets a fresh copy of, and gunicorn started the way the app is deployed."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
# The bare-framework yardsticks (`bench/baseline/app.py`): "baseline" writes what a bare
# app writes (ticket and audit row, message and ticket update); "durable" also writes
# the rows support_app writes with each change (notification, queued email, counters,
# SLA columns), so app/durable is the framework's cost and app/baseline the whole gap.
BASELINES = {"baseline": "bench.baseline.app:app_from_env()",
             "durable": "bench.baseline.app:app_from_env(durable=True)"}
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


# --------------------------------------------------------------------------- databases


def database_url(kind: str, name: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / (name + '.db')}"
    if kind == "postgres":
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    raise ValueError(f"unknown database kind {kind!r} (sqlite or postgres)")


def _pg_admin(statement: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    _pg_admin(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def create_empty(url: str) -> None:
    drop_database(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        _pg_admin(f'CREATE DATABASE "{parsed.database}"')
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def clone_database(template_url: str, name: str) -> str:
    """An identical copy of the seeded database, so every target starts from the same rows."""
    parsed = make_url(template_url)
    target = parsed.set(database=(
        str(Path(parsed.database).with_name(name + ".db"))
        if parsed.get_backend_name() == "sqlite" else name
    )).render_as_string(hide_password=False)
    drop_database(target)
    if parsed.get_backend_name() == "sqlite":
        shutil.copyfile(parsed.database, make_url(target).database)
    else:
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')
        # The copy went through the WAL: flush it now, not as a checkpoint in the
        # middle of the first workload measured against it.
        _pg_admin("CHECKPOINT")
    return target


def database_exists(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Path(parsed.database).exists()
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                               {"n": parsed.database}) is not None
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- tokens


def access_token(secret: str, user_id: int, lifetime: int = 4 * 3600) -> str:
    """A bearer token exactly as flask-jwt-extended mints one (HS256, `sub`, `type`)."""
    now = int(time.time())
    claims = {"fresh": False, "iat": now, "nbf": now, "exp": now + lifetime,
              "jti": str(uuid.uuid4()), "type": "access", "sub": str(user_id)}
    return jwt.encode(claims, secret, algorithm="HS256")


# --------------------------------------------------------------------------- servers


def machine_cpu_seconds() -> tuple[float, float]:
    """CPU time the whole machine has spent so far busy (every process, kernel included)
    and stolen by the hypervisor. Over a load run, busy minus the server's and the
    generator's CPU is what other processes took; stolen time is CPU this virtual
    machine was owed and did not get. Either one skews a run."""
    with open("/proc/stat") as stat:
        fields = list(map(int, stat.readline().split()[1:9]))
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerSpec:
    """One gunicorn command: the real app (`wsgi:app`) or the baseline. `concurrency`
    is threads per worker for gthread, greenlets (connections) per worker for gevent."""

    target: str  # "app", or one of BASELINES
    workers: int
    concurrency: int
    app_dir: Path = REPO
    worker_class: str = "gthread"  # or "gevent"

    def command(self, port: int) -> list[str]:
        module = "wsgi:app" if self.target == "app" else BASELINES[self.target]
        flag = "--threads" if self.worker_class == "gthread" else "--worker-connections"
        return [sys.executable, "-m", "gunicorn", "--worker-class", self.worker_class,
                "--workers", str(self.workers), flag, str(self.concurrency),
                "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                "--graceful-timeout", "5", "--timeout", "60", module]


class Server:
    """A gunicorn process on a free loopback port; always stopped on exit."""

    def __init__(self, spec: ServerSpec, database: str, secret: str, workdir: Path) -> None:
        self.spec = spec
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": database,
            "SECRET_KEY": secret,
            "JWT_SECRET_KEY": secret,
            "SUPPORT_ENV": "production",
            "SUPPORT_INSTANCE_PATH": str(workdir / "instance"),
            # Roles were seeded once (as `flask support init` does); workers must not race on it.
            "FAB_UPDATE_PERMS": "0",
            # One client address sends every request: per-address limits would only measure 429s.
            "RATELIMIT_ENABLED": "0",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(spec.app_dir), str(REPO)])),
        }
        self.env.pop("REDIS_URL", None)
        self.log = workdir / f"{spec.target}-server.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self.process = subprocess.Popen(
            self.spec.command(self.port), cwd=self.spec.app_dir, env=self.env,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready(90)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import http.client

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.spec.target} server exited; see {self.log}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/support-tickets/navbar/count")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.spec.target} server not ready in {timeout}s; see {self.log}")

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (master and workers): over a
        load run it tells a CPU-bound server from one waiting on locks."""
        if self.process is None:
            return 0.0
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:  # exited meanwhile
                continue
            if int(fields[2]) == self.process.pid:  # process group: set by start_new_session
                total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / tick

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def __exit__(self, *_exc) -> None:
        self.stop()
