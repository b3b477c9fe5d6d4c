"""Confirm-email errors carry a stable `code` beside the auth endpoints' body, so an app
can tell "ask for a new link" from "contact support" without reading the message."""
from __future__ import annotations

import time

from flask import current_app
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from support_app.extensions import db
from support_app.models import SupportUser
from support_app.security.email_ownership import SALT

from .test_email_ownership import VICTIM, emailed_token, guest_history, register


def refused(client, token: str | None, status: int = 400) -> str:
    response = client.post("/api/auth/confirm-email", json={} if token is None else {"token": token})
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["success"] is False and body["message"]
    return body["code"]


def test_each_refusal_has_its_code(client, factory):
    guest_history(factory)
    account = register(client)
    token = emailed_token()

    assert refused(client, "not-a-token") == "TOKEN_INVALID"
    assert refused(client, None, 422) == "INVALID_REQUEST"

    class ThreeDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3 * 24 * 3600

    old = URLSafeTimedSerializer(current_app.secret_key, salt=SALT, signer=ThreeDaysAgo)
    assert refused(client, old.dumps({"u": account["user_id"], "e": VICTIM})) == "TOKEN_EXPIRED"

    user = db.session.get(SupportUser, account["user_id"])
    user.email = "moved@example.com"
    db.session.commit()
    assert refused(client, token) == "ADDRESS_CHANGED"
    user.email = VICTIM
    db.session.commit()

    assert client.post("/api/auth/confirm-email", json={"token": token}).status_code == 200
    assert refused(client, token) == "TOKEN_USED"

    auth = {"Authorization": account["Authorization"]}
    again = client.post("/api/auth/confirm-email/resend", headers=auth)
    assert again.status_code == 400 and again.get_json()["code"] == "ALREADY_CONFIRMED"
    anonymous = client.post("/api/auth/confirm-email/resend")
    assert anonymous.status_code == 401 and anonymous.get_json()["code"] == "UNAUTHORIZED"


def test_a_record_owned_by_another_account_is_record_owned(client, factory):
    owner = factory.customer(email="old@example.com")
    owner.customer.email = "changed@example.com"
    db.session.commit()
    register(client, email="changed@example.com")
    assert refused(client, emailed_token("changed@example.com")) == "RECORD_OWNED"


def test_the_codes_are_in_the_openapi_document(client, app_ctx):
    spec = client.get("/api/openapi.json").get_json()
    responses = spec["paths"]["/api/auth/confirm-email"]["post"]["responses"]
    schema = responses["400"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "code" in spec["components"]["schemas"][schema]["required"]
    for code in ("TOKEN_INVALID", "TOKEN_EXPIRED", "TOKEN_USED", "ADDRESS_CHANGED",
                 "RECORD_OWNED"):
        assert code in responses["400"]["description"]
