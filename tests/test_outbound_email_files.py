"""A staff reply's files reach the customer by email (issue 26): attached when together
they fit MAIL_ATTACHMENT_MAX_BYTES, else as signed links (`/files/<token>`); internal-note
files never. The outbox row names the files by id and the sender reads their bytes at
send time, delivered to a real SMTP server on loopback."""
from __future__ import annotations

import io

from flask import current_app

from support_app.attachments import store
from support_app.attachments.storage import storage
from support_app.extensions import db
from support_app.models import Attachment, EmailLog
from support_app.notify import outbox
from support_app.tickets import service

from .attachment_helpers import PDF, PNG, upload_file
from .mail_server import Sink  # `smtp`, the real SMTP server, is a conftest fixture

NOTES = "Lieferschein Nr. 42 – geprüft\n".encode()


def replied(ticket_id: int) -> list[EmailLog]:
    db.session.expire_all()
    return list(db.session.query(EmailLog).filter_by(ticket_id=ticket_id,
                                                     template="staff_replied"))


def files_of(msg) -> list[tuple[str, str, bytes]]:
    return [(part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in msg.iter_attachments()]


def text_of(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def only_reply(sink: Sink):
    [msg] = [m for m in sink.messages if "New reply" in m["Subject"]]
    return msg


def test_a_staff_reply_mails_its_files_as_attachments(client, factory, smtp):
    alice = factory.customer(email="alice@example.com")
    ticket = factory.ticket(alice, subject="Dented box")
    admin = factory.staff()
    urls = []
    for name, data in (("return-label.pdf", PDF), ("Paket geöffnet.png", PNG),
                       ("lieferschein.txt", NOTES)):
        response = client.post("/api/attachments", headers=admin.headers,
                               data={"file": (io.BytesIO(data), name)})
        assert response.status_code == 201
        urls.append(response.get_json()["data"]["url"])
    response = client.post(f"/api/support-tickets/{ticket.id}/messages", headers=admin.headers,
                           json={"message": "Here is your return label.", "attachments": urls})
    assert response.status_code == 201

    [row] = replied(ticket.id)
    ids = [store.id_from_url(url) for url in urls]
    assert row.attachment_ids == ids  # the durable row names the files; bytes come later
    outbox.deliver_due()
    msg = only_reply(smtp)
    assert files_of(msg) == [("return-label.pdf", "application/pdf", PDF),
                             ("Paket geöffnet.png", "image/png", PNG),
                             ("lieferschein.txt", "text/plain", NOTES)]
    assert "Here is your return label." in text_of(msg)
    text = text_of(msg)
    assert "Attached to this email:" in text and "- Paket geöffnet.png" in text
    assert "/api/attachments/" not in text  # attached, not linked
    assert "Paket geöffnet.png" in msg.get_body(("html",)).get_content()
    assert replied(ticket.id)[0].status == "sent"


def test_files_over_the_mail_limit_are_links_the_customer_can_open(client, factory, smtp, app,
                                                                   monkeypatch):
    alice = factory.customer(email="alice@example.com")
    ticket = factory.ticket(alice)
    admin = factory.staff()
    label, photo = upload_file(admin.actor, "label.pdf", PDF), upload_file(admin.actor)
    monkeypatch.setitem(app.config, "MAIL_ATTACHMENT_MAX_BYTES", len(PDF) + len(PNG) - 1)
    service.add_message(admin.actor, ticket.id, "Too big for mail", attachments=[label.id, photo.id])

    [row] = replied(ticket.id)
    assert row.attachment_ids is None
    outbox.deliver_due()
    msg = only_reply(smtp)
    assert files_of(msg) == []
    text, html = text_of(msg), msg.get_body(("html",)).get_content()
    links = [line.split(": ", 1)[1] for line in text.splitlines()
             if line.startswith(("- label.pdf: ", "- photo.png: "))]
    assert len(links) == 2 and "/api/attachments/" not in text
    assert f'<a href="{links[0]}">label.pdf</a>' in html
    # Signed links (tests/test_file_links.py): they open without signing in.
    for attachment, link in zip((label, photo), links):
        assert link.startswith(current_app.config["PUBLIC_URL"] + "/files/")
        response = client.get(link.removeprefix(current_app.config["PUBLIC_URL"]))
        assert response.status_code == 200 and response.data == store.content(attachment)
    # At the limit exactly, they are attached again.
    monkeypatch.setitem(app.config, "MAIL_ATTACHMENT_MAX_BYTES", len(PDF) + len(PNG))
    again = [upload_file(admin.actor, "label.pdf", PDF).id, upload_file(admin.actor).id]
    service.add_message(admin.actor, ticket.id, "Fits now", attachments=again)
    outbox.deliver_due()
    assert [name for name, _type, _data in files_of(smtp.messages[-1])] == \
        ["label.pdf", "photo.png"]


def test_internal_note_files_are_never_mailed(factory, smtp):
    alice = factory.customer(email="alice@example.com")
    ticket = factory.ticket(alice)
    admin = factory.staff()
    secret = upload_file(admin.actor, "fraud-check.png")
    service.add_note(admin.actor, ticket.id, "Chargeback history", attachments=[secret.id])
    service.add_message(admin.actor, ticket.id, "We are looking into it.")
    label = upload_file(admin.actor, "label.pdf", PDF)
    service.add_message(admin.actor, ticket.id, "Your label.", attachments=[label.id])
    assert [row.attachment_ids for row in replied(ticket.id)] == [None, [label.id]]
    outbox.deliver_due()
    first, second = [m for m in smtp.messages if "New reply" in m["Subject"]]
    assert files_of(first) == []
    assert [name for name, _type, _data in files_of(second)] == ["label.pdf"]
    everything = b"".join(m.as_bytes() for m in smtp.messages)
    assert b"fraud-check" not in everything and b"Chargeback" not in everything
    assert f"/api/attachments/{secret.id}".encode() not in everything
    assert b"/files/" not in everything  # both fit the mail: attached, no links


def test_a_file_missing_from_storage_is_retried_not_sent_without_it(factory, smtp):
    alice = factory.customer(email="alice@example.com")
    ticket = factory.ticket(alice)
    admin = factory.staff()
    label = upload_file(admin.actor, "label.pdf", PDF)
    service.add_message(admin.actor, ticket.id, "Your label.", attachments=[label.id])
    key = db.session.get(Attachment, label.id).storage_key
    kept = storage().read(key)
    storage().path(key).unlink()
    outbox.deliver_due()
    [row] = replied(ticket.id)
    assert row.status == "queued" and "FileNotFoundError" in row.error
    assert not [m for m in smtp.messages if "New reply" in m["Subject"]]
    # The bytes are back (a share remounted): the retry sends the whole email.
    storage().path(key).write_bytes(kept)
    outbox.deliver_due()
    assert [name for name, _t, _d in files_of(only_reply(smtp))] == ["label.pdf"]
    assert replied(ticket.id)[0].status == "sent"


def test_the_file_list_is_in_the_customers_language(factory, smtp, app, monkeypatch):
    rosa = factory.customer(email="rosa@example.es", locale="es")
    ticket = factory.ticket(rosa)
    admin = factory.staff()
    service.add_message(admin.actor, ticket.id, "Adjunto",
                        attachments=[upload_file(admin.actor, "etiqueta.pdf", PDF).id])
    monkeypatch.setitem(app.config, "MAIL_ATTACHMENT_MAX_BYTES", 1)
    service.add_message(admin.actor, ticket.id, "Enlace",
                        attachments=[upload_file(admin.actor, "foto.png").id])
    outbox.deliver_due()
    attached, linked = [text_of(m) for m in smtp.messages if "etiqueta" in m.as_string()
                        or "foto.png" in m.as_string()]
    assert "Adjuntos a este correo:" in attached
    assert "ábralos con estos enlaces" in linked


def test_a_file_deleted_since_the_reply_is_left_out(factory, smtp):
    alice = factory.customer(email="alice@example.com")
    ticket = factory.ticket(alice)
    admin = factory.staff()
    label, photo = upload_file(admin.actor, "label.pdf", PDF), upload_file(admin.actor)
    service.add_message(admin.actor, ticket.id, "Two files", attachments=[label.id, photo.id])
    db.session.delete(db.session.get(Attachment, photo.id))
    db.session.commit()
    outbox.deliver_due()
    assert [name for name, _t, _d in files_of(only_reply(smtp))] == ["label.pdf"]
    assert replied(ticket.id)[0].status == "sent"
