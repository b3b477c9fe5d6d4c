"""One benchmark run: seed a template database, then in each of several rounds start
gunicorn for every target (support_app, the baseline) on a fresh copy, and probe and
load every workload from a separate process, the targets one right after the other;
then the realtime workload; then report medians over the rounds."""
from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import secrets
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import infra, report
from .load import percentile
from .seed import SEED_VERSION, SeedInfo
from .infra import BASELINES
from .workloads import ORDER, WORKLOADS, Context, acting_users


@dataclass
class Options:
    db: str = "sqlite"
    tickets: int = 10_000
    duration: float = 15.0
    warmup: float = 2.0
    concurrency: int = 16
    workers: int = 2
    threads: int = 8
    targets: tuple[str, ...] = ("app", "baseline")
    workloads: tuple[str, ...] = ORDER
    realtime_clients: tuple[int, ...] = (1, 500)
    realtime_events: int = 30
    event: str = "support:ticket:created"
    realtime_client: str = "raw"
    realtime_server: str = "gevent"
    workdir: Path = Path("/tmp/support-bench")
    app_dir: Path = infra.REPO
    results_dir: Path = report.RESULTS
    reuse_seed: bool = False
    rounds: int = 3
    max_requests: int = 500_000
    command: str = ""
    log: list[str] = field(default_factory=list)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _python_json(module: str, spec: dict, cwd: Path, timeout: float) -> dict:
    """Run a bench module in its own process (JSON in, JSON out)."""
    proc = subprocess.run(
        [sys.executable, "-m", module], input=json.dumps(spec), capture_output=True,
        text=True, cwd=cwd, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(infra.REPO)},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def seed_template(opts: Options, secret: str) -> tuple[str, SeedInfo]:
    name = f"bench_{opts.db}_{opts.tickets}"
    url = infra.database_url(opts.db, name, opts.workdir)
    info_path = opts.workdir / f"{name}.seed.json"
    if opts.reuse_seed and info_path.exists() and infra.database_exists(url):
        info = SeedInfo.from_json(info_path.read_text())
        if info.version == SEED_VERSION:
            say(f"reusing seeded {url}")
            return url, info
        say(f"the kept seed is version {info.version}, not {SEED_VERSION}: seeding again")
    infra.create_empty(url)
    say(f"seeding {opts.tickets:,} tickets into {url}")
    log = opts.workdir / f"{name}.seed.log"
    with log.open("wb") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "seed", "--url", url, "--tickets", str(opts.tickets),
             "--info", str(info_path), "--workdir", str(opts.workdir)],
            cwd=infra.REPO, env={**os.environ, "SECRET_KEY": secret},
            stdout=out, stderr=subprocess.STDOUT,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"seeding failed; see {log}")
    info = SeedInfo.from_json(info_path.read_text())
    say(f"seeded in {info.seconds} s: {info.customers:,} customers, {info.messages:,} messages")
    return url, info


def probe(port: int, key: str, ctx: Context) -> str | None:
    """One request first: a workload the server does not serve yet is reported, not loaded."""
    req = WORKLOADS[key].build(ctx, 0, 10_000_000)
    headers = {"Authorization": f"Bearer {req.token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(req.method, req.path, body=req.body, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status == WORKLOADS[key].expect:
        return None
    if resp.status in (404, 405):
        return f"{resp.status}: not served yet"
    return f"answered {resp.status}: {body[:160].decode(errors='replace')}"


@contextlib.contextmanager
def cpu_use(server: infra.Server) -> Iterator[dict[str, float]]:
    """Cores in use over the block (CPU-seconds per second), filled in as it ends: the
    server's processes (`server_cpu`), the whole machine (`machine_cpu`) and what the
    hypervisor stole (`stolen_cpu`). The server must still be running at the end."""
    use: dict[str, float] = {}
    cpu, (busy, stolen), began = server.cpu_seconds(), infra.machine_cpu_seconds(), time.monotonic()
    yield use
    wall = time.monotonic() - began
    busy_now, stolen_now = infra.machine_cpu_seconds()
    use.update(server_cpu=round((server.cpu_seconds() - cpu) / wall, 2),
               machine_cpu=round((busy_now - busy) / wall, 2),
               stolen_cpu=round((stolen_now - stolen) / wall, 2))


def measure(opts: Options, server: infra.Server, key: str, ctx: Context) -> dict:
    """Probe, then load one workload on one running server from a separate process."""
    missing = probe(server.port, key, ctx)
    if missing:
        say(f"{server.spec.target} {key}: {missing}")
        return {"missing": missing}
    with cpu_use(server) as use:
        result = _python_json("bench.load", {
            "host": "127.0.0.1", "port": server.port, "workload": key,
            "concurrency": opts.concurrency, "duration": opts.duration,
            "warmup": opts.warmup, "max_requests": opts.max_requests,
            "info": ctx.info.to_json(), "tokens": ctx.tokens,
        }, infra.REPO, timeout=opts.duration + opts.warmup + 120)
    others = use["machine_cpu"] - use["server_cpu"] - result["generator_cpu"]
    result.update(server_cpu=use["server_cpu"], other_cpu=round(max(0.0, others), 2),
                  stolen_cpu=use["stolen_cpu"])
    say(f"{server.spec.target} {key}: {result['rps']} req/s p50 {result['p50_ms']} ms "
        f"p99 {result['p99_ms']} ms ({result['unexpected']} unexpected, server CPU "
        f"{result['server_cpu']}, generator CPU {result['generator_cpu']}, other CPU "
        f"{result['other_cpu']}, stolen {result['stolen_cpu']})")
    return result


def run_round(opts: Options, n: int, template: str, ctx: Context, secret: str) -> dict:
    """One round: every target on its own fresh copy of the template, all servers up at
    once, and each workload measured on one target right after the other (the order
    flips every round), so a ratio compares two loads a few seconds apart."""
    results: dict[str, dict] = {target: {} for target in opts.targets}
    with contextlib.ExitStack() as stack:
        servers: dict[str, infra.Server] = {}
        for target in opts.targets:
            url = infra.clone_database(template, f"bench_{opts.db}_{opts.tickets}_{target}")
            stack.callback(infra.drop_database, url)
            spec = infra.ServerSpec(target, opts.workers, opts.threads, opts.app_dir)
            servers[target] = stack.enter_context(infra.Server(spec, url, secret, opts.workdir))
            say(f"round {n + 1}, {target}: {' '.join(spec.command(servers[target].port)[1:])}")
        order = list(opts.targets) if n % 2 == 0 else list(reversed(opts.targets))
        for key in opts.workloads:
            for target in order:
                if target in BASELINES and not WORKLOADS[key].baseline:
                    results[target][key] = {"missing": "app only"}
                    continue
                results[target][key] = measure(opts, servers[target], key, ctx)
    return results


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 2) if known else None


def summarise(rounds: list[dict], targets: tuple[str, ...], workloads: tuple[str, ...],
              ) -> tuple[dict, dict]:
    """Each target's per-workload figures as the median over rounds (requests and
    errors summed, the busiest generator kept), and each app/baseline ratio as the
    median of the rounds' ratios, with every round's ratio beside it."""
    results: dict[str, dict] = {target: {} for target in targets}
    for target in targets:
        for key in workloads:
            runs = [r[target][key] for r in rounds]
            missing = next((run for run in runs if run.get("missing")), None)
            if missing:
                results[target][key] = missing
                continue
            results[target][key] = {
                "workload": key, "rounds": len(runs),
                **{name: _median([run[name] for run in runs])
                   for name in ("rps", "p50_ms", "p90_ms", "p99_ms", "server_cpu", "other_cpu",
                                "stolen_cpu")},
                "max_ms": max(run["max_ms"] for run in runs),
                "requests": sum(run["requests"] for run in runs),
                "unexpected": sum(run["unexpected"] for run in runs),
                "errors": sum(run["errors"] for run in runs),
                "generator_cpu": max(run["generator_cpu"] for run in runs),
                "sample_error": next((run["sample_error"] for run in runs if run["sample_error"]),
                                     None),
            }
    return results, ratios_to(rounds, targets, workloads, "baseline")


def ratios_to(rounds: list[dict], targets: tuple[str, ...], workloads: tuple[str, ...],
              base: str) -> dict:
    """Each workload's app/`base` throughput ratio: the median of the rounds' ratios,
    with every round's beside it."""
    ratios: dict[str, dict] = {}
    if {"app", base} <= set(targets):
        for key in workloads:
            pairs = [(r["app"][key], r[base][key]) for r in rounds]
            if all(not a.get("missing") and not b.get("missing") and b["rps"] for a, b in pairs):
                each = [round(a["rps"] / b["rps"], 2) for a, b in pairs]
                ratios[key] = {"median": _median(each), "rounds": each}
    return ratios


def run_realtime_round(opts: Options, template: str, ctx: Context, secret: str) -> list[dict]:
    """One worker process (no sticky sessions needed), as README's realtime deployment:
    gevent (a greenlet per websocket) by default, or gthread (a thread per websocket);
    either way room for every client plus headroom for the REST calls."""
    url = infra.clone_database(template, f"bench_{opts.db}_{opts.tickets}_realtime")
    out = []
    try:
        for clients in opts.realtime_clients:
            spec = infra.ServerSpec("app", 1, clients + 32, opts.app_dir,
                                    worker_class=opts.realtime_server)
            with infra.Server(spec, url, secret, opts.workdir) as server:
                say(f"realtime, {clients} clients: {' '.join(spec.command(server.port)[1:])}")
                with cpu_use(server) as use:
                    result = _python_json("bench.realtime", {
                        "host": "127.0.0.1", "port": server.port, "clients": clients,
                        "events": opts.realtime_events, "event": opts.event,
                        "client": opts.realtime_client,
                        "staff_token": ctx.admin_token(),
                        "customer_token": ctx.tokens[ctx.info.account_user_ids[0]],
                    }, infra.REPO, timeout=600)
                result.update(use)
            result["server"] = spec.worker_class
            say(f"realtime {clients}: {result['deliveries']}/{result['expected_deliveries']} "
                f"p50 {result['p50_ms']} ms p99 {result['p99_ms']} ms (client CPU "
                f"{result['client_cpu']}, server CPU {result['server_cpu']}, machine CPU "
                f"{result['machine_cpu']}, stolen {result['stolen_cpu']}) {result['note'] or ''}")
            out.append(result)
    finally:
        infra.drop_database(url)
    return out


def pool_realtime(rounds: list[list[dict]]) -> list[dict]:
    """Per client count: the percentiles of every delivery of every round together
    (the p99 of all events, not a median of p99s), each round's p99 beside them."""
    pooled = []
    for runs in zip(*rounds):
        latencies = sorted(v for run in runs for v in run.pop("latencies_ms"))
        first = runs[0]
        pooled.append({
            **{k: first[k] for k in ("clients", "event", "client", "server")},
            "rounds": len(runs),
            "connected": min(run["connected"] for run in runs),
            "deliveries": sum(run["deliveries"] for run in runs),
            "expected_deliveries": sum(run["expected_deliveries"] for run in runs),
            **{name: None if value is None else round(value, 1) for name, value in (
                ("p50_ms", percentile(latencies, 0.5)), ("p99_ms", percentile(latencies, 0.99)),
                ("max_ms", latencies[-1] if latencies else None))},
            "round_p99_ms": [run["p99_ms"] for run in runs],
            "client_cpu": max(run["client_cpu"] for run in runs),
            **{name: max(run[name] for run in runs)
               for name in ("server_cpu", "machine_cpu", "stolen_cpu")},
            "slowest_tickets_ms": sorted((e[2] for run in runs for e in run["per_event_ms"]),
                                         reverse=True)[:5],
            "note": "; ".join(run["note"] for run in runs if run["note"]) or None,
        })
    return pooled


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"load average at start {load[0]:.2f}")


def run(opts: Options) -> dict:
    opts.workdir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    meta = {
        "db": opts.db, "tickets": opts.tickets, "duration": opts.duration,
        "warmup": opts.warmup, "concurrency": opts.concurrency, "workers": opts.workers,
        "threads": opts.threads, "rounds": opts.rounds, "machine": machine(),
        "when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": opts.command or shlex.join(sys.argv),
    }
    template, info = seed_template(opts, secret)
    meta["seed_seconds"] = info.seconds
    ctx = Context(info, {uid: infra.access_token(secret, uid) for uid in acting_users(info)})
    run_data: dict = {"meta": meta, "workloads": list(opts.workloads), "results": {},
                      "ratios": {}, "rounds": [], "realtime": []}
    try:
        for n in range(opts.rounds):
            run_data["rounds"].append(run_round(opts, n, template, ctx, secret))
        run_data["results"], run_data["ratios"] = summarise(
            run_data["rounds"], opts.targets, opts.workloads)
        run_data["durable_ratios"] = ratios_to(run_data["rounds"], opts.targets,
                                               opts.workloads, "durable")
        if "app" in opts.targets and opts.realtime_clients:
            run_data["realtime"] = pool_realtime(
                [run_realtime_round(opts, template, ctx, secret) for _ in range(opts.rounds)])
    finally:
        if not opts.reuse_seed:
            infra.drop_database(template)
    paths = report.write(run_data, opts.results_dir)
    print(paths["md"].read_text())
    say(f"wrote {', '.join(str(p) for p in paths.values())}")
    return run_data


def check_generator(opts: Options, workload: str = "W4") -> dict:
    """Same GET workload (W4, the cheapest), same server, same concurrency: the Python
    generator and wrk (which requests one fixed id).
    Near-equal throughput means the Python generator is not what limits a run."""
    import re
    import shutil

    opts.workdir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    template, info = seed_template(opts, secret)
    ctx = Context(info, {info.admin_user_id: infra.access_token(secret, info.admin_user_id)})
    req = WORKLOADS[workload].build(ctx, 0, 0)
    if req.method != "GET":
        raise ValueError("check-generator compares GET workloads only")
    url = infra.clone_database(template, f"bench_{opts.db}_{opts.tickets}_gencheck")
    out: dict = {"workload": workload}
    try:
        spec = infra.ServerSpec("baseline", opts.workers, opts.threads)
        with infra.Server(spec, url, secret, opts.workdir) as server:
            out["python"] = _python_json("bench.load", {
                "host": "127.0.0.1", "port": server.port, "workload": workload,
                "concurrency": opts.concurrency, "duration": opts.duration,
                "warmup": opts.warmup, "max_requests": opts.max_requests,
                "info": info.to_json(), "tokens": ctx.tokens,
            }, infra.REPO, timeout=opts.duration + opts.warmup + 120)
            wrk = shutil.which("wrk")
            if wrk:
                proc = subprocess.run(
                    [wrk, "-t2", f"-c{opts.concurrency}", f"-d{int(opts.duration)}s", "--latency",
                     "-H", f"Authorization: Bearer {req.token}",
                     f"http://127.0.0.1:{server.port}{req.path}"],
                    capture_output=True, text=True, timeout=opts.duration + 60, check=True)
                match = re.search(r"Requests/sec:\s+([\d.]+)", proc.stdout)
                out["wrk_rps"] = float(match.group(1)) if match else None
                out["wrk_output"] = proc.stdout
            else:
                out["wrk_rps"] = None
                out["wrk_output"] = "wrk not installed (apt-get install wrk)"
    finally:
        infra.drop_database(url)
        if not opts.reuse_seed:
            infra.drop_database(template)
    say(f"python generator: {out['python']['rps']} req/s (generator CPU "
        f"{out['python']['generator_cpu']}); wrk: {out['wrk_rps']} req/s")
    return out
