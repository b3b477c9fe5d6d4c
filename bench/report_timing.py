"""`python -m bench reports`: how long the Reports screen and its CSV take on a seeded
database, per grouping, and the staff SLA filter beside them.

In-process, against the seeded template itself (reads only): the app is built on that
database as a server would build it, and each figure is what the screen's view does
(`admin/reports.py`: `parse_span`, `reports.build`, `reports.table` with the screen's
or the CSV's formatters, the chart data, `export.lines`), so the SQL timed is the
screen's own. Every statement is timed on the engine too; on PostgreSQL the slowest
one is run again under `EXPLAIN (ANALYZE, BUFFERS)`, with no statement timeout."""
from __future__ import annotations

import datetime as dt
import os
import secrets
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import infra
from .report import RESULTS
from .runner import Options, machine, say, seed_template


@dataclass
class Statement:
    ms: float
    sql: str
    params: Any
    label: str


@dataclass
class Timing:
    label: str
    runs_ms: list[float] = field(default_factory=list)
    rows: int = 0
    error: str | None = None

    def cell(self) -> str:
        if self.error:
            return f"error: {self.error} | –"
        if not self.runs_ms:
            return "– | –"
        return f"{statistics.median(self.runs_ms):.1f} | {max(self.runs_ms):.1f}"


class StatementLog:
    """Every statement the engine runs while `label` is set, with its duration."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.label = ""
        self.statements: list[Statement] = []
        self._started: dict[int, float] = {}

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, sql: str, params: Any, context: Any,
                    executemany: bool) -> None:
            self._started[id(cursor)] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, sql: str, params: Any, context: Any,
                   executemany: bool) -> None:
            began = self._started.pop(id(cursor), None)
            if began is not None and self.label:
                self.statements.append(Statement((time.perf_counter() - began) * 1000, sql,
                                                 params, self.label))

    def slowest(self, prefix: str = "", contains: str = "") -> Statement | None:
        mine = [s for s in self.statements if s.label.startswith(prefix) and contains in s.sql]
        return max(mine, key=lambda s: s.ms, default=None)


def _timed(timing: Timing, log: StatementLog, work: Callable[[], int]) -> None:
    """One run of `work` (which returns how many rows it produced), timed."""
    log.label = timing.label
    began = time.perf_counter()
    try:
        timing.rows = work()
    except Exception as exc:  # a statement timeout at scale is a result, not a crash
        timing.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    else:
        timing.runs_ms.append((time.perf_counter() - began) * 1000)
    finally:
        log.label = ""


def _short(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def _explain(engine: Any, statement: Statement) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a captured statement with its own parameters,
    bound client-side (a utility statement takes no server-side parameters)."""
    import psycopg

    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        cursor = psycopg.ClientCursor(raw)
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.params or None)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        raw.rollback()
    return plan


def _configure(url: str, secret: str, workdir: Path) -> None:
    """The environment a server gets (bench/infra.Server), for an app built here."""
    os.environ.update({
        "DATABASE_URL": url, "SECRET_KEY": secret, "JWT_SECRET_KEY": secret,
        "SUPPORT_INSTANCE_PATH": str(workdir / "instance"), "FAB_UPDATE_PERMS": "0",
        "RATELIMIT_ENABLED": "0",
        # Read-only timing: no background SLA transitions writing meanwhile.
        "SLA_SCHEDULER": "off",
    })
    os.environ.pop("REDIS_URL", None)


def time_reports(opts: Options, days: int, repeat: int) -> Path:
    """Seed (or reuse) the template, time every grouping `repeat` times, write the table."""
    opts.workdir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    template, info = seed_template(opts, secret)
    try:
        _configure(template, secret, opts.workdir)
        from support_app import create_app

        app = create_app()
        text = _measure(app, opts, info.admin_user_id, secret, days, max(1, repeat))
    finally:
        if not opts.reuse_seed:
            infra.drop_database(template)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"reports-{opts.db}-{opts.tickets}.md"
    path.write_text(text)
    print(text)
    say(f"wrote {path}")
    return path


def _measure(app: Any, opts: Options, admin_id: int, secret: str, days: int,
             repeat: int) -> str:
    from sqlalchemy import func, select

    from support_app.admin.dashboard import human_duration
    from support_app.admin.reports import (
        _chart, _csv_heading, _minutes, _percent, _rating, _rounded, _share,
    )
    from support_app.extensions import db
    from support_app.models import Ticket
    from support_app.reports import export
    from support_app.reports import report as reports
    from support_app.reports.periods import GROUPS, desk_zone, parse_span

    with app.app_context():
        log = StatementLog(db.engine)
        newest = db.session.scalar(select(func.max(Ticket.created_at)))
        zone = desk_zone()
        last = newest.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()
        first = last - dt.timedelta(days=days - 1)
        db.session.remove()
    query = {"start": first.isoformat(), "end": last.isoformat()}
    screens = {g: Timing(f"screen {g}") for g in GROUPS}
    csvs = {g: Timing(f"csv {g}") for g in GROUPS}
    token = infra.access_token(secret, admin_id)
    client = app.test_client()
    sla = {state: Timing(f"sla {state or 'at_risk+breached'}") for state in ("at_risk", None)}

    def screen(group: str) -> int:
        span = parse_span({**query, "group": group})
        report = reports.build(span)
        _headings, rows = reports.table(report, duration=human_duration, share=_share,
                                        rating=_rating)
        shown = list(rows)
        if not report.empty:
            _chart(report)
        return len(shown)

    def csv(group: str) -> int:
        span = parse_span({**query, "group": group})
        report = reports.build(span)
        headings, rows = reports.table(report, heading=_csv_heading, duration=_minutes,
                                       share=_percent, rating=_rounded)
        body = "".join(export.lines(headings, rows)).encode("utf-8")
        return body.count(b"\n") - 1

    def sla_list(state: str | None) -> int:
        path = "/api/tickets/sla" + (f"?state={state}" if state else "")
        resp = client.get(path, headers={"Authorization": f"Bearer {token}"})
        if resp.status_code != 200:
            raise RuntimeError(f"{path} answered {resp.status_code}: {resp.get_data()[:160]!r}")
        return len(resp.get_json()["data"])

    for n in range(repeat):
        for group in GROUPS:
            for timing, work in ((screens[group], screen), (csvs[group], csv)):
                if timing.error:
                    continue
                with app.test_request_context("/reports/"):
                    _timed(timing, log, lambda: work(group))
                    db.session.remove()
        for state, timing in sla.items():
            if not timing.error:
                with app.app_context():
                    _timed(timing, log, lambda: sla_list(state))
        say(f"round {n + 1} of {repeat} done")
    with app.app_context():
        return _markdown(opts, first, last, repeat, screens, csvs, sla, log, db.engine)


def _markdown(opts: Options, first: dt.date, last: dt.date, repeat: int,
              screens: dict[str, Timing], csvs: dict[str, Timing], sla: dict[Any, Timing],
              log: StatementLog, engine: Any) -> str:
    def queries(label: str) -> str:
        mine = [s.ms for s in log.statements if s.label == label]
        return f"{len(mine) // max(repeat, 1)} · {max(mine, default=0):.1f}"

    lines = [
        f"# Reports screen, {opts.db}, {opts.tickets:,} tickets",
        "",
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} · {machine()} · range "
        f"{first} to {last} ({(last - first).days + 1} days, ending on the newest ticket's "
        f"day) · {repeat} runs each, in-process",
        "",
        "Screen: what `/reports/` computes (span, figures, table rows, chart data; no "
        "template rendering). CSV: what `/reports/export.csv` computes and writes. Times "
        "are median | max ms over the runs (the first run of each is cold); queries: "
        "statements per run · the slowest one's ms.",
        "",
        "| grouping | rows | screen median | screen max | screen queries | CSV median "
        "| CSV max | CSV queries |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group, timing in screens.items():
        lines.append(f"| {group} | {timing.rows} | {timing.cell()} | {queries(timing.label)} "
                     f"| {csvs[group].cell()} | {queries(csvs[group].label)} |")
    lines += ["", "Staff SLA filter, `GET /api/tickets/sla` as the admin (in-process request "
                  "through the test client: authentication, query, serialisation):", "",
              "| filter | rows | median | max | queries |", "|---|---:|---:|---:|---:|"]
    for state, timing in sla.items():
        shown = f"state={state}" if state else "both states (no state)"
        lines.append(f"| {shown} | {timing.rows} | {timing.cell()} | {queries(timing.label)} |")
    # The CSV runs the screen's queries: its slowest is the screen's. The SLA filter's
    # own query, not the authentication's (the slowest on a cold first request).
    for title, prefix, contains in (("slowest query of the reports", "screen ", ""),
                                    ("SLA filter's query, its slowest run", "sla ",
                                     "sla_state")):
        slowest = log.slowest(prefix, contains)
        if slowest is None:
            continue
        lines += ["", f"## The {title}: {slowest.ms:.1f} ms ({slowest.label})", "",
                  "```sql", slowest.sql.strip(), "```", "", f"Parameters: `{_short(repr(slowest.params))}`"]
        if engine.dialect.name == "postgresql":
            lines += ["", "```", _explain(engine, slowest), "```"]
    return "\n".join(lines) + "\n"
