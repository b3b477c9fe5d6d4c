"""Attachments end to end (issue 26): upload, types from the bytes, limits, names that
cannot escape the storage, linking to messages only the uploader's own unused files,
download by the ticket policy with safe headers, thumbnails made once, and orphans
removed after a day."""
from __future__ import annotations

import datetime as dt
import io
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from support_app.attachments import cleanup, store
from support_app.attachments.storage import LocalStorage, storage
from support_app.extensions import db
from support_app.models import Attachment, Message, Ticket, utcnow
from support_app.tickets import service
from support_app.tickets.errors import ValidationFailed

from .admin_helpers import csrf_from, desk_client, login
from .attachment_helpers import (HTML, PDF, PNG, SVG, URL, png_bytes, post_file, upload_file,
                                 uploaded)
from .inbound_payloads import deliver, payload, with_files

def reply(client, person, ticket_id, *urls):
    return client.post(f"/api/support-tickets/{ticket_id}/messages", headers=person.headers,
                       json={"message": "See the attached photo", "attachments": list(urls)})


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


# --------------------------------------------------------------------------- upload


def test_upload_answers_id_name_size_type_and_a_url_on_this_server(client, factory, app):
    jane = factory.customer()
    data = uploaded(client, jane, "Schaden am Paket.png")
    assert set(data) == {"id", "name", "size", "type", "url"}
    assert (data["name"], data["size"], data["type"]) == ("Schaden am Paket.png", len(PNG),
                                                          "image/png")
    assert data["url"] == f"{app.config['PUBLIC_URL']}/api/attachments/{data['id']}"
    row = db.session.get(Attachment, data["id"])
    assert row.owner_id == jane.user.id and row.message_id is None and row.ticket_id is None
    assert len(row.checksum) == 64 and storage().read(row.storage_key) == PNG
    # The type comes from the bytes: a PDF named .png is a PDF.
    assert uploaded(client, jane, "scan.png", PDF)["type"] == "application/pdf"
    assert uploaded(client, jane, "notes.txt", "Reçu n° 42\n".encode())["type"] == "text/plain"


@pytest.mark.parametrize("name, data", [
    ("photo.png", HTML),  # markup dressed as an image
    ("logo.png", SVG),
    ("page.html", HTML),
    ("setup.exe", b"MZ" + b"\x00" * 200),
    ("bytes.bin", b"\x00\x01\x02\x03" * 10),
])
def test_content_not_in_the_allowed_types_is_refused(client, factory, name, data):
    jane = factory.customer()
    response = post_file(client, jane, name, data)
    assert response.status_code == 422
    body = response.get_json()
    assert body["success"] is False and "is not accepted" in body["errors"]["file"][0]
    assert count(Attachment) == 0


def test_empty_missing_and_over_limit_files(client, factory, app, monkeypatch):
    jane = factory.customer()
    response = post_file(client, jane, "empty.png", b"")
    assert response.status_code == 422 and "empty file" in response.get_json()["errors"]["file"][0]
    response = client.post(URL, headers=jane.headers, data={"other": "x"})
    assert response.status_code == 422 and "file" in response.get_json()["errors"]
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 1024)
    response = post_file(client, jane, "big.png", png_bytes() + b"\x00" * 1024)
    assert response.status_code == 413
    assert "larger than" in response.get_json()["message"]
    # Far past the limit: refused before the body is read.
    response = post_file(client, jane, "huge.pdf", PDF + b"0" * (2 * 1024 * 1024))
    assert response.status_code == 413 and response.get_json()["success"] is False
    assert count(Attachment) == 0


def test_unused_uploads_per_account_are_capped(client, factory, app, monkeypatch):
    """Uploads nobody's message takes stay a day: without a cap one account could fill
    the disk in that day (10 MB a request). Past ATTACHMENT_UNUSED_MAX unused uploads
    the next is refused (nothing stored) until a message takes some."""
    monkeypatch.setitem(app.config, "ATTACHMENT_UNUSED_MAX", 2)
    jane, omar = factory.customer(), factory.customer()
    first, _second = uploaded(client, jane), uploaded(client, jane)
    stored = set(Path(app.config["ATTACHMENT_STORAGE_PATH"]).rglob("*"))
    refused = post_file(client, jane, "third.png", PNG)
    assert refused.status_code == 422 and "unused" in refused.get_json()["errors"]["file"][0]
    assert count(Attachment) == 2
    assert set(Path(app.config["ATTACHMENT_STORAGE_PATH"]).rglob("*")) == stored  # no bytes
    uploaded(client, omar)  # a cap per account
    ticket = factory.ticket(jane)
    assert reply(client, jane, ticket.id, first["url"]).status_code == 201
    uploaded(client, jane)  # a message took one: room again


def test_the_default_limit_is_ten_megabytes(client, factory):
    jane = factory.customer()
    response = post_file(client, jane, "scan.pdf", PDF + b"0" * (10 * 1024 * 1024))
    assert response.status_code == 413


@pytest.mark.parametrize("name, shown", [
    ("../../../../etc/passwd.png", "passwd.png"),
    ("/absolute/evil.png", "evil.png"),
    ("..", "file"),
    ("photo\x00.png\u202e", "photo.png"),
    ("صورة الطرد.png", "صورة الطرد.png"),
])
def test_names_never_reach_the_file_system(client, factory, app, name, shown):
    jane = factory.customer()
    data = uploaded(client, jane, name)
    assert data["name"] == shown
    row = db.session.get(Attachment, data["id"])
    root = Path(app.config["ATTACHMENT_STORAGE_PATH"]).resolve()
    path = storage().path(row.storage_key).resolve()
    # The stored name is the key alone (the storage root's own path may hold any word).
    assert path.is_file() and root in path.parents and shown not in str(path.relative_to(root))


def test_storage_keys_are_ours_only(tmp_path):
    files = LocalStorage(tmp_path)
    key = files.save(b"x")
    assert files.read(key) == b"x"
    for bad in ("../" + key, key + "/..", "..", "/etc/passwd", key.upper(), ""):
        with pytest.raises(ValueError):
            files.path(bad)


def test_concurrent_uploads_each_get_their_own_file(server, factory):
    import requests

    people = [factory.customer() for _ in range(3)]
    results: list[requests.Response] = []
    lock = threading.Lock()

    def send(person, n):
        data = png_bytes(color=(n, n, n))
        response = requests.post(f"{server.url}{URL}", headers=person.headers, timeout=30,
                                 files={"file": (f"photo-{n}.png", data, "image/png")})
        with lock:
            results.append(response)

    threads = [threading.Thread(target=send, args=(people[n % 3], n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(r.status_code for r in results) == [201] * 8
    ids = {r.json()["data"]["id"] for r in results}
    assert len(ids) == 8
    keys = set(db.session.scalars(select(Attachment.storage_key)))
    assert len(keys) == 8


# --------------------------------------------------------------------------- linking


def test_a_message_carries_the_users_own_uploads(client, factory):
    jane = factory.customer()
    ticket = factory.ticket(jane)
    photo = uploaded(client, jane)
    response = reply(client, jane, ticket.id, photo["url"])
    assert response.status_code == 201
    message = response.get_json()["data"]
    assert message["attachments"] == [photo["url"]]
    row = db.session.get(Attachment, photo["id"])
    assert (row.message_id, row.ticket_id) == (message["id"], ticket.id)
    thread = client.get(f"/api/support-tickets/{ticket.id}/messages", headers=jane.headers)
    assert thread.get_json()["data"][0]["attachments"] == [photo["url"]]
    # Used once: it cannot ride on a second message.
    response = reply(client, jane, ticket.id, photo["url"])
    assert response.status_code == 422 and "attachments" in response.get_json()["errors"]


@pytest.mark.parametrize("bad", [
    "javascript:alert(1)",
    "https://cdn.example.com/label.pdf",
    "https://evil.example/api/attachments/1",
    "/api/attachments/1?x=1",
    "/api/attachments/99999999999",
    "/api/support-tickets/1",
    "data:image/png;base64,AAAA",
])
def test_strings_that_are_not_our_upload_urls_are_refused(client, factory, bad):
    jane = factory.customer()
    ticket = factory.ticket(jane)
    response = reply(client, jane, ticket.id, bad)
    assert response.status_code == 422
    assert "attachments" in response.get_json()["errors"]
    assert count(Message) == 0


def test_a_url_issued_to_another_user_is_refused_and_nothing_is_written(client, factory):
    jane, mallory = factory.customer(), factory.customer()
    ticket = factory.ticket(mallory)
    janes = uploaded(client, jane)
    mine = uploaded(client, mallory, "mine.png")
    response = reply(client, mallory, ticket.id, mine["url"], janes["url"])
    assert response.status_code == 422
    assert "attachments" in response.get_json()["errors"]
    db.session.expire_all()
    assert count(Message) == 0 and db.session.get(Ticket, ticket.id).message_count == 0
    # Neither file was linked: the whole message was refused.
    assert db.session.scalar(select(func.count()).select_from(Attachment)
                             .where(Attachment.message_id.is_not(None))) == 0
    # Staff cannot pass off a customer's upload either.
    admin = factory.staff()
    response = reply(client, admin, ticket.id, janes["url"])
    assert response.status_code == 422


def test_too_many_files_on_one_message(client, factory, app, monkeypatch):
    jane = factory.customer()
    ticket = factory.ticket(jane)
    urls = [uploaded(client, jane, f"p{n}.png")["url"] for n in range(3)]
    monkeypatch.setitem(app.config, "ATTACHMENTS_PER_MESSAGE", 2)
    response = reply(client, jane, ticket.id, *urls)
    assert response.status_code == 422 and count(Message) == 0


# --------------------------------------------------------------------------- download


def test_download_follows_the_ticket_policy(client, factory):
    owner, participant, stranger = factory.customer(), factory.customer(), factory.customer()
    ride = factory.ride(owner.customer, members=[participant.customer.id])
    ticket = service.open_ticket(owner.actor, subject="Broken parcel", description="Photo attached",
                                 ride_id=ride.id,
                                 participant_customer_ids=[participant.customer.id]).ticket
    assigned, other_agent = factory.agent(), factory.agent()
    service.assign_self(assigned.actor, ticket.id)
    photo = upload_file(owner.actor)
    service.add_message(owner.actor, ticket.id, "here", attachments=[photo.id])
    url = f"{URL}/{photo.id}"
    expected = [(owner, 200), (participant, 200), (stranger, 404), (assigned, 200),
                (other_agent, 404), (factory.staff(), 200)]
    for person, status in expected:
        response = client.get(url, headers=person.headers)
        assert response.status_code == status, person
        if status == 200:
            assert response.data == PNG
    assert client.get(url).status_code == 401


def test_an_unused_upload_reaches_its_uploader_only(client, factory):
    jane = factory.customer()
    photo = uploaded(client, jane)
    assert client.get(f"{URL}/{photo['id']}", headers=jane.headers).status_code == 200
    for other in (factory.customer(), factory.staff(), factory.agent()):
        assert client.get(f"{URL}/{photo['id']}", headers=other.headers).status_code == 404
    assert client.get(f"{URL}/{10**30}", headers=jane.headers).status_code == 404


def test_internal_note_files_never_reach_customers(client, factory):
    owner = factory.customer()
    ticket = factory.ticket(owner)
    admin = factory.staff()
    secret = upload_file(admin.actor, "fraud-check.png")
    service.add_note(admin.actor, ticket.id, "Fraud check screenshot", attachments=[secret.id])
    assert db.session.get(Attachment, secret.id).note_id is not None
    for path in (f"{URL}/{secret.id}", f"{URL}/{secret.id}/thumbnail"):
        assert client.get(path, headers=owner.headers).status_code == 404
        assert client.get(path, headers=admin.headers).status_code == 200
    thread = client.get(f"/api/support-tickets/{ticket.id}/messages", headers=owner.headers)
    assert str(secret.id) not in str([m["attachments"] for m in thread.get_json()["data"]])
    # A customer cannot attach a file to a note (nor take the staff's file).
    with pytest.raises(Exception):
        service.add_note(owner.actor, ticket.id, "x", attachments=[secret.id])


def test_download_headers_never_let_a_file_run(client, factory):
    jane = factory.customer()
    ticket = factory.ticket(jane)
    files = [upload_file(jane.actor, "photo.png"), upload_file(jane.actor, "scan.pdf", PDF),
             upload_file(jane.actor, "notes.txt", b"plain words\n")]
    service.add_message(jane.actor, ticket.id, "files", attachments=[f.id for f in files])
    disposition = {}
    for row in files:
        response = client.get(f"{URL}/{row.id}", headers=jane.headers)
        assert response.status_code == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
        disposition[row.content_type] = response.headers["Content-Disposition"].split(";")[0]
        assert "html" not in response.headers["Content-Type"]
    assert disposition == {"image/png": "inline", "application/pdf": "inline",
                           "text/plain": "attachment"}


def test_thumbnails_are_made_once(client, factory):
    jane = factory.customer()
    photo = uploaded(client, jane, data=png_bytes((1200, 900)))
    first = client.get(f"{URL}/{photo['id']}/thumbnail", headers=jane.headers)
    assert first.status_code == 200 and first.mimetype == "image/png"
    from PIL import Image

    assert max(Image.open(io.BytesIO(first.data)).size) <= 320
    db.session.expire_all()
    key = db.session.get(Attachment, photo["id"]).thumbnail_key
    second = client.get(f"{URL}/{photo['id']}/thumbnail", headers=jane.headers)
    db.session.expire_all()
    assert second.data == first.data and db.session.get(Attachment, photo["id"]).thumbnail_key == key
    pdf = uploaded(client, jane, "scan.pdf", PDF)
    assert client.get(f"{URL}/{pdf['id']}/thumbnail", headers=jane.headers).status_code == 404


# --------------------------------------------------------------------------- mail, dashboard


def test_mailed_files_are_on_their_message_for_api_and_download(client, factory):
    jane = factory.customer(email="jane@example.org")
    photo = png_bytes((300, 200))
    number = deliver(client, with_files(payload("new_request"), ("dented-box.png", photo,
                                                                 "image/png"))).get_json()
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number["ticket_number"]))
    (row,) = db.session.scalars(select(Attachment))
    assert (row.ticket_id, row.owner_id, row.filename) == (ticket.id, None, "dented-box.png")
    message = db.session.get(Message, row.message_id)
    assert message.attachments == [f"/api/attachments/{row.id}"]
    if ticket.customer_id == jane.customer.id and ticket.unverified_reason is None:
        assert client.get(f"{URL}/{row.id}", headers=jane.headers).data == photo


def test_staff_attach_files_to_replies_and_notes_on_the_dashboard(app, factory):
    jane = factory.customer()
    ticket = factory.ticket(jane)
    admin = factory.staff()
    desk = desk_client(app)
    login(desk, admin.user.email)
    page = desk.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    response = desk.post(f"/tickets/reply/{ticket.id}", data={
        "csrf_token": csrf_from(page), "body": "Here is the return label",
        "files": [(io.BytesIO(PDF), "return-label.pdf"), (io.BytesIO(PNG), "box.png")]},
        content_type="multipart/form-data")
    assert response.status_code == 302
    response = desk.post(f"/tickets/note/{ticket.id}", data={
        "csrf_token": csrf_from(page), "note": "Courier photo",
        "files": [(io.BytesIO(PNG), "courier.png")]}, content_type="multipart/form-data")
    assert response.status_code == 302
    response = desk.post(f"/tickets/reply/{ticket.id}", data={
        "csrf_token": csrf_from(page), "body": "A page",
        "files": [(io.BytesIO(HTML), "label.png")]}, content_type="multipart/form-data")
    db.session.expire_all()
    rows = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [(r.filename, r.message_id is not None, r.note_id is not None) for r in rows] == [
        ("return-label.pdf", True, False), ("box.png", True, False), ("courier.png", False, True)]
    assert count(Message) == 1  # the HTML one was refused, its reply not sent
    shown = desk.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    for row in rows:
        assert f'id="attachment-{row.id}"' in shown and row.filename in shown
    assert f"/api/attachments/{rows[1].id}/thumbnail" in shown
    # The customer sees the reply's files, never the note's.
    thread = client_thread(app, jane, ticket.id)
    assert thread == [[store.public_url(f"/api/attachments/{rows[0].id}"),
                       store.public_url(f"/api/attachments/{rows[1].id}")]]


def client_thread(app, person, ticket_id):
    response = app.test_client().get(f"/api/support-tickets/{ticket_id}/messages",
                                     headers=person.headers)
    return [m["attachments"] for m in response.get_json()["data"]]


# --------------------------------------------------------------------------- orphans


def test_orphan_uploads_are_removed_after_a_day(client, factory, app):
    jane = factory.customer()
    ticket = factory.ticket(jane)
    old, used, young = (upload_file(jane.actor, f"{n}.png").id for n in ("old", "used", "young"))
    service.add_message(jane.actor, ticket.id, "used", attachments=[used])
    client.get(f"{URL}/{old}/thumbnail", headers=jane.headers)  # a thumbnail to remove too
    two_days_ago = utcnow() - dt.timedelta(days=2)
    db.session.execute(update(Attachment).where(Attachment.id.in_([old, used]))
                       .values(created_at=two_days_ago))
    db.session.commit()
    db.session.expire_all()
    old_row = db.session.get(Attachment, old)
    old_files = [storage().path(k) for k in (old_row.storage_key, old_row.thumbnail_key)]
    assert all(p.exists() for p in old_files)
    result = app.test_cli_runner().invoke(args=["support", "attachments-cleanup"])
    assert result.exit_code == 0 and "Removed 1 unused upload" in result.output
    db.session.expire_all()
    assert db.session.get(Attachment, old) is None
    assert not any(p.exists() for p in old_files)
    assert db.session.get(Attachment, used) is not None
    assert db.session.get(Attachment, young) is not None
    assert cleanup.remove_all_orphans() == 0
    # A day later the young one goes too.
    assert cleanup.remove_all_orphans(utcnow() + dt.timedelta(hours=25)) == 1
    with pytest.raises(ValidationFailed):
        service.add_message(jane.actor, ticket.id, "too late", attachments=[young])
