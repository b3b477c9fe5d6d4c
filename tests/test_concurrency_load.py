"""Concurrent writers on PostgreSQL: 50 clients for 30 s against a real server process,
replying to, reading and moving the same few tickets. Afterwards every ticket's
message_count equals its stored messages and the desk counters equal a recount; no
request failed, none hung (a deadlock would show as a 5xx or a timeout)."""
from __future__ import annotations

import itertools
import threading
import time
from collections import Counter

import pytest
import requests
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import STATUSES, Message, Ticket
from support_app.security import roles
from support_app.tickets import counters

from .conftest import require_service
from .live import ServerProcess

CLIENTS = 50
SECONDS = 30
TICKETS = 4


@pytest.mark.postgres
def test_fifty_clients_on_the_same_tickets_keep_counts_exact(app, factory, tmp_path):
    require_service("PostgreSQL", "TEST_DATABASE_URL")
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    owner, admin = factory.customer(), factory.staff(roles.ADMIN)
    tickets = [factory.ticket(owner, subject=f"Load {i}").id for i in range(TICKETS)]
    statuses: Counter = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    with ServerProcess(app, tmp_path, DB_POOL_SIZE="20") as server:
        stop = time.monotonic() + SECONDS

        def client(n: int) -> None:
            http = requests.Session()
            for i in itertools.count():
                if time.monotonic() >= stop:
                    return
                tid = tickets[(n + i) % TICKETS]
                kind = (n + i) % 5
                if kind in (0, 1):
                    r = http.post(f"{server.url}/api/support-tickets/{tid}/messages",
                                  json={"message": f"customer {n}/{i}"}, headers=owner.headers,
                                  timeout=30)
                elif kind == 2:
                    r = http.post(f"{server.url}/api/support-tickets/{tid}/messages",
                                  json={"message": f"staff {n}/{i}"}, headers=admin.headers,
                                  timeout=30)
                elif kind == 3:
                    r = http.get(f"{server.url}/api/support-tickets/{tid}", headers=admin.headers,
                                 timeout=30)  # marks the ticket read for the desk
                else:
                    status = "On Hold" if i % 2 else "In Progress"
                    r = http.put(f"{server.url}/api/support/tickets/{tid}/update-status/",
                                 json={"status": status}, headers=admin.headers, timeout=30)
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code >= 500 or (r.status_code >= 400 and kind != 4):
                        failures.append(f"{r.request.method} {r.url}: {r.status_code} {r.text[:200]}")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SECONDS + 60)
        assert not any(thread.is_alive() for thread in threads), "a client hung"
        log = server.log()

    assert failures == [], "\n".join(failures[:20])
    assert not any(code >= 500 for code in statuses), (statuses, log[-3000:])
    assert sum(statuses.values()) > CLIENTS * 5, statuses  # the load really ran

    db.session.expire_all()
    for tid in tickets:
        stored = db.session.scalar(select(func.count(Message.id)).where(Message.ticket_id == tid))
        assert db.session.get(Ticket, tid).message_count == stored, tid
    names = [counters.TOTAL, counters.ADMIN_UNREAD, *(counters.status_key(s) for s in STATUSES)]
    kept = counters.read(*names)
    assert kept == {name: value for name, value in counters.recount().items() if name in names}
