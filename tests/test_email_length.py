"""An email address is checked for length as the desk stores it: trimmed and
lower-cased, which can lengthen it ("İ" lower-cases to two characters). Checked on the
raw text, a 312-character address became 612 and PostgreSQL refused the row: a 500
on every surface that records an address. An account's email is also its FAB
username (128 characters), so a 200-character address failed registration too."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import Customer, SupportUser, Ticket

from .inbound_payloads import deliver, payload
from .test_account_claim import OWNER
from .test_api_storefront import assert_error
from .test_contact import FORM, browser  # noqa: F401 (fixture)

LENGTHENED = "İ" * 300 + "@example.org"  # 312 characters; 612 lower-cased
LONG_ACCOUNT = "a" * 200 + "@example.org"  # fits a customer record, not a username


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("email", [LENGTHENED, LONG_ACCOUNT])
def test_registering_with_an_address_past_an_accounts_length_is_a_field_error(client, email):
    r = client.post("/api/auth/register", json={**OWNER, "email": email})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.get_json()["errors"] == {
        "email": ["The email may not be greater than 128 characters."]}
    assert count(SupportUser) == 0 and count(Customer) == 0


def test_an_agent_signing_up_with_too_long_an_address_is_told_so(client):
    r = client.post("/api/support/register-agent/", json={
        "email": LONG_ACCOUNT, "password": "securepass123", "name": "New Agent"})
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.get_json()["email"] == ["The email may not be greater than 128 characters."]
    assert count(SupportUser) == 0


def test_the_longest_account_address_registers(client):
    email = "a" * (128 - len("@example.org")) + "@Example.org"
    r = client.post("/api/auth/register", json={**OWNER, "email": email})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert db.session.scalar(select(SupportUser.email)) == email.lower()


def test_a_contact_message_from_an_address_lengthened_past_a_record_is_refused(browser):
    body = assert_error(browser.post("/api/contact", json={**FORM, "email": LENGTHENED}), 400)
    assert body["errors"] == {"email": ["The email may not be greater than 320 characters."]}
    assert count(Customer) == 0 and count(Ticket) == 0


@pytest.mark.parametrize("change, field", [
    ({"customer_email": LENGTHENED}, "customer_email"),
    ({"group_member_emails": ["ok@example.org", LENGTHENED]}, "group_member_emails"),
])
def test_a_synced_order_with_a_lengthened_address_names_the_field(client, factory, change,
                                                                   field):
    from .test_api_sync import ORDER
    admin = factory.staff()
    r = client.put("/api/sync/orders/A-1", json={**ORDER, **change}, headers=admin.headers)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.get_json()["errors"][field] == [
        "The email may not be greater than 320 characters."]
    assert count(Customer) == 0


def test_inbound_mail_from_a_lengthened_address_is_set_aside_as_such(client, app_ctx):
    """Measured lower-cased too (`inbound.parse`): set aside with its reason, recorded
    for nobody, and not retried."""
    fields = payload("new_request", headers={"From": None})
    fields.update({"from": LENGTHENED, "sender": LENGTHENED})
    response = deliver(client, fields)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"success": True, "outcome": "ignored",
                                   "ticket_number": None, "reason": "sender address too long"}
    assert count(Customer) == 0 and count(Ticket) == 0
