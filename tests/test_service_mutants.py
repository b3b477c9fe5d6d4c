"""The ticket service's helpers and paths, pinned where the mutation run
(tests/mutation/REPORT.md, targets tickets-service-*) found them untested: what an
event's snapshot carries, which reads lock, what a refusal says."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, update

from support_app import database
from support_app.attachments import screening, store
from support_app.extensions import db
from support_app.models import (
    AutoTagRule,
    Message,
    PointsTransaction,
    ServiceMember,
    Ticket,
    TicketEvent,
)
from support_app.security import roles
from support_app.tickets import Actor, events, service, tags
from support_app.tickets.errors import Forbidden, NotFound, ValidationFailed
from tests.attachment_helpers import PDF, upload_file
from tests.lock_reads import reads_of
from tests.service_helpers import fresh as fresh_ticket


# ----------------------------------------------------------------------- get_ticket


def test_get_ticket_reads_without_a_lock_unless_asked(factory, alice, admin):
    ticket = factory.ticket(alice)
    with reads_of("tickets") as plain:
        service.get_ticket(admin.actor, ticket.id)
    with reads_of("tickets") as locked:
        service.get_ticket(admin.actor, ticket.id, lock=True)
    assert plain == [False]
    assert locked == [True]


def test_an_unknown_ticket_is_not_found_as_a_ticket(alice):
    with pytest.raises(NotFound) as missing:
        service.get_ticket(alice.actor, 987654)
    assert missing.value.resource == "ticket"
    assert missing.value.details == {"resource": "ticket"}
    assert missing.value.message == "Ticket not found"


@pytest.mark.parametrize("lock", [False, True])
def test_a_ticket_merged_while_the_lookup_waited_is_followed_once_more(factory, alice, admin, lock):
    """A asked for, resolved to B by the lookup's sub-select, and B merged into C while
    the lookup waited for B's row lock: the row read back says merged into C, and the
    lookup reads C. (A merge re-points earlier merges, so only that race leaves a
    chain; it is written here directly.)"""
    a, b, c = (factory.ticket(alice, subject=s) for s in ("A", "B", "C"))
    db.session.execute(update(Ticket).where(Ticket.id == a.id).values(merged_into_id=b.id))
    db.session.execute(update(Ticket).where(Ticket.id == b.id).values(merged_into_id=c.id))
    db.session.commit()
    assert service.get_ticket(admin.actor, a.id, lock=lock).id == c.id
    assert service.get_ticket(alice.actor, b.id, lock=lock).subject == "C"


def test_another_customers_ticket_is_forbidden(factory, alice):
    ticket = factory.ticket(alice)
    with pytest.raises(Forbidden) as refused:
        service.get_ticket(factory.customer().actor, ticket.id)
    assert refused.value.message == "Unauthorized access to this ticket"


@pytest.mark.parametrize("write", [
    lambda actor, ticket_id: service.add_message(actor, ticket_id, "Hello"),
    lambda actor, ticket_id: service.add_note(actor, ticket_id, "Looks like fraud"),
], ids=["reply", "note"])
def test_an_agent_may_read_an_unassigned_ticket_but_not_work_it(factory, alice, write):
    ticket = factory.ticket(alice)
    agent = factory.agent(approved=True)
    assert service.get_ticket(agent.actor, ticket.id).id == ticket.id
    with pytest.raises(Forbidden) as refused:
        write(agent.actor, ticket.id)
    assert refused.value.message == "You are not allowed to change this ticket"


# ------------------------------------------------------------------ events' snapshot


def test_an_events_snapshot_carries_the_ticket_and_who_acted(factory, alice, recorded_events):
    ticket = service.open_ticket(alice.actor, subject="Cold soup", description="It was cold.",
                                 priority="high").ticket
    event = recorded_events[-1]
    assert (event.name, event.origin) == (events.TICKET_CREATED, "api")
    assert event.actor_user_id == alice.id
    snap = event.ticket
    assert (snap.id, snap.number, snap.status, snap.priority, snap.subject) == (
        ticket.id, ticket.number, "open", "high", "Cold soup")
    assert (snap.customer_id, snap.customer_user_id, snap.customer_name) == (
        alice.customer.id, alice.id, "Alice Liddell")


def test_an_events_snapshot_names_the_groups_accounts(factory, alice, admin, recorded_events):
    bob = factory.customer(name="Bob")
    ticket = factory.ticket(alice, participant_customer_ids=[bob.customer.id])
    service.add_message(admin.actor, ticket.id, "We are on it.")
    assert recorded_events[-1].ticket.participant_user_ids == [bob.id]
    assert recorded_events[-1].actor_user_id == admin.id


def test_a_ticket_about_no_order_ride_or_booking_skips_the_participants_query(
        factory, alice, admin, recorded_events):
    ticket = factory.ticket(alice)
    with reads_of("customers", with_sql=True) as reads:
        service.add_message(admin.actor, ticket.id, "We are on it.")
    assert recorded_events[-1].ticket.participant_user_ids == []
    assert not [sql for sql, _ in reads if "ticket_participants" in sql]


def test_an_events_snapshot_carries_the_customers_language_channel_and_category(
        factory, admin, recorded_events):
    claire = factory.customer(name="Claire", locale="fr")
    service.open_ticket(admin.actor, customer_id=claire.customer.id, subject="Colis",
                        description="Pas reçu.", channel="email", category="billing")
    snap = recorded_events[-1].ticket
    assert (snap.customer_locale, snap.channel, snap.category) == ("fr", "email", "billing")
    assert snap.customer_email == claire.customer.email
    assert snap.unverified is False


def test_a_customer_without_a_language_is_written_to_in_english(factory, alice, admin,
                                                                recorded_events):
    ticket = factory.ticket(alice)
    alice.customer.locale = ""  # an admin cleared the field
    db.session.commit()
    service.add_message(admin.actor, ticket.id, "We are on it.")
    assert recorded_events[-1].ticket.customer_locale == "en"


def test_an_unverified_tickets_events_say_so(factory, alice, recorded_events):
    guest = factory.guest(email="someone@example.net")
    service.open_ticket(Actor.system("contact form"), customer_id=guest.id, subject="Hi",
                        description="Where is my order?", channel="contact_form",
                        unverified_reason="contact_form")
    assert recorded_events[-1].ticket.unverified is True


# ---------------------------------------------------------------------------- audit


def test_the_audit_trail_records_who_changed_what_from_what(factory, alice, admin):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, priority="urgent")
    row = db.session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "priority")).one()
    assert (row.actor_id, row.actor_type, row.old_value, row.new_value) == (
        admin.id, "staff", "medium", "urgent")


def test_a_core_insert_refuses_a_key_that_is_no_column(app_ctx):
    """The INSERT would leave the column NULL and drop the value without a word."""
    with pytest.raises(TypeError, match="ticket_events has no column actor_idXX"):
        database.insert_row(TicketEvent.__table__, {"ticket_id": 1, "actor_idXX": 2,
                                                    "actor_type": "system", "kind": "x"})
    db.session.rollback()


def test_opening_is_audited_from_nothing_to_open(factory, alice):
    ticket = factory.ticket(alice)
    row = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).one()
    assert (row.kind, row.actor_id, row.actor_type, row.old_value, row.new_value) == (
        "created", alice.id, "customer", None, "open")


def test_an_audited_value_is_cut_to_its_column(factory, alice, admin):
    """old_value and new_value are String(255): PostgreSQL refuses a longer one."""
    ticket = factory.ticket(alice)
    service._audit(ticket, admin.actor, "macro", "o" * 300, "n" * 300)
    service._audit(ticket, Actor.system("sla"), "sla_rule", 7, None)
    db.session.commit()
    rows = db.session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind != "created")
        .order_by(TicketEvent.id)).all()
    assert [(r.old_value, r.new_value) for r in rows] == [("o" * 255, "n" * 255), ("7", None)]
    assert [(r.actor_id, r.actor_type) for r in rows] == [(admin.id, "staff"), (None, "system")]


# --------------------------------------------------------------------------- commit


def test_a_call_keeps_what_it_returns_loaded_and_expires_the_rest(factory, alice, admin):
    """What the caller prints is not read back; what else the session holds is, as
    after any commit, and the session still expires on its next commits."""
    ticket = factory.ticket(alice)
    bystander = db.session.get(Ticket, factory.ticket(alice, subject="Other").id)
    assert not inspect(bystander).expired_attributes
    message = service.add_message(admin.actor, ticket.id, "We are on it.")
    assert not inspect(message).expired_attributes
    assert "subject" in inspect(bystander).expired_attributes
    assert db.session().expire_on_commit is True


# --------------------------------------------------------------------- text fields


def _refusal(call) -> dict:
    with pytest.raises(ValidationFailed) as refused:
        call()
    return refused.value.details["errors"]


def test_text_at_its_limits_is_taken_and_one_past_them_refused(alice):
    def open_(subject: str, description: str):
        return service.open_ticket(alice.actor, subject=subject, description=description,
                                   min_description=10, max_description=20)

    assert open_("s" * 255, "d" * 10).ticket.subject == "s" * 255
    assert open_("s", "d" * 20).ticket.description == "d" * 20
    assert _refusal(lambda: open_("s" * 256, "d" * 9)) == {
        "subject": ["The subject may not be greater than 255 characters."],
        "description": ["The description must be at least 10 characters."]}
    assert _refusal(lambda: open_("s", "d" * 21)) == {
        "description": ["The description may not be greater than 20 characters."]}


@pytest.mark.parametrize("body,error", [
    (None, "The message field is required."),
    (" \n\t", "The message field is required."),
    (42, "The message must be a string."),
    ("a\x00b", "The message may not contain NUL characters."),
])
def test_a_reply_that_is_no_text_is_refused_and_nothing_is_written(factory, alice, body, error):
    ticket = factory.ticket(alice)
    assert _refusal(lambda: service.add_message(alice.actor, ticket.id, body)) == {
        "message": [error]}
    assert db.session.get(Ticket, ticket.id).message_count == 0


# -------------------------------------------------------------------------- opening


def test_an_account_without_a_customer_record_is_told_to_confirm_its_address(alice):
    unconfirmed = Actor(user_id=alice.id, customer_id=None, permissions=alice.actor.permissions)
    with pytest.raises(Forbidden) as refused:
        service.open_ticket(unconfirmed, subject="s", description="d")
    assert refused.value.message == "Confirm your email address first: we sent you a link."


def test_the_desk_opening_for_nobody_or_a_missing_customer_is_not_found(admin):
    for actor, customer_id in ((Actor.system("contact form"), None), (admin.actor, 987654)):
        with pytest.raises(NotFound) as missing:
            service.open_ticket(actor, customer_id=customer_id, subject="s", description="d")
        assert (missing.value.resource, missing.value.message) == ("customer",
                                                                   "Customer not found")
    assert db.session.query(Ticket).count() == 0


def test_only_the_desk_opens_for_someone_else(factory, alice):
    for actor in (factory.customer().actor, factory.agent(approved=True).actor):
        with pytest.raises(Forbidden) as refused:
            service.open_ticket(actor, customer_id=alice.customer.id, subject="s",
                                description="d")
        assert refused.value.message == "You may only open tickets for yourself"
    manager = factory.staff(roles.STORE_MANAGER)
    opened = service.open_ticket(manager.actor, customer_id=alice.customer.id, subject="s",
                                 description="d").ticket
    assert (opened.customer_id, opened.created_by_id) == (alice.customer.id, manager.id)


def test_a_customer_whose_role_may_not_open_tickets_is_refused(factory, alice):
    with factory.revoked(roles.CREATE):
        with pytest.raises(Forbidden) as refused:
            service.open_ticket(alice.actor, subject="s", description="d")
    assert refused.value.message == "You are not allowed to create support tickets"


def test_an_unknown_priority_category_or_channel_is_refused_field_by_field(alice):
    assert _refusal(lambda: service.open_ticket(
        alice.actor, subject="s", description="d", priority="asap", category="food",
        channel="fax")) == {"priority": ["The selected priority is invalid."],
                            "category": ["The selected category is invalid."],
                            "channel": ["The selected channel is invalid."]}
    assert db.session.query(Ticket).count() == 0


@pytest.mark.parametrize("reference", ["order", "ride", "booking"])
def test_a_ticket_about_something_takes_its_service_type(factory, alice, reference):
    thing = getattr(factory, reference)(alice.customer)
    ticket = factory.ticket(alice, **{f"{reference}_id": thing.id})
    assert (ticket.service_type, getattr(ticket, f"{reference}_id")) == (reference, thing.id)
    assert [getattr(ticket, f"{other}_id") for other in ("order", "ride", "booking")
            if other != reference] == [None, None]
    given = factory.ticket(alice, service_type="in_dining_order", **{f"{reference}_id": thing.id})
    assert given.service_type == "in_dining_order"
    assert factory.ticket(alice).service_type is None


def test_another_customers_order_is_not_found(factory, alice):
    order = factory.order(factory.customer().customer)
    with pytest.raises(NotFound) as missing:
        factory.ticket(alice, order_id=order.id)
    assert missing.value.resource == "order"


# --------------------------------------------------------------------------- thread


def test_the_first_staff_reply_is_the_first_response_and_later_ones_move_only_the_last(
        factory, alice, admin):
    ticket = factory.ticket(alice)
    first = service.add_message(admin.actor, ticket.id, "On it.")
    stamped = db.session.get(Ticket, ticket.id).first_response_at
    assert stamped == first.created_at
    second = service.add_message(admin.actor, ticket.id, "Still on it.")
    stored = db.session.get(Ticket, ticket.id)
    db.session.refresh(stored)
    assert stored.first_response_at == stamped
    assert (stored.last_replied_at, stored.last_replied_by_id) == (second.created_at, admin.id)


def test_a_group_members_reply_is_the_customer_side_and_theirs(factory, alice, admin,
                                                              recorded_events):
    bob = factory.customer(name="Bob")
    ticket = factory.ticket(alice, participant_customer_ids=[bob.customer.id])
    service.add_message(admin.actor, ticket.id, "Which of you paid?")
    reply = service.add_message(bob.actor, ticket.id, "I did.", channel="email",
                                origin="email", email_message_id="<bob-1@example.net>")
    assert (reply.sender_type, reply.customer_id, reply.admin_id) == (
        "customer", bob.customer.id, None)
    assert (reply.channel, reply.email_message_id) == ("email", "<bob-1@example.net>")
    stored = db.session.get(Ticket, ticket.id)
    db.session.refresh(stored)
    assert (stored.is_customer_read, stored.is_admin_read) == (True, False)
    event = recorded_events[-1]
    assert (event.name, event.origin, event.actor_user_id) == (
        events.MESSAGE_ADDED, "email", bob.id)
    assert event.data == {"message_id": reply.id, "sender_type": "customer",
                          "reopened": False}


def test_a_reply_that_reopens_says_so_and_is_audited(factory, alice, admin, recorded_events):
    ticket = factory.ticket(alice)
    service.update_ticket(admin.actor, ticket.id, status="resolved")
    reply = service.add_message(alice.actor, ticket.id, "Broken again.")
    assert recorded_events[-1].data == {"message_id": reply.id, "sender_type": "customer",
                                        "reopened": True}
    assert recorded_events[-1].ticket.status == "open"
    rows = db.session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status")
        .order_by(TicketEvent.id)).all()
    assert [(r.old_value, r.new_value, r.actor_id) for r in rows][-1] == (
        "resolved", "open", alice.id)
    service.add_message(alice.actor, ticket.id, "Hello?")
    assert len(db.session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status")).all()) == len(rows)


def test_a_stranger_may_not_reply(factory, alice):
    ticket = factory.ticket(alice)
    with pytest.raises(Forbidden) as refused:
        service.add_message(factory.customer().actor, ticket.id, "Me too")
    assert refused.value.message == "Unauthorized access to this ticket"


def test_reading_as_staff_marks_the_customers_messages_and_says_who_read(
        factory, alice, admin, recorded_events):
    ticket = factory.ticket(alice)
    asked = service.add_message(alice.actor, ticket.id, "Any news?")
    answered = service.add_message(admin.actor, ticket.id, "Yes.")
    read = service.mark_ticket_read(admin.actor, ticket.id)
    assert read.is_admin_read is True
    db.session.expire_all()
    assert db.session.get(Message, asked.id).is_read is True
    assert db.session.get(Message, asked.id).read_at is not None
    assert db.session.get(Message, answered.id).is_read is False
    event = recorded_events[-1]
    assert (event.name, event.origin, event.data) == (events.READ, "api", {"reader": "staff"})
    service.mark_ticket_read(alice.actor, ticket.id)
    assert recorded_events[-1].data == {"reader": "customer"}


def test_marking_a_message_read_keeps_when_it_was_first_read(factory, alice, admin):
    ticket = factory.ticket(alice)
    answer = service.add_message(admin.actor, ticket.id, "Yes.")
    first = service.mark_message_read(alice.actor, answer.id).read_at
    assert first is not None
    assert service.mark_message_read(alice.actor, answer.id).read_at == first
    with pytest.raises(Forbidden) as refused:
        service.mark_message_read(factory.customer().actor, answer.id)
    assert refused.value.message == "Unauthorized access"
    with pytest.raises(NotFound) as missing:
        service.mark_message_read(alice.actor, 987654)
    assert (missing.value.resource, missing.value.message) == ("message", "Message not found")


def test_a_note_is_audited_and_announced_to_staff(factory, alice, admin, recorded_events):
    ticket = factory.ticket(alice)
    note = service.add_note(admin.actor, ticket.id, "Refund approved", origin="admin")
    assert (note.ticket_id, note.author_id, note.note) == (ticket.id, admin.id, "Refund approved")
    event = recorded_events[-1]
    assert (event.name, event.origin, event.data) == (events.NOTE_ADDED, "admin",
                                                      {"note_id": note.id})
    row = db.session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "note")).one()
    assert (row.actor_id, row.old_value, row.new_value) == (admin.id, None, None)
    with pytest.raises(Forbidden) as refused:
        service.add_note(alice.actor, ticket.id, "Let me in")
    assert refused.value.message == "Only support staff may add internal notes"
    assert _refusal(lambda: service.add_note(admin.actor, ticket.id, " ")) == {
        "note": ["The note field is required."]}


def test_an_opening_with_uploads_hangs_them_off_an_opening_message(factory, alice):
    photo = upload_file(alice.actor)
    ticket = service.open_ticket(alice.actor, subject="Broken", description="See the photo.",
                                 attachments=[photo.id], channel="contact_form").ticket
    [opening] = db.session.scalars(select(Message).where(Message.ticket_id == ticket.id))
    assert (opening.body, opening.sender_type, opening.customer_id) == (
        "See the photo.", "customer", alice.customer.id)
    assert (opening.channel, opening.created_at, opening.updated_at) == (
        "contact_form", ticket.created_at, ticket.created_at)
    assert opening.attachments == [f"/api/attachments/{photo.id}"]
    assert ticket.message_count == 1
    db.session.refresh(photo)
    assert (photo.ticket_id, photo.message_id) == (ticket.id, opening.id)


def test_an_opening_by_email_keeps_its_files_and_the_rows_the_channel_adds(factory, alice):
    """The inbound webhook hands over the mailed files and its own rows (what it
    remembers of the email): all of them commit with the ticket."""
    with store.kept([screening.screen("receipt.pdf", PDF)]) as files:
        ticket = service.open_ticket(
            alice.actor, subject="Refund", description="Receipt attached.", channel="email",
            files=files, extra_rows=lambda opened: [TicketEvent(
                ticket_id=opened.id, actor_type="system", kind="mailed")]).ticket
    [opening] = db.session.scalars(select(Message).where(Message.ticket_id == ticket.id))
    _assert_mailed(opening, ticket.id)


def _assert_mailed(message: Message, ticket_id: int) -> None:
    """The mailed receipt hangs off `message` and the channel's "mailed" row was kept."""
    [receipt] = message.files
    assert (receipt.filename, receipt.ticket_id, receipt.message_id) == (
        "receipt.pdf", ticket_id, message.id)
    assert message.attachments == [f"/api/attachments/{receipt.id}"]
    assert db.session.scalar(select(TicketEvent.ticket_id)
                             .where(TicketEvent.kind == "mailed")) == ticket_id


def test_points_for_opening_name_the_ticket_they_were_earned_on(alice):
    outcome = service.open_ticket(alice.actor, subject="Late", description="Still waiting.",
                                  award_points=True)
    assert outcome.gamification_error is None
    assert [tuple(row) for row in db.session.execute(select(
        PointsTransaction.customer_id, PointsTransaction.ticket_id, PointsTransaction.action))] == [
        (alice.customer.id, outcome.ticket.id, "support_interaction")]
    # A Core UPDATE added the points: the customer is read back, not kept as loaded.
    assert outcome.ticket.customer.points == 10


def test_the_opened_ticket_and_its_customer_are_printed_without_reading_them_back(alice):
    ticket = service.open_ticket(alice.actor, subject="Late", description="Still waiting.").ticket
    with reads_of("customers") as reads:
        assert (ticket.subject, ticket.customer.name) == ("Late", "Alice Liddell")
    assert reads == []


def test_an_auto_tag_rule_tags_a_new_ticket_as_its_channel_opened_it(alice, recorded_events):
    refund = tags.ensure_tags(["refund"])[0]
    db.session.add(AutoTagRule(name="refunds", match="keywords", expression="refund",
                               field="both", tag_id=refund.id))
    db.session.commit()
    ticket = service.open_ticket(alice.actor, subject="Refund please", description="Broken.",
                                 channel="email", origin="email").ticket
    assert tags.names_of(ticket.id) == ["refund"]
    assert [(e.origin, e.ticket.id, e.data) for e in recorded_events
            if e.name == events.TAGS_CHANGED] == [
        ("email", ticket.id, {"added": ["refund"], "removed": []})]


def test_an_auto_assignment_is_announced_from_the_opening_channel(factory, alice, app,
                                                                  monkeypatch, recorded_events):
    monkeypatch.setitem(app.config, "AUTO_ASSIGN_POLICY", "round_robin")
    agent = factory.agent(approved=True)
    ticket = service.open_ticket(alice.actor, subject="Late", description="Still waiting.",
                                 channel="email", origin="email").ticket
    assert [(e.origin, e.actor_user_id, e.data) for e in recorded_events
            if e.name == events.ASSIGNED] == [
        ("email", None, {"old_assignee": None, "new_assignee": agent.id})]
    assert ticket.assigned_to_id == agent.id


@pytest.mark.parametrize("reference", ["order", "booking"])
def test_who_shares_an_order_or_booking_may_join_its_ticket(factory, alice, reference):
    bob = factory.customer(name="Bob")
    thing = getattr(factory, reference)(alice.customer)
    db.session.add(ServiceMember(customer_id=bob.customer.id, **{f"{reference}_id": thing.id}))
    db.session.commit()
    ticket = factory.ticket(alice, participant_customer_ids=[bob.customer.id],
                            **{f"{reference}_id": thing.id})
    assert service.get_ticket(bob.actor, ticket.id).id == ticket.id


def test_a_new_ticket_was_last_updated_when_it_was_opened(factory, alice):
    ticket = factory.ticket(alice)
    db.session.refresh(ticket)
    assert ticket.updated_at == ticket.created_at


def test_the_opening_event_names_the_groups_accounts(factory, alice, recorded_events):
    bob, carol = factory.customer(name="Bob"), factory.guest(name="Carol")
    ticket = factory.ticket(alice, participant_customer_ids=[bob.customer.id, carol.id])
    [created] = [e for e in recorded_events if e.name == events.TICKET_CREATED]
    assert created.ticket.id == ticket.id
    assert created.ticket.participant_user_ids == [bob.id]  # Carol has no account to reach


@pytest.mark.parametrize("notify", [True, False])
def test_the_opening_event_carries_the_description_and_whether_to_notify(alice, recorded_events,
                                                                         notify):
    service.open_ticket(alice.actor, subject="Late", description="Two hours late.",
                        notify=notify)
    assert recorded_events[-1].data == {"notify": notify, "description": "Two hours late."}


# ------------------------------------------------------------- thread: replies, reads, notes


def test_a_reply_locks_its_ticket_first_reads_the_customer_with_it_and_comes_from_the_api(
        factory, alice, admin, recorded_events):
    ticket_id, actor = factory.ticket(alice).id, admin.actor
    with reads_of("tickets", with_sql=True) as tickets, reads_of("customers") as customers:
        message = service.add_message(actor, ticket_id, "On it.")
    sql, locks = tickets[0]
    assert locks is True and "JOIN customers" in sql
    assert customers == []  # the event's snapshot takes the customer from that read
    db.session.expire_all()
    assert db.session.get(Message, message.id).channel == "api"
    assert recorded_events[-1].origin == "api"


def test_a_group_member_reading_marks_the_desks_replies_read_for_the_customer_side(
        factory, alice, admin, recorded_events):
    bob = factory.customer(name="Bob")
    ticket = factory.ticket(alice, participant_customer_ids=[bob.customer.id])
    answered = service.add_message(admin.actor, ticket.id, "Yes.")
    asked = service.add_message(alice.actor, ticket.id, "Thanks. When?")  # unread by the desk
    read = service.mark_ticket_read(bob.actor, ticket.id)
    assert (read.is_customer_read, read.is_admin_read) == (True, False)
    db.session.expire_all()
    assert (db.session.get(Message, answered.id).is_read,
            db.session.get(Message, asked.id).is_read) == (True, False)
    assert recorded_events[-1].data == {"reader": "customer"}


def test_staff_reading_their_own_ticket_read_it_as_its_customer(factory, alice, admin,
                                                                 recorded_events):
    owner = Actor(user_id=alice.id, customer_id=alice.customer.id,
                  permissions=alice.actor.permissions | {roles.MANAGE})
    ticket = factory.ticket(alice)
    answered = service.add_message(admin.actor, ticket.id, "Yes.")
    asked = service.add_message(alice.actor, ticket.id, "Thanks. When?")
    read = service.mark_ticket_read(owner, ticket.id)
    assert (read.is_customer_read, read.is_admin_read) == (True, False)
    db.session.expire_all()
    assert (db.session.get(Message, answered.id).is_read,
            db.session.get(Message, asked.id).is_read) == (True, False)
    assert recorded_events[-1].data == {"reader": "customer"}


def test_reading_a_ticket_touches_only_its_unread_messages(factory, alice, admin, morning):
    from tests.service_helpers import later

    ticket, other = factory.ticket(alice), factory.ticket(alice, subject="Another")
    first = service.add_message(admin.actor, ticket.id, "Yes.")
    elsewhere = service.add_message(admin.actor, other.id, "Also yes.")
    service.mark_ticket_read(alice.actor, ticket.id)
    read_at = db.session.get(Message, first.id).read_at
    later(morning)
    second = service.add_message(admin.actor, ticket.id, "One more thing.")
    service.mark_ticket_read(alice.actor, ticket.id)
    db.session.expire_all()
    assert db.session.get(Message, first.id).read_at == read_at  # read before: kept
    assert db.session.get(Message, second.id).read_at > read_at
    assert db.session.get(Message, elsewhere.id).is_read is False


def test_a_note_takes_its_authors_uploads_and_comes_from_the_api(factory, alice, admin,
                                                                 recorded_events):
    ticket = factory.ticket(alice)
    scan = upload_file(admin.actor, "receipt.pdf", PDF)
    note = service.add_note(admin.actor, ticket.id, "Receipt attached",
                            attachments=[f"/api/attachments/{scan.id}"])
    db.session.refresh(scan)
    assert (scan.ticket_id, scan.note_id, scan.message_id) == (ticket.id, note.id, None)
    assert recorded_events[-1].origin == "api"
    theirs = upload_file(alice.actor)
    assert _refusal(lambda: service.add_note(admin.actor, ticket.id, "Hers",
                                             attachments=[theirs.id])) == {
        "attachments": ["An attachment was not found among your unused uploads: upload it again."]}


def test_who_may_not_leave_a_note_is_told_why(factory, alice):
    ticket = factory.ticket(alice)
    viewer = Actor(user_id=None, customer_id=None, permissions=frozenset({roles.VIEW_ALL}))
    with pytest.raises(Forbidden) as refused:
        service.add_note(viewer, ticket.id, "Just looking")
    assert refused.value.message == "Only support staff may add internal notes"
    pool_agent = factory.agent()  # sees the unassigned ticket, works only their own
    with pytest.raises(Forbidden) as refused:
        service.add_note(pool_agent.actor, ticket.id, "Let me help")
    assert refused.value.message == "You are not allowed to change this ticket"


def test_a_customer_whose_role_may_not_reply_is_refused_on_their_own_ticket(factory, alice):
    ticket = factory.ticket(alice)
    muted = Actor(user_id=alice.id, customer_id=alice.customer.id,
                  permissions=alice.actor.permissions - {roles.REPLY})
    with pytest.raises(Forbidden) as refused:
        service.add_message(muted, ticket.id, "Hello?")
    assert refused.value.message == "Unauthorized access to this ticket"
    assert db.session.scalars(select(Message).where(Message.ticket_id == ticket.id)).all() == []


def test_staff_replying_on_their_own_ticket_write_as_its_customer(factory, alice):
    owner = Actor(user_id=alice.id, customer_id=alice.customer.id,
                  permissions=alice.actor.permissions | {roles.MANAGE})
    ticket = factory.ticket(alice)
    message = service.add_message(owner, ticket.id, "A photo follows.")
    assert (message.sender_type, message.customer_id, message.admin_id) == (
        "customer", alice.customer.id, None)


def test_a_reply_is_stamped_once_and_a_desk_reply_names_no_customer(factory, alice, admin):
    ticket = factory.ticket(alice)
    reply = service.add_message(admin.actor, ticket.id, "On it.")
    db.session.expire_all()
    stored = db.session.get(Message, reply.id)
    assert stored.updated_at == stored.created_at
    assert (stored.sender_type, stored.admin_id, stored.customer_id) == ("admin", admin.id, None)
    assert stored.customer is None


def test_a_reply_prints_its_author_and_files_without_reading_them(factory, alice, admin):
    ticket = factory.ticket(alice)
    bob = factory.customer(name="Bob")
    shared = factory.ticket(alice, participant_customer_ids=[bob.customer.id])
    own = service.add_message(alice.actor, ticket.id, "Any news?")
    with reads_of("customers") as customers, reads_of("attachments") as files:
        assert own.customer.name == "Alice Liddell"
        assert own.files == []
    assert (customers, files) == ([], [])
    assert service.add_message(admin.actor, ticket.id, "Yes.").customer is None
    assert service.add_message(bob.actor, shared.id, "I paid.").customer.name == "Bob"


def test_a_reply_takes_its_authors_uploads(factory, alice):
    ticket = factory.ticket(alice)
    photo = upload_file(alice.actor)
    reply = service.add_message(alice.actor, ticket.id, "Here it is.",
                                attachments=[f"/api/attachments/{photo.id}"])
    db.session.refresh(photo)
    assert (photo.ticket_id, photo.message_id) == (ticket.id, reply.id)
    assert reply.attachments == [f"/api/attachments/{photo.id}"]


def test_a_reply_by_email_keeps_its_files_and_the_rows_the_channel_adds(factory, alice):
    ticket = factory.ticket(alice)
    with store.kept([screening.screen("receipt.pdf", PDF)]) as files:
        reply = service.add_message(
            alice.actor, ticket.id, "Receipt attached.", channel="email", origin="email",
            files=files, extra_rows=lambda replied: [TicketEvent(
                ticket_id=replied.id, actor_type="system", kind="mailed")])
    db.session.expire_all()
    _assert_mailed(db.session.get(Message, reply.id), ticket.id)


def test_a_desk_reply_on_hold_keeps_the_clock_paused(desk, factory):
    ticket = factory.ticket(desk.alice)
    service.update_ticket(desk.admin.actor, ticket.id, status="on_hold")
    paused_at = fresh_ticket(ticket.id).sla_paused_at
    assert paused_at is not None
    service.add_message(desk.admin.actor, ticket.id, "Still waiting for the courier.")
    assert fresh_ticket(ticket.id).sla_paused_at == paused_at


def test_staff_with_a_customer_record_reply_to_others_as_the_desk(factory, alice):
    """An admin who also shops here answers someone else's ticket as the desk: the
    message names no customer, not the admin's own record."""
    bob = factory.customer(name="Bob")
    shopping_admin = Actor(user_id=bob.id, customer_id=bob.customer.id,
                           permissions=bob.actor.permissions | {roles.MANAGE, roles.VIEW_ALL})
    ticket = factory.ticket(alice)
    reply = service.add_message(shopping_admin, ticket.id, "We are on it.")
    db.session.expire_all()
    stored = db.session.get(Message, reply.id)
    assert (stored.sender_type, stored.admin_id, stored.customer_id) == ("admin", bob.id, None)
