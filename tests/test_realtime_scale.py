"""Several server processes: events cross them through Redis; a dead Redis costs
cross-process delivery only, never an HTTP response."""
from __future__ import annotations

import secrets
import subprocess
import sys
import time

import pytest
import requests

from sqlalchemy import select

from support_app.extensions import db
from support_app.models import Notification

from .conftest import require_service
from .live import (ROOT, TIMEOUT, Listener, ServerProcess, closed_port, listeners,
                   wait_for_subscribers)


@pytest.fixture
def opened():
    yield from listeners()


def _notice_id(person) -> int:
    return db.session.scalars(select(Notification.id).where(Notification.user_id == person.id)).one()


def _token(person) -> str:
    return person.headers["Authorization"].split(" ", 1)[1]


OPEN_TICKET_SCRIPT = """
import sys
from support_app import create_app
from support_app.extensions import db
from support_app.models import SupportUser
from support_app.realtime.dispatch import dispatcher
from support_app.security.current import actor_for_user
from support_app.tickets import service
app = create_app()
with app.app_context():
    actor = actor_for_user(db.session.get(SupportUser, int(sys.argv[1])))
    ticket = service.open_ticket(actor, subject="From a worker", description="Opened elsewhere").ticket
    print(ticket.id, flush=True)
    dispatcher.wait_idle()
"""


DEACTIVATE_SCRIPT = """
import sys
from support_app import create_app
from support_app.extensions import db
from support_app.models import SupportUser
from support_app.realtime.dispatch import dispatcher
app = create_app()
with app.app_context():
    db.session.get(SupportUser, int(sys.argv[1])).active = False
    db.session.commit()
    dispatcher.wait_idle()
"""


def _run(script: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_request_to_process_b_reaches_client_on_process_a(app, factory, opened, tmp_path):
    redis_url = require_service("Redis", "TEST_REDIS_URL")
    channel = f"support-test-scale-{secrets.token_hex(6)}"
    customer = factory.customer()
    factory.ticket(customer)  # leaves one stored notification
    notice_id = _notice_id(customer)

    env = {"REDIS_URL": redis_url, "SOCKETIO_CHANNEL": channel}
    with ServerProcess(app, tmp_path, **env) as a, ServerProcess(app, tmp_path, **env) as b:
        listener = Listener(a.url, auth={"token": _token(customer)})
        opened.append(listener)
        listener.connect()
        wait_for_subscribers(redis_url, channel)

        response = requests.post(f"{b.url}/api/notifications/{notice_id}/read",
                                 headers=customer.headers, timeout=TIMEOUT)
        assert response.status_code == 200
        pushed = listener.wait_for("support:notifications:read")
        assert pushed == {"ids": [notice_id], "all": False, "unread_count": 0}

        # A third process (a worker, a webhook) changing a ticket reaches the client too.
        ticket_id = int(_run(OPEN_TICKET_SCRIPT, str(customer.id), env=a.env).split()[0])
        created = listener.wait_for("support:ticket:created", lambda d: d["ticketId"] == ticket_id)
        assert created["customerId"] == str(customer.customer.id)
        listener.wait_for("notification", lambda d: d["ticket_id"] == ticket_id)

        # Deactivated elsewhere: dropped by the process holding the connection.
        _run(DEACTIVATE_SCRIPT, str(customer.id), env=a.env)
        assert listener.disconnected.wait(TIMEOUT)


def test_dead_redis_never_fails_or_stalls_a_request(app, factory, opened, tmp_path):
    customer = factory.customer()
    factory.ticket(customer)
    notice_id = _notice_id(customer)
    dead = f"redis://127.0.0.1:{closed_port()}/0"

    with ServerProcess(app, tmp_path, REDIS_URL=dead) as server:
        listener = Listener(server.url, auth={"token": _token(customer)})
        opened.append(listener)
        listener.connect()  # connecting needs no Redis

        response = requests.put(f"{server.url}/api/notifications/{notice_id}/read",
                                headers=customer.headers, timeout=TIMEOUT)
        assert response.status_code == 200 and response.json()["unread_count"] == 0
        # Clients of this very process are still served; other processes would miss it.
        listener.wait_for("support:notifications:read")
        listing = requests.get(f"{server.url}/api/notifications", headers=customer.headers,
                               timeout=TIMEOUT)
        assert listing.status_code == 200 and listing.json()["data"][0]["is_read"] is True
        deadline = time.monotonic() + TIMEOUT
        while "Redis unavailable" not in server.log():
            assert time.monotonic() < deadline, server.log()[-2000:]
            time.sleep(0.1)
