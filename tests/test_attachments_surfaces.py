"""Every customer surface that takes a message takes its files too (issue 26): the
optional `attachments` (seed 002's field: URLs POST /api/attachments answered) on 000's
create and reply, 001's and 004's create and 003's create. One rule everywhere (the
service's `tickets.attachments`): only the caller's own unused uploads, linked in the
ticket's or message's own transaction; anything else is refused in the surface's own
error format and nothing is written."""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import Attachment, Message, Ticket
from support_app.security import roles

from .admin_helpers import desk_client, login, page_token
from .attachment_helpers import HTML, PDF, PNG


def upload(client, person, name="photo.png", data=PNG) -> dict:
    response = client.post("/api/attachments", headers=person.headers,
                           data={"file": (io.BytesIO(data), name)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


@dataclass
class Surface:
    name: str
    path: str
    body: Callable[[Any, Any], dict]  # (factory, person) -> the documented body
    created: int
    ticket_id: Callable[[dict], int]
    refused: Callable[[Any], None]  # asserts the surface's documented 400 format


def storefront_refused(response) -> None:
    body = response.get_json()
    assert response.status_code == 400 and body["success"] is False
    assert body["code"] and "attachments" in body["errors"]


def customer_app_refused(code: str) -> Callable[[Any], None]:
    def check(response) -> None:
        body = response.get_json()
        assert response.status_code == 400, body
        assert (body["status"], body["code"]) == ("error", code) and body["message"]
        assert "attachments" in body["errors"]
    return check


def desk_refused(response) -> None:
    assert response.status_code == 400
    assert list(response.get_json()) == ["attachments"]


SURFACES = [
    Surface("000", "/api/customer/orders/support",
            lambda f, p: {"subject": "Dented box", "message": "See the photo"},
            201, lambda b: b["data"]["id"], storefront_refused),
    Surface("000-legacy", "/api/customer/support",
            lambda f, p: {"subject": "Dented box", "message": "See the photo"},
            201, lambda b: b["data"]["id"], storefront_refused),
    Surface("001", "/api/customer/munch/support/ticket",
            lambda f, p: {"orderId": f.order(p.customer).id, "issueType": "FOOD_QUALITY",
                          "description": "The soup was spilled all over"},
            200, lambda b: b["data"]["ticketId"], customer_app_refused("INVALID_REQUEST")),
    Surface("003", "/api/support/tickets/create/",
            lambda f, p: {"subject": "Package arrived damaged", "description": "Broken",
                          "category": "Damaged"},
            201, lambda b: int(b["ticket"]["id"]), desk_refused),
    Surface("004", "/api/customer/mtxi/support/",
            lambda f, p: {"serviceType": "ride", "issueType": "PAYMENT_ISSUE",
                          "description": "Charged twice", "rideId": f.ride(p.customer).id},
            200, lambda b: b["data"]["ticketId"], customer_app_refused("INVALID_TICKET")),
]


@pytest.mark.parametrize("surface", SURFACES, ids=[s.name for s in SURFACES])
def test_a_new_ticket_carries_the_callers_uploads(client, factory, surface):
    jane = factory.customer()
    photo, label = upload(client, jane), upload(client, jane, "label.pdf", PDF)
    response = client.post(surface.path, headers=jane.headers, json={
        **surface.body(factory, jane), "attachments": [photo["url"], label["url"]]})
    assert response.status_code == surface.created, response.get_json()
    ticket_id = surface.ticket_id(response.get_json())
    # The files hang off the ticket's opening message, which repeats the description.
    [opening] = db.session.scalars(select(Message).where(Message.ticket_id == ticket_id))
    assert opening.attachments == [f"/api/attachments/{photo['id']}",
                                   f"/api/attachments/{label['id']}"]
    rows = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [(r.ticket_id, r.message_id) for r in rows] == [(ticket_id, opening.id)] * 2
    assert db.session.get(Ticket, ticket_id).message_count == 1
    # 002 shows that thread with its files, and the owner downloads them.
    thread = client.get(f"/api/support-tickets/{ticket_id}/messages", headers=jane.headers)
    assert thread.get_json()["data"][0]["attachments"] == [photo["url"], label["url"]]
    assert client.get(f"/api/attachments/{label['id']}", headers=jane.headers).data == PDF


@pytest.mark.parametrize("surface", SURFACES, ids=[s.name for s in SURFACES])
def test_another_users_upload_is_refused_and_nothing_is_written(client, factory, surface):
    jane, mallory = factory.customer(), factory.customer()
    janes = upload(client, jane)
    mine = upload(client, mallory, "mine.png")
    body = surface.body(factory, mallory)
    tickets_before = count(Ticket)
    response = client.post(surface.path, headers=mallory.headers,
                           json={**body, "attachments": [mine["url"], janes["url"]]})
    surface.refused(response)
    assert count(Ticket) == tickets_before and count(Message) == 0
    # Neither upload was taken: both are still their uploaders' own, unused.
    assert db.session.scalar(select(func.count()).select_from(Attachment)
                             .where(Attachment.ticket_id.is_not(None))) == 0
    # Not our URL, not an array: the same format.
    for bad in (["javascript:alert(1)"], "not-a-list", [42]):
        surface.refused(client.post(surface.path, headers=mallory.headers,
                                    json={**body, "attachments": bad}))
    assert count(Ticket) == tickets_before
    # Left out or null: the documented body alone still works.
    for extra in ({}, {"attachments": None}):
        response = client.post(surface.path, headers=mallory.headers, json={**body, **extra})
        assert response.status_code == surface.created, response.get_json()


def test_storefront_reply_and_threads_list_the_files(client, factory):
    jane, mallory = factory.customer(), factory.customer()
    created = client.post("/api/customer/orders/support", headers=jane.headers, json={
        "subject": "Dented box", "message": "See the photo",
        "attachments": [upload(client, jane)["url"]]}).get_json()["data"]
    [opening] = created["messages"]
    assert opening["message"] == "See the photo" and len(opening["attachments"]) == 1
    ticket_id = created["id"]
    label = upload(client, jane, "label.pdf", PDF)
    response = client.post(f"/api/customer/orders/support/{ticket_id}/reply",
                           headers=jane.headers,
                           json={"message": "And the label", "attachments": [label["url"]]})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"]["message"]["attachments"] == [label["url"]]
    listed = client.get("/api/customer/orders/support", headers=jane.headers).get_json()
    assert [m["attachments"] for m in listed["data"][0]["messages"]] == \
        [opening["attachments"], [label["url"]]]
    # Without files the message object says null, as 002's does.
    plain = client.post("/api/customer/orders/support", headers=jane.headers,
                        json={"subject": "No files", "message": "Just text"}).get_json()
    assert plain["data"]["messages"] == []
    response = client.post(f"/api/customer/orders/support/{ticket_id}/reply",
                           headers=jane.headers, json={"message": "Thanks"})
    assert response.get_json()["data"]["message"]["attachments"] is None
    # Someone else's upload on a reply: the 000 format, no message written.
    messages = count(Message)
    storefront_refused(client.post(
        f"/api/customer/orders/support/{ticket_id}/reply", headers=jane.headers,
        json={"message": "Theirs", "attachments": [upload(client, mallory)["url"]]}))
    assert count(Message) == messages


# --------------------------------------------------------------------------- dashboard


def test_staff_attach_files_when_opening_a_ticket_on_the_dashboard(app, factory):
    jane = factory.customer()
    manager = factory.staff(roles.STORE_MANAGER)
    desk = desk_client(app)
    login(desk, manager.user.email)
    page = desk.get("/tickets/new/").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'id="new-ticket-files"' in page
    form = {"customer": str(jane.customer.id), "subject": "Called about a dented box",
            "description": "Customer phoned in; photo from the courier.", "priority": "medium",
            "category": "other", "csrf_token": page_token(desk, "/tickets/new/")}
    response = desk.post("/tickets/new/", content_type="multipart/form-data", data={
        **form, "files": [(io.BytesIO(PNG), "courier.png"), (io.BytesIO(PDF), "label.pdf")]})
    assert response.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    [opening] = db.session.scalars(select(Message).where(Message.ticket_id == ticket.id))
    rows = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [(r.filename, r.message_id, r.owner_id) for r in rows] == [
        ("courier.png", opening.id, manager.user.id), ("label.pdf", opening.id, manager.user.id)]
    shown = desk.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    assert all(f'id="attachment-{r.id}"' in shown for r in rows)
    # The customer reads the files on their ticket.
    assert app.test_client().get(f"/api/attachments/{rows[1].id}",
                                 headers=jane.headers).data == PDF
    # A refused file: no ticket is opened, the form says why.
    response = desk.post("/tickets/new/", content_type="multipart/form-data", data={
        **form, "subject": "Second", "files": [(io.BytesIO(HTML), "photo.png")]},
        follow_redirects=True)
    assert response.status_code == 200 and "is not accepted" in response.get_data(as_text=True)
    assert count(Ticket) == 1
