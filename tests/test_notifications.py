"""Stored, localized notifications: written with the ticket change, listed and marked
read over REST by their recipient only."""
from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import Notification
from support_app.security import roles
from support_app.tickets import service


def _count(user_id: int | None = None) -> int:
    stmt = select(func.count(Notification.id))
    if user_id is not None:
        stmt = stmt.where(Notification.user_id == user_id)
    return db.session.scalar(stmt)


def test_ticket_changes_notify_the_people_involved_never_the_actor(factory):
    customer, member, admin, agent = (factory.customer(), factory.customer(),
                                      factory.staff(roles.ADMIN), factory.agent())
    ticket = factory.ticket(customer, participant_customer_ids=[member.customer.id])
    assert _count(customer.id) == 1 and _count(member.id) == 1  # created, "you were added"

    service.reassign(admin.actor, ticket.id, agent.id)
    assert _count(agent.id) == 1 and _count(admin.id) == 0
    service.add_message(agent.actor, ticket.id, "Looking into it")
    assert _count(customer.id) == 2 and _count(member.id) == 2 and _count(agent.id) == 1
    service.add_message(customer.actor, ticket.id, "Thanks")
    assert _count(agent.id) == 2 and _count(customer.id) == 2
    service.add_note(agent.actor, ticket.id, "internal only")
    assert _count(customer.id) == 2 and _count(member.id) == 2 and _count(agent.id) == 2
    service.add_note(admin.actor, ticket.id, "second opinion")
    assert _count(agent.id) == 3 and _count(customer.id) == 2


def test_legacy_create_notifies_nobody(factory):
    customer = factory.customer()
    service.open_ticket(customer.actor, subject="Legacy", description="No notices", notify=False)
    assert _count() == 0


def test_text_is_rendered_and_stored_in_the_recipients_language(client, factory):
    customer = factory.customer(locale="fr")
    ticket = factory.ticket(customer)
    body = client.get("/api/notifications", headers=customer.headers).get_json()
    notice = body["data"][0]
    assert notice["locale"] == "fr" and notice["kind"] == "ticket_created"
    with force_locale("fr"):
        assert notice["title"] == _("Ticket %(number)s created", number=ticket.number)


def test_list_is_own_newest_first_paginated_and_filterable(client, factory):
    alice, bob, admin = factory.customer(), factory.customer(), factory.staff(roles.ADMIN)
    first = factory.ticket(alice, subject="First")
    factory.ticket(bob, subject="Bob's")
    service.update_ticket(admin.actor, first.id, status="in_progress")
    service.add_message(admin.actor, first.id, "On it")

    body = client.get("/api/notifications?per_page=2", headers=alice.headers).get_json()
    assert body["success"] is True and body["unread_count"] == 3
    assert body["pagination"] == {"current_page": 1, "per_page": 2, "total": 3, "last_page": 2}
    assert [n["kind"] for n in body["data"]] == ["message", "status"]
    page2 = client.get("/api/notifications?per_page=2&page=2", headers=alice.headers).get_json()
    assert [n["kind"] for n in page2["data"]] == ["ticket_created"]
    assert all(n["ticket_id"] == first.id for n in body["data"] + page2["data"])

    one = body["data"][0]["id"]
    read = client.post(f"/api/notifications/{one}/read", headers=alice.headers)
    assert read.status_code == 200
    assert read.get_json()["data"]["is_read"] is True and read.get_json()["unread_count"] == 2
    again = client.put(f"/api/notifications/{one}/read", headers=alice.headers)
    assert again.status_code == 200 and again.get_json()["unread_count"] == 2

    unread = client.get("/api/notifications?unread=true", headers=alice.headers).get_json()
    assert one not in [n["id"] for n in unread["data"]] and unread["pagination"]["total"] == 2

    done = client.post("/api/notifications/read-all", headers=alice.headers).get_json()
    assert done == {"success": True, "updated": 2, "unread_count": 0}
    assert client.get("/api/notifications?unread=1", headers=alice.headers).get_json()["data"] == []
    assert client.get("/api/notifications", headers=bob.headers).get_json()["unread_count"] == 1


def test_someone_elses_notification_is_not_found(client, factory):
    alice, bob = factory.customer(), factory.customer()
    factory.ticket(alice)
    notice = db.session.scalars(select(Notification.id).where(Notification.user_id == alice.id)).one()
    r = client.post(f"/api/notifications/{notice}/read", headers=bob.headers)
    assert r.status_code == 404
    assert r.get_json() == {"success": False, "message": "Notification not found"}
    assert db.session.get(Notification, notice).read_at is None


def test_errors_use_the_default_shape(client, factory):
    person = factory.customer()
    r = client.get("/api/notifications")
    assert r.status_code == 401 and r.get_json()["success"] is False and r.get_json()["message"]
    r = client.get("/api/notifications?per_page=0", headers=person.headers)
    assert r.status_code == 422 and "per_page" in r.get_json()["errors"]
    r = client.get("/api/notifications?unread=maybe", headers=person.headers)
    assert r.status_code == 422
    r = client.delete("/api/notifications/read-all", headers=person.headers)
    assert r.status_code == 405 and r.get_json()["success"] is False


def test_documented_in_the_openapi_spec(client):
    spec = client.get("/api/openapi.json").get_json()
    assert {"name": "Notifications"}.items() <= next(
        t for t in spec["tags"] if t["name"] == "Notifications").items()
    listing = spec["paths"]["/api/notifications"]["get"]
    assert listing["security"] == [{"bearerAuth": []}]
    assert {"200", "401", "422"} <= set(listing["responses"])
    for path in ("/api/notifications/{notification_id}/read", "/api/notifications/read-all"):
        assert {"post", "put"} <= set(spec["paths"][path])

