"""`python -m bench run|seed|check-generator|reports`: see bench/README.md."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .workloads import ORDER


def _ints(value: str) -> tuple[int, ...]:
    return tuple(int(v) for v in value.split(",") if v.strip())


def _names(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--tickets", type=int, default=10_000)
    p.add_argument("--duration", type=float, default=15.0, help="seconds measured per workload")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (REST)")
    p.add_argument("--threads", type=int, default=8, help="gthread threads per worker (REST)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/support-bench"))
    p.add_argument("--reuse-seed", action="store_true",
                   help="keep the seeded template database and reuse it next time")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="cmd", required=True)

    run_p = sub.add_parser("run", help="seed, serve, load, report")
    _common(run_p)
    run_p.add_argument("--targets", type=_names, default=("app", "baseline"),
                       help="app, baseline and/or durable (the baseline that also writes "
                            "the app's notification, email, counter and SLA rows)")
    run_p.add_argument("--rounds", type=int, default=3,
                       help="rounds on fresh copies; figures are medians over them")
    run_p.add_argument("--workloads", type=_names, default=ORDER)
    run_p.add_argument("--realtime-clients", type=_ints, default=(1, 500),
                       help="comma list; empty string skips the realtime workload")
    run_p.add_argument("--realtime-events", type=int, default=30)
    run_p.add_argument("--event", default="support:ticket:created")
    run_p.add_argument("--realtime-client", choices=("raw", "socketio"), default="raw",
                       help="raw: lean protocol-level clients; socketio: python-socketio.Client")
    run_p.add_argument("--realtime-server", choices=("gevent", "gthread"), default="gevent",
                       help="gunicorn worker class of the realtime server (README: Realtime)")
    run_p.add_argument("--app-dir", type=Path, default=None,
                       help="checkout whose wsgi.py serves the app (default: this one)")
    run_p.add_argument("--results-dir", type=Path, default=None,
                       help="where the .md/.json/.png go (default: bench/results, the "
                            "committed figures; give another for A/B and trial runs)")

    seed_p = sub.add_parser("seed", help="migrate and bulk-seed one database")
    seed_p.add_argument("--url", required=True)
    seed_p.add_argument("--tickets", type=int, default=10_000)
    seed_p.add_argument("--info", type=Path, required=True, help="where to write the seed manifest")
    seed_p.add_argument("--workdir", type=Path, default=Path("/tmp/support-bench"))

    check_p = sub.add_parser("check-generator", help="Python generator vs wrk on one GET workload")
    _common(check_p)

    reports_p = sub.add_parser("reports", help="time the Reports screen and the SLA filter")
    reports_p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    reports_p.add_argument("--tickets", type=int, default=10_000)
    reports_p.add_argument("--days", type=int, default=30,
                           help="the range, ending on the newest ticket's day")
    reports_p.add_argument("--repeat", type=int, default=5, help="runs per grouping")
    reports_p.add_argument("--workdir", type=Path, default=Path("/tmp/support-bench"))
    reports_p.add_argument("--reuse-seed", action="store_true",
                           help="keep the seeded template database and reuse it next time")

    args = parser.parse_args(argv)
    if args.cmd == "seed":
        _seed(args)
        return
    if args.cmd == "reports":
        if not 1 <= args.days <= 366:
            parser.error("--days is 1 to 366 (the screen's longest range)")
        from .report_timing import time_reports
        from .runner import Options

        time_reports(Options(db=args.db, tickets=args.tickets, workdir=args.workdir,
                             reuse_seed=args.reuse_seed), args.days, args.repeat)
        return
    from . import runner

    opts = runner.Options(
        db=args.db, tickets=args.tickets, duration=args.duration, warmup=args.warmup,
        concurrency=args.concurrency, workers=args.workers, threads=args.threads,
        workdir=args.workdir, reuse_seed=args.reuse_seed,
    )
    if args.cmd == "check-generator":
        runner.check_generator(opts)
        return
    opts.targets = args.targets
    opts.rounds = max(1, args.rounds)
    opts.workloads = args.workloads
    opts.realtime_clients = args.realtime_clients
    opts.realtime_events = args.realtime_events
    opts.event = args.event
    opts.realtime_client = args.realtime_client
    opts.realtime_server = args.realtime_server
    if args.app_dir:
        opts.app_dir = args.app_dir.resolve()
    if args.results_dir:
        opts.results_dir = args.results_dir
    opts.command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    runner.run(opts)


def _seed(args: argparse.Namespace) -> None:
    # The app reads its configuration from the environment at import time.
    os.environ["DATABASE_URL"] = args.url
    os.environ.setdefault("SUPPORT_INSTANCE_PATH", str(args.workdir / "instance"))
    # Empty database: permissions are synced after the migration, not at app start.
    os.environ["FAB_UPDATE_PERMS"] = "0"
    # Bulk COPY of 20,000 rows and ANALYZE of a million are not requests: on a busy
    # machine they outlast the app's per-statement limit (0 = none on PostgreSQL).
    os.environ["DB_STATEMENT_TIMEOUT_MS"] = "0"
    from support_app import create_app

    from .seed import prepare_schema, seed

    app = create_app()
    prepare_schema(app)
    info = seed(app, args.tickets, progress=lambda m: print(f"[seed] {m}", flush=True))
    args.info.write_text(info.to_json())


if __name__ == "__main__":
    main()
