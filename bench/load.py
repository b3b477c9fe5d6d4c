"""The load generator: its own process, N threads, one keep-alive http.client
connection each (opened anew every `RECONNECT_EVERY` requests), bounded by time and by
request count, loopback only.

Run by the runner as `python -m bench.load` with a JSON spec on stdin; prints one JSON
result. It reports its own CPU use so a run can show the generator was not the limit
(and `python -m bench check-generator` compares it with wrk)."""
from __future__ import annotations

import http.client
import json
import resource
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

from .seed import SeedInfo
from .workloads import WORKLOADS, Context

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_DURATION = 600.0
MAX_REQUESTS = 2_000_000
# A keep-alive connection stays with the gunicorn worker that accepted it: sixteen kept
# for a whole run can split 12/4 and leave one worker half idle (server CPU 1.0 of 2,
# throughput halved, on either target, by chance). Reopening each connection every few
# requests lets the worker that is free accept it, as a server's clients come and go.
RECONNECT_EVERY = 20


@dataclass
class LoadResult:
    workload: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    statuses: dict[str, int] = field(default_factory=dict)
    unexpected: int = 0
    errors: int = 0
    generator_cpu: float = 0.0  # CPU seconds per wall second of the generator process
    sample_error: str | None = None


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_load(host: str, port: int, workload_key: str, ctx: Context, *, concurrency: int = 16,
             duration: float = 15.0, warmup: float = 2.0,
             max_requests: int = MAX_REQUESTS) -> LoadResult:
    """Drive one workload; only requests that start after the warm-up are counted."""
    if host not in LOOPBACK:
        raise ValueError(f"refusing to load {host}: the benchmark only targets loopback")
    duration = min(duration, MAX_DURATION)
    max_requests = min(max_requests, MAX_REQUESTS)
    workload = WORKLOADS[workload_key]
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + duration
    lock = threading.Lock()
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    statuses: dict[str, int] = {}
    unexpected = errors = counted = 0
    sample: list[str] = []

    def worker(index: int) -> None:
        nonlocal unexpected, errors, counted
        conn = http.client.HTTPConnection(host, port, timeout=30)
        n = 0
        mine = latencies[index]
        while True:
            began = time.monotonic()
            if began >= stop_at:
                break
            measured = began >= measure_from
            if measured:
                with lock:
                    if counted >= max_requests:
                        break
                    counted += 1
            req = workload.build(ctx, index, n)
            headers = {"Authorization": f"Bearer {req.token}", "Accept": "application/json"}
            if req.body is not None:
                headers["Content-Type"] = "application/json"
            n += 1
            if n % RECONNECT_EVERY == 0:
                conn.close()  # the next request connects again (http.client does)
            try:
                conn.request(req.method, req.path, body=req.body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                with lock:
                    errors += measured
                    if not sample:
                        sample.append(f"{type(exc).__name__}: {exc}")
                continue
            if not measured:
                continue
            mine.append(time.monotonic() - began)
            with lock:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status != workload.expect:
                    unexpected += 1
                    if not sample:
                        sample.append(f"{status} {req.method} {req.path}: {payload[:300]!r}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.monotonic()))
    cpu_before, wall_before = _cpu(), time.monotonic()
    for thread in threads:
        thread.join(duration + warmup + 60)
    wall = max(time.monotonic() - wall_before, 1e-9)
    cpu = _cpu() - cpu_before
    values = sorted(v for per_thread in latencies for v in per_thread)
    seconds = min(wall, duration) if values else wall

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return LoadResult(
        workload=workload_key, requests=len(values), seconds=round(seconds, 2),
        rps=round(len(values) / seconds, 1) if seconds else 0.0,
        p50_ms=ms(percentile(values, 0.50)), p90_ms=ms(percentile(values, 0.90)),
        p99_ms=ms(percentile(values, 0.99)), max_ms=ms(values[-1] if values else None),
        statuses=statuses, unexpected=unexpected, errors=errors,
        generator_cpu=round(cpu / wall, 2), sample_error=sample[0] if sample else None,
    )


def main() -> None:
    spec = json.load(sys.stdin)
    ctx = Context(SeedInfo.from_json(spec["info"]), {int(k): v for k, v in spec["tokens"].items()})
    result = run_load(spec["host"], spec["port"], spec["workload"], ctx,
                      concurrency=spec["concurrency"], duration=spec["duration"],
                      warmup=spec["warmup"], max_requests=spec["max_requests"])
    json.dump(asdict(result), sys.stdout)


if __name__ == "__main__":
    main()
