"""Files on the thread and held senders, the edges the main tests leave open (found by
mutation testing, `tickets/attachments.py` and `tickets/verification.py`): the exact
words a refused attachment list answers, the id range and the per-message count at
their limits, a note's file that a reply cannot take over, which contact-form
addresses have an account, a guest's own mail reply, the label staff read, tickets
released when an account confirms, and what verifying a sender locks, records and
announces.

As in test_attachments.py and test_inbound_sender_auth.py: uploads are real files kept
by `attachments.store`, mail is a signed Mailgun post, and tickets are opened through
the service or the public contact form.
"""
from __future__ import annotations


import pytest
from sqlalchemy import select

from support_app.attachments.store import MAX_ID
from support_app.extensions import db
from support_app.models import Attachment, Message, Ticket, TicketEvent
from support_app.tickets import Actor, events, service, verification
from support_app.tickets.errors import Conflict, Forbidden, ValidationFailed

from .admin_helpers import desk_client, login
from .attachment_helpers import upload_file, uploaded
from .lock_reads import reads_of
from .inbound_payloads import deliver, payload

NOT_OUR_UPLOAD = "Each attachment must be the URL of a file uploaded to POST /api/attachments."
NOT_UNUSED = "An attachment was not found among your unused uploads: upload it again."


def reply(client, person, ticket_id, *urls):
    return client.post(f"/api/support-tickets/{ticket_id}/messages", headers=person.headers,
                       json={"message": "See the attached photo", "attachments": list(urls)})


def refusal(call, *args, **kwargs) -> dict[str, list[str]]:
    """The field errors a service call is refused with."""
    with pytest.raises(ValidationFailed) as refused:
        call(*args, **kwargs)
    return refused.value.errors


def held(customer_id: int, reason: str = verification.CONTACT_FORM) -> Ticket:
    return service.open_ticket(Actor.system("contact form"), customer_id=customer_id,
                               subject="Held", description="Typed by anyone at all.",
                               channel="contact_form", unverified_reason=reason).ticket


def reason_of(ticket_id: int) -> str | None:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id).unverified_reason


# --------------------------------------------------------------------------- wanted


def test_a_string_that_is_not_our_upload_url_is_refused_in_these_words(client, factory):
    """The client reads which field is wrong and what it must hold instead."""
    jane = factory.customer()
    ticket = factory.ticket(jane)
    response = reply(client, jane, ticket.id, "https://cdn.example.com/label.pdf")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"attachments": [NOT_OUR_UPLOAD]}


def test_upload_ids_run_from_one_to_the_id_columns_largest(factory):
    """An id is a positive 32-bit number: 0 is not an upload id at all; the largest
    id is a valid id (here just not among the caller's uploads)."""
    jane = factory.customer()
    ticket = factory.ticket(jane)
    assert refusal(service.add_message, jane.actor, ticket.id, "x",
                   attachments=[0]) == {"attachments": [NOT_OUR_UPLOAD]}
    assert refusal(service.add_message, jane.actor, ticket.id, "x",
                   attachments=[MAX_ID + 1]) == {"attachments": [NOT_OUR_UPLOAD]}
    assert refusal(service.add_message, jane.actor, ticket.id, "x",
                   attachments=[MAX_ID]) == {"attachments": [NOT_UNUSED]}


def test_a_message_takes_exactly_the_per_message_number_of_files(client, factory, app,
                                                                 monkeypatch):
    """ATTACHMENTS_PER_MESSAGE files are allowed; one more is refused, saying the limit."""
    monkeypatch.setitem(app.config, "ATTACHMENTS_PER_MESSAGE", 2)
    jane = factory.customer()
    ticket = factory.ticket(jane)
    urls = [uploaded(client, jane, f"p{n}.png")["url"] for n in range(3)]
    response = reply(client, jane, ticket.id, *urls)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "attachments": ["The attachments may not have more than 2 items."]}
    response = reply(client, jane, ticket.id, *urls[:2])
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"]["attachments"] == urls[:2]


# --------------------------------------------------------------------------- claim


def test_someone_elses_or_a_used_upload_is_refused_in_these_words(client, factory):
    """The refusal tells the writer to upload the file again."""
    jane, omar = factory.customer(), factory.customer()
    ticket = factory.ticket(jane)
    response = reply(client, jane, ticket.id, uploaded(client, omar)["url"])
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"attachments": [NOT_UNUSED]}


def test_a_caller_without_an_account_cannot_attach_uploads(factory):
    """The system (contact form, mail) owns no uploads: naming one is refused, saying
    only signed-in users attach files, and no ticket is opened."""
    jane = factory.customer()
    photo = upload_file(jane.actor)
    errors = refusal(service.open_ticket, Actor.system("contact form"),
                     customer_id=jane.customer.id, subject="Files", description="Photo",
                     attachments=[photo.id])
    assert errors == {"attachments": ["Only signed-in users may attach uploaded files."]}
    db.session.expire_all()
    assert db.session.scalars(select(Ticket)).all() == []


def test_a_file_on_an_internal_note_cannot_ride_on_a_reply(factory):
    """A note's file is used: staff cannot put it on a customer-visible reply too."""
    jane = factory.customer()
    ticket = factory.ticket(jane)
    admin = factory.staff()
    secret = upload_file(admin.actor, "fraud-check.png")
    service.add_note(admin.actor, ticket.id, "Fraud check", attachments=[secret.id])
    errors = refusal(service.add_message, admin.actor, ticket.id, "Here it is",
                     attachments=[secret.id])
    assert errors == {"attachments": [NOT_UNUSED]}
    db.session.expire_all()
    row = db.session.get(Attachment, secret.id)
    assert row.note_id is not None and row.message_id is None
    assert db.session.scalars(select(Message)).all() == []


# --------------------------------------------------------------------------- has_account


def contact(client, email: str):
    response = client.post("/api/contact", json={
        "name": "Jane Doe", "email": email, "subject": "Change my address",
        "message": "Please send my orders to 1 Other Road."})
    assert response.status_code == 201, response.get_json()
    db.session.expire_all()
    return db.session.scalar(select(Ticket).where(
        Ticket.number == response.get_json()["data"]["ticketNumber"]))


def test_the_contact_form_for_an_address_without_an_account_is_not_held(client, factory):
    """Nobody could read a ticket as that address's owner, so nothing is held: the
    ticket is an ordinary one (other accounts on the desk change nothing)."""
    factory.customer(email="someone@example.org")
    factory.guest(email="guest@example.org")
    for email in ("guest@example.org", "new@example.org"):
        ticket = contact(client, email)
        assert ticket.unverified_reason is None, email


def test_the_contact_form_for_a_registered_unconfirmed_address_is_held(client, factory):
    """An account registered the address but never confirmed it: its customer record
    is released (a guest's), yet the account still claims the address, so the form's
    message is held for staff."""
    factory.customer(email="someone@example.org")
    registered = client.post("/api/auth/register", json={
        "name": "Squatter", "email": "jane@example.org", "password": "longpass123"})
    assert registered.status_code in (200, 201), registered.get_json()
    ticket = contact(client, "jane@example.org")
    assert ticket.customer.user_id is None
    assert ticket.unverified_reason == verification.CONTACT_FORM


# --------------------------------------------------------------------------- unconfirmed_account


def test_a_guests_authenticated_mail_reply_lands_on_their_ticket(client, factory):
    """A guest record has no account to be unconfirmed: its authenticated reply is
    threaded onto its ticket like anyone's, not opened as a new ticket."""
    guest = factory.guest(email="jane@example.org", name="Jane Doe")
    ticket = service.open_ticket(Actor.system("contact form"), customer_id=guest.id,
                                 subject="Parcel", description="Where is it?",
                                 channel="contact_form").ticket
    response = deliver(client, payload("gmail_reply", ticket=ticket.number))
    assert response.get_json()["outcome"] == "replied", response.get_json()
    db.session.expire_all()
    (message,) = db.session.scalars(select(Message).where(Message.ticket_id == ticket.id))
    assert message.customer_id == guest.id


# --------------------------------------------------------------------------- label


def test_staff_read_the_reasons_label_nothing_when_verified_the_reason_when_unknown():
    """A verified ticket has no label; a reason without a label (an older or newer
    version's) is shown as it is stored, not as "None"."""
    assert verification.label(None) == ""
    assert verification.label("") == ""
    assert verification.label(verification.CONTACT_FORM) == (
        "Unverified sender: contact form for the address of a registered account")
    assert verification.label("retired_reason") == "retired_reason"


def test_a_verified_tickets_page_has_no_unverified_banner(app, factory):
    jane = factory.customer()
    ticket = factory.ticket(jane)
    admin = factory.staff()
    desk = desk_client(app)
    login(desk, admin.user.email)
    page = desk.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    assert ticket.number in page and 'id="ticket-unverified"' not in page


# --------------------------------------------------------------------------- account_confirmed


def test_confirming_releases_only_that_customers_tickets_held_for_confirmation(factory):
    """Only this customer's tickets held because the account was unconfirmed are
    released; another customer's held the same way, and this customer's held for
    another reason, stay held."""
    mine, other = factory.guest(), factory.guest()
    waiting = held(mine.id, verification.ACCOUNT_UNCONFIRMED)
    form = held(mine.id, verification.CONTACT_FORM)
    others = held(other.id, verification.ACCOUNT_UNCONFIRMED)
    verification.account_confirmed(mine.id)
    db.session.commit()
    assert reason_of(waiting.id) is None
    assert reason_of(form.id) == verification.CONTACT_FORM
    assert reason_of(others.id) == verification.ACCOUNT_UNCONFIRMED


# --------------------------------------------------------------------------- verify


def test_verifying_records_the_reason_and_announces_it_from_the_api_by_default(
        factory, recorded_events):
    """The audit keeps which reason staff cleared; the event carries `api` unless the
    caller names its origin."""
    jane = factory.customer()
    admin = factory.staff()
    first, second = held(jane.customer.id), held(jane.customer.id)
    recorded_events.clear()
    assert verification.verify(admin.actor, first.id).unverified_reason is None
    verification.verify(admin.actor, second.id, origin="admin")
    assert [(e.name, e.ticket.id, e.origin) for e in recorded_events] == [
        (events.VERIFIED, first.id, "api"), (events.VERIFIED, second.id, "admin")]
    db.session.expire_all()
    audit = db.session.execute(select(
        TicketEvent.kind, TicketEvent.old_value, TicketEvent.new_value, TicketEvent.actor_id)
        .where(TicketEvent.ticket_id == first.id, TicketEvent.kind != "created")).all()
    assert [tuple(row) for row in audit] == [
        ("verified", verification.CONTACT_FORM, None, admin.user.id)]
    assert reason_of(first.id) is None


def test_verifying_a_ticket_that_is_not_held_says_so(factory):
    jane = factory.customer()
    ticket = factory.ticket(jane)
    with pytest.raises(Conflict) as refused:
        verification.verify(factory.staff().actor, ticket.id)
    assert refused.value.message == "This ticket is not waiting for verification"


def test_verifying_locks_the_ticket_row(factory):
    """Two colleagues verifying at once: the second waits for the first and is told
    the ticket no longer waits, instead of both recording it."""
    jane = factory.customer()
    ticket_id, actor = held(jane.customer.id).id, factory.staff().actor
    with reads_of("tickets") as locks:
        verification.verify(actor, ticket_id)
    assert locks and locks[0] is True


def test_only_staff_who_work_the_ticket_verify_it(factory):
    """An agent who can see a pool ticket but is not assigned to it may not verify it;
    once assigned, they may."""
    jane = factory.customer()
    ticket = held(jane.customer.id)
    agent = factory.agent()
    with pytest.raises(Forbidden):
        verification.verify(agent.actor, ticket.id)
    assert reason_of(ticket.id) == verification.CONTACT_FORM
    service.assign_self(agent.actor, ticket.id)
    verification.verify(agent.actor, ticket.id)
    assert reason_of(ticket.id) is None
