"""Realtime latency: N Socket.IO clients connected as staff, then a customer creates
tickets over REST; for each ticket, the time from sending the REST call to the event
reaching each client. The event name is a parameter (issue 9 defines them).

Runs in its own process (`python -m bench.realtime`, JSON spec on stdin), loopback only."""
from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .load import LOOPBACK, percentile

MAX_CLIENTS = 1000
MAX_EVENTS = 500


@dataclass
class RealtimeResult:
    clients: int
    connected: int
    event: str
    client: str
    events_sent: int
    deliveries: int
    expected_deliveries: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    connect_seconds: float
    client_cpu: float = 0.0  # CPU seconds per wall second of this process while events flow
    note: str | None = None
    latencies_ms: list[float] = field(default_factory=list)  # every delivery, for pooling
    # per ticket: REST answer, median and slowest delivery (ms): a slow tail is one
    # slow ticket (in the create, or in the fan-out) or every ticket's last clients
    per_event_ms: list[tuple[float, float, float]] = field(default_factory=list)


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


class Listeners:
    """Where the clients record each event's arrival (client index, payload, time)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.arrivals: list[tuple[int, Any, float]] = []

    def record(self, index: int, payload: Any, at: float) -> None:
        with self.cond:
            self.arrivals.append((index, payload, at))
            self.cond.notify_all()


def _connect_socketio(url: str, token: str, event: str, count: int,
                      listeners: Listeners) -> tuple[list[Any], Callable[[], None]]:
    """python-socketio clients: what an app uses, but each decodes every packet in
    Python threads of this process, so at hundreds of clients their own CPU shows up
    in the latency."""
    import socketio

    clients = []
    for index in range(count):
        sio = socketio.Client(reconnection=False)
        sio.on(event, lambda *payload, _i=index: listeners.record(_i, payload, time.monotonic()))
        try:
            sio.connect(url, transports=["websocket"], auth={"token": token},
                        headers={"Authorization": f"Bearer {token}"}, wait_timeout=10)
        except Exception:  # noqa: BLE001 - a refused socket is a result, not a crash
            continue
        clients.append(sio)

    def close() -> None:
        for sio in clients:
            sio.disconnect()

    return clients, close


def _connect_raw(url: str, token: str, event: str, count: int,
                 listeners: Listeners) -> tuple[list[Any], Callable[[], None]]:
    """Socket.IO v5 over Engine.IO v4 websockets, spoken directly: one thread reads all
    sockets and only time-stamps frames of the event, so the clients cost little CPU
    and the latency is the server's. websocket-client's UTF-8 check runs in pure Python
    over every byte of every frame (half of this client's CPU at 500 clients), and
    the server is ours: it is skipped."""
    import selectors

    import websocket

    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    prefix = "42" + json.dumps([event])[:-1] + ","
    selector = selectors.DefaultSelector()
    sockets = []
    for index in range(count):
        try:
            ws = websocket.create_connection(
                ws_url, timeout=10, header=[f"Authorization: Bearer {token}"],
                skip_utf8_validation=True)
            opened = ws.recv()  # Engine.IO open packet: 0{"sid":...}
            ws.send("40" + json.dumps({"token": token}))
            reply = ws.recv()
            while reply == "2":  # a ping may come first
                ws.send("3")
                reply = ws.recv()
        except (OSError, websocket.WebSocketException):
            continue
        if not (opened.startswith("0") and reply.startswith("40")):
            ws.close()
            continue
        ws.sock.setblocking(True)
        selector.register(ws.sock, selectors.EVENT_READ, (index, ws))
        sockets.append(ws)
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            for key, _mask in selector.select(timeout=0.2):
                index, ws = key.data
                try:
                    frame = ws.recv()
                except (OSError, websocket.WebSocketException):
                    selector.unregister(key.fileobj)
                    continue
                at = time.monotonic()
                if frame == "2":
                    ws.send("3")
                elif frame.startswith(prefix):
                    listeners.record(index, json.loads(frame[2:])[1:], at)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(5)
        for ws in sockets:
            ws.close()

    return sockets, close


CLIENTS = {"raw": _connect_raw, "socketio": _connect_socketio}


def run_realtime(host: str, port: int, *, staff_token: str, customer_token: str, clients: int,
                 events: int, event: str, client: str = "raw", timeout: float = 2.0,
                 pause: float = 0.05, warmup_events: int = 3) -> RealtimeResult:
    """`warmup_events` tickets first, not measured (as the REST loads' warm-up): a fresh
    worker's first requests fill its caches, and with 30 tickets one slow ticket is
    3% of the deliveries, enough to set the p99 alone."""
    if host not in LOOPBACK:
        raise ValueError(f"refusing to connect to {host}: the benchmark only targets loopback")
    clients, events = min(clients, MAX_CLIENTS), min(events, MAX_EVENTS)
    listeners = Listeners()
    began = time.monotonic()
    sockets, close = CLIENTS[client](f"http://{host}:{port}", staff_token, event, clients,
                                     listeners)
    connect_seconds = round(time.monotonic() - began, 2)
    latencies: list[float] = []
    per_event: list[tuple[float, float, float]] = []
    sent = 0
    note = None
    conn = http.client.HTTPConnection(host, port, timeout=30)
    body = json.dumps({"subject": "Realtime probe",
                       "description": "Checking how fast the desk hears about this ticket.",
                       "priority": "high", "category": "order"}).encode()
    cpu_began, wall_began = time.process_time(), time.monotonic()
    try:
        for n in range(-warmup_events, events if sockets else 0):
            measured = n >= 0
            with listeners.cond:
                listeners.arrivals.clear()
            sent_at = time.monotonic()
            conn.request("POST", "/api/support-tickets", body=body, headers={
                "Authorization": f"Bearer {customer_token}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
            answered_at = time.monotonic()
            sent += measured
            if resp.status != 201:
                note = f"create answered {resp.status}: {raw[:200]!r}"
                break
            data = json.loads(raw).get("data", {})
            number, ticket_id = data.get("ticket_number"), data.get("id")
            seen: dict[int, float] = {}
            scanned = 0
            deadline = sent_at + timeout
            with listeners.cond:
                while len(seen) < len(sockets) and time.monotonic() < deadline:
                    for index, payload, at in listeners.arrivals[scanned:]:
                        if index not in seen and _mentions(payload, number, ticket_id):
                            seen[index] = at
                    scanned = len(listeners.arrivals)
                    if len(seen) < len(sockets):
                        listeners.cond.wait(max(0.0, deadline - time.monotonic()))
            these = sorted(at - sent_at for at in seen.values())
            if measured and these:
                latencies.extend(these)
                per_event.append((round((answered_at - sent_at) * 1000, 1),
                                  round(these[len(these) // 2] * 1000, 1),
                                  round(these[-1] * 1000, 1)))
            if n == 2 and not latencies:
                note = f"no {event!r} event reached any client after 3 tickets"
                break
            time.sleep(pause)
    finally:
        client_cpu = (time.process_time() - cpu_began) / max(time.monotonic() - wall_began, 1e-9)
        conn.close()
        close()
    if not sockets and clients:
        note = "no client could connect"
    values = sorted(latencies)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return RealtimeResult(
        clients=clients, connected=len(sockets), event=event, client=client, events_sent=sent,
        deliveries=len(values), expected_deliveries=sent * len(sockets),
        p50_ms=ms(percentile(values, 0.5)), p99_ms=ms(percentile(values, 0.99)),
        max_ms=ms(values[-1] if values else None), connect_seconds=connect_seconds,
        client_cpu=round(client_cpu, 2), note=note,
        latencies_ms=[round(v * 1000, 3) for v in values],
        per_event_ms=per_event,
    )


def main() -> None:
    spec = json.load(sys.stdin)
    result = run_realtime(spec["host"], spec["port"], staff_token=spec["staff_token"],
                          customer_token=spec["customer_token"], clients=spec["clients"],
                          events=spec["events"], event=spec["event"],
                          warmup_events=spec.get("warmup_events", 3),
                          client=spec.get("client", "raw"))
    json.dump(asdict(result), sys.stdout)


if __name__ == "__main__":
    main()
