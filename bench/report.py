"""Results as a markdown table and a PNG chart under bench/results/."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .workloads import WORKLOADS

RESULTS = Path(__file__).resolve().parent / "results"


def _fmt(value: Any, suffix: str = "") -> str:
    return "–" if value is None else f"{value}{suffix}"


def _cell(result: dict | None) -> tuple[str, str, str]:
    if result is None:
        return "–", "–", "–"
    if result.get("missing"):
        return f"n/a ({result['missing']})", "–", "–"
    return _fmt(result["rps"]), _fmt(result["p50_ms"]), _fmt(result["p99_ms"])


def _ratio(entry: dict | None) -> str:
    if not entry:
        return "–"
    rounds = entry["rounds"]
    each = f" ({', '.join(f'{r:.2f}' for r in rounds)})" if len(rounds) > 1 else ""
    return f"{entry['median']:.2f}×{each}"


def markdown(run: dict) -> str:
    meta = run["meta"]
    rounds = meta.get("rounds", 1)
    lines = [
        f"# {meta['db']}, {meta['tickets']:,} tickets",
        "",
        f"{meta['when']} · {meta['machine']} · gunicorn gthread {meta['workers']} workers × "
        f"{meta['threads']} threads · concurrency {meta['concurrency']} · "
        f"{meta['duration']} s per workload (+{meta['warmup']} s warm-up) · {rounds} "
        f"round{'s' if rounds != 1 else ''} · seeded in {meta['seed_seconds']} s",
        "",
        f"Command: `{meta['command']}`",
        "",
        "Each round serves every target on a fresh copy of the seeded database and loads "
        "each workload on one target right after the other (the order flips every "
        "round). Figures are medians over the rounds; app/baseline is the median of the "
        "rounds' ratios, each round's in brackets. CPU columns are cores in use "
        "(CPU-seconds per second): the servers', then other processes' (PostgreSQL's "
        "own included) and the hypervisor's steal, the larger of the two targets' runs.",
        "",
    ]
    durable = "durable" in run["results"]
    if durable:
        lines += ["The durable baseline also writes what the app writes with each change "
                  "(notification, queued email, counters, SLA columns): app/durable is the "
                  "framework's share of the gap.", ""]
    lines += [
        "| workload | app req/s | app p50 ms | app p99 ms | baseline req/s | baseline p50 ms "
        "| baseline p99 ms | app/baseline | " + ("durable req/s | app/durable | " if durable else "")
        + "server CPU app / baseline | other / stolen CPU | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if durable else "")
        + "---:|---:|---|",
    ]
    for key in run["workloads"]:
        app = run["results"].get("app", {}).get(key)
        base = run["results"].get("baseline", {}).get(key)
        notes = []
        measured = [r for r in (app, base) if r and not r.get("missing")]
        for name, result in (("app", app), ("baseline", base)):
            if result and not result.get("missing"):
                if result["unexpected"] or result["errors"]:
                    notes.append(f"{name}: {result['unexpected']} unexpected, "
                                 f"{result['errors']} errors ({result['sample_error']})")
                if result["generator_cpu"] > 0.8:
                    notes.append(f"{name}: generator at {result['generator_cpu']} CPU")
        cpu = " / ".join(_fmt((r or {}).get("server_cpu")) for r in (app, base))
        noise = "–" if not measured else (
            f"{max(r.get('other_cpu', 0) for r in measured)} / "
            f"{max(r.get('stolen_cpu', 0) for r in measured)}")
        against_durable = ""
        if durable:
            rps = _cell(run["results"]["durable"].get(key))[0]
            against_durable = f"{rps} | {_ratio(run.get('durable_ratios', {}).get(key))} | "
        lines.append(f"| {key} {WORKLOADS[key].title} | {' | '.join(_cell(app))} | "
                     f"{' | '.join(_cell(base))} | {_ratio(run.get('ratios', {}).get(key))} | "
                     f"{against_durable}{cpu} | {noise} | {'; '.join(notes)} |")
    realtime = run.get("realtime") or []
    if realtime:
        lines += ["", "Realtime (REST create → Socket.IO event at each client, app only; "
                      "percentiles over every delivery of every round, each round's p99 in "
                      "brackets; each round's first tickets are a warm-up, not measured):", "",
                  "| clients | server | client | client CPU | server / machine / stolen CPU "
                  "| connected | event | deliveries | p50 ms | p99 ms | max ms | note |",
                  "|---:|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|"]
        for r in realtime:
            each = r.get("round_p99_ms") or []
            per_round = f" ({', '.join(_fmt(v) for v in each)})" if len(each) > 1 else ""
            machine = " / ".join(_fmt(r.get(k)) for k in ("server_cpu", "machine_cpu",
                                                          "stolen_cpu"))
            lines.append(f"| {r['clients']} | {r['server']} | {r['client']} | "
                         f"{r['client_cpu']} | {machine} | {r['connected']} | `{r['event']}` | "
                         f"{r['deliveries']}/{r['expected_deliveries']} | {_fmt(r['p50_ms'])} | "
                         f"{_fmt(r['p99_ms'])}{per_round} | {_fmt(r['max_ms'])} | "
                         f"{r['note'] or ''} |")
    gen = [r["generator_cpu"] for t in run["results"].values() for r in t.values()
           if not r.get("missing")]
    if gen:
        lines += ["", f"Load generator CPU (CPU-seconds per second, 1.0 = one core): "
                      f"max {max(gen)}, mean {sum(gen) / len(gen):.2f}."]
    return "\n".join(lines) + "\n"


def chart(run: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = run["workloads"]
    targets = [t for t in ("app", "baseline", "durable") if t in run["results"]]
    fig, (ax_rps, ax_p99) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / max(len(targets), 1)
    for n, target in enumerate(targets):
        rows = [run["results"][target].get(k) or {} for k in keys]
        rps = [0 if r.get("missing") else r.get("rps", 0) for r in rows]
        p99 = [0 if r.get("missing") else (r.get("p99_ms") or 0) for r in rows]
        xs = [i + n * width for i in range(len(keys))]
        ax_rps.bar(xs, rps, width, label=target)
        ax_p99.bar(xs, p99, width, label=target)
        for x, row in zip(xs, rows):
            if row.get("missing"):
                for ax in (ax_rps, ax_p99):
                    ax.text(x, 0, f"{target}: n/a", rotation=90, ha="center", va="bottom",
                            fontsize=8)
    for ax, title in ((ax_rps, "requests/s (higher is better)"),
                      (ax_p99, "p99 latency ms (lower is better)")):
        ax.set_xticks([i + width * (len(targets) - 1) / 2 for i in range(len(keys))])
        ax.set_xticklabels(keys)
        ax.set_title(title)
        ax.legend()
    meta = run["meta"]
    fig.suptitle(f"support_app vs bare Flask+SQLAlchemy — {meta['db']}, {meta['tickets']:,} tickets")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(run: dict, results_dir: Path = RESULTS) -> dict[str, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{run['meta']['db']}-{run['meta']['tickets']}"
    paths = {"md": results_dir / f"{stem}.md", "json": results_dir / f"{stem}.json",
             "png": results_dir / f"{stem}.png"}
    paths["md"].write_text(markdown(run))
    paths["json"].write_text(json.dumps(run, indent=2) + "\n")
    chart(run, paths["png"])
    return paths
