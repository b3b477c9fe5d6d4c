"""Signed links for a staff reply's files mailed as links (issue 26): a guest who wrote
through the contact form (no account) opens them without signing in, with the download
route's headers; a tampered, expired or malformed link, another customer's file, an
internal note's file or an unused upload is the same 404 page; the page is rate-limited
like the survey page; a merged ticket's files still open for its customer."""
from __future__ import annotations

import re

import pytest

from support_app.attachments import store
from support_app.extensions import db
from support_app.models import Customer, Ticket
from support_app.notify import outbox
from support_app.security import file_links, survey_links
from support_app.tickets import merge, service

from .attachment_helpers import PDF, PNG, upload_file
from .test_api_storefront_admin import client_address

LINK = re.compile(r"https?://\S+/files/[A-Za-z0-9_.\-]+")
COPIED = ("Content-Type", "Content-Disposition", "X-Content-Type-Options",
          "Content-Security-Policy", "Cache-Control", "Cross-Origin-Resource-Policy", "ETag")


@pytest.fixture
def browser(app):
    """An anonymous client with its own address (rate limits are per address)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = client_address()
    return client


def guest_ticket(browser, email="gina@example.com") -> Ticket:
    response = browser.post("/api/contact", json={
        "name": "Gina Guest", "email": email, "subject": "Damaged parcel",
        "message": "The box arrived crushed."})
    assert response.status_code == 201, response.get_json()
    number = response.get_json()["data"]["ticketNumber"]
    return db.session.query(Ticket).filter_by(number=number).one()


def mailed_links(smtp, app, admin, ticket, *files) -> list[str]:
    """A staff reply with files too large for mail: the links its email carries."""
    app.config["MAIL_ATTACHMENT_MAX_BYTES"] = 1
    try:
        service.add_message(admin.actor, ticket.id, "Here are the files",
                            attachments=[f.id for f in files])
    finally:
        app.config["MAIL_ATTACHMENT_MAX_BYTES"] = 10 * 1024 * 1024
    outbox.deliver_due()
    [msg] = [m for m in smtp.messages if "New reply" in m["Subject"]
             and ticket.number in m["Subject"]][-1:]
    text = msg.get_body(("plain",)).get_content()
    assert "/api/attachments/" not in text and "open them with these links" in text
    html = msg.get_body(("html",)).get_content()
    links = LINK.findall(text)
    assert all(f'href="{link}"' in html for link in links)
    return [link.removeprefix(app.config["PUBLIC_URL"]) for link in links]


def test_a_guest_opens_the_mailed_files_without_signing_in(browser, client, factory, smtp, app):
    ticket = guest_ticket(browser)
    guest = db.session.get(Customer, ticket.customer_id)
    assert guest.user_id is None  # no account to sign in with
    admin = factory.staff()
    label, photo = upload_file(admin.actor, "label.pdf", PDF), upload_file(admin.actor)
    links = mailed_links(smtp, app, admin, ticket, label, photo)
    assert len(links) == 2 and all(link.startswith("/files/") for link in links)
    for attachment, link in zip((label, photo), links):
        opened = browser.get(link)
        assert opened.status_code == 200 and opened.data == store.content(attachment)
        signed_in = client.get(f"/api/attachments/{attachment.id}", headers=admin.headers)
        assert {h: opened.headers.get(h) for h in COPIED} == \
            {h: signed_in.headers.get(h) for h in COPIED}
    opened = browser.get(links[0])
    assert opened.headers["Content-Disposition"].startswith("inline")
    assert opened.headers["Referrer-Policy"] == "no-referrer"  # a PDF's links leak no token


def test_refused_links_are_one_404_page(browser, factory, smtp, app):
    ticket = guest_ticket(browser)
    admin = factory.staff()
    label = upload_file(admin.actor, "label.pdf", PDF)
    [link] = mailed_links(smtp, app, admin, ticket, label)
    assert browser.get(link).status_code == 200
    # Another customer's file, an internal note's file, an unused upload, a file deleted
    # since: genuine signatures for this guest, but not files of their tickets' messages.
    alice = factory.customer()
    theirs = upload_file(alice.actor)
    service.add_message(alice.actor, factory.ticket(alice).id, "mine", attachments=[theirs.id])
    note_file = upload_file(admin.actor, "courier.png")
    service.add_note(admin.actor, ticket.id, "Courier photo", attachments=[note_file.id])
    unused = upload_file(admin.actor, "draft.png")
    customer = ticket.customer_id
    token = link.rsplit("/", 1)[1]
    middle = len(token) // 2
    refused = {
        "tampered": link[:-len(token)] + token[:middle] + ("A" if token[middle] != "A" else "B")
        + token[middle + 1:],
        "another customer's file": f"/files/{file_links.token(theirs.id, customer)}",
        "the link of another customer": f"/files/{file_links.token(label.id, alice.customer.id)}",
        "note file": f"/files/{file_links.token(note_file.id, customer)}",
        "unused upload": f"/files/{file_links.token(unused.id, customer)}",
        "absent file": f"/files/{file_links.token(10**6, customer)}",
        "survey token": f"/files/{survey_links.rating_token(ticket.id, customer, 5)}",
        "garbage": "/files/not-a-token",
        "long": "/files/" + "x" * 2000,
    }
    pages = set()
    for why, path in refused.items():
        response = browser.get(path)
        assert response.status_code == 404, why
        assert response.mimetype == "text/html" and "File not available" in response.text, why
        pages.add(response.data)
    assert len(pages) == 1  # no refusal tells more than another
    app.config["FILE_LINK_MAX_AGE"] = -1
    try:
        expired = browser.get(link)
    finally:
        app.config["FILE_LINK_MAX_AGE"] = 30 * 86400
    assert expired.status_code == 404 and expired.data in pages
    assert browser.get(link).status_code == 200  # within its age again


def test_a_merged_tickets_files_still_open_for_its_customer(browser, factory, smtp, app):
    first = guest_ticket(browser)
    second = guest_ticket(browser)
    assert first.customer_id == second.customer_id
    admin = factory.staff()
    [link] = mailed_links(smtp, app, admin, first, upload_file(admin.actor, "label.pdf", PDF))
    merge.merge(admin.actor, first.id, second.id)
    response = browser.get(link)
    assert response.status_code == 200 and response.data == PDF


def test_the_page_is_rate_limited_per_address(browser, app, factory, smtp):
    ticket = guest_ticket(browser)
    admin = factory.staff()
    [link] = mailed_links(smtp, app, admin, ticket, upload_file(admin.actor, data=PNG))
    saved = app.config["FILE_LINK_RATE_LIMIT"]
    app.config["FILE_LINK_RATE_LIMIT"] = "3 per minute"
    try:
        answers = [browser.get(link).status_code for _ in range(3)]
        answers.append(browser.get("/files/not-a-token").status_code)
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = client_address()
        elsewhere = other.get(link).status_code
    finally:
        app.config["FILE_LINK_RATE_LIMIT"] = saved
    assert answers == [200, 200, 200, 429] and elsewhere == 200


@pytest.mark.parametrize("data", [{"a": 1, "c": 2}, {"t": 1, "c": 2, "r": 5}])
def test_a_token_signed_for_another_purpose_opens_nothing(app_ctx, data):
    """Signed with the app's own key but not with the link's salt (itsdangerous's
    default one, or the other link's): neither kind of link takes it. A shared salt
    would let a survey token open a file, or any signed value of the app a survey."""
    from itsdangerous import URLSafeTimedSerializer

    from flask import current_app

    unsalted = [URLSafeTimedSerializer(current_app.secret_key, **salt).dumps(data)
                for salt in ({}, {"salt": None})]  # itsdangerous's two defaults
    as_survey = URLSafeTimedSerializer(current_app.secret_key,
                                       salt=survey_links.RATING_SALT).dumps(data)
    for signed in (*unsalted, as_survey):
        with pytest.raises(file_links.LinkRefused):
            file_links.read(signed)
    for signed in unsalted:
        with pytest.raises(survey_links.LinkRefused):
            survey_links.read_rating(signed, data.get("t"))
    with pytest.raises(survey_links.LinkRefused):
        survey_links.read_rating(file_links.token(1, 2), 1)


@pytest.mark.parametrize("data", [[1, 2], {"a": "1", "c": 2}, {"a": True, "c": 2}, {"a": 1}])
def test_a_well_signed_token_of_the_wrong_shape_is_refused(app_ctx, data):
    from itsdangerous import URLSafeTimedSerializer

    from flask import current_app

    signed = URLSafeTimedSerializer(current_app.secret_key, salt=file_links.SALT).dumps(data)
    with pytest.raises(file_links.LinkRefused):
        file_links.read(signed)
