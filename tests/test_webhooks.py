"""Outgoing webhooks against a real HTTP receiver on loopback: signed as the README
says, retried, auto-disabled, written with the change, internal notes kept internal,
private addresses refused, each delivery sent once across concurrent senders."""
from __future__ import annotations

import json
import re
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import Notification, WebhookDelivery, WebhookEndpoint
from support_app.security import roles
from support_app.tickets import Actor, events, service, sla_checks, verification
from support_app.webhooks import delivery, endpoints, guard

from .sla_helpers import move

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def endpoint(url: str, wanted=None, internal: bool = False, name: str = "shop") -> WebhookEndpoint:
    row = WebhookEndpoint(name=name, url=url, is_internal=internal,
                          events=list(wanted or [events.TICKET_CREATED]))
    db.session.add(row)
    db.session.commit()
    return row


def deliveries(**where) -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(WebhookDelivery).filter_by(**where)
                                   .order_by(WebhookDelivery.id)))


def readme_verify():
    """The README's verification snippet, run as documented."""
    section = README.split("## Outgoing webhooks", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (our own README)
    return namespace["verify"]


def test_delivery_is_signed_as_the_readme_documents(factory, receiver):
    hook = endpoint(receiver.url)
    ticket = factory.ticket(factory.customer(), subject="Wrong size")
    assert delivery.deliver_due() == 1
    [got] = receiver.requests
    verify = readme_verify()
    assert verify(hook.secret, got.headers, got.body)
    assert not verify("another-secret", got.headers, got.body)
    assert not verify(hook.secret, got.headers, got.body + b" ")
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Support-Event"] == "ticket.created"
    [row] = deliveries()
    assert got.headers["X-Support-Delivery"] == str(row.id)
    body = json.loads(got.body)
    assert set(body) == {"id", "event", "created_at", "ticket", "data"}
    assert body["event"] == "ticket.created"
    assert body["ticket"]["id"] == ticket.id and body["ticket"]["number"] == ticket.number
    assert {"status", "priority", "category", "channel", "customer_id",
            "assigned_to"} <= set(body["ticket"])
    assert row.status == "delivered" and row.response_code == 200 and row.attempts == 1
    assert row.duration_ms is not None and row.delivered_at is not None


def test_only_the_events_an_endpoint_wants_are_sent(factory, receiver):
    endpoint(receiver.url, [events.ESCALATED])
    factory.ticket(factory.customer())
    assert deliveries() == []


def test_a_500_is_retried_with_backoff_then_delivered(factory, receiver, settings):
    settings["WEBHOOK_RETRY_BASE_SECONDS"] = 60
    receiver.script = [(500, 0)]
    endpoint(receiver.url)
    factory.ticket(factory.customer())
    delivery.deliver_due()
    [row] = deliveries()
    assert (row.status, row.response_code, row.attempts, row.error) == ("queued", 500, 1, "HTTP 500")
    assert row.next_attempt_at is not None
    assert delivery.deliver_due() == 0  # not due for a minute
    settings["WEBHOOK_RETRY_BASE_SECONDS"] = 0
    row.next_attempt_at = None
    db.session.commit()
    assert delivery.deliver_due() == 1
    [row] = deliveries()
    assert (row.status, row.response_code, row.attempts, row.error) == ("delivered", 200, 2, None)
    assert len(receiver.requests) == 2
    assert json.loads(receiver.requests[0].body) == json.loads(receiver.requests[1].body)


def test_a_timeout_is_retried(factory, receiver, settings):
    settings.update(WEBHOOK_TIMEOUT=0.3, WEBHOOK_RETRY_BASE_SECONDS=0)
    receiver.script = [(200, 1.5)]
    endpoint(receiver.url)
    factory.ticket(factory.customer())
    delivery.deliver_due()
    [row] = deliveries()
    assert row.status == "queued" and row.response_code is None
    assert "timed out" in row.error.lower()
    assert delivery.deliver_due() == 1
    assert deliveries()[0].status == "delivered"


def test_redirects_are_not_followed(factory, receiver, settings):
    settings["WEBHOOK_RETRY_BASE_SECONDS"] = 0
    receiver.script = [(307, 0)]
    receiver.extra_headers = {"Location": receiver.url + "/elsewhere"}
    endpoint(receiver.url)
    factory.ticket(factory.customer())
    delivery.deliver_due()
    assert [r.path for r in receiver.requests] == ["/hook"]
    assert deliveries()[0].response_code == 307


def test_endpoint_is_disabled_after_failures_and_admins_are_told(app, factory, receiver, settings):
    settings.update(WEBHOOK_DISABLE_AFTER=3, WEBHOOK_RETRY_BASE_SECONDS=0,
                    WEBHOOK_MAX_ATTEMPTS=2)
    receiver.default = (503, 0)
    admin = factory.staff(roles.ADMIN)
    admin.user.locale = "es"
    english = factory.staff(roles.ADMIN)
    retired = factory.staff(roles.ADMIN)
    retired.user.active = False
    manager = factory.staff(roles.STORE_MANAGER)
    db.session.commit()
    hook = endpoint(receiver.url)
    customer = factory.customer()
    factory.ticket(customer)
    factory.ticket(customer)
    while delivery.deliver_due():
        pass
    db.session.expire_all()
    assert len(receiver.requests) == 3  # the third failure in a row turned it off
    assert not hook.is_active and hook.disabled_at is not None
    assert hook.consecutive_failures == 3 and "HTTP 503" in hook.disabled_reason
    assert {row.status for row in deliveries()} == {"failed"}
    notices = {row.user_id: row for row in db.session.scalars(select(Notification).where(
        Notification.kind == "webhook_disabled"))}
    assert set(notices) == {admin.user.id, english.user.id}  # active admins only
    notice, told = notices[admin.user.id], notices[english.user.id]
    assert (notice.locale, notice.title) == ("es", f"Webhook {hook.name} desactivado")
    assert (told.locale, told.title, told.body) == (
        "en", f"Webhook {hook.name} turned off",
        f"After 3 failed deliveries in a row, the webhook to {hook.url} was turned off. "
        f"Last error: {hook.disabled_reason}")
    for row in (notice, told):
        assert (row.ticket_id, row.data) == (None, {"webhook_endpoint_id": hook.id})
        assert row.created_at is not None
    assert manager.user.id not in notices
    listed = app.test_client().get("/api/notifications", headers=admin.headers).get_json()
    assert notice.title in str(listed)
    factory.ticket(customer)  # a disabled endpoint hears nothing more
    assert len(deliveries()) == 2


def test_success_resets_the_failure_count(factory, receiver, settings):
    settings.update(WEBHOOK_DISABLE_AFTER=2, WEBHOOK_RETRY_BASE_SECONDS=0)
    receiver.script = [(500, 0)]
    hook = endpoint(receiver.url)
    factory.ticket(factory.customer())
    delivery.deliver_due()
    delivery.deliver_due()
    factory.ticket(factory.customer())
    receiver.script = [(500, 0)]
    delivery.deliver_due()
    db.session.expire_all()
    assert hook.is_active and hook.consecutive_failures == 1


def test_nothing_is_sent_for_a_rolled_back_change(factory, receiver):
    endpoint(receiver.url)
    customer = factory.customer()

    def fail_after_the_writes(event):
        def write():
            raise RuntimeError("the change fails after every subscriber wrote")
        return write

    events.publisher.subscribe_in_transaction(fail_after_the_writes)
    try:
        with pytest.raises(RuntimeError):
            factory.ticket(customer)
    finally:
        events.publisher.unsubscribe(fail_after_the_writes)
    db.session.rollback()
    assert deliveries() == []
    assert delivery.deliver_due() == 0
    assert receiver.requests == []


def test_internal_notes_reach_only_internal_endpoints(factory, receiver):
    wanted = [events.NOTE_ADDED, events.MESSAGE_ADDED]
    outside = endpoint(receiver.url + "?who=outside", wanted, internal=False, name="outside")
    inside = endpoint(receiver.url + "?who=inside", wanted, internal=True, name="inside")
    agent = factory.agent()
    ticket = factory.ticket(factory.customer())
    service.assign_self(agent.actor, ticket.id)
    service.add_note(agent.actor, ticket.id, "Customer is a known fraud risk")
    service.add_message(agent.actor, ticket.id, "We are on it")
    while delivery.deliver_due():
        pass
    seen = Counter((r.path, r.headers["X-Support-Event"]) for r in receiver.requests)
    assert seen == {("/hook?who=inside", "ticket.note_added"): 1,
                    ("/hook?who=inside", "ticket.message_added"): 1,
                    ("/hook?who=outside", "ticket.message_added"): 1}
    outside_bodies = b"".join(r.body for r in receiver.requests if "outside" in r.path)
    assert b"fraud" not in outside_bodies
    note = next(r for r in receiver.requests if r.headers["X-Support-Event"] == "ticket.note_added")
    assert json.loads(note.body)["data"]["note"] == "Customer is a known fraud risk"
    assert {d.endpoint_id for d in deliveries(event="ticket.note_added")} == {inside.id}
    assert outside.id != inside.id


def test_an_unverified_tickets_events_reach_internal_endpoints_only(factory, receiver):
    wanted = [events.TICKET_CREATED, events.MESSAGE_ADDED]
    outside = endpoint(receiver.url + "?who=outside", wanted, internal=False, name="outside")
    inside = endpoint(receiver.url + "?who=inside", wanted, internal=True, name="inside")
    customer = factory.customer()
    # As the contact form opens it for an address whose account did not write it.
    ticket = service.open_ticket(
        Actor.system("contact form"), customer_id=customer.customer.id, subject="Refund?",
        description="Please refund order 1001", channel="contact_form",
        unverified_reason=verification.CONTACT_FORM).ticket
    service.add_message(factory.staff().actor, ticket.id, "Who is asking?")
    while delivery.deliver_due():
        pass
    assert {r.path for r in receiver.requests} == {"/hook?who=inside"}
    assert {d.endpoint_id for d in deliveries()} == {inside.id}
    assert outside.id != inside.id


def test_an_unverified_tickets_event_queued_while_internal_is_not_sent_outside(
        factory, receiver):
    """Queued for an internal endpoint, then the endpoint is no longer internal (or an
    admin resends the row): an unverified ticket's event is still for staff only."""
    hook = endpoint(receiver.url, [events.TICKET_CREATED], internal=True)
    customer = factory.customer()
    service.open_ticket(
        Actor.system("contact form"), customer_id=customer.customer.id, subject="Refund?",
        description="Please refund order 1001", channel="contact_form",
        unverified_reason=verification.CONTACT_FORM)
    hook.is_internal = False
    db.session.commit()
    assert delivery.deliver_due() == 1
    assert receiver.requests == []
    [row] = deliveries()
    assert row.status == "failed" and "internal" in row.error
    db.session.add(endpoints.queue_resend(row))
    db.session.commit()
    delivery.deliver_due()
    assert receiver.requests == []


def test_a_note_queued_for_an_endpoint_no_longer_internal_is_not_sent(factory, receiver):
    hook = endpoint(receiver.url, [events.NOTE_ADDED], internal=True)
    agent = factory.agent()
    ticket = factory.ticket(factory.customer())
    service.assign_self(agent.actor, ticket.id)
    service.add_note(agent.actor, ticket.id, "Refund approved off the record")
    hook.is_internal = False
    db.session.commit()
    assert delivery.deliver_due() == 1
    assert receiver.requests == []
    [row] = deliveries()
    assert (row.status, row.error) == ("failed", "endpoint is no longer internal: this event "
                                                 "is for internal endpoints only")
    db.session.expire_all()
    assert hook.consecutive_failures == 0 and hook.is_active


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://localhost:8080/", "http://10.1.2.3/", "http://192.168.0.10/",
    "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://224.0.0.1/", "http://240.0.0.1/",
    "ftp://93.184.216.34/", "file:///etc/passwd", "gopher://93.184.216.34/", "http:///nohost",
    # Shared address space (carrier NAT; Alibaba Cloud's metadata service is 100.100.100.200)
    "http://100.100.100.200/latest/meta-data/", "http://100.64.0.1/",
    # IPv6 forms that carry a private IPv4 address: 6to4, Teredo, IPv4-compatible
    "http://[2002:a9fe:a9fe::1]/", "http://[2002:7f00:1::]/", "http://[::a9fe:a9fe]/",
    "http://[2001:0:4136:e378:8000:63bf:5601:fffe]/",
])
def test_private_and_non_http_urls_are_refused(app_ctx, url):
    with pytest.raises(guard.RefusedURL):
        guard.check_url(url, allow_private=False)


def test_a_public_address_passes(app_ctx):
    target = guard.check_url("https://93.184.216.34:8443/in?x=1", allow_private=False)
    assert (target.address, target.port, target.path) == ("93.184.216.34", 8443, "/in?x=1")


def test_private_address_is_refused_at_delivery_without_the_setting(factory, receiver, settings):
    endpoint(receiver.url)  # saved while allowed
    factory.ticket(factory.customer())
    settings["WEBHOOK_ALLOW_PRIVATE"] = False
    delivery.deliver_due()
    assert receiver.requests == []
    [row] = deliveries()
    assert row.status == "queued" and "private" in row.error
    settings["WEBHOOK_ALLOW_PRIVATE"] = True


def test_each_delivery_is_sent_once_by_concurrent_senders(app, factory, receiver):
    """Two senders with their own sessions (threads here; processes share nothing more
    than the database) claim the same due rows: every delivery reaches the receiver once."""
    for n in range(4):
        endpoint(receiver.url, name=f"hook {n}")
    customer = factory.customer()
    for _ in range(6):
        factory.ticket(customer)
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 24
    db.session.remove()
    start = threading.Barrier(2)
    handled: list[int] = []

    def sender() -> None:
        with app.app_context():
            start.wait()
            try:
                while (n := delivery.deliver_due(limit=5)):
                    handled.append(n)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = Counter(r.headers["X-Support-Delivery"] for r in receiver.requests)
    assert len(ids) == 24 and set(ids.values()) == {1}
    assert sum(handled) == 24
    assert {row.status for row in deliveries()} == {"delivered"}


SENDER = """
import sys
from support_app import create_app
from support_app.config import TestConfig
from support_app.webhooks import delivery

app = create_app(TestConfig(sys.argv[1]))
with app.app_context():
    print("ready", flush=True)
    sys.stdin.readline()  # both start together
    total = 0
    while (n := delivery.deliver_due(limit=5)):
        total += n
    print(total, flush=True)
"""


def test_each_delivery_is_sent_once_by_two_sender_processes(app, factory, receiver, database_url):
    import subprocess
    import sys

    for n in range(3):
        endpoint(receiver.url, name=f"hook {n}")
    customer = factory.customer()
    for _ in range(10):
        factory.ticket(customer)
    db.session.remove()
    senders = [subprocess.Popen([sys.executable, "-c", SENDER, database_url], text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
               for _ in range(2)]
    try:
        for sender in senders:
            assert sender.stdout.readline().strip() == "ready"
        for sender in senders:
            sender.stdin.write("go\n")
            sender.stdin.flush()
        handled = [int(sender.communicate(timeout=120)[0].strip()) for sender in senders]
    finally:
        for sender in senders:
            sender.kill()
    ids = Counter(r.headers["X-Support-Delivery"] for r in receiver.requests)
    assert len(ids) == 30 and set(ids.values()) == {1}
    assert sum(handled) == 30
    assert {row.status for row in deliveries()} == {"delivered"}


def test_the_sender_thread_delivers_off_the_request(app, client, factory, receiver, settings):
    """A commit that queued deliveries wakes this process's sender thread; the request
    does not wait for a slow receiver."""
    import time

    settings["WEBHOOK_BACKGROUND"] = True
    receiver.default = (200, 1.0)
    endpoint(receiver.url)
    john = factory.customer("John")
    worker = app.extensions["support_webhooks"]
    try:
        started = time.monotonic()
        r = client.post("/api/support-tickets", headers=john.headers, json={
            "subject": "Parcel", "description": "The parcel never arrived at all."})
        assert r.status_code == 201 and time.monotonic() - started < 1.0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (
                deliveries() and deliveries()[0].status == "delivered"):
            time.sleep(0.1)
    finally:
        worker.stop()
    assert [row.status for row in deliveries()] == ["delivered"]
    assert len(receiver.requests) == 1


def test_tag_changes_are_sent_to_endpoints_that_want_them(factory, receiver):
    from support_app.tickets import tags

    endpoint(receiver.url, [events.TAGS_CHANGED])
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    tags.add_tags(admin.actor, ticket.id, ["Refund"])
    assert delivery.deliver_due() == 1
    [got] = receiver.requests
    body = json.loads(got.body)
    assert (body["event"], body["ticket"]["id"]) == ("ticket.tags_changed", ticket.id)
    assert (body["data"]["added"], body["data"]["removed"]) == (["Refund"], [])


def test_an_sla_alert_is_sent_without_who_the_desk_notifies(desk, factory, receiver, clock):
    """Tickets open Monday 2026-12-07 10:00 UTC (tests/sla_helpers.py): the first
    response is at risk at 13:12."""
    endpoint(receiver.url, [events.SLA])
    ticket = factory.ticket(desk.alice, subject="Printer on fire")
    move(clock, "2026-12-07 13:12")
    assert sla_checks.check_due() == 1
    assert delivery.deliver_due() == 1
    body = json.loads(receiver.requests[0].body)
    assert (body["event"], body["ticket"]["id"]) == ("ticket.sla", ticket.id)
    assert (body["data"]["target"], body["data"]["state"]) == ("first_response", "at_risk")
    assert "recipients" not in body["data"]


def test_the_endpoint_list_is_read_once_and_a_change_in_this_process_applies_at_once(
        factory, receiver):
    """Ticket changes read the active endpoints from the process's copy, not the table."""
    from .querycount import count_queries
    customer = factory.customer()
    factory.ticket(customer)  # loads the (empty) list
    with count_queries() as seen:
        factory.ticket(customer)
    assert not [q for q in seen if "FROM webhook_endpoints" in q]
    endpoint(receiver.url)  # committed here: the copy goes
    ticket = factory.ticket(customer)
    assert [(row.event, row.ticket_id) for row in deliveries()] == [
        (events.TICKET_CREATED, ticket.id)]


@pytest.mark.parametrize("change", ["disabled", "deleted"])
def test_an_endpoint_another_process_disabled_or_deleted_gets_no_delivery(
        factory, receiver, change):
    """Another process's change does not reach this one's copy (simulated by a Core
    statement, which the copy does not see): the delivery row is written only for an
    endpoint still active, and the ticket change itself goes through."""
    kept, gone = endpoint(receiver.url, name="kept").id, endpoint(receiver.url, name="gone").id
    customer = factory.customer()
    factory.ticket(customer)  # both in this process's copy now
    table = WebhookEndpoint.__table__
    where = table.c.id == gone
    db.session.execute(table.update().where(where).values(is_active=False)
                       if change == "disabled" else table.delete().where(where))
    db.session.commit()
    assert gone in {endpoint_id for endpoint_id, *_ in endpoints.active.get()}  # stale
    seen = []

    def record(event):
        seen.append(event.produced.get(endpoints.PRODUCED_KEY))
    events.publisher.subscribe_after_commit(record)
    try:
        ticket = factory.ticket(customer)
    finally:
        events.publisher.unsubscribe(record)
    assert [row.endpoint_id for row in deliveries(ticket_id=ticket.id)] == [kept]
    assert seen == [1]  # the rows written, counted (what wakes the sender)
