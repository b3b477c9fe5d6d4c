"""Kills the inbound-mail mutation survivors in `inbound/threading.py`,
`inbound/attachments.py` and `inbound/sender_auth.py` (target `inbound-mail`): which
ticket a mail threads into and who it writes as, which mailed files are kept, under
which name and in which order (and why the others are refused), and which SPF/DKIM
domains prove the From address.

The module functions are called directly on real rows in the test database (and
`intake.receive` for the one path only intake takes); nothing is mocked."""
from __future__ import annotations

import io

import pytest
from flask import current_app
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict

from support_app.extensions import db
from support_app.inbound import intake, sender_auth, threading
from support_app.inbound import attachments as mailed
from support_app.inbound.parse import InboundMail
from support_app.models import EmailLog, Message
from support_app.notify.mail import reply_address
from support_app.security import roles
from support_app.tickets import merge, service

from .attachment_helpers import PDF, PNG
from .inbound_payloads import new_message_id

JANE = "jane@example.org"


def mail(**fields) -> InboundMail:
    """A parsed mail from Jane to the desk's inbox; `fields` replace the defaults."""
    defaults = {"from_address": JANE, "from_name": "Jane Doe",
                "recipient": "support@desk.example.com", "subject": "Where is my parcel?",
                "body": "Any news?", "full_text": "Any news?", "message_id": new_message_id()}
    return InboundMail(**{**defaults, **fields})


def spf_pass(**fields) -> InboundMail:
    return mail(headers=[("X-Mailgun-Spf", "Pass")], **fields)


def dkim_pass(signer: str, **fields) -> InboundMail:
    return mail(headers=[("X-Mailgun-Dkim-Check-Result", "Pass"),
                         ("DKIM-Signature", f"v=1; a=rsa-sha256; d={signer}; s=s1; b=abc")],
                **fields)


def thread_ids(ticket_id: int) -> list[int]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message.id).where(Message.ticket_id == ticket_id)))


# --------------------------------------------------------------------------- sender_auth


@pytest.mark.parametrize("signer, from_domain, proves", [
    ("example.org", "example.org", True),
    ("example.org", "mail.example.org", True),      # a parent of the From domain
    ("example.org", "eu.mail.example.org", True),
    ("Example.ORG.", "example.org", True),          # the root dot and case do not matter
    ("mail.example.org", "example.org", False),     # a child does not prove its parent
    ("ample.org", "example.org", False),            # a suffix is no parent
    ("xample.org", "example.org", False),
    ("org", "example.org", False),                  # a top-level domain proves nothing
    ("", "example.org", False),
])
def test_alignment_is_the_from_domain_or_one_of_its_parents(signer, from_domain, proves):
    """Relaxed DMARC alignment: the signer is the From domain or a parent of it."""
    assert sender_auth.aligned(signer, from_domain) is proves


def test_a_from_address_with_the_root_dot_is_proved_by_its_domain(app_ctx):
    """`jane@example.org.` (the fully qualified form) is the domain example.org."""
    assert sender_auth.proof(spf_pass(from_address="jane@example.org.",
                                      envelope_sender="bounces@example.org")).domain
    assert sender_auth.proof(dkim_pass("example.org", from_address="jane@example.org.")).domain
    assert sender_auth.proof(dkim_pass("example.org.", from_address="jane@example.org")).domain


def test_the_envelope_domain_is_what_follows_the_last_at_sign(app_ctx):
    """A quoted local part may hold an "@"; the domain is after the last one."""
    assert sender_auth.proof(spf_pass(envelope_sender='"bob@elsewhere.test"@example.org')).domain
    spoofed = spf_pass(envelope_sender='"bob@example.org"@elsewhere.test')
    assert not sender_auth.proof(spoofed).domain


def test_the_signed_reply_address_proves_its_ticket_whatever_case_it_comes_back_in(app_ctx):
    """Mail systems may change the case of the address; the proof still names the
    ticket as the desk writes its number."""
    address = reply_address("TKT-7Q2X", JANE, current_app.config)
    for recipient in (address, address.lower(), address.upper()):
        proof = sender_auth.proof(mail(recipient=recipient))
        assert proof.reply_ticket == "TKT-7Q2X", recipient
        assert proof.covers("TKT-7Q2X") and not proof.domain
        assert not proof.covers("TKT-7Q2Y")


# --------------------------------------------------------------------------- attachments


def part(name: str | None, data: bytes = PNG) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name,
                       content_type="application/octet-stream")


def names(files: list[FileStorage]) -> list[str | None]:
    return [f.filename for f in files]


def test_parts_are_taken_in_mailguns_numbering_not_the_forms_order(app_ctx):
    """attachment-2 comes before attachment-10, whatever order the form lists them in."""
    files = MultiDict([("attachment-10", part("ten.pdf", PDF)), ("attachment-2", part("two.png")),
                       ("attachment-1", part("one.png"))])
    assert names(mailed.uploads(files)) == ["one.png", "two.png", "ten.pdf"]
    assert [f.name for f in mailed.screen(files).kept] == ["one.png", "two.png", "ten.pdf"]


def test_a_part_without_a_number_comes_after_the_numbered_ones(app_ctx):
    files = MultiDict([("attachment-extra", part("extra.png")), ("attachment-", part("bare.png")),
                       ("attachment-2", part("two.png")), ("attachment-1", part("one.png"))])
    assert names(mailed.uploads(files)) == ["one.png", "two.png", "extra.png", "bare.png"]


def test_a_part_numbered_past_any_limit_still_comes_before_unnumbered_ones(app_ctx):
    """Numbers sort as numbers however large; a suffix of other digit characters
    (a superscript two) is a part without a number, not a crash."""
    files = MultiDict([("attachment-²", part("super.png")), ("attachment-x", part("extra.png")),
                       ("attachment-9999999999", part("huge.png")),
                       ("attachment-1", part("one.png"))])
    assert names(mailed.uploads(files)) == ["one.png", "huge.png", "super.png", "extra.png"]


def test_a_repeated_part_name_keeps_every_file(app_ctx):
    """Two parts under one name are two files screened, not one silently dropped."""
    files = MultiDict([("attachment-1", part("front.png")),
                       ("attachment-1", part("back.pdf", PDF))])
    assert names(mailed.uploads(files)) == ["front.png", "back.pdf"]
    kept = mailed.screen(files).kept
    assert [(f.name, f.content_type, f.data) for f in kept] == [
        ("front.png", "image/png", PNG), ("back.pdf", "application/pdf", PDF)]


def test_a_nameless_file_is_kept_and_refused_under_its_position(app_ctx):
    """A part without a filename is named `attachment-N` by its place in the mail."""
    files = MultiDict([("attachment-1", part("", PNG)), ("attachment-2", part(None, PDF)),
                       ("attachment-3", part(None, b""))])
    screened = mailed.screen(files)
    assert [(f.name, f.content_type, f.data) for f in screened.kept] == [
        ("attachment-1", "image/png", PNG), ("attachment-2", "application/pdf", PDF)]
    assert screened.refused == ["attachment-3: empty file"]


def test_files_past_the_per_message_limit_are_each_refused_by_name(app, app_ctx, monkeypatch):
    """With two files allowed a message, the first two are kept; every later one is
    refused with its own name (or its position, when it has none)."""
    monkeypatch.setitem(app.config, "ATTACHMENTS_PER_MESSAGE", 2)
    files = MultiDict([("attachment-1", part("a.png")), ("attachment-2", part("b.png")),
                       ("attachment-3", part("c.png")), ("attachment-4", part(None)),
                       ("attachment-5", part("../e.png"))])
    screened = mailed.screen(files)
    assert [f.name for f in screened.kept] == ["a.png", "b.png"]
    assert screened.refused == ["c.png: too many attachments",
                                "attachment-4: too many attachments",
                                "e.png: too many attachments"]


# --------------------------------------------------------------------------- threading


def outbound_log(ticket_id: int | None, message_id: str | None, **fields) -> None:
    db.session.add(EmailLog(**{"ticket_id": ticket_id, "direction": "out", "status": "sent",
                               "to_address": JANE, "subject": "Your request",
                               "message_id": message_id, **fields}))
    db.session.commit()


def candidates(**fields) -> list[int]:
    return [t.id for t in threading.candidate_tickets(mail(**fields))]


def test_a_reply_to_an_id_logged_without_angle_brackets_threads(factory):
    """The desk may log its Message-Ids bare; a reply quotes them in brackets."""
    jane = factory.customer(email=JANE)
    ticket = factory.ticket(jane)
    outbound_log(ticket.id, "XQ7-4f1c@desk.example.com")
    assert candidates(in_reply_to=["<XQ7-4f1c@desk.example.com>"]) == [ticket.id]
    assert candidates(references=["<XQ7-4f1c@desk.example.com>"]) == [ticket.id]


def test_a_reply_to_a_mail_on_the_thread_threads_without_its_log_row(factory):
    """The thread's own record of a mail's Message-Id (bracketed or bare) is enough."""
    jane = factory.customer(email=JANE)
    first, second = factory.ticket(jane), factory.ticket(jane, subject="Second")
    service.add_message(jane.actor, first.id, "Photo attached", channel="email", origin="email",
                        email_message_id="<XM-81a@mail.gmail.com>")
    service.add_message(jane.actor, second.id, "And this", channel="email", origin="email",
                        email_message_id="XM-82b@mail.gmail.com")
    assert db.session.scalar(select(EmailLog.id).where(EmailLog.message_id.like("%XM-8%"))) is None
    assert candidates(in_reply_to=["<XM-81a@mail.gmail.com>"]) == [first.id]
    assert candidates(in_reply_to=["<XM-82b@mail.gmail.com>"],
                      references=["<XM-81a@mail.gmail.com>"]) == [second.id, first.id]


def test_an_email_log_row_without_a_message_id_does_not_stop_threading(factory):
    jane = factory.customer(email=JANE)
    ticket, other = factory.ticket(jane), factory.ticket(jane, subject="Other")
    outbound_log(other.id, None, status="failed")
    outbound_log(ticket.id, "<tkt-1-ab@desk.example.com>")
    assert candidates(in_reply_to=["<tkt-1-ab@desk.example.com>"]) == [ticket.id]


def test_a_logged_mail_without_a_ticket_is_no_threading_evidence(factory):
    """A log row with no ticket (an ignored mail) does not hide the ticket whose
    thread holds that Message-Id."""
    jane = factory.customer(email=JANE)
    ticket = factory.ticket(jane)
    outbound_log(None, "<CA+77c@mail.gmail.com>", direction="in", status="ignored")
    service.add_message(jane.actor, ticket.id, "Reply", channel="email", origin="email",
                        email_message_id="<CA+77c@mail.gmail.com>")
    assert candidates(in_reply_to=["<CA+77c@mail.gmail.com>"]) == [ticket.id]


def test_a_reply_to_a_merged_tickets_signed_address_lands_on_the_survivor(factory):
    """Jane answers an email of a ticket that was merged since: her signed reply
    address (no SPF/DKIM) still proves her, on the ticket it was merged into."""
    jane = factory.customer(email=JANE, name="Jane Doe")
    old, survivor = factory.ticket(jane), factory.ticket(jane, subject="Parcel, again")
    address = reply_address(old.number, JANE, current_app.config)
    merge.merge(factory.staff(roles.ADMIN).actor, old.id, survivor.id)
    before = set(thread_ids(survivor.id))

    receipt = intake.receive(mail(recipient=address, subject=f"Re: [{old.number}] Parcel",
                                  body="It arrived, thanks"), mailed.Screened())
    assert (receipt.outcome, receipt.ticket_number) == ("replied", survivor.number)
    (new,) = set(thread_ids(survivor.id)) - before
    reply = db.session.get(Message, new)
    assert (reply.body, reply.sender_type, reply.customer_id) == (
        "It arrived, thanks", "customer", jane.customer.id)
    assert threading.survivor_number(None) is None


def test_staff_by_address_is_an_active_staff_member_only(factory):
    admin = factory.staff(roles.ADMIN)
    factory.customer(email=JANE)
    actor = threading.staff_by_address(admin.user.email)
    assert actor is not None and actor.user_id == admin.id and actor.is_staff
    assert threading.staff_by_address(JANE) is None
    assert threading.staff_by_address("nobody@example.org") is None


def test_staff_mail_threads_only_into_a_ticket_they_may_work(factory):
    """An agent works the tickets assigned to them: mail naming another ticket, or
    none, continues no ticket."""
    jane = factory.customer(email=JANE)
    pool, theirs = factory.ticket(jane), factory.ticket(jane, subject="Mine")
    agent = factory.agent(approved=True)
    service.assign_self(agent.actor, theirs.id)
    subject = f"Re: [{pool.number}] [{theirs.number}] Parcel"
    staff_mail = mail(from_address=agent.user.email, subject=subject)
    assert threading.staff_thread(staff_mail, agent.actor).id == theirs.id
    staff_mail = mail(from_address=agent.user.email, subject=f"Re: [{pool.number}] Parcel")
    assert threading.staff_thread(staff_mail, agent.actor) is None
    assert threading.staff_thread(mail(from_address=agent.user.email), agent.actor) is None


def test_a_guest_writes_as_a_guest_with_their_name_and_language(factory):
    guest = factory.guest(email="guest@example.org", name="Gus Guest")
    guest.locale = "de"
    db.session.commit()
    actor = threading.actor_for(guest)
    assert (actor.user_id, actor.customer_id, actor.name, actor.locale) == (
        None, guest.id, "Gus Guest", "de")
    assert not actor.is_staff


def test_a_guest_without_a_recorded_language_writes_in_english(factory):
    guest = factory.guest(email="guest@example.org", name="Gus Guest")
    guest.locale = ""
    db.session.commit()
    assert threading.actor_for(guest).locale == "en"


def test_a_deactivated_account_writes_as_a_guest_not_as_its_user(factory):
    jane = factory.customer(email=JANE, name="Jane Doe", locale="fr")
    assert threading.actor_for(jane.customer).user_id == jane.id
    jane.user.active = False
    jane.customer.locale = "fr"
    db.session.commit()
    actor = threading.actor_for(jane.customer)
    assert (actor.user_id, actor.customer_id, actor.name, actor.locale) == (
        None, jane.customer.id, "Jane Doe", "fr")


@pytest.mark.parametrize("subject, opened", [
    ("Re: [TKT-9Z4] Broken lid", "Broken lid"),
    ("RE: AW: Fwd: Broken lid", "Broken lid"),
    ("Re[2]: Broken lid [tkt-abc]", "Broken lid"),
    ("Broken [TKT-1] lid", "Broken lid"),
    ("Re: [TKT-9Z4]", ""),
    ("Broken lid: a question", "Broken lid: a question"),
])
def test_a_new_tickets_subject_drops_reply_prefixes_and_ticket_numbers(subject, opened):
    assert threading.new_ticket_subject(subject) == opened
