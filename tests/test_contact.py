"""The public contact form: tickets for known customers or new guests, honeypot, rate limit."""
from __future__ import annotations

import pytest

from support_app.extensions import db
from support_app.models import Customer, EmailLog, Ticket
from support_app.security import roles

from .test_api_storefront import assert_error
from .test_api_storefront_admin import client_address

FORM = {"name": "Gina Guest", "email": "Gina@Example.com", "subject": "Question",
        "message": "Do you ship to Spain?"}


@pytest.fixture
def browser(app):
    """A client with its own address, so rate limits are this test's alone."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = client_address()
    return client


def test_new_guest_gets_a_ticket_and_confirmation(browser, app_ctx):
    r = browser.post("/api/contact", json=FORM, headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["success"] is True and body["message"]
    number = body["data"]["ticketNumber"]
    ticket = db.session.query(Ticket).filter_by(number=number).one()
    assert (ticket.channel, ticket.category, ticket.created_by_id) == ("contact_form", "other", None)
    guest = db.session.get(Customer, ticket.customer_id)
    assert (guest.email, guest.name, guest.user_id, guest.locale) == \
        ("gina@example.com", "Gina Guest", None, "es")
    log = db.session.query(EmailLog).filter_by(ticket_id=ticket.id).one()
    assert (log.template, log.to_address) == ("ticket_received", "gina@example.com")


def test_known_customer_by_email_and_order_number(browser, factory):
    alice = factory.customer(email="alice@example.com")
    order = factory.order(alice.customer)
    stranger_order = factory.order(factory.customer().customer)
    r = browser.post("/api/contact", json={**FORM, "email": "ALICE@example.com",
                                           "orderNumber": order.order_number})
    ticket = db.session.query(Ticket).filter_by(number=r.get_json()["data"]["ticketNumber"]).one()
    assert (ticket.customer_id, ticket.order_id, ticket.category) == \
        (alice.customer.id, order.id, "order")
    assert order.order_number in ticket.description
    # Someone else's order number is kept as text but never linked.
    r = browser.post("/api/contact", json={**FORM, "email": "alice@example.com",
                                           "orderNumber": stranger_order.order_number})
    ticket = db.session.query(Ticket).filter_by(number=r.get_json()["data"]["ticketNumber"]).one()
    assert ticket.order_id is None
    assert db.session.query(Customer).filter_by(email="alice@example.com").count() == 1


def test_honeypot_is_accepted_silently(browser, app_ctx):
    r = browser.post("/api/contact", json={**FORM, "website": "http://spam.example"})
    assert r.status_code == 201
    assert r.get_json()["data"]["ticketNumber"].startswith("TKT-")
    assert db.session.query(Ticket).count() == 0
    assert db.session.query(Customer).count() == 0
    assert db.session.query(EmailLog).count() == 0


def test_validation_errors_are_clear_and_create_nothing(browser, app_ctx):
    body = assert_error(browser.post("/api/contact", json={"email": "not-an-email"}), 400)
    assert {"name", "email", "subject", "message"} <= set(body["errors"])
    assert_error(browser.post("/api/contact", json={**FORM, "subject": "x" * 300}), 400)
    assert_error(browser.post("/api/contact", data="{", content_type="application/json"), 400)
    assert db.session.query(Customer).count() == 0


def test_cr_lf_never_reaches_a_header(browser, app_ctx):
    r = browser.post("/api/contact", json={
        **FORM, "name": "Eve\r\nBcc: victim@example.com",
        "subject": "Hi\r\nBcc: victim@example.com\nX-Evil: 1"})
    assert r.status_code == 201
    ticket = db.session.query(Ticket).one()
    assert ticket.subject == "Hi Bcc: victim@example.com X-Evil: 1"
    assert db.session.get(Customer, ticket.customer_id).name == "Eve Bcc: victim@example.com"
    log = db.session.query(EmailLog).one()
    assert "\r" not in log.subject and "\n" not in log.subject


def test_rate_limit_limit_plus_one_is_429_with_retry_after(browser, app_ctx):
    for _ in range(5):  # default "5 per minute;20 per day"
        assert browser.post("/api/contact", json=FORM).status_code == 201
    r = browser.post("/api/contact", json=FORM)
    body = assert_error(r, 429, "TOO_MANY_REQUESTS")
    assert int(r.headers["Retry-After"]) > 0
    assert body["message"]
    assert db.session.query(Ticket).count() == 5
    other = browser.application.test_client()
    other.environ_base["REMOTE_ADDR"] = client_address()
    assert other.post("/api/contact", json=FORM).status_code == 201


@pytest.mark.parametrize("who", ["anonymous", "customer", roles.SUPPORT_AGENT, roles.ADMIN])
def test_open_to_everyone(browser, factory, who):
    headers = {}
    if who == "customer":
        headers = factory.customer().headers
    elif who != "anonymous":
        headers = factory.staff(who).headers
    r = browser.post("/api/contact", json=FORM, headers=headers)
    assert r.status_code == 201
    ticket = db.session.query(Ticket).one()
    assert ticket.channel == "contact_form"
