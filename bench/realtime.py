"""Realtime latency: N python-socketio clients connected as staff, then a customer
creates tickets over REST; for each ticket, the time from sending the REST call to the
event reaching each client. The event name is a parameter (issue 9 defines them).

Runs in its own process (`python -m bench.realtime`, JSON spec on stdin), loopback only."""
from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from .load import LOOPBACK, percentile

MAX_CLIENTS = 1000
MAX_EVENTS = 500


@dataclass
class RealtimeResult:
    clients: int
    connected: int
    event: str
    events_sent: int
    deliveries: int
    expected_deliveries: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    connect_seconds: float
    note: str | None = None


def _mentions(payload: Any, number: str | None, ticket_id: int | None) -> bool:
    """Does this event payload refer to the ticket (by number, or an `id`/`ticket_id`)?"""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in ("id", "ticket_id") and ticket_id is not None and value == ticket_id:
                return True
            if _mentions(value, number, ticket_id):
                return True
        return False
    if isinstance(payload, (list, tuple)):
        return any(_mentions(v, number, ticket_id) for v in payload)
    return number is not None and payload == number


def run_realtime(host: str, port: int, *, staff_token: str, customer_token: str, clients: int,
                 events: int, event: str, timeout: float = 2.0, pause: float = 0.05) -> RealtimeResult:
    import socketio

    if host not in LOOPBACK:
        raise ValueError(f"refusing to connect to {host}: the benchmark only targets loopback")
    clients, events = min(clients, MAX_CLIENTS), min(events, MAX_EVENTS)
    lock = threading.Condition()
    arrivals: list[tuple[int, Any, float]] = []  # (client index, payload, monotonic time)
    sockets: list[Any] = []
    url = f"http://{host}:{port}"
    began = time.monotonic()
    for index in range(clients):
        sio = socketio.Client(reconnection=False)

        def handler(*payload: Any, _index: int = index) -> None:
            at = time.monotonic()
            with lock:
                arrivals.append((_index, payload, at))
                lock.notify_all()

        sio.on(event, handler)
        try:
            sio.connect(url, transports=["websocket"], auth={"token": staff_token},
                        headers={"Authorization": f"Bearer {staff_token}"}, wait_timeout=10)
        except Exception:  # noqa: BLE001 - a refused socket is a result, not a crash
            continue
        sockets.append(sio)
    connect_seconds = round(time.monotonic() - began, 2)
    latencies: list[float] = []
    sent = 0
    note = None
    conn = http.client.HTTPConnection(host, port, timeout=30)
    body = json.dumps({"subject": "Realtime probe",
                       "description": "Checking how fast the desk hears about this ticket.",
                       "priority": "high", "category": "order"}).encode()
    try:
        for n in range(events if sockets else 0):
            with lock:
                arrivals.clear()
            sent_at = time.monotonic()
            conn.request("POST", "/api/support-tickets", body=body, headers={
                "Authorization": f"Bearer {customer_token}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
            sent += 1
            if resp.status != 201:
                note = f"create answered {resp.status}: {raw[:200]!r}"
                break
            data = json.loads(raw).get("data", {})
            number, ticket_id = data.get("ticket_number"), data.get("id")
            seen: dict[int, float] = {}
            scanned = 0
            deadline = sent_at + timeout
            with lock:
                while len(seen) < len(sockets) and time.monotonic() < deadline:
                    for index, payload, at in arrivals[scanned:]:
                        if index not in seen and _mentions(payload, number, ticket_id):
                            seen[index] = at
                    scanned = len(arrivals)
                    if len(seen) < len(sockets):
                        lock.wait(max(0.0, deadline - time.monotonic()))
            latencies.extend(at - sent_at for at in seen.values())
            if n == 2 and not latencies:
                note = f"no {event!r} event reached any client after 3 tickets"
                break
            time.sleep(pause)
    finally:
        conn.close()
        for sio in sockets:
            sio.disconnect()
    values = sorted(latencies)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return RealtimeResult(
        clients=clients, connected=len(sockets), event=event, events_sent=sent,
        deliveries=len(values), expected_deliveries=sent * len(sockets),
        p50_ms=ms(percentile(values, 0.5)), p99_ms=ms(percentile(values, 0.99)),
        max_ms=ms(values[-1] if values else None), connect_seconds=connect_seconds, note=note,
    )


def main() -> None:
    spec = json.load(sys.stdin)
    result = run_realtime(spec["host"], spec["port"], staff_token=spec["staff_token"],
                          customer_token=spec["customer_token"], clients=spec["clients"],
                          events=spec["events"], event=spec["event"])
    json.dump(asdict(result), sys.stdout)


if __name__ == "__main__":
    main()
