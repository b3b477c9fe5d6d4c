"""Test harness: one app per worker on a real database, emptied between tests.

SQLite by default; set TEST_DATABASE_URL=postgresql://... to run everything on
PostgreSQL (each worker gets a throwaway database), TEST_REDIS_URL for Redis.
With CI=true a PostgreSQL or Redis test that cannot reach its server fails.
"""
from __future__ import annotations

import os
import sqlite3
import uuid
import warnings
from pathlib import Path

import pytest
from flask import g, request_started
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.engine import make_url

from support_app import create_app
from support_app.config import TestConfig
from support_app.extensions import db
from support_app.tickets import events

from .factories import Factory
from .log_guard import SecretGuard
# Fixtures several modules use, shared from here rather than imported test to test.
from .mail_server import mail_config, smtp  # noqa: F401
from .service_helpers import admin, alice, morning  # noqa: F401
from .sla_helpers import clock, desk  # noqa: F401

KEEP_TABLES = {
    "ab_permission", "ab_view_menu", "ab_permission_view", "ab_role",
    "ab_permission_view_role", "alembic_version",
}


def pytest_configure(config):
    # Socket.IO/limiter singletons and FAB keep per-process state: one app per worker.
    os.environ.setdefault("SUPPORT_INSTANCE_PATH", str(Path(os.environ.get("TMPDIR", "/tmp")) / "support-test-instance"))


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def create_database(base_url: str, tmp_dir: Path) -> tuple[str, callable]:
    """A brand-new database for this worker; returns (url, drop)."""
    if base_url.startswith("postgresql"):
        name = f"support_test_{_worker()}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(base_url).set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            # FORCE (PostgreSQL 13+) terminates the sessions still open and waits for
            # them to go; pg_terminate_backend alone returns before they have exited.
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        return url, drop
    path = tmp_dir / f"support-{_worker()}.db"
    return f"sqlite:///{path}", lambda: None


def migrate_and_seed(app) -> None:
    """What the test database holds before any test: every migration, then FAB's and
    our roles and permissions."""
    with app.app_context():
        from flask_migrate import upgrade

        from support_app.bootstrap import sync_permissions

        upgrade()
        sync_permissions()


def _seeded_template() -> Path | None:
    """SUPPORT_TEST_DB_TEMPLATE: a SQLite file already migrated and seeded by
    migrate_and_seed (scripts/mutation.py makes one per run): each mutant's test process
    copies it instead of migrating and seeding again, seconds each."""
    template = os.environ.get("SUPPORT_TEST_DB_TEMPLATE")
    if not template or not os.environ.get("TEST_DATABASE_URL", "sqlite://").startswith("sqlite"):
        return None
    return Path(template)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    base = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    url, drop = create_database(base, tmp_path_factory.mktemp("db"))
    template = _seeded_template()
    if template is not None:
        # The backup API, not a file copy: it reads what the template's WAL still holds.
        source, copy = sqlite3.connect(template), sqlite3.connect(make_url(url).database)
        source.backup(copy)
        source.close()
        copy.close()
    yield url
    drop()


def _fresh_request_globals(sender, **extra) -> None:
    """Each real request gets its own app context and `g`; in tests the requests share
    the test's app context, so start each one with an empty `g` as production does
    (else one request's cached actor or Babel locale answers for the next)."""
    g._get_current_object().__dict__.clear()


@pytest.fixture(scope="session")
def app(database_url):
    config = TestConfig(database_url)
    if config.REDIS_URL:  # limiter.reset() between tests must not clear other workers' counts
        config.RATELIMIT_STORAGE_OPTIONS = {"key_prefix": f"LIMITS_{_worker()}_{uuid.uuid4().hex[:8]}"}
    app = create_app(config)
    request_started.connect(_fresh_request_globals, app)
    if _seeded_template() is None:
        migrate_and_seed(app)
    yield app
    from support_app.realtime.dispatch import dispatcher

    dispatcher.wait_idle()  # the last test's socket pushes still read the database
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def secret_guard(app):
    """Every log record of the session is scanned for tokens, passwords and keys."""
    import logging

    guard = SecretGuard([app.config["SECRET_KEY"], app.config["MAILGUN_SIGNING_KEY"]])
    # The app's logger too: an in-process `support init` (Alembic's fileConfig) replaces
    # the root's handlers.
    loggers = [logging.getLogger(), logging.getLogger("support_app")]
    for logger in loggers:
        logger.addHandler(guard)
    yield guard
    for logger in loggers:
        logger.removeHandler(guard)
    assert not guard.leaks, f"secrets in {len(guard.leaks)} log record(s): {guard.leaks[:3]}"


def _truncate(names: str) -> None:
    """TRUNCATE waits for every lock on the tables. A connection the previous test left
    inside a transaction (seen twice in a PostgreSQL run, at the browser sweep, source
    not yet found) would hold it past the statement timeout: after 5 s the connections
    in a transaction for seconds are named in a warning and ended, and it runs again."""
    for attempt in (1, 2):
        try:
            with db.engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            return
        except OperationalError:
            if attempt == 2:
                raise
        with db.engine.begin() as conn:
            stuck = conn.execute(text(
                "SELECT pid, state, now() - xact_start, left(query, 200) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND xact_start < now() - interval '4 seconds'")).all()
            warnings.warn(f"ended connections in a transaction for seconds before TRUNCATE: {stuck}")
            for pid, *_ in stuck:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


@pytest.fixture(autouse=True)
def _clean_database(app):
    """Every test starts from the seeded roles and nothing else (emptied before, not
    after, the test: by then every context of the previous test has closed)."""
    from support_app.realtime.dispatch import dispatcher

    dispatcher.wait_idle()  # the previous test's socket pushes still read the database
    with app.app_context():
        db.session.remove()
        tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP_TABLES]
        if db.engine.dialect.name == "postgresql":
            _truncate(", ".join(f'"{t.name}"' for t in tables))
        else:
            with db.engine.begin() as conn:
                for table in tables:
                    conn.execute(table.delete())
    from support_app.extensions import limiter
    from support_app.tickets import rule_cache

    rule_cache.clear_all()  # the rules' rows just went
    with app.app_context():
        limiter.reset()
    yield


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def factory(app_ctx) -> Factory:
    return Factory(app_ctx)


@pytest.fixture
def recorded_events():
    """Domain events delivered after commit, in order."""
    seen: list[events.DomainEvent] = []
    events.publisher.subscribe_after_commit(seen.append)
    yield seen
    events.publisher.unsubscribe(seen.append)


@pytest.fixture(scope="module")
def server(app):
    """The test app served on loopback for real Socket.IO/HTTP clients (one per module)."""
    from .live import LiveServer

    with LiveServer(app) as live:
        yield live


@pytest.fixture
def opened():
    """Listeners a test opens, all closed after it."""
    from .live import listeners

    yield from listeners()


@pytest.fixture
def connect(server, opened):
    """connect(person, **Listener options) -> a connected Listener, authenticated with
    the person's token unless `auth` is given."""
    from .live import Listener

    def _connect(person=None, **kwargs):
        auth = kwargs.pop("auth", None)
        if person is not None and auth is None:
            auth = {"token": person.headers["Authorization"].split(" ", 1)[1]}
        listener = Listener(server.url, auth=auth, **kwargs)
        opened.append(listener)
        return listener.connect()
    return _connect


def require_service(kind: str, env_var: str) -> str:
    """URL of a PostgreSQL/Redis server for a test; skip locally, fail in CI if absent."""
    url = os.environ.get(env_var)
    if not url:
        if os.environ.get("CI") == "true" and os.environ.get("SUPPORT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{env_var} is required in CI for {kind} tests")
        pytest.skip(f"{env_var} not set: {kind} not available")
    return url


@pytest.fixture
def receiver():
    """A webhook receiver on loopback (tests/webhook_receiver.py)."""
    from .webhook_receiver import Receiver

    with Receiver() as r:
        yield r


@pytest.fixture
def settings(app):
    """Change app settings for one test (the app is shared by the session)."""
    saved = dict(app.config)
    yield app.config
    app.config.clear()
    app.config.update(saved)
