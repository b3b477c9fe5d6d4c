"""The ticker that runs the SLA checks (`tickets/sla_checks.check_due`) every
`SLA_CHECK_SECONDS`, on APScheduler 3:

* `SLA_SCHEDULER=embedded` (default): a BackgroundScheduler thread in each server
  process, started with its first request (CLI commands and forks get none);
* `SLA_SCHEDULER=off`: none here; run `flask --app wsgi support worker` (a
  BlockingScheduler) beside the web processes instead.

Both may run at once and in any number: a transition is written by one conditional
UPDATE (`sla_checks`), so it fires once whoever ticks. A tick that overlaps the last
one is skipped (`max_instances=1`), missed ticks are run once (`coalesce`).
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import with_appcontext

from .extensions import db

log = logging.getLogger(__name__)

EMBEDDED, OFF = "embedded", "off"
EXTENSION = "support_sla_scheduler"


def tick(app: Flask) -> int:
    """One pass of the SLA checks in a fresh app context; returns transitions fired."""
    from .tickets import sla_checks

    with app.app_context():
        try:
            fired = sla_checks.check_due()
        except Exception:  # a database hiccup: the next tick tries again
            log.exception("SLA check pass failed")
            return 0
        finally:
            db.session.remove()
    # At LOG_LEVEL=DEBUG every pass leaves a line: how an operator (or a test) sees
    # that a process's checks run at all.
    log.debug("SLA check pass done: %d transition(s) fired", fired)
    return fired


def add_jobs(scheduler: BaseScheduler, app: Flask) -> None:
    scheduler.add_job(tick, "interval", args=[app], id="sla-checks",
                      seconds=float(app.config.get("SLA_CHECK_SECONDS") or 30),
                      max_instances=1, coalesce=True, replace_existing=True)


class EmbeddedScheduler:
    """This process's BackgroundScheduler, started lazily."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None

    @property
    def enabled(self) -> bool:
        return str(self.app.config.get("SLA_SCHEDULER") or OFF).lower() == EMBEDDED

    def ensure_started(self) -> None:
        if not self.enabled or self.running():
            return
        with self._lock:
            if self.running():
                return
            scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
            add_jobs(scheduler, self.app)
            scheduler.start()
            self._scheduler = scheduler

    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    def stop(self) -> None:
        with self._lock:
            if self._scheduler is not None and self._scheduler.running:
                self._scheduler.shutdown(wait=True)
            self._scheduler = None


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one pass of the SLA checks and exit.")
@with_appcontext
def worker_command(once: bool) -> None:
    """Run the SLA checks every SLA_CHECK_SECONDS in this process (beside the web
    processes; any number may run)."""
    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        click.echo(f"{tick(app)} SLA transition(s) fired")
        return
    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(scheduler, app)
    click.echo(f"SLA worker: checking every {app.config.get('SLA_CHECK_SECONDS')} s (Ctrl-C stops)")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass


def register_scheduler(app: Flask) -> None:
    from .cli import support_cli

    embedded = EmbeddedScheduler(app)
    app.extensions[EXTENSION] = embedded
    app.before_request(embedded.ensure_started)
    support_cli.add_command(worker_command)
