"""Squatting: registering someone else's address and never confirming it must not lock
the address's owner out. The owner's own registration answers "taken" as for any taken
address, and mails the address a takeover link; using it makes the account the owner's
and ends every sign-in the registrant had."""
from __future__ import annotations

import re

from support_app.extensions import db
from support_app.models import Customer, EmailLog, SupportUser

from .live import Listener
from .test_email_ownership import VICTIM, guest_history, register

OWNER = {"name": "Real Owner", "email": VICTIM, "password": "owners-pass-456"}


def takeover_mails(email: str = VICTIM) -> list[EmailLog]:
    db.session.expire_all()
    return db.session.query(EmailLog).filter_by(to_address=email, template="claim_account") \
        .order_by(EmailLog.id).all()


def takeover_token(email: str = VICTIM) -> str:
    mails = takeover_mails(email)
    assert mails, "no takeover email was queued"
    match = re.search(r"/claim-account/(\S+)", mails[-1].body_text)
    assert match, mails[-1].body_text
    return match.group(1)


def test_the_owner_takes_over_an_unconfirmed_registration(client, factory):
    squatter = register(client)  # a fresh address: the squatter gets a provisional record
    squatter_auth = {"Authorization": squatter["Authorization"]}
    record = db.session.query(Customer).filter_by(user_id=squatter["user_id"]).one()
    record.phone = "+15550000"
    db.session.commit()
    refresh = client.post("/api/auth/login", json={"email": VICTIM, "password": "longpass123"}) \
        .get_json()["refresh_token"]

    taken = client.post("/api/auth/register", json=OWNER)
    assert taken.status_code == 422
    assert taken.get_json()["errors"] == {"email": ["The email has already been taken."]}
    token = takeover_token()
    assert "Someone Else" not in takeover_mails()[-1].body_text  # the squatter's name

    claimed = client.post("/api/auth/claim-account", json={
        "token": token, "name": "Real Owner", "password": "owners-pass-456"})
    assert claimed.status_code == 200, claimed.get_json()
    body = claimed.get_json()
    assert body["user"]["id"] == squatter["user_id"] and body["user"]["name"] == "Real Owner"

    # Every sign-in of the registrant has ended; the owner's works, with their password.
    assert client.get("/api/auth/me", headers=squatter_auth).status_code == 401
    assert client.post("/api/auth/refresh", json={"refresh_token": refresh}).status_code == 401
    assert client.get("/api/auth/me", headers={
        "Authorization": f"Bearer {body['access_token']}"}).status_code == 200
    assert client.post("/api/auth/login", json={
        "email": VICTIM, "password": "longpass123"}).status_code == 401
    assert client.post("/api/auth/login", json={
        "email": VICTIM, "password": "owners-pass-456"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(SupportUser, squatter["user_id"]).email_confirmed_at is not None
    record = db.session.query(Customer).filter_by(user_id=squatter["user_id"]).one()
    assert (record.name, record.phone) == ("Real Owner", None)

    again = client.post("/api/auth/claim-account", json={
        "token": token, "name": "Squatter", "password": "squatters-pass-1"})
    assert again.status_code == 400 and again.get_json()["code"] == "TOKEN_USED"


def test_taking_over_links_the_addresss_history(client, factory):
    guest, ticket = guest_history(factory)
    register(client)
    client.post("/api/auth/register", json=OWNER)
    claimed = client.post("/api/auth/claim-account", json={
        "token": takeover_token(), "name": "Real Owner", "password": "owners-pass-456"})
    assert claimed.status_code == 200, claimed.get_json()
    auth = {"Authorization": f"Bearer {claimed.get_json()['access_token']}"}
    assert ticket.number in client.get("/api/support-tickets", headers=auth).get_data(True)
    db.session.expire_all()
    assert db.session.get(Customer, guest.id).user_id == claimed.get_json()["user"]["id"]


def test_a_confirmed_account_is_never_offered_and_the_answer_is_the_same(client, factory):
    factory.customer(email="confirmed@example.com")
    register(client)
    answers = [client.post("/api/auth/register", json={**OWNER, "email": email})
               for email in ("confirmed@example.com", VICTIM)]
    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].get_json() == answers[1].get_json()
    assert takeover_mails("confirmed@example.com") == [] and len(takeover_mails()) == 1
    # Asking again at once sends no second mail (ACCOUNT_CLAIM_INTERVAL).
    client.post("/api/auth/register", json=OWNER)
    assert len(takeover_mails()) == 1


def test_bad_links_and_weak_passwords_are_refused(client, factory):
    register(client)
    client.post("/api/auth/register", json=OWNER)
    token = takeover_token()

    def answer(body: dict) -> tuple[int, str]:
        response = client.post("/api/auth/claim-account", json=body)
        return response.status_code, response.get_json()["code"]

    assert answer({"token": "forged", "name": "X", "password": "owners-pass-456"}) == \
        (400, "TOKEN_INVALID")
    from .test_email_ownership import emailed_token  # a confirmation link is not a takeover link
    assert answer({"token": emailed_token(), "name": "X", "password": "owners-pass-456"}) == \
        (400, "TOKEN_INVALID")
    assert answer({"token": token, "name": "X", "password": "short"}) == (422, "VALIDATION_FAILED")
    assert answer({"token": token}) == (422, "INVALID_REQUEST")


def test_the_emailed_page_takes_over(client, factory):
    register(client)
    client.post("/api/auth/register", json=OWNER)
    token = takeover_token()
    form = client.get(f"/claim-account/{token}")
    assert form.status_code == 200 and 'name="password"' in form.get_data(as_text=True)
    weak = client.post(f"/claim-account/{token}", data={"name": "Real Owner", "password": "x"})
    assert weak.status_code == 422 and 'name="password"' in weak.get_data(as_text=True)
    done = client.post(f"/claim-account/{token}",
                       data={"name": "Real Owner", "password": "owners-pass-456"})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert client.post("/api/auth/login", json={
        "email": VICTIM, "password": "owners-pass-456"}).status_code == 200
    used = client.get(f"/claim-account/{token}")
    assert used.status_code == 400 and "already been used" in used.get_data(as_text=True)


def test_the_registrants_socket_closes_on_takeover(client, factory, server, opened):
    squatter = register(client)
    listener = Listener(server.url, auth={"token": squatter["Authorization"].split()[1]})
    opened.append(listener)
    listener.connect()
    client.post("/api/auth/register", json=OWNER)
    claimed = client.post("/api/auth/claim-account", json={
        "token": takeover_token(), "name": "Real Owner", "password": "owners-pass-456"})
    assert claimed.status_code == 200
    assert listener.disconnected.wait(10)
    again = Listener(server.url, auth={"token": squatter["Authorization"].split()[1]})
    opened.append(again)
    assert again.try_connect()["message"] == "Token has been revoked"
