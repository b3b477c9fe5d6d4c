"""Merging duplicate tickets (issue 23): what moves and in which order, what is refused,
that the counters stay exact, that every surface reads the merged ticket's old id and
number as the surviving ticket, and that the customer is told once in their language."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from support_app.attachments.store import path_of
from support_app.extensions import db
from support_app.models import (
    Attachment,
    Macro,
    STATUSES,
    EmailLog,
    InternalNote,
    Message,
    Notification,
    Ticket,
    TicketEvent,
    TicketParticipant,
)
from support_app.security import roles
from support_app.tickets import counters, merge, service, tags, verification
from support_app.tickets.errors import Conflict, Forbidden, ValidationFailed

from .admin_helpers import desk_client, login, page_token
from .attachment_helpers import upload_file

T0 = dt.datetime(2026, 1, 5, 9, 0, 0)


def _at(model, row_id: int, minutes: int) -> None:
    """Pin a row's time: the thread's order is the order of these times."""
    values = {"created_at": T0 + dt.timedelta(minutes=minutes)}
    db.session.execute(update(model).where(model.id == row_id).values(**values))
    db.session.commit()


def _pair(factory, customer=None, **fields):
    owner = customer or factory.customer()
    first = factory.ticket(owner, subject="Where is my parcel?",
                           description="Order 1 has not arrived.", **fields)
    second = factory.ticket(owner, subject="Parcel still missing",
                            description="Writing again about order 1.", **fields)
    return owner, first, second


def _exact_counters() -> None:
    db.session.expire_all()
    expected = {counters.TOTAL: db.session.scalar(select(func.count()).select_from(Ticket)),
                counters.ADMIN_UNREAD: db.session.scalar(
                    select(func.count()).select_from(Ticket).where(Ticket.is_admin_read.is_(False)))}
    for status in STATUSES:
        expected[counters.status_key(status)] = db.session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.status == status))
    assert counters.read(*expected) == expected


def _thread(ticket_id: int) -> list[str]:
    return list(db.session.scalars(select(Message.body).where(Message.ticket_id == ticket_id)
                                   .order_by(Message.created_at, Message.id)))


def test_messages_and_notes_move_in_time_order(factory):
    owner, admin = factory.customer(), factory.staff(roles.ADMIN)
    _, b, a = _pair(factory, owner)  # b opened first, a is the later duplicate
    db.session.execute(update(Ticket).where(Ticket.id == b.id).values(created_at=T0))
    db.session.execute(update(Ticket).where(Ticket.id == a.id)
                       .values(created_at=T0 + dt.timedelta(minutes=1)))
    db.session.commit()
    steps = [(b.id, owner, "B reply at 2", 2), (a.id, admin, "A staff reply at 3", 3),
             (b.id, admin, "B staff reply at 4", 4), (a.id, owner, "A reply at 5", 5)]
    for ticket_id, person, body, minute in steps:
        _at(Message, service.add_message(person.actor, ticket_id, body).id, minute)
    _at(InternalNote, service.add_note(admin.actor, a.id, "A note at 3").id, 3)
    _at(InternalNote, service.add_note(admin.actor, b.id, "B note at 1").id, 1)

    merged = merge.merge(admin.actor, a.id, b.id)
    assert (merged.ticket.id, merged.merged_id, merged.merged_number) == (b.id, a.id, a.number)

    db.session.expire_all()
    assert _thread(b.id) == ["Writing again about order 1.", "B reply at 2",
                             "A staff reply at 3", "B staff reply at 4", "A reply at 5"]
    assert _thread(a.id) == []
    notes = list(db.session.scalars(select(InternalNote.note).where(InternalNote.ticket_id == b.id)
                                    .order_by(InternalNote.created_at)))
    assert notes == ["B note at 1", "A note at 3"]
    survivor, old = db.session.get(Ticket, b.id), db.session.get(Ticket, a.id)
    assert survivor.message_count == 5 and old.message_count == 0
    assert (old.status, old.merged_into_id, survivor.merged_into_id) == ("closed", b.id, None)
    assert old.closed_at is not None
    kinds = {tid: set(db.session.scalars(select(TicketEvent.new_value).where(
        TicketEvent.ticket_id == tid, TicketEvent.kind.in_(["merged_into", "merged_from"]))))
        for tid in (a.id, b.id)}
    assert kinds == {a.id: {b.number}, b.id: {a.number}}
    _exact_counters()


def test_participants_join_and_keep_reading(factory):
    owner, admin = factory.customer(), factory.staff(roles.ADMIN)
    friend, other = factory.customer(), factory.customer()
    ride = factory.ride(owner.customer, members=[friend.customer.id, other.customer.id])
    a = factory.ticket(owner, ride_id=ride.id,
                       participant_customer_ids=[friend.customer.id, other.customer.id])
    b = factory.ticket(owner, ride_id=ride.id, participant_customer_ids=[other.customer.id])
    merge.merge(admin.actor, a.id, b.id)
    members = set(db.session.scalars(select(TicketParticipant.customer_id)
                                     .where(TicketParticipant.ticket_id == b.id)))
    assert members == {friend.customer.id, other.customer.id}
    # The friend reads the merged ticket's old id as the survivor.
    assert service.get_ticket(friend.actor, a.id).id == b.id


def test_a_shared_ticket_merges_only_with_one_about_the_same_service(factory, app):
    """Group members read a ticket because they share its ride (order, booking): a merge
    with a ticket about something else would show them the owner's other thread, or
    show the owner's private ticket to the other ticket's group. Refused, nothing moved."""
    owner, admin, friend = factory.customer(), factory.staff(roles.ADMIN), factory.customer()
    shared = factory.ticket(owner, participant_customer_ids=[friend.customer.id])
    private = factory.ticket(owner, subject="My other order", description="Deliver to 4 Elm St",
                             order_id=factory.order(owner.customer).id)
    plain = factory.ticket(owner, subject="No service at all")
    for source, target in ((shared, private), (private, shared), (plain, shared)):
        with pytest.raises(Conflict, match="same order, ride or booking"):
            merge.merge(admin.actor, source.id, target.id)
    client = app.test_client()
    for ticket_id in (private.id, plain.id):
        denied = client.get(f"/api/support-tickets/{ticket_id}", headers=friend.headers)
        assert denied.status_code in (403, 404)
    db.session.expire_all()
    assert _thread(private.id) == []  # its description stays its own, no message moved in
    assert db.session.scalar(select(func.count()).select_from(Ticket)
                             .where(Ticket.merged_into_id.is_not(None))) == 0
    assert set(db.session.scalars(select(TicketParticipant.ticket_id))) == {shared.id}
    # The dashboard does not offer them; two tickets without a group still merge
    # whatever they are about.
    assert merge.suggestions(admin.actor, shared) == []
    assert [t.id for t in merge.suggestions(admin.actor, private)] == [plain.id]
    merge.merge(admin.actor, plain.id, private.id)


def test_refusals(factory):
    admin = factory.staff(roles.ADMIN)
    owner, a, b = _pair(factory)
    stranger_ticket = factory.ticket(factory.customer())
    with pytest.raises(ValidationFailed):
        merge.merge(admin.actor, a.id, a.id)
    with pytest.raises(Conflict, match="same customer"):
        merge.merge(admin.actor, a.id, stranger_ticket.id)
    closed = factory.ticket(owner)
    service.update_ticket(admin.actor, closed.id, status="closed")
    with pytest.raises(Conflict, match="closed"):
        merge.merge(admin.actor, a.id, closed.id)
    with pytest.raises(Forbidden):
        merge.merge(owner.actor, a.id, b.id)  # customers never merge
    agent = factory.agent()
    service.assign_self(agent.actor, a.id)
    with pytest.raises(Forbidden):  # works A, not B (unassigned)
        merge.merge(agent.actor, a.id, b.id)
    held = factory.ticket(owner)
    db.session.execute(update(Ticket).where(Ticket.id == held.id)
                       .values(unverified_reason=verification.CONTACT_FORM))
    db.session.commit()
    with pytest.raises(Conflict, match="Verify"):
        merge.merge(admin.actor, held.id, b.id)
    merge.merge(admin.actor, a.id, b.id)
    third = factory.ticket(owner)
    with pytest.raises(Conflict, match="already merged"):
        merge.merge(admin.actor, a.id, third.id)
    with pytest.raises(Conflict, match="itself merged"):
        merge.merge(admin.actor, third.id, a.id)
    # Nothing half-written by the refusals: only the one merge happened.
    assert db.session.scalar(select(func.count()).select_from(Ticket)
                             .where(Ticket.merged_into_id.is_not(None))) == 1
    _exact_counters()


def test_merging_the_survivor_on_repoints_older_merges(factory):
    admin = factory.staff(roles.ADMIN)
    owner, a, b = _pair(factory)
    c = factory.ticket(owner)
    merge.merge(admin.actor, a.id, b.id)
    merge.merge(admin.actor, b.id, c.id)
    db.session.expire_all()
    assert db.session.get(Ticket, a.id).merged_into_id == c.id
    assert service.get_ticket(owner.actor, a.id).id == c.id
    assert db.session.get(Ticket, c.id).message_count == 2  # both descriptions
    _exact_counters()


def test_unread_follows_and_badges_stay_exact(factory, app):
    admin = factory.staff(roles.ADMIN)
    owner, a, b = _pair(factory)
    service.mark_ticket_read(admin.actor, b.id)
    service.add_message(owner.actor, a.id, "Any news?")  # A unread for the desk
    client = app.test_client()
    before = client.get("/api/support-tickets/navbar/count", headers=admin.headers).get_json()
    merge.merge(admin.actor, a.id, b.id)
    db.session.expire_all()
    assert db.session.get(Ticket, b.id).is_admin_read is False
    assert db.session.get(Ticket, a.id).is_admin_read is True
    after = client.get("/api/support-tickets/navbar/count", headers=admin.headers).get_json()
    assert after["total_tickets"] == before["total_tickets"]
    assert after["open_tickets"] == before["open_tickets"] - 1
    assert after["unread_count"] == before["unread_count"]  # A's unread is now B's
    mine = client.get("/api/support-tickets/navbar/count", headers=owner.headers).get_json()
    assert mine["total_unresolved"] == 1
    _exact_counters()


def _surfaces(factory, app):
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    order = factory.order(owner.customer)
    _, a, b = _pair(factory, owner, order_id=order.id)
    merge.merge(admin.actor, a.id, b.id)
    return app.test_client(), owner, admin, a, b


def test_every_seed_surface_reads_the_old_id_as_the_survivor(factory, app):
    client, owner, admin, a, b = _surfaces(factory, app)
    # 002
    body = client.get(f"/api/support-tickets/{a.id}", headers=owner.headers).get_json()
    assert (body["data"]["id"], body["data"]["ticket_number"]) == (b.id, b.number)
    thread = client.get(f"/api/support-tickets/{a.id}/messages", headers=owner.headers).get_json()
    # A's opening description is now a customer message of B, at the time A opened.
    assert [(m["ticket_id"], m["message"]) for m in thread["data"]] == [
        (b.id, "Order 1 has not arrived.")]
    reply = client.post(f"/api/support-tickets/{a.id}/messages", json={"message": "Still here"},
                        headers=owner.headers)
    assert reply.status_code == 201 and reply.get_json()["data"]["ticket_id"] == b.id
    # 000: admin detail, email log, and the customer's reply route
    desk_session = desk_client(app)
    login(desk_session, admin.user.email)
    detail = desk_session.get(f"/api/admin/support/{a.id}")
    assert detail.status_code == 200 and detail.get_json()["data"]["id"] == b.id
    logs = desk_session.get(f"/api/admin/support/email-logs/{a.id}")
    assert logs.status_code == 200
    assert {row["ticketId"] for row in logs.get_json()["data"]} <= {b.id}
    sent = client.post(f"/api/customer/orders/support/{a.id}/reply",
                       json={"message": "And again"}, headers=owner.headers)
    assert sent.status_code == 201, sent.get_json()
    assert sent.get_json()["data"]["ticket"]["id"] == b.id
    # 003
    desk = client.get(f"/api/support/tickets/{a.id}/", headers=admin.headers)
    assert desk.status_code == 200 and str(desk.get_json()["ticket"]["id"]) == str(b.id)
    # 001
    munch = client.get(f"/api/customer/munch/support/ticket/{a.id}/status", headers=owner.headers)
    assert munch.status_code == 200 and munch.get_json()["data"]["ticketId"] == b.id
    # 004
    mtxi = client.get(f"/api/customer/mtxi/support/{a.id}", headers=owner.headers)
    assert mtxi.status_code == 200 and mtxi.get_json()["data"]["ticketId"] == b.id
    # our own: the SLA view, tags and macros answer the ticket they changed
    assert client.get(f"/api/tickets/{a.id}/sla",
                      headers=admin.headers).get_json()["data"]["ticket_id"] == b.id
    tagged = client.put(f"/api/tickets/{a.id}/tags/vip", headers=admin.headers).get_json()
    assert tagged["data"] == {"ticket_id": b.id, "tags": ["vip"]}
    untagged = client.delete(f"/api/tickets/{a.id}/tags/vip", headers=admin.headers)
    assert untagged.get_json()["data"]["ticket_id"] == b.id
    macro = Macro(name="Thanks", body_en="Thanks, {customer_name}.", is_active=True)
    db.session.add(macro)
    db.session.commit()
    preview = client.post(f"/api/tickets/{a.id}/apply-macro", json={"macro_id": macro.id},
                          headers=admin.headers)
    assert preview.get_json()["data"]["ticket_id"] == b.id
    db.session.expire_all()
    assert db.session.get(Ticket, b.id).message_count == 3
    # Notifications about A now lead to B.
    listed = client.get("/api/notifications", headers=owner.headers).get_json()
    assert listed["data"] and {n["ticket_id"] for n in listed["data"]} == {b.id}
    # Another customer still cannot learn anything through the old id.
    stranger = factory.customer()
    assert client.get(f"/api/support-tickets/{a.id}", headers=stranger.headers).status_code == 403
    assert client.get(f"/api/customer/mtxi/support/{a.id}",
                      headers=stranger.headers).status_code == 404


def test_mail_quoting_the_old_number_threads_onto_the_survivor(factory, app):
    from support_app.inbound import threading
    from support_app.inbound.parse import InboundMail

    _client, owner, _admin, a, b = _surfaces(factory, app)
    assert threading.survivor_number(a.number) == b.number
    assert threading.survivor_number(a.number.lower()) == b.number
    mail = InboundMail(from_address=owner.customer.email, from_name="", body="Thanks",
                       recipient="support@example.com", full_text="Thanks",
                       subject=f"Re: [{a.number}] Where is my parcel?", message_id="<x@y>")
    assert [t.id for t in threading.candidate_tickets(mail)] == [b.id]


def test_socket_subscribe_to_the_old_id_joins_the_survivor(factory, connect):
    admin = factory.staff(roles.ADMIN)
    owner, a, b = _pair(factory)
    socket = connect(owner)
    assert socket.call("subscribe", {"ticketId": a.id})["ok"] is True
    merge.merge(admin.actor, a.id, b.id)
    pushed = socket.wait_for("support:ticket:merged")
    assert (pushed["ticket_id"], pushed["merged_ticket_id"]) == (b.id, a.id)
    assert socket.call("subscribe", {"ticketId": a.id}) == {
        "ok": True, "ticketId": b.id, "internalNotes": False}
    service.add_message(admin.actor, b.id, "Both answered here")
    message = socket.wait_for("support:message:created",
                              lambda d: d["message"]["message"] == "Both answered here")
    assert message["ticket_id"] == b.id
    assert socket.call("unsubscribe", {"ticketId": a.id}) == {"ok": True, "ticketId": b.id}


@pytest.mark.parametrize("locale,title", [
    ("en", "Ticket {old} was merged into {new}"),
    ("ar", None),
])
def test_customer_is_told_once_in_their_language(factory, locale, title):
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer(locale=locale)
    db.session.execute(update(type(owner.customer)).where(type(owner.customer).id == owner.customer.id)
                       .values(locale=locale))
    db.session.commit()
    _, a, b = _pair(factory, owner)
    before = db.session.scalar(select(func.max(Notification.id))) or 0
    merge.merge(admin.actor, a.id, b.id)
    notices = db.session.scalars(select(Notification).where(
        Notification.user_id == owner.user.id, Notification.id > before)).all()
    assert [n.kind for n in notices] == ["merged"]  # no separate "closed" notice
    notice = notices[0]
    assert notice.locale == locale and notice.ticket_id == b.id
    if title:
        assert notice.title == title.format(old=a.number, new=b.number)
    else:
        assert a.number in notice.title and b.number in notice.title
        assert any("\u0600" <= ch <= "\u06ff" for ch in notice.title), notice.title
    mails = db.session.scalars(select(EmailLog).where(EmailLog.template == "ticket_merged")).all()
    assert len(mails) == 1 and mails[0].ticket_id == b.id
    assert mails[0].to_address == owner.customer.email
    assert b.number in mails[0].subject and a.number in mails[0].body_text
    if locale == "ar":
        assert any("\u0600" <= ch <= "\u06ff" for ch in mails[0].subject)
        assert 'dir="rtl"' in mails[0].body_html


# --------------------------------------------------------------------------- staff API


def test_api_merges_for_staff_only_with_clear_errors(factory, app):
    client = app.test_client()
    admin = factory.staff(roles.ADMIN)
    owner, a, b = _pair(factory)
    url = f"/api/tickets/{a.id}/merge"
    assert client.post(url, json={"into": b.id}).status_code == 401
    refused = client.post(url, json={"into": b.id}, headers=owner.headers)
    assert refused.status_code == 403 and refused.get_json()["success"] is False
    for body in ({}, {"into": "x"}, {"into": 0}, {"into": 2**40}, {"into": True}, [],
                 {"into": a.id}):
        bad = client.post(url, json=body, headers=admin.headers)
        assert bad.status_code == 422, (body, bad.get_json())
        assert bad.get_json()["success"] is False
    assert client.post(f"/api/tickets/{a.id}/merge", json={"into": 2**31 - 1},
                       headers=admin.headers).status_code == 404
    ok = client.post(url, json={"into": b.id}, headers=admin.headers)
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json() == {"success": True, "data": {
        "ticket_id": b.id, "ticket_number": b.number, "status": "open", "message_count": 1,
        "merged_ticket_id": a.id, "merged_ticket_number": a.number}}
    again = client.post(url, json={"into": b.id}, headers=admin.headers)
    assert again.status_code == 400 and "already merged" in again.get_json()["message"]


# --------------------------------------------------------------------------- dashboard


def test_dashboard_suggests_merges_and_redirects_the_old_page(factory, app):
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    order = factory.order(owner.customer)
    a = factory.ticket(owner, subject="Duplicate", order_id=order.id)
    other = factory.ticket(owner, subject="Unrelated question")
    same = factory.ticket(owner, subject="First about the order", order_id=order.id)
    closed = factory.ticket(owner, subject="Done already")
    service.update_ticket(admin.actor, closed.id, status="closed")
    assert [t.id for t in merge.suggestions(admin.actor, db.session.get(Ticket, a.id))] == [
        same.id, other.id]

    client = desk_client(app)
    login(client, admin.user.email)
    page = client.get(f"/tickets/merge/?ids={a.id}").get_data(as_text=True)
    assert same.number in page and other.number in page and closed.number not in page
    token = page_token(client, f"/tickets/merge/?ids={a.id}")
    done = client.post("/tickets/merge/", data={"ids": a.id, "into": same.id,
                                                "csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/tickets/show/{same.id}")
    old = client.get(f"/tickets/show/{a.id}")
    assert old.status_code == 302 and old.headers["Location"].endswith(f"/tickets/show/{same.id}")
    shown = client.get(f"/tickets/show/{same.id}").get_data(as_text=True)
    assert "merged another ticket into this one" in shown


# --------------------------------------------------------------------------- concurrency


def test_replies_to_both_tickets_during_a_merge_are_all_kept(factory, server):
    """Clients reply to A and to B while staff merge A into B (run it on PostgreSQL:
    TEST_DATABASE_URL): every reply lands, on B, and every count stays exact."""
    import threading
    import time

    import requests

    owner, admin = factory.customer(), factory.staff(roles.ADMIN)
    _, a, b = _pair(factory, owner)
    a_id, b_id = a.id, b.id  # plain values: the client threads have no app context
    customer_headers, staff_headers = owner.headers, admin.headers
    posted: list[tuple[int, int]] = []  # (message id, the ticket the answer named)
    failures: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def client(n: int) -> None:
        http = requests.Session()
        for i in range(10_000):
            if stop.is_set():
                return
            target = (a_id, b_id)[(n + i) % 2]
            headers = staff_headers if (n + i) % 3 == 0 else customer_headers
            r = http.post(f"{server.url}/api/support-tickets/{target}/messages",
                          json={"message": f"client {n} reply {i}"}, headers=headers,
                          timeout=60)
            with lock:
                if r.status_code == 201:
                    data = r.json()["data"]
                    posted.append((data["id"], data["ticket_id"]))
                else:
                    failures.append(f"{target}: {r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    merged = requests.post(f"{server.url}/api/tickets/{a_id}/merge", json={"into": b_id},
                           headers=staff_headers, timeout=60)
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert merged.status_code == 200, merged.text
    assert failures == [], failures[:5]
    assert len(posted) > 8, "the load really ran"

    db.session.expire_all()
    on_b = set(db.session.scalars(select(Message.id).where(Message.ticket_id == b.id)))
    assert {message_id for message_id, _ticket in posted} <= on_b  # nothing lost
    assert len(on_b) == len(posted) + 1  # and A's opening description
    survivor, old = db.session.get(Ticket, b.id), db.session.get(Ticket, a.id)
    assert survivor.message_count == len(on_b)
    assert old.message_count == 0 and old.merged_into_id == b.id and old.status == "closed"
    assert db.session.scalar(select(func.count()).select_from(Message)
                             .where(Message.ticket_id == a.id)) == 0
    _exact_counters()


def test_files_move_with_their_messages(factory):
    owner, admin = factory.customer(), factory.staff(roles.ADMIN)
    _, b, a = _pair(factory, owner)
    upload = upload_file(owner.actor)
    service.add_message(owner.actor, a.id, "The photo of the parcel",
                        attachments=[path_of(upload.id)])
    merge.merge(admin.actor, a.id, b.id)
    db.session.expire_all()
    kept = db.session.get(Attachment, upload.id)
    assert (kept.ticket_id, kept.message.ticket_id) == (b.id, b.id)


def test_tags_join_the_survivor(factory):
    owner, admin = factory.customer(), factory.staff(roles.ADMIN)
    _, b, a = _pair(factory, owner)
    tags.add_tags(admin.actor, a.id, ["Refund", "late"])
    tags.add_tags(admin.actor, b.id, ["LATE"])
    merge.merge(admin.actor, a.id, b.id)
    db.session.expire_all()
    assert tags.names_of(b.id) == ["late", "Refund"]
    added = set(db.session.scalars(select(TicketEvent.new_value).where(
        TicketEvent.ticket_id == b.id, TicketEvent.kind == "tag_added")))
    assert added == {"late", "Refund"}  # "LATE" is the tag first spelled "late"
