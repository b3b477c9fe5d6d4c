"""`/healthz` (the process answers) and `/readyz` (it can do its work) for load
balancers and orchestrators.

Readiness runs each check on a small thread pool and waits at most
HEALTH_CHECK_TIMEOUT seconds in all, so a hung database or Redis answers 503 quickly
instead of holding the poller. The database check is one query, which also tells the
migration check the schema's revision; Alembic's head is read from the migrations
folder once per process. Answers carry check names, states and latencies only: never
a URL, host or driver message (those go to the log, once per change of state).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache
from typing import Any, Callable

from flask import Flask, Response, current_app, jsonify
from sqlalchemy import text

log = logging.getLogger(__name__)

Detail = dict[str, Any]
Check = Callable[[Flask], "Detail | None"]  # raises when not ready


class NotReady(Exception):
    """A check ran but found the service unable to work (e.g. schema behind)."""


def check_database(app: Flask) -> Detail:
    from ..extensions import db

    with app.app_context():
        engine = db.engine
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {"revision": revision}


@lru_cache(maxsize=1)
def migration_head() -> str | None:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    from ..config import ROOT

    config = AlembicConfig()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def check_redis(app: Flask) -> Detail | None:
    _redis_client(app.config["REDIS_URL"], float(app.config["HEALTH_CHECK_TIMEOUT"])).ping()
    return None


@lru_cache(maxsize=4)
def _redis_client(url: str, timeout: float) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def sender_check(extension: str) -> Check:
    """A background sender thread (`background.Worker`) of this process is alive."""
    def check(app: Flask) -> Detail | None:
        worker = app.extensions.get(extension)
        if worker is None or not worker.enabled:
            return {"state": "disabled"}
        if not worker.running():
            raise NotReady("sender thread not running")
        return None
    return check


def check_socket_dispatch(app: Flask) -> Detail | None:
    from ..realtime.dispatch import dispatcher

    return None if dispatcher.running() else {"state": "idle"}  # starts with the first push


# Name → check; a check applies when `when(app)` holds. Later background workers
# register theirs here.
CHECKS: dict[str, tuple[Check, Callable[[Flask], bool]]] = {
    "database": (check_database, lambda app: True),
    "redis": (check_redis, lambda app: bool(app.config.get("REDIS_URL"))),
    "mail_sender": (sender_check("support_mail"), lambda app: True),
    "webhook_sender": (sender_check("support_webhooks"), lambda app: True),
    "socket_dispatch": (check_socket_dispatch, lambda app: True),
    "sla_scheduler": (sender_check("support_sla_scheduler"), lambda app: True),
}

_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()
_last_failure: dict[str, str] = {}


def _executor() -> ThreadPoolExecutor:
    """One pool per process (a forked gunicorn worker gets its own)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz"))
        return _pool[1]


def _timed(check: Check, app: Flask) -> Detail:
    started = time.perf_counter()
    try:
        detail: Detail = {"status": "ok", **(check(app) or {})}
    except Exception as exc:  # any failure is "not ready"; the answer names the check only
        detail = {"status": "fail", "error": type(exc).__name__, "_reason": str(exc)}
    detail["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return detail


def _note_change(name: str, detail: Detail) -> None:
    """Log a check's failure when it starts and its recovery, not at every poll."""
    reason = detail.pop("_reason", None)
    if detail["status"] == "fail":
        message = f"{detail.get('error')}: {reason}" if reason else str(detail.get("error"))
        if _last_failure.get(name) != message:
            log.warning("readiness check %s failing: %s", name, message)
        _last_failure[name] = message
    elif _last_failure.pop(name, None) is not None:
        log.info("readiness check %s recovered", name)


def readiness(app: Flask) -> tuple[dict[str, Detail], bool]:
    timeout = float(app.config.get("HEALTH_CHECK_TIMEOUT", 2))
    deadline = time.monotonic() + timeout
    futures = {name: _executor().submit(_timed, check, app)
               for name, (check, when) in CHECKS.items() if when(app)}
    results: dict[str, Detail] = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            results[name] = {"status": "fail", "error": "timeout",
                             "latency_ms": round(timeout * 1000, 1)}
    database = results["database"]
    head, found = migration_head(), database.pop("revision", None)
    if database["status"] != "ok":
        results["migrations"] = {"status": "unknown", "head": head}
    else:
        results["migrations"] = {"status": "ok" if found == head else "fail",
                                 "head": head, "current": found, "latency_ms": 0.0}
    for name, detail in results.items():
        _note_change(name, detail)
    return results, all(d["status"] == "ok" for d in results.values())


def healthz() -> Response:
    return jsonify(status="ok")


def readyz() -> Response:
    checks, ready = readiness(current_app._get_current_object())  # type: ignore[attr-defined]
    response = jsonify(status="ok" if ready else "fail", checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask) -> None:
    from ..extensions import limiter

    app.add_url_rule("/healthz", "ops_healthz", limiter.exempt(healthz))
    app.add_url_rule("/readyz", "ops_readyz", limiter.exempt(readyz))
