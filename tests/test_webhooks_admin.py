"""The webhook screens (Admin only): add with the URL guard, "send test", the
deliveries log and "resend", through the real dashboard forms; refused for other roles."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import WebhookDelivery, WebhookEndpoint, utcnow
from support_app.security import roles
from support_app.webhooks import delivery

from .admin_helpers import desk_client, login, page_token
from .test_webhooks import readme_verify


@pytest.fixture
def admin_client(app, factory):
    client = desk_client(app)
    login(client, factory.staff(roles.ADMIN).user.email)
    return client


def _add(client, url: str, **extra):
    token = page_token(client, "/webhooks/add")
    return client.post("/webhooks/add", data={
        "name": "Shop", "url": url, "events": ["ticket.created", "ticket.closed"],
        "is_active": "y", "csrf_token": token, **extra}, follow_redirects=True)


def _endpoints() -> list[WebhookEndpoint]:
    db.session.expire_all()
    return list(db.session.scalars(select(WebhookEndpoint)))


def _deliveries() -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_admin_adds_an_endpoint_and_sees_its_secret(admin_client, receiver):
    assert _add(admin_client, receiver.url).status_code == 200
    [hook] = _endpoints()
    assert hook.events == ["ticket.created", "ticket.closed"] and hook.is_active
    assert len(hook.secret) == 64 and not hook.is_internal
    assert hook.secret in admin_client.get(f"/webhooks/show/{hook.id}").get_data(as_text=True)
    listing = admin_client.get("/webhooks/list/").get_data(as_text=True)
    assert "Ticket created, Closed" in listing


@pytest.mark.parametrize("url", ["ftp://example.com/", "http://127.0.0.1:9/", "http://10.0.0.7/"])
def test_the_form_refuses_private_and_non_http_urls(admin_client, app, url):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    try:
        page = _add(admin_client, url).get_data(as_text=True)
    finally:
        app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    assert "Only http:// and https:// URLs are allowed." in page or \
        "private, loopback or reserved" in page
    assert _endpoints() == []


def test_the_refusal_is_translated(admin_client, app):
    admin_client.get("/lang/es")
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    try:
        page = _add(admin_client, "http://192.168.1.1/").get_data(as_text=True)
    finally:
        app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    assert "La URL apunta a una dirección privada" in page


def test_send_test_and_resend(admin_client, receiver):
    _add(admin_client, receiver.url)
    [hook] = _endpoints()
    token = page_token(admin_client, "/webhooks/list/")
    admin_client.post("/webhooks/action_post", data={
        "action": "send_test", "rowid": [hook.id], "csrf_token": token})
    [ping] = _deliveries()
    assert ping.event == "ping" and ping.ticket_id is None
    assert delivery.deliver_due() == 1
    [got] = receiver.requests
    assert got.headers["X-Support-Event"] == "ping"
    assert readme_verify()(hook.secret, got.headers, got.body)
    assert json.loads(got.body)["ticket"] is None

    log = admin_client.get("/webhook-deliveries/list/").get_data(as_text=True)
    assert "ping" in log and "200" in log
    token = page_token(admin_client, "/webhook-deliveries/list/")
    admin_client.post("/webhook-deliveries/action_post", data={
        "action": "resend", "rowid": [ping.id], "csrf_token": token})
    first, again = _deliveries()
    assert again.body == first.body and again.status == "queued" and again.id != first.id
    assert delivery.deliver_due() == 1
    assert [r.headers["X-Support-Delivery"] for r in receiver.requests] == [
        str(first.id), str(again.id)]
    assert receiver.requests[0].body == receiver.requests[1].body


def test_turning_an_endpoint_back_on_clears_its_failures(admin_client, receiver):
    _add(admin_client, receiver.url)
    [hook] = _endpoints()
    hook.is_active, hook.consecutive_failures = False, 10
    hook.disabled_at, hook.disabled_reason = utcnow(), "HTTP 500"
    db.session.commit()
    token = page_token(admin_client, f"/webhooks/edit/{hook.id}")
    admin_client.post(f"/webhooks/edit/{hook.id}", data={
        "name": "Shop", "url": receiver.url, "events": ["ticket.created"], "is_active": "y",
        "csrf_token": token})
    [hook] = _endpoints()
    assert hook.is_active and hook.consecutive_failures == 0 and hook.disabled_at is None


@pytest.mark.parametrize("role", [roles.STORE_MANAGER, roles.FULFILLMENT, roles.SUPPORT_AGENT,
                                  roles.CUSTOMER])
def test_other_roles_are_refused(app, factory, receiver, role):
    hook = WebhookEndpoint(name="Shop", url=receiver.url, events=["ticket.created"])
    db.session.add(hook)
    db.session.commit()
    db.session.add(WebhookDelivery(endpoint_id=hook.id, event="ping", body="{}",
                                   status="delivered"))
    db.session.commit()
    [sent] = _deliveries()
    if role == roles.SUPPORT_AGENT:
        person = factory.agent()
    elif role == roles.CUSTOMER:
        person = factory.customer()
    else:
        person = factory.staff(role)
    client = desk_client(app)
    login(client, person.user.email)
    for url in ("/webhooks/list/", f"/webhooks/show/{hook.id}", "/webhooks/add",
                f"/webhooks/edit/{hook.id}", "/webhook-deliveries/list/",
                f"/webhook-deliveries/show/{sent.id}"):
        response = client.get(url)
        assert response.status_code == 403, (role, url)
        assert hook.secret not in response.get_data(as_text=True)
    token = page_token(client, "/resetmypassword/form") if role != roles.CUSTOMER else None
    for url, action, row in (("/webhooks/action_post", "send_test", hook.id),
                             ("/webhook-deliveries/action_post", "resend", sent.id)):
        client.post(url, data={"action": action, "rowid": [row], "csrf_token": token or ""})
    assert len(_deliveries()) == 1


def test_deleting_an_endpoint_removes_its_log(admin_client, receiver):
    _add(admin_client, receiver.url)
    [hook] = _endpoints()
    db.session.add(WebhookDelivery(endpoint_id=hook.id, event="ping", body="{}"))
    db.session.commit()
    token = page_token(admin_client, "/webhooks/list/")
    admin_client.post(f"/webhooks/delete/{hook.id}", data={"csrf_token": token})
    assert _endpoints() == [] and _deliveries() == []


def test_the_log_reads_in_the_admins_language(admin_client, receiver):
    _add(admin_client, receiver.url)
    [hook] = _endpoints()
    db.session.add(WebhookDelivery(endpoint_id=hook.id, event="ticket.closed", body="{}",
                                   status="delivered"))
    db.session.commit()
    admin_client.get("/lang/ar")
    log = admin_client.get("/webhook-deliveries/list/").get_data(as_text=True)
    assert "تم التسليم إلى الوجهة" in log and "delivered<" not in log
    assert ">ticket.closed<" not in log  # (the search select submits the code as its value)
