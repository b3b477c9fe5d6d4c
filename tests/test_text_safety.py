"""Unusual but valid text: emoji and right-to-left text round-trip exactly, HTML is
stored as text and escaped wherever it is rendered (dashboard pages, HTML emails), CR/LF
never reaches an email header, and SQL-looking search strings are matched literally.

LIKE wildcards (`%`, `_`) matched literally are proven in `test_api_support_tickets.py`
(002 `search`) and `test_api_storefront_admin.py` (000 customer search).
"""
from __future__ import annotations

import email
from email import policy

from flask import current_app

from support_app.extensions import db
from support_app.models import EmailLog, Ticket
from support_app.notify import outbox
from support_app.security import roles

from .admin_helpers import desk_client, login

WORLD_TEXT = "Ünïcödé ☕🎉👩‍👩‍👧 שלום עולם مرحبا بالعالم \u202eevil\u202c e\u0301"
HTML = '<script>alert("x")</script><img src=x onerror="alert(1)"> & <b>bold</b>'
HEADER_ATTACK = "Hello\r\nBcc: victim@example.com\r\nX-Injected: yes"


def _create(client, person, subject: str, description: str) -> dict:
    r = client.post("/api/support-tickets", headers=person.headers,
                    json={"subject": subject, "description": description})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["data"]


def test_emoji_and_right_to_left_text_round_trip_exactly(client, factory):
    alice = factory.customer(name="مريم 👩‍💻")
    created = _create(client, alice, WORLD_TEXT, WORLD_TEXT + "\nsecond line")
    tid = created["id"]
    shown = client.get(f"/api/support-tickets/{tid}", headers=alice.headers).get_json()["data"]
    assert (shown["subject"], shown["description"]) == (WORLD_TEXT, WORLD_TEXT + "\nsecond line")
    r = client.post(f"/api/support-tickets/{tid}/messages", headers=alice.headers,
                    json={"message": WORLD_TEXT})
    assert r.status_code == 201
    thread = client.get(f"/api/support-tickets/{tid}/messages", headers=alice.headers).get_json()
    assert WORLD_TEXT in [m["message"] for m in thread["data"]]
    listed = client.get("/api/customer/support", headers=alice.headers).get_json()["data"]
    assert [t["subject"] for t in listed] == [WORLD_TEXT]
    desk = client.get(f"/api/support/tickets/{tid}/", headers=alice.headers).get_json()
    assert desk["ticket"]["subject"] == WORLD_TEXT
    db.session.expire_all()
    assert db.session.get(Ticket, tid).subject == WORLD_TEXT


def test_html_is_stored_as_text_and_escaped_in_pages_and_emails(app, client, factory):
    alice = factory.customer(name='Alice <b onmouseover="x">')
    created = _create(client, alice, HTML, HTML)
    tid = created["id"]
    client.post(f"/api/support-tickets/{tid}/messages", headers=alice.headers, json={"message": HTML})
    assert client.get(f"/api/support-tickets/{tid}",
                      headers=alice.headers).get_json()["data"]["subject"] == HTML

    admin = factory.staff(roles.ADMIN)
    dashboard = desk_client(app)
    login(dashboard, admin.user.email)
    for url in (f"/tickets/show/{tid}", "/tickets/list/", "/dashboard/", "/customers/list/"):
        page = dashboard.get(url)
        assert page.status_code == 200, url
        html = page.get_data(as_text=True)
        assert "<script>alert(" not in html and "onerror=\"alert" not in html, url
        assert '<b onmouseover' not in html, url
    assert "&lt;script&gt;alert(" in dashboard.get(f"/tickets/show/{tid}").get_data(as_text=True)

    db.session.expire_all()
    mails = db.session.query(EmailLog).filter(EmailLog.ticket_id == tid,
                                              EmailLog.body_html.isnot(None)).all()
    assert mails, "the customer is mailed a confirmation"
    for mail in mails:
        assert "<script>alert(" not in mail.body_html and "onerror=\"alert" not in mail.body_html
        assert "&lt;script&gt;" in mail.body_html


def _headers_of(row: EmailLog) -> dict[str, str]:
    raw = outbox.build_message(row, current_app.config).as_bytes()
    return dict(email.message_from_bytes(raw, policy=policy.default).items())


def test_cr_lf_in_names_and_subjects_never_reaches_email_headers(app, client, factory):
    bob = factory.customer(name=HEADER_ATTACK)
    _create(client, bob, HEADER_ATTACK, "Body of the ticket")
    guest = desk_client(app)
    r = guest.post("/api/contact", json={"name": HEADER_ATTACK, "email": "gina@example.com",
                                         "subject": HEADER_ATTACK, "message": "Question"})
    assert r.status_code == 201
    db.session.expire_all()
    rows = db.session.query(EmailLog).filter(EmailLog.direction == "out").all()
    assert len(rows) >= 2
    for row in rows:
        headers = _headers_of(row)  # builds (a CR/LF would fail the mail for good)
        assert not {"Bcc", "X-Injected"} & set(headers), headers
        assert all("\n" not in value and "\r" not in value
                   for value in (str(v).replace("\r\n ", " ") for v in headers.values()))
        assert "\n" not in row.subject and "\r" not in row.subject


def test_sql_looking_search_strings_are_matched_literally(app, client, factory):
    john = factory.customer(name="John O'Brien")
    factory.ticket(john, subject="Refund for order 42")
    manager = factory.staff(roles.STORE_MANAGER)
    for text in ("' OR '1'='1", "'; DROP TABLE tickets; --", "\\", "%' --", "[a-z]*"):
        r = client.get("/api/support-tickets", headers=manager.headers, query_string={"search": text})
        assert r.status_code == 200 and r.get_json()["data"]["data"] == [], text
    r = client.get("/api/support-tickets", headers=manager.headers, query_string={"search": "order 42"})
    assert len(r.get_json()["data"]["data"]) == 1

    dashboard = desk_client(app)
    login(dashboard, manager.user.email)
    search = "/api/admin/support/customers/search"
    assert [c["name"] for c in dashboard.get(search, query_string={"q": "O'Brien"})
            .get_json()["data"]] == ["John O'Brien"]
    for text in ("' OR 1=1 --", "x' UNION SELECT password FROM ab_user --"):
        r = dashboard.get(search, query_string={"q": text})
        assert r.status_code == 200 and r.get_json()["data"] == [], text
    db.session.expire_all()
    assert db.session.query(Ticket).count() == 1
