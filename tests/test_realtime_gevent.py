"""The gevent deployment (README, "Realtime"): the production gunicorn command with
GUNICORN_WORKER_CLASS=gevent serves REST and Socket.IO from one monkey-patched process,
with the sender, the SQLAlchemy pool, Flask-Limiter and (with TEST_REDIS_URL) the Redis
manager all running as greenlets."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from support_app.realtime import async_mode

from .factories import PASSWORD
from .live import ROOT, TIMEOUT, GunicornCommand, Listener, app_env, listeners


@pytest.fixture
def opened():
    yield from listeners()


def test_async_mode_follows_gevent_patching():
    assert async_mode(None) == "threading"  # pytest's own process is not patched
    with pytest.raises(RuntimeError, match="gunicorn -k gevent"):
        async_mode("gevent")
    patched = ("from gevent import monkey; monkey.patch_all()\n"
               "from support_app.realtime import async_mode\n"
               "print(async_mode(None), async_mode('threading'))")
    done = subprocess.run([sys.executable, "-c", patched], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.split() == ["gevent", "threading"]


def test_gevent_gunicorn_serves_rest_and_pushes_to_staff(app, factory, opened, tmp_path):
    staff, customer = factory.staff(), factory.customer()
    env = app_env(app, tmp_path, GUNICORN_WORKER_CLASS="gevent", RATELIMIT_ENABLED="true")
    if app.config["REDIS_URL"]:
        env["REDIS_URL"] = app.config["REDIS_URL"]
    with GunicornCommand(env) as server:
        assert "Using worker: gevent" in server.log()
        desk = Listener(server.url, auth={"token": staff.headers["Authorization"].split()[1]})
        opened.append(desk)
        desk.connect()

        created = requests.post(f"{server.url}/api/support-tickets", headers=customer.headers,
                                json={"subject": "Parcel never came", "priority": "high",
                                      "description": "Ordered last week, still nothing here.",
                                      "category": "order"}, timeout=TIMEOUT)
        assert created.status_code == 201, created.text
        ticket = created.json()["data"]
        pushed = desk.wait_for("support:ticket:created", lambda d: d["ticketId"] == ticket["id"])
        assert pushed["ticketNumber"] == ticket["ticket_number"]
        desk.wait_for("support:ticket_created", lambda d: d["ticketId"] == ticket["id"])
        assert desk.wait_for("support:navbar:count")["open_tickets"] == 1

        detail = requests.get(f"{server.url}/api/support-tickets/{ticket['id']}",
                              headers=staff.headers, timeout=TIMEOUT)
        assert detail.status_code == 200 and detail.json()["data"]["id"] == ticket["id"]
        login = requests.post(f"{server.url}/api/auth/login", timeout=TIMEOUT,
                              json={"email": customer.user.email, "password": PASSWORD})
        assert login.status_code == 200 and "X-RateLimit-Limit" in login.headers
        desk.close()  # before gunicorn's graceful stop, which waits for open websockets
