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


def markdown(run: dict) -> str:
    meta = run["meta"]
    lines = [
        f"# {meta['db']}, {meta['tickets']:,} tickets",
        "",
        f"{meta['when']} · {meta['machine']} · gunicorn gthread {meta['workers']} workers × "
        f"{meta['threads']} threads · concurrency {meta['concurrency']} · "
        f"{meta['duration']} s per workload (+{meta['warmup']} s warm-up) · seeded in "
        f"{meta['seed_seconds']} s",
        "",
        f"Command: `{meta['command']}`",
        "",
        "| workload | app req/s | app p50 ms | app p99 ms | baseline req/s | baseline p50 ms "
        "| baseline p99 ms | app/baseline | server CPU app / baseline | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key in run["workloads"]:
        app = run["results"].get("app", {}).get(key)
        base = run["results"].get("baseline", {}).get(key)
        ratio = "–"
        if app and base and not app.get("missing") and not base.get("missing") and base["rps"]:
            ratio = f"{app['rps'] / base['rps']:.2f}×"
        notes = []
        for name, result in (("app", app), ("baseline", base)):
            if result and not result.get("missing"):
                if result["unexpected"] or result["errors"]:
                    notes.append(f"{name}: {result['unexpected']} unexpected, "
                                 f"{result['errors']} errors ({result['sample_error']})")
                if result["generator_cpu"] > 0.8:
                    notes.append(f"{name}: generator at {result['generator_cpu']} CPU")
        cpu = " / ".join(_fmt((r or {}).get("server_cpu")) for r in (app, base))
        lines.append(f"| {key} {WORKLOADS[key].title} | {' | '.join(_cell(app))} | "
                     f"{' | '.join(_cell(base))} | {ratio} | {cpu} | {'; '.join(notes)} |")
    realtime = run.get("realtime") or []
    if realtime:
        lines += ["", "Realtime (REST create → Socket.IO event at each client, app only):", "",
                  "| clients | server | client | client CPU | connected | event | deliveries "
                  "| p50 ms | p99 ms | max ms | note |",
                  "|---:|---|---|---:|---:|---|---:|---:|---:|---:|---|"]
        for r in realtime:
            lines.append(f"| {r['clients']} | {r['server']} | {r['client']} | "
                         f"{r['client_cpu']} | {r['connected']} | `{r['event']}` | "
                         f"{r['deliveries']}/{r['expected_deliveries']} | {_fmt(r['p50_ms'])} | "
                         f"{_fmt(r['p99_ms'])} | {_fmt(r['max_ms'])} | {r['note'] or ''} |")
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
    targets = [t for t in ("app", "baseline") if t in run["results"]]
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
