"""Kills tickets-merge-groups mutation survivors (`tickets/merge.py`, `tickets/groups.py`).

What a merge shows: the exact message and field of every refusal in the API's error
format; that it decides on the tickets as they are when it locks them; A's description
joining B as the customer's message of that time (once, and only A's own opening stands
in for it); who joins B's group; the customer's unread reply following to B; A's held-
back survey cancelled and no other; the merge email; the origin webhooks report; A's
audit trail, its resolution in the reports and its stopped SLA clock. Which tickets the
merge page suggests and in which order. Groups: the refusal of a non-member, and
members notified whatever service (order, ride, booking) they share.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from support_app.attachments.store import path_of
from support_app.extensions import db
from support_app.models import (
    EmailLog, Message, ServiceMember, Ticket, TicketEvent, TicketParticipant, WebhookDelivery,
    WebhookEndpoint)
from support_app.reports import report as reports
from support_app.reports.periods import parse_span
from support_app.security import roles
from support_app.tickets import events, feedback, merge, service, sla_checks, tags, verification
from support_app.tickets.errors import Conflict

from .attachment_helpers import upload_file
from .sla_helpers import move

T0 = dt.datetime(2026, 1, 5, 9, 0, 0)
LONG_AGO = dt.datetime(2001, 1, 1, 12, 0, 0)


def _created(ticket: Ticket, minutes: int) -> None:
    """Pin when a ticket was opened: suggestions are ordered by it."""
    db.session.execute(update(Ticket).where(Ticket.id == ticket.id)
                       .values(created_at=T0 + dt.timedelta(minutes=minutes)))
    db.session.commit()


def _suggested(actor, ticket: Ticket) -> list[int]:
    db.session.expire_all()
    return [t.id for t in merge.suggestions(actor, db.session.get(Ticket, ticket.id))]


def _post_merge(client, person, ticket_id: int, into: int):
    return client.post(f"/api/tickets/{ticket_id}/merge", json={"into": into},
                       headers=person.headers)


def _refused(response, status: int, message: str) -> None:
    assert (response.status_code, response.get_json()) == (
        status, {"success": False, "message": message}), response.get_data(as_text=True)


# --------------------------------------------------------------------------- refusals


def test_merging_a_ticket_into_itself_names_the_into_field(client, factory):
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    response = _post_merge(client, admin, ticket.id, ticket.id)
    assert (response.status_code, response.get_json()) == (422, {
        "success": False, "message": "Validation failed",
        "errors": {"into": ["A ticket cannot be merged into itself"]}})


def test_a_customer_is_told_only_staff_merge(client, factory):
    owner = factory.customer()
    a, b = factory.ticket(owner), factory.ticket(owner)
    _refused(_post_merge(client, owner, a.id, b.id), 403, "Only support staff can merge tickets")


def test_an_agent_is_told_why_they_may_not_merge(client, factory):
    """Into a ticket another agent holds: the agent may not even see it; into an
    unassigned one: they see it but do not work it."""
    owner, agent, colleague = factory.customer(), factory.agent(), factory.agent()
    mine, theirs, unassigned = (factory.ticket(owner) for _ in range(3))
    service.assign_self(agent.actor, mine.id)
    service.assign_self(colleague.actor, theirs.id)
    _refused(_post_merge(client, agent, mine.id, theirs.id), 403,
             "Unauthorized access to this ticket")
    _refused(_post_merge(client, agent, mine.id, unassigned.id), 403,
             "You are not allowed to change this ticket")
    db.session.expire_all()
    assert db.session.scalars(select(Ticket.merged_into_id)).all() == [None, None, None]


def test_each_refused_merge_says_why(client, factory):
    admin = factory.staff(roles.ADMIN)
    owner, friend = factory.customer(), factory.customer()
    a, b = factory.ticket(owner), factory.ticket(owner)
    stranger = factory.ticket(factory.customer())
    closed = factory.ticket(owner)
    service.update_ticket(admin.actor, closed.id, status="closed")
    held = factory.ticket(owner)
    db.session.execute(update(Ticket).where(Ticket.id == held.id)
                       .values(unverified_reason=verification.CONTACT_FORM))
    db.session.commit()
    shared = factory.ticket(owner, participant_customer_ids=[friend.customer.id])

    _refused(_post_merge(client, admin, a.id, stranger.id), 400,
             "Only tickets of the same customer can be merged")
    _refused(_post_merge(client, admin, a.id, closed.id), 400,
             "A ticket cannot be merged into a closed ticket")
    _refused(_post_merge(client, admin, held.id, b.id), 400,
             "Verify the sender of both tickets before merging them")
    _refused(_post_merge(client, admin, a.id, shared.id), 400,
             "A ticket shared with group members can only be merged with a ticket about "
             "the same order, ride or booking")

    assert _post_merge(client, admin, a.id, b.id).status_code == 200
    third = factory.ticket(owner)
    _refused(_post_merge(client, admin, a.id, third.id), 400,
             "This ticket was already merged into another ticket")
    _refused(_post_merge(client, admin, third.id, a.id), 400,
             "The chosen ticket was itself merged into another ticket")


def test_a_merge_decides_on_the_tickets_as_they_are_when_locked(factory):
    """The merge page read both tickets; meanwhile another agent closed the chosen one.
    The merge reads them again under the lock and refuses, instead of trusting what
    this session read before."""
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    a, b = factory.ticket(owner), factory.ticket(owner)
    page = [db.session.get(Ticket, a.id), db.session.get(Ticket, b.id)]
    assert [t.status for t in page] == ["open", "open"]  # what the page showed
    with db.engine.begin() as other:  # another request, its own connection
        other.execute(update(Ticket).where(Ticket.id == b.id).values(status="closed"))
    with pytest.raises(Conflict, match="^A ticket cannot be merged into a closed ticket$"):
        merge.merge(admin.actor, a.id, b.id)
    db.session.expire_all()
    assert db.session.get(Ticket, a.id).merged_into_id is None


# --------------------------------------------------------------------------- side effects


def _pin(model, row_id: int, when: dt.datetime, **more) -> None:
    db.session.execute(update(model).where(model.id == row_id).values(created_at=when, **more))
    db.session.commit()


def _thread_of(ticket_id: int) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [(m.sender_type, m.body) for m in db.session.scalars(
        select(Message).where(Message.ticket_id == ticket_id)
        .order_by(Message.created_at, Message.id))]


def test_the_description_joins_the_thread_as_the_customers_message_of_that_time(client, factory):
    """A's description becomes B's message as A had it: written by A's customer, through
    A's channel, read by the desk if A was, dated (and last changed) when A was opened;
    B itself counts as just updated."""
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    b = factory.ticket(owner, subject="First", description="Parcel 7 is missing.")
    a = factory.ticket(owner, subject="Second", description="Still no parcel 7.",
                       channel="contact_form")
    service.mark_ticket_read(admin.actor, a.id)
    _pin(Ticket, a.id, T0)
    _pin(Ticket, b.id, LONG_AGO, updated_at=LONG_AGO)
    merge.merge(admin.actor, a.id, b.id)

    thread = client.get(f"/api/support-tickets/{b.id}/messages", headers=owner.headers)
    [description] = [m for m in thread.get_json()["data"] if m["message"] == "Still no parcel 7."]
    assert {key: description[key] for key in (
        "ticket_id", "sender_type", "customer_id", "admin_id", "is_read", "read_at")} == {
        "ticket_id": b.id, "sender_type": "customer", "customer_id": owner.customer.id,
        "admin_id": None, "is_read": True, "read_at": None}
    assert description["customer"]["id"] == owner.customer.id
    assert description["created_at"] == description["updated_at"]
    assert description["created_at"].startswith("2026-01-05T09:00:00")
    listed = client.get("/api/customer/orders/support", headers=owner.headers).get_json()
    [survivor] = [t for t in listed["data"] if t["id"] == b.id]
    assert [(m["message"], m["channel"], m["isRead"]) for m in survivor["messages"]] == [
        ("Still no parcel 7.", "contact_form", True)]
    assert not survivor["updatedAt"].startswith("2001-01-01")  # the merge changed B


def test_an_opening_message_with_files_is_not_repeated(factory):
    """A ticket opened with a photo already starts its thread with the description: it
    moves with its file, and is not added a second time."""
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    b = factory.ticket(owner, description="Parcel 7 is missing.")
    upload = upload_file(owner.actor)
    a = factory.ticket(owner, description="Photo of the damaged parcel.",
                       attachments=[path_of(upload.id)])
    merge.merge(admin.actor, a.id, b.id)
    assert _thread_of(b.id) == [("customer", "Photo of the damaged parcel.")]
    db.session.expire_all()
    assert db.session.get(Ticket, b.id).message_count == 1


def test_only_As_own_opening_message_stands_in_for_its_description(factory):
    """Messages that look like A's opening (another ticket's opening with the same words
    in the same second, a later reply repeating them, a staff reply quoting them in that
    second, a customer reply in that second) do not replace A's description."""
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    words = "Parcel 7 is missing."
    upload = upload_file(owner.actor)
    b = factory.ticket(owner, description=words, attachments=[path_of(upload.id)])
    a = factory.ticket(owner, description=words)
    [b_opening] = db.session.scalars(select(Message.id).where(Message.ticket_id == b.id))
    staff_quote = service.add_message(admin.actor, a.id, words).id
    same_second = service.add_message(owner.actor, a.id, "Tracking says delivered.").id
    repeated = service.add_message(owner.actor, a.id, words).id
    for model, row_id in ((Ticket, a.id), (Ticket, b.id), (Message, b_opening),
                          (Message, staff_quote), (Message, same_second)):
        _pin(model, row_id, T0)
    _pin(Message, repeated, T0 + dt.timedelta(hours=1))
    merge.merge(admin.actor, a.id, b.id)
    assert _thread_of(b.id) == [
        ("customer", words),  # B's opening
        ("admin", words),
        ("customer", "Tracking says delivered."),
        ("customer", words),  # A's description, at the time A opened
        ("customer", words),  # the later reply
    ]


def test_a_group_member_of_another_ticket_does_not_join_the_survivor(client, factory):
    admin = factory.staff(roles.ADMIN)
    owner, friend = factory.customer(), factory.customer()
    a, b = factory.ticket(owner), factory.ticket(owner)
    elsewhere = factory.ticket(factory.customer(), participant_customer_ids=[friend.customer.id])
    merge.merge(admin.actor, a.id, b.id)
    db.session.expire_all()
    assert db.session.scalars(select(TicketParticipant.ticket_id)).all() == [elsewhere.id]
    assert client.get(f"/api/support-tickets/{b.id}", headers=friend.headers).status_code == 403


def test_the_merge_email_names_the_merged_tickets_number_and_subject(factory, smtp):
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    b = factory.ticket(owner, subject="Parcel missing")
    a = factory.ticket(owner, subject="Where is parcel 7?")
    merge.merge(admin.actor, a.id, b.id)
    [mail] = db.session.scalars(select(EmailLog).where(EmailLog.template == "ticket_merged"))
    assert (f"Your request {a.number} (Where is parcel 7?) is now part of ticket {b.number} "
            "(Parcel missing)") in mail.body_text



def test_only_the_merged_tickets_held_back_survey_is_cancelled(factory, smtp):
    """A's survey is cancelled (B is surveyed when B is resolved); the survey B already
    has, and another customer's, still go out."""
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    a, b = factory.ticket(owner), factory.ticket(owner)
    other = factory.ticket(factory.customer())
    for ticket in (a, b, other):
        service.update_ticket(admin.actor, ticket.id, status="resolved")

    def surveys() -> list[tuple[int, str]]:
        db.session.expire_all()
        return db.session.execute(select(EmailLog.ticket_id, EmailLog.status).where(
            EmailLog.template == feedback.SURVEY_TEMPLATE).order_by(EmailLog.id)).all()

    assert surveys() == [(a.id, "queued"), (b.id, "queued"), (other.id, "queued")]
    merge.merge(admin.actor, a.id, b.id)
    # A's row now lives on B, cancelled; B's own and the other customer's stay queued.
    assert surveys() == [(b.id, "cancelled"), (b.id, "queued"), (other.id, "queued")]


def _hook(*wanted: str) -> None:
    db.session.add(WebhookEndpoint(name="shop", url="https://hooks.example.com/support",
                                   events=list(wanted)))
    db.session.commit()


def _hooked(event: str) -> list[dict]:
    db.session.expire_all()
    return [json.loads(row.body)["data"] for row in db.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.event == event)
        .order_by(WebhookDelivery.id))]


def test_webhooks_say_a_merge_through_the_api_came_from_the_api(client, factory):
    """Both the merge and the tags A brings to B are reported with origin "api"."""
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    a, b = factory.ticket(owner), factory.ticket(owner)
    tags.add_tags(admin.actor, a.id, ["refund"])
    _hook(events.MERGED, events.TAGS_CHANGED)
    assert _post_merge(client, admin, a.id, b.id).status_code == 200
    [merged] = _hooked(events.MERGED)
    assert (merged["origin"], merged["merged_id"]) == ("api", a.id)
    [tagged] = _hooked(events.TAGS_CHANGED)
    assert (tagged["origin"], tagged["added"]) == ("api", ["refund"])


def test_a_merge_called_without_an_origin_is_reported_as_the_api(factory):
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    a, b = factory.ticket(owner), factory.ticket(owner)
    _hook(events.MERGED)
    merge.merge(admin.actor, a.id, b.id)
    assert [d["origin"] for d in _hooked(events.MERGED)] == ["api"]


def test_the_merged_ticket_records_its_close_in_its_audit_trail(factory):
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    a, b = factory.ticket(owner), factory.ticket(owner)
    merge.merge(admin.actor, a.id, b.id)
    trail = db.session.execute(select(TicketEvent.kind, TicketEvent.old_value,
                                      TicketEvent.new_value, TicketEvent.actor_id)
                               .where(TicketEvent.ticket_id == a.id, TicketEvent.kind != "created")
                               .order_by(TicketEvent.id)).all()
    assert trail == [("status", "open", "closed", admin.id),
                     ("merged_into", None, b.number, admin.id)]


def test_reports_count_a_merged_ticket_resolved_when_merged_or_when_it_was_resolved(
        factory, clock):
    """An open ticket merged today counts as resolved today; one resolved in March
    and merged later keeps its March resolution (and its resolution time)."""
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    b, earlier, still_open = (factory.ticket(owner) for _ in range(3))
    service.update_ticket(admin.actor, earlier.id, status="resolved")
    db.session.execute(update(Ticket).where(Ticket.id == earlier.id).values(
        created_at=dt.datetime(2026, 3, 2, 9, 0), resolved_at=dt.datetime(2026, 3, 2, 11, 0)))
    db.session.commit()
    merge.merge(admin.actor, earlier.id, b.id)
    merge.merge(admin.actor, still_open.id, b.id)

    [march] = reports.build(parse_span({"start": "2026-03-02", "end": "2026-03-02"})).rows
    assert (march.resolved, march.resolution.median) == (1, 7200)
    [today] = reports.build(parse_span({"start": "2026-12-07", "end": "2026-12-07"})).rows
    assert (today.created, today.resolved) == (2, 1)  # B and the open one; it resolved


def test_a_merged_tickets_sla_clock_stops(factory, desk, clock, recorded_events):
    """Its targets are met at the merge: the SLA check never warns about it later,
    while the survivor's targets still run."""
    a, b = factory.ticket(desk.alice), factory.ticket(desk.alice)
    merge.merge(desk.admin.actor, a.id, b.id)
    move(clock, "2026-12-21T10:00")
    sla_checks.check_due()
    warned = {e.ticket.id for e in recorded_events if e.name == events.SLA}
    assert warned == {b.id}


@pytest.mark.parametrize("a_has_unread_reply", [True, False])
def test_the_customers_unread_reply_follows_to_the_survivor(client, factory, a_has_unread_reply):
    """A reply the customer has not read on A leaves B unread for them; otherwise B
    keeps its read state, and their other tickets are untouched."""
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    a, b, other = (factory.ticket(owner) for _ in range(3))
    if a_has_unread_reply:
        service.add_message(admin.actor, a.id, "We found your parcel.")
    merge.merge(admin.actor, a.id, b.id)
    listed = client.get("/api/customer/orders/support", headers=owner.headers).get_json()["data"]
    read = {t["id"]: t["isRead"] for t in listed}
    assert (read[b.id], read[other.id]) == (not a_has_unread_reply, True)


# --------------------------------------------------------------------------- suggestions


def test_tickets_about_the_same_order_come_first_then_newest_first(factory):
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    order, other_order = factory.order(owner.customer), factory.order(owner.customer)
    ticket = factory.ticket(owner, order_id=order.id)
    same = factory.ticket(owner, subject="Same order, oldest", order_id=order.id)
    elsewhere = factory.ticket(owner, subject="Another order", order_id=other_order.id)
    plain = factory.ticket(owner, subject="No order, newest")
    for minutes, row in enumerate((ticket, same, elsewhere, plain)):
        _created(row, minutes)
    assert _suggested(admin.actor, ticket) == [same.id, plain.id, elsewhere.id]


def test_a_ticket_about_an_order_and_a_ride_puts_the_same_order_first(factory):
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    order, ride = factory.order(owner.customer), factory.ride(owner.customer)
    ticket = factory.ticket(owner, order_id=order.id, ride_id=ride.id)
    same_order = factory.ticket(owner, subject="Same order, no ride", order_id=order.id)
    plain = factory.ticket(owner, subject="Newer, about nothing")
    for minutes, row in enumerate((ticket, same_order, plain)):
        _created(row, minutes)
    assert _suggested(admin.actor, ticket) == [same_order.id, plain.id]


@pytest.mark.parametrize("about_an_order", [False, True])
def test_newest_first_and_of_two_opened_in_the_same_second_the_later(factory, about_an_order):
    """Ordered by when each was opened (not by id), and tickets opened in the same
    second by the one opened last; for a ticket about no order as for one about an
    order none of the others is about."""
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    ticket = factory.ticket(owner, **(
        {"order_id": factory.order(owner.customer).id} if about_an_order else {}))
    first, second, third, fourth = (factory.ticket(owner, subject=f"Duplicate {n}")
                                    for n in range(4))
    _created(ticket, 0)
    _created(first, 9)  # opened first (lowest id) but dated newest
    _created(second, 1)
    _created(third, 5)
    _created(fourth, 5)
    assert _suggested(admin.actor, ticket) == [first.id, fourth.id, third.id, second.id]


def test_an_agent_is_offered_only_the_tickets_they_work(factory):
    owner, agent, colleague = factory.customer(), factory.agent(), factory.agent()
    ticket, mine, unassigned, theirs = (factory.ticket(owner) for _ in range(4))
    for row in (ticket, mine):
        service.assign_self(agent.actor, row.id)
    service.assign_self(colleague.actor, theirs.id)
    # Not the unassigned one (they see it, do not work it), nor their colleague's.
    assert _suggested(agent.actor, ticket) == [mine.id]


def _many(factory, person, count: int, minutes: int, **fields) -> list[Ticket]:
    made = [factory.ticket(person, subject=f"Ticket {n}", **fields) for n in range(count)]
    db.session.execute(update(Ticket).where(Ticket.id.in_([t.id for t in made]))
                       .values(created_at=T0 + dt.timedelta(minutes=minutes)))
    db.session.commit()
    return made


def test_at_most_twenty_suggestions_the_newest(factory):
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    ticket = factory.ticket(owner)
    oldest = factory.ticket(owner, subject="Oldest")
    _created(ticket, 0)
    _created(oldest, 1)
    newer = _many(factory, owner, merge.SUGGESTIONS, 10)
    assert _suggested(admin.actor, ticket) == [t.id for t in reversed(newer)]


@pytest.mark.parametrize("kind", ["another customer's", "closed", "unverified"])
def test_tickets_that_cannot_be_merged_do_not_crowd_out_one_that_can(factory, kind):
    """Twenty newer tickets the merge would refuse do not take the places of the
    customer's one older ticket that can be merged into."""
    admin = factory.staff(roles.ADMIN)
    owner = factory.customer()
    ticket, candidate = factory.ticket(owner), factory.ticket(owner)
    _created(ticket, 0)
    _created(candidate, 1)
    person = factory.customer() if kind == "another customer's" else owner
    crowd = _many(factory, person, merge.SUGGESTIONS, 10)
    ids = [t.id for t in crowd]
    if kind == "closed":
        db.session.execute(update(Ticket).where(Ticket.id.in_(ids)).values(status="closed"))
    elif kind == "unverified":
        db.session.execute(update(Ticket).where(Ticket.id.in_(ids))
                           .values(unverified_reason=verification.CONTACT_FORM))
    db.session.commit()
    assert _suggested(admin.actor, ticket) == [candidate.id]


# --------------------------------------------------------------------------- groups


def test_an_unrelated_customer_is_refused_as_not_a_group_member(client, factory):
    alice, eve = factory.customer(), factory.customer()
    ride = factory.ride(alice.customer)
    refused = client.post("/api/customer/mtxi/support/", headers=alice.headers, json={
        "issueType": "OTHER", "description": "We were both overcharged for this.",
        "serviceType": "ride", "rideId": ride.id, "groupCustomerIds": [eve.customer.id]})
    assert refused.status_code == 404
    assert refused.get_json()["message"] == "Customer or group member not found"


@pytest.mark.parametrize("service_kind", ["order", "ride", "booking"])
def test_group_members_hear_of_staff_replies_whatever_service_they_share(
        client, factory, service_kind):
    """A ticket about an order, a ride or a booking alone: its group members are
    notified of the desk's reply like its owner."""
    admin = factory.staff(roles.ADMIN)
    owner, friend = factory.customer(), factory.customer()
    shared = getattr(factory, service_kind)(owner.customer)
    db.session.add(ServiceMember(customer_id=friend.customer.id,
                                 **{f"{service_kind}_id": shared.id}))
    db.session.commit()
    ticket = factory.ticket(owner, participant_customer_ids=[friend.customer.id],
                            **{f"{service_kind}_id": shared.id})
    service.add_message(admin.actor, ticket.id, "We refunded you both.")
    for person in (owner, friend):
        listed = client.get("/api/notifications", headers=person.headers).get_json()["data"]
        assert [n["title"] for n in listed if n["kind"] == "message"] == [
            f"New reply on ticket {ticket.number}"], person
