"""Only Mailgun's whole signature opens the door: a truncated, one-character, blank or
empty signature is refused like a wrong one, before anything is written (issue 28:
the tamper test only changed the last character, so a prefix match went unnoticed)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import Customer, EmailLog, Ticket

from .inbound_payloads import URL, deliver, payload, signed


def _rows(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("cut, code", [
    (lambda s: s[:32], "INVALID_SIGNATURE"),
    (lambda s: s[:-1], "INVALID_SIGNATURE"),
    (lambda s: s[:1], "INVALID_SIGNATURE"),
    (lambda s: "  ", "INVALID_SIGNATURE"),
    (lambda s: "", "MISSING_SIGNATURE"),
], ids=["half", "all-but-last", "first-char", "blank", "empty"])
def test_partial_or_empty_signature_is_refused(client, app_ctx, cut, code):
    data = signed(payload("new_request"))
    data["signature"] = cut(data["signature"])
    response = client.post(URL, data=data)
    assert response.status_code == 406
    assert response.get_json()["code"] == code
    assert (_rows(Ticket), _rows(EmailLog), _rows(Customer)) == (0, 0, 0)


def test_signature_is_read_case_and_space_insensitively(client, app_ctx):
    """Hex case and surrounding whitespace are transport noise, not a forgery."""
    data = signed(payload("new_request"))
    data["signature"] = f" {data['signature'].upper()}\n"
    response = client.post(URL, data=data)
    assert response.status_code == 200 and response.get_json()["outcome"] == "created"
    assert _rows(Ticket) == 1


def test_overlong_token_is_refused(client, app_ctx):
    response = deliver(client, payload("new_request"), token="t" * 129)
    assert response.status_code == 406
    assert response.get_json() == {"success": False, "code": "INVALID_SIGNATURE",
                                   "message": "The token is too long."}
    assert deliver(client, payload("new_request"), token="t" * 128).status_code == 200
