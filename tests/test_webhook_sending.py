"""How one webhook attempt goes out and what it leaves behind, against real receivers on
loopback: HTTPS to the checked address under the URL's name, the Host header, timeouts,
the 2xx boundary, retry limits and backoff, permanent failures, the log lines operators
read, the body's fields, and the sender thread of a process."""
from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
import time

import pytest
import urllib3
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import Notification, WebhookEndpoint, utcnow
from support_app.realtime.dispatch import dispatcher
from support_app.security import roles
from support_app.tickets import events, service
from support_app.webhooks import delivery, endpoints, guard

from .test_webhooks import deliveries, endpoint
from .webhook_receiver import Receiver, certificates

BODY = b'{"event": "ping"}'


@pytest.fixture
def trusted_ca(tmp_path, monkeypatch):
    """A CA this process trusts (OpenSSL reads SSL_CERT_FILE when a context loads the
    default certificates, as urllib3's does) and a way to make server certificates."""
    def make(host: str) -> tuple:
        ca, cert, key = certificates(tmp_path, host)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        return cert, key
    return make


def test_https_goes_to_the_checked_address_under_the_urls_name(trusted_ca):
    with Receiver(tls=trusted_ca("hooks.example")) as r:
        target = guard.Target("https", "hooks.example", r.port, "127.0.0.1", "/hook?shop=7")
        assert delivery.post(target, BODY, {"X-Test": "1"}, 5) == 200
    [got] = r.requests
    assert r.server_names == ["hooks.example"]  # SNI names the URL's host, not the address
    assert (got.path, got.body, got.headers["X-Test"]) == ("/hook?shop=7", BODY, "1")
    assert got.headers["Host"] == f"hooks.example:{r.port}"


def test_https_refuses_a_certificate_for_another_name(trusted_ca):
    with Receiver(tls=trusted_ca("other.example")) as r:
        target = guard.Target("https", "hooks.example", r.port, "127.0.0.1", "/hook")
        with pytest.raises(urllib3.exceptions.SSLError, match="hooks.example"):
            delivery.post(target, BODY, {}, 5)
    assert r.requests == []


def test_the_host_header_is_the_urls_host_with_its_port_unless_default(receiver, monkeypatch):
    target = guard.Target("http", "hooks.example", receiver.port, "127.0.0.1", "/hook")
    assert delivery.post(target, BODY, {}, 5) == 200
    monkeypatch.setitem(guard.SCHEMES, "http", receiver.port)  # as if it listened on 80
    assert delivery.post(target, BODY, {}, 5) == 200
    assert [r.headers["Host"] for r in receiver.requests] == [
        f"hooks.example:{receiver.port}", "hooks.example"]


def test_a_connection_that_is_never_accepted_times_out():
    """A full accept queue: the kernel drops the SYN, so only the connect timeout ends it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    filling = []
    for _ in range(3):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        filling.append(client)
    time.sleep(0.2)
    outcome: list[Exception] = []

    def send() -> None:
        try:
            delivery.post(guard.Target("http", "127.0.0.1", port, "127.0.0.1", "/"), BODY, {}, 0.3)
        except Exception as exc:  # recorded for the assertion below
            outcome.append(exc)
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    thread.join(10)
    for s in (server, *filling):
        s.close()
    assert not thread.is_alive(), "the connect waited past its timeout"
    [exc] = outcome
    assert isinstance(exc, urllib3.exceptions.ConnectTimeoutError)
    assert "connect timeout=0.3" in str(exc)


def test_a_refused_connection_is_recorded_once_by_its_kind(factory, settings, caplog):
    settings["WEBHOOK_RETRY_BASE_SECONDS"] = 0
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    hook = endpoint(f"http://127.0.0.1:{port}/hook")
    factory.ticket(factory.customer())
    with caplog.at_level(logging.WARNING, logger=delivery.__name__):
        assert delivery.deliver_due() == 1
    [row] = deliveries()
    assert (row.status, row.attempts, row.response_code) == ("queued", 1, None)
    assert row.error.startswith("NewConnectionError: ") and "refused" in row.error
    assert row.duration_ms is not None and 0 <= row.duration_ms < 5000
    [line] = [r.getMessage() for r in caplog.records if r.name == delivery.__name__]
    assert line == (f"webhook delivery {row.id} (ticket.created) to endpoint {hook.id} failed "
                    f"(attempt 1, {row.duration_ms} ms): {row.error}")


def test_an_error_is_kept_to_2000_characters(factory, receiver, settings):
    endpoint(receiver.url)
    factory.ticket(factory.customer())
    [row] = deliveries()
    delivery._record_failure(row, OSError("x" * 3000), settings)
    db.session.expire_all()
    [row] = deliveries()
    assert row.error == ("OSError: " + "x" * 3000)[:2000]


def test_success_is_logged_with_its_duration(factory, receiver, caplog):
    receiver.default = (204, 0.2)
    hook = endpoint(receiver.url)
    factory.ticket(factory.customer())
    with caplog.at_level(logging.INFO, logger=delivery.__name__):
        assert delivery.deliver_due() == 1
    [row] = deliveries()
    assert (row.status, row.response_code) == ("delivered", 204)
    assert 200 <= row.duration_ms < 5000
    [line] = [r.getMessage() for r in caplog.records if r.name == delivery.__name__]
    assert line == (f"webhook delivery {row.id} (ticket.created) to endpoint {hook.id}: "
                    f"HTTP 204 in {row.duration_ms} ms, attempt 1")


def test_a_failures_duration_is_measured(factory, receiver):
    receiver.default = (500, 0.2)
    endpoint(receiver.url)
    factory.ticket(factory.customer())
    delivery.deliver_due()
    [row] = deliveries()
    assert row.status == "queued" and 200 <= row.duration_ms < 5000


@pytest.mark.parametrize(("code", "delivered"), [(299, True), (300, False)])
def test_only_a_2xx_is_delivered(factory, receiver, code, delivered):
    receiver.default = (code, 0)
    endpoint(receiver.url)
    factory.ticket(factory.customer())
    delivery.deliver_due()
    [row] = deliveries()
    assert row.response_code == code
    assert (row.status, row.error) == (("delivered", None) if delivered else ("queued", f"HTTP {code}"))


def test_the_last_allowed_attempt_is_final(factory, receiver, settings):
    settings.update(WEBHOOK_MAX_ATTEMPTS=2, WEBHOOK_RETRY_BASE_SECONDS=0, WEBHOOK_DISABLE_AFTER=10)
    receiver.default = (500, 0)
    endpoint(receiver.url)
    factory.ticket(factory.customer())
    while delivery.deliver_due():
        pass
    [row] = deliveries()
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 2, None)
    assert len(receiver.requests) == 2


def test_retries_back_off_from_the_base_up_to_the_ceiling(factory, receiver, settings):
    settings.update(WEBHOOK_RETRY_BASE_SECONDS=60, WEBHOOK_RETRY_MAX_SECONDS=90)
    receiver.default = (500, 0)
    endpoint(receiver.url)
    factory.ticket(factory.customer())
    waits = []
    for _ in range(2):
        before = utcnow()
        assert delivery.deliver_due() == 1
        [row] = deliveries()
        waits.append((row.next_attempt_at - before).total_seconds())
        row.next_attempt_at = None
        db.session.commit()
    assert 60 <= waits[0] < 70 and 90 <= waits[1] < 100  # 60, then min(90, 120)


def test_a_disabled_endpoints_row_fails_once_without_counting(factory, receiver):
    hook = endpoint(receiver.url)
    factory.ticket(factory.customer())
    hook.is_active = False
    db.session.commit()
    assert delivery.deliver_due() == 1
    [row] = deliveries()
    assert (row.status, row.attempts, row.error, row.next_attempt_at) == (
        "failed", 1, "endpoint disabled", None)
    db.session.expire_all()
    assert hook.consecutive_failures == 0 and receiver.requests == []


def test_deliver_due_takes_at_most_its_limit(factory, receiver):
    endpoint(receiver.url)
    customer = factory.customer()
    factory.ticket(customer)
    factory.ticket(customer)
    assert delivery.deliver_due(limit=1) == 1
    assert [row.status for row in deliveries()] == ["delivered", "queued"]


def _fail_limit(factory, receiver, settings, failures: int) -> WebhookEndpoint:
    settings.update(WEBHOOK_DISABLE_AFTER=3, WEBHOOK_RETRY_BASE_SECONDS=0)
    receiver.default = (500, 0)
    hook = endpoint(receiver.url)
    hook.consecutive_failures = failures
    db.session.commit()
    return hook


def test_turning_one_endpoint_off_leaves_the_others(factory, receiver, settings):
    admin = factory.staff(roles.ADMIN)
    hook = _fail_limit(factory, receiver, settings, 2)
    other = endpoint(receiver.url, [events.ESCALATED], name="crm")
    other.consecutive_failures = 5  # counted under an earlier, higher limit
    db.session.commit()
    factory.ticket(factory.customer())
    delivery.deliver_due()
    db.session.expire_all()
    assert not hook.is_active and other.is_active
    notices = db.session.scalars(select(Notification).where(
        Notification.kind == "webhook_disabled", Notification.user_id == admin.user.id)).all()
    assert [n.data for n in notices] == [{"webhook_endpoint_id": hook.id}]


def test_two_senders_failing_at_once_tell_the_admins_once(factory, receiver, settings, caplog):
    factory.staff(roles.ADMIN)
    hook = _fail_limit(factory, receiver, settings, 2)
    with caplog.at_level(logging.ERROR, logger=delivery.__name__):
        first = delivery._count_failure(hook, "HTTP 500", 3)
        second = delivery._count_failure(hook, "HTTP 500", 3)  # a sender that read it active
    db.session.commit()
    assert first and second == []
    assert [r.getMessage() for r in caplog.records if r.name == delivery.__name__] == [
        f"webhook endpoint {hook.id} disabled after 3 failures in a row"]


def test_admins_online_see_the_notice_live_and_no_one_else(connect, factory, receiver, settings):
    admin, manager = factory.staff(roles.ADMIN), factory.staff(roles.STORE_MANAGER)
    customer = factory.customer()
    admin_socket, manager_socket, customer_socket = connect(admin), connect(manager), connect(customer)
    hook = _fail_limit(factory, receiver, settings, 2)
    ticket = factory.ticket(customer)
    customer_socket.wait_for("notification", lambda d: d["kind"] == "ticket_created")
    delivery.deliver_due()
    notice = admin_socket.wait_for("notification", lambda d: d["kind"] == "webhook_disabled")
    assert notice["title"] == f"Webhook {hook.name} turned off"
    assert notice["data"] == {"webhook_endpoint_id": hook.id}
    dispatcher.wait_idle()
    for other in (manager_socket, customer_socket):  # a round trip after the push
        other.call("subscribe", {"ticketId": ticket.id})
        assert not [d for d in other.received("notification") if d["kind"] == "webhook_disabled"]


def test_a_message_event_carries_its_text_origin_and_author_not_who_is_notified(
        factory, receiver):
    endpoint(receiver.url, [events.MESSAGE_ADDED])
    customer = factory.customer()
    ticket = factory.ticket(customer)
    service.add_message(customer.actor, ticket.id, "Still waiting for the refund")
    assert delivery.deliver_due() == 1
    body = json.loads(receiver.requests[0].body)
    data = body["data"]
    assert data["body"] == "Still waiting for the refund"
    assert (data["origin"], data["actor_user_id"]) == ("api", customer.user.id)
    assert "notify" not in data and "recipients" not in data
    assert set(body["ticket"]) == {"id", "number", "status", "priority", "category", "channel",
                                   "customer_id", "assigned_to", "escalation_level", "subject"}
    assert (body["ticket"]["subject"], body["ticket"]["escalation_level"]) == (
        ticket.subject, ticket.escalation_level)


def test_send_test_pings_with_the_endpoints_id_and_name(app_ctx, receiver):
    hook = endpoint(receiver.url, name="warehouse")
    ping = endpoints.queue_ping(hook)
    db.session.commit()
    assert (ping.status, ping.attempts, ping.ticket_id, ping.event) == ("queued", 0, None, "ping")
    assert ping.created_at is not None and ping.next_attempt_at is None
    assert delivery.deliver_due() == 1
    body = json.loads(receiver.requests[0].body)
    assert (body["event"], body["ticket"]) == ("ping", None)
    assert body["data"] == {"endpoint_id": hook.id, "name": "warehouse"}


def _wait_for_a_request(receiver: Receiver, seconds: float = 8) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not receiver.requests:
        time.sleep(0.05)


def test_a_process_sender_thread_polls_and_is_named(app, receiver, settings):
    """The sender thread this app would start: named for `ps`/py-spy, switched by
    WEBHOOK_BACKGROUND, polling every WEBHOOK_POLL_SECONDS for rows nobody woke it for."""
    settings.update(WEBHOOK_BACKGROUND=False, WEBHOOK_POLL_SECONDS=0.2)
    worker = delivery.WebhookWorker(app)
    assert not worker.enabled
    settings["WEBHOOK_BACKGROUND"] = True
    assert worker.enabled
    worker.start()
    try:
        assert worker._thread.name == "support-webhooks"
        time.sleep(0.3)  # its first pass found nothing
        endpoints.queue_ping(endpoint(receiver.url))
        db.session.commit()  # queued with no change to announce: nobody wakes a sender
        _wait_for_a_request(receiver)
    finally:
        worker.stop()
    assert len(receiver.requests) == 1


def test_a_commit_that_queued_wakes_an_idle_sender(app, client, factory, receiver, settings):
    settings.update(WEBHOOK_BACKGROUND=True, WEBHOOK_POLL_SECONDS=600)
    worker = app.extensions["support_webhooks"]
    worker.start()
    try:
        time.sleep(0.3)  # idle, next poll in ten minutes
        endpoint(receiver.url)
        john = factory.customer("John")
        r = client.post("/api/support-tickets", headers=john.headers, json={
            "subject": "Parcel", "description": "The parcel never arrived at all."})
        assert r.status_code == 201
        _wait_for_a_request(receiver)
    finally:
        worker.stop()
    assert len(receiver.requests) == 1


def test_a_new_tickets_event_carries_its_description_not_whether_the_desk_notifies(
        factory, receiver):
    endpoint(receiver.url)
    customer = factory.customer()
    factory.ticket(customer, subject="Cold pizza")
    assert delivery.deliver_due() == 1
    body = json.loads(receiver.requests[0].body)
    assert "notify" not in body["data"]
    assert set(body["data"]) == {"description", "origin", "actor_user_id"}
    sent_at = dt.datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
    assert abs((sent_at.replace(tzinfo=None) - utcnow()).total_seconds()) < 60


def test_the_body_is_utf8_as_written_and_any_value_json_lacks_goes_as_text(factory, receiver):
    import decimal
    endpoint(receiver.url)
    factory.ticket(factory.customer(), subject="Pedido frío – 冷たい")
    assert delivery.deliver_due() == 1
    assert "Pedido frío – 冷たい".encode() in receiver.requests[0].body  # not \\u escapes
    body = json.loads(endpoints.render("ticket.created", None, {
        "at": dt.datetime(2026, 12, 6, 9, 30), "amount": decimal.Decimal("12.50")}))
    assert body["data"] == {"at": "2026-12-06 09:30:00", "amount": "12.50"}
