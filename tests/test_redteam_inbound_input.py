"""Red team (issue 20): a correctly signed Mailgun post whose `message-headers` field is
JSON nested thousands of levels deep answered 500 (RecursionError in the parser); it is
a malformed field like any other: the mail is kept, read without those headers."""
from __future__ import annotations

from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import Ticket

from .inbound_payloads import deliver, payload


def test_deeply_nested_message_headers_are_no_server_error(client, app_ctx):
    fields = payload("new_request", address="deep@example.net")
    fields["message-headers"] = "[" * 5000 + "]" * 5000
    response = deliver(client, fields)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["outcome"] == "held"  # no verdict headers left: the sender is unproved
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1
