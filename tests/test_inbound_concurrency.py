"""Concurrent Mailgun deliveries against a live threaded server, and Redis replay memory."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from support_app.extensions import db
from support_app.inbound import signature
from support_app.models import EmailLog, InboundToken, Message, Ticket

from .conftest import require_service
from .inbound_payloads import URL, deliver, payload, signed

DELIVERIES = 6


@pytest.fixture
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def _race(url: str, fields: dict) -> list[requests.Response]:
    """The same mail, delivered DELIVERIES times at once (each with its own token)."""
    bodies = [signed(fields) for _ in range(DELIVERIES)]
    barrier = threading.Barrier(DELIVERIES)

    def post(data: dict) -> requests.Response:
        barrier.wait()
        return requests.post(url + URL, data=data, timeout=60)

    with ThreadPoolExecutor(DELIVERIES) as pool:
        return list(pool.map(post, bodies))


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_concurrent_deliveries_of_a_new_mail_open_one_ticket(live_url, app_ctx):
    responses = _race(live_url, payload("new_request"))
    assert [r.status_code for r in responses] == [200] * DELIVERIES
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["created"] + ["duplicate"] * (DELIVERIES - 1)
    assert len({r.json()["ticket_number"] for r in responses}) == 1
    # one inbound record (the outbound "ticket received" acknowledgement is logged apart)
    assert _count(Ticket) == 1 and _count(EmailLog, EmailLog.direction == "in") == 1


def test_concurrent_deliveries_of_a_reply_store_one_message(live_url, factory):
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    responses = _race(live_url, payload("gmail_reply", ticket=ticket.number))
    assert [r.status_code for r in responses] == [200] * DELIVERIES
    assert sorted(r.json()["outcome"] for r in responses) == (
        ["duplicate"] * (DELIVERIES - 1) + ["replied"])
    assert _count(Message, Message.ticket_id == ticket.id) == 1
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).message_count == 1


def test_concurrent_uses_of_one_token_open_one_ticket(live_url, app_ctx):
    """Two copies of the delivery (Mailgun's retry racing the first) and two other
    mails under the same token, at once: whichever delivery claims the token first is
    the only one taken (its copy a duplicate), every other mail is refused as a replay,
    and one ticket is opened."""
    data = signed(payload("new_request"))
    bodies = [data, data, {**data, "subject": "Forged one"}, {**data, "subject": "Forged two"}]
    barrier = threading.Barrier(4)

    def post(body: dict) -> tuple[int, str]:
        barrier.wait()
        answer = requests.post(live_url + URL, data=body, timeout=60)
        return answer.status_code, answer.json().get("outcome") or answer.json()["code"]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, bodies))
    taken = [i for i, answer in enumerate(answers) if answer[0] == 200]
    assert [answers[i] for i in taken].count((200, "created")) == 1
    assert all(bodies[i] == bodies[taken[0]] for i in taken)  # one delivery, and its copy
    assert all(answers[i] == (406, "REPLAYED_TOKEN") for i in range(4) if i not in taken)
    assert sorted(answers[i][1] for i in taken) == (
        ["created", "duplicate"] if taken[0] < 2 else ["created"])
    assert _count(Ticket) == 1


@pytest.fixture
def redis_replay(app, monkeypatch):
    """Point the replay memory at a Redis database of this test's own."""
    import redis

    url = require_service("Redis", "TEST_REDIS_URL")
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    client = redis.Redis.from_url(url)
    yield client
    for key in client.scan_iter(signature.REDIS_PREFIX + "*"):
        client.delete(key)
    app.extensions.pop("mailgun_replay_redis", None)


def test_replay_is_refused_with_redis_memory(client, app_ctx, redis_replay):
    data = signed(payload("new_request"))
    assert client.post(URL, data=data).status_code == 200
    assert client.post(URL, data=data).get_json()["outcome"] == "duplicate"
    replay = client.post(URL, data={**data, "subject": "Forged"})
    assert replay.status_code == 406 and replay.get_json()["code"] == "REPLAYED_TOKEN"
    key = signature.REDIS_PREFIX + data["token"]
    assert 0 < redis_replay.ttl(key) <= 2 * 900
    assert _count(InboundToken) == 0  # remembered in Redis, not the database
    assert _count(Ticket) == 1


def test_redis_down_answers_503_so_mailgun_retries(client, app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.delitem(app.extensions, "mailgun_replay_redis", raising=False)
    try:
        response = deliver(client, payload("new_request"))
    finally:
        app.extensions.pop("mailgun_replay_redis", None)
    assert response.status_code == 503 and response.get_json()["code"] == "UNAVAILABLE"
    assert _count(Ticket) == 0
