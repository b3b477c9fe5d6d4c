"""The edges of email ownership and account takeover that the flow tests pass over:
the guest record that records arriving for a new address get, each refusal's code and
message, the takeover mail's content and pacing, and what a takeover writes.

(Written to close gaps the mutation run of `security-ownership` found; each test
states the behaviour it pins.)"""
from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import event, insert

from support_app.api.auth import create_user
from support_app.extensions import db
from support_app.models import Customer, EmailLog, SupportUser, Ticket
from support_app.security import account_claim, email_ownership, roles
from support_app.security.email_ownership import LinkRefused
from support_app.tickets import Actor, service, verification

from .test_account_claim import OWNER, takeover_mails, takeover_token
from .test_email_ownership import VICTIM, emailed_token, guest_history, register

INVALID = "This confirmation link is not valid."


def stored(customer: Customer) -> Customer:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Customer, customer.id)


def refusal(token: str) -> LinkRefused:
    with pytest.raises(LinkRefused) as raised:
        email_ownership.confirm(token)
    return raised.value


def unconfirmed(email: str = VICTIM, locale: str | None = None) -> SupportUser:
    """An account registered for `email` and never confirmed, as self-registration
    makes it."""
    return create_user("Someone Else", email, "longpass123", roles.CUSTOMER,
                       locale=locale, confirmed=False)


# --------------------------------------------------------------- record_for_address


def test_a_new_address_gets_a_guest_record_named_after_its_mailbox(app_ctx):
    """Mail or an order for an address nobody has used makes a guest record: the address
    lower-cased (lookups and the unique index agree on one spelling), the part before
    the @ as its name, English unless a language is known, no account."""
    customer = stored(email_ownership.record_for_address("New.Person@Example.COM"))
    assert (customer.email, customer.name, customer.locale, customer.user_id) == (
        "new.person@example.com", "new.person", "en", None)
    assert db.session.query(Customer).count() == 1


def test_a_new_guest_record_keeps_the_senders_name_and_language(app_ctx):
    """A contact form gives a name and a language: the record keeps them (the name cut
    to the column's 150 characters) instead of the mailbox name and English."""
    name = "Ana " + "María" * 40
    customer = stored(email_ownership.record_for_address("ana@example.com", name, "es"))
    assert (customer.name, customer.locale) == (name[:150], "es")
    assert len(customer.name) == 150


def test_the_mailbox_name_is_what_comes_before_the_first_at(app_ctx):
    """A quoted local part may hold an @ itself: the guest's name is everything before
    the first one, never the domain or the whole address."""
    customer = stored(email_ownership.record_for_address('"sales@north"@example.com'))
    assert customer.name == '"sales'


def test_an_address_stored_in_other_case_is_the_same_record(app_ctx, factory):
    """The address's existing record is found whatever the case it was stored in: no
    second record for the same mailbox (the unique index is case-sensitive)."""
    guest = factory.guest(email="Real.Owner@Example.com", name="Real Owner")
    found = email_ownership.record_for_address("real.owner@EXAMPLE.com")
    assert found.id == guest.id
    db.session.commit()
    assert db.session.query(Customer).count() == 1


def test_a_record_written_meanwhile_by_another_request_is_used(app_ctx):
    """Two requests for a new address race (a contact message and an order sync): the
    one whose insert loses on the unique address takes the record the other one just
    committed, rather than failing or making a second record."""
    session = db.session()

    def the_other_request_commits_first(*_args) -> None:
        with db.engine.begin() as other:
            other.execute(insert(Customer.__table__).values(
                name="Winner", email="race@example.com", locale="fr"))

    event.listen(session, "before_flush", the_other_request_commits_first, once=True)
    customer = email_ownership.record_for_address("race@example.com", "Loser")
    assert (customer.name, customer.locale) == ("Winner", "fr")
    db.session.commit()
    assert db.session.query(Customer).filter_by(email="race@example.com").count() == 1


# ------------------------------------------------------------- registration's record


def test_a_fresh_address_record_keeps_what_the_registrant_gave(client, app_ctx):
    """Registering an unused address makes the account's record at once with the
    phone and language given at sign-up."""
    account = client.post("/api/auth/register", json={
        "name": "  Padded Name  ", "email": "fresh@example.com", "password": "longpass123",
        "phone": "+15550001", "locale": "fr"}).get_json()
    record = db.session.query(Customer).filter_by(user_id=account["user"]["id"]).one()
    assert (record.name, record.phone, record.locale) == ("Padded Name", "+15550001", "fr")


def test_a_fresh_address_record_defaults_to_english(client, app_ctx):
    """Without a language at sign-up the record is English."""
    account = register(client, email="fresh@example.com")
    record = db.session.query(Customer).filter_by(user_id=account["user_id"]).one()
    assert (record.phone, record.locale) == (None, "en")


def test_a_fresh_address_record_name_is_cut_to_the_column(app_ctx):
    """The registrant's name is cut to the record's 150 characters."""
    user = unconfirmed("fresh@example.com")
    db.session.delete(db.session.query(Customer).filter_by(user_id=user.id).one())
    db.session.flush()
    customer = email_ownership.claim_fresh_address(user, "N" * 200, None, None)
    assert stored(customer).name == "N" * 150


def test_an_account_created_confirmed_gets_a_record_with_its_details(app_ctx):
    """An account made confirmed (by staff, or the seed) for an unused address gets a
    record named after it, with the phone given and English by default."""
    user = create_user("Carla Gomez", "carla@example.com", "longpass123", roles.CUSTOMER,
                       phone="+15550002")
    record = db.session.query(Customer).filter_by(user_id=user.id).one()
    assert (record.name, record.phone, record.locale) == ("Carla Gomez", "+15550002", "en")


def test_confirming_keeps_the_guest_records_phone_and_language(client, factory):
    """Linking a guest's record on confirmation keeps the phone and language it had
    (the confirmation gives neither)."""
    guest = factory.guest(email=VICTIM, name="Real Owner")
    guest.phone, guest.locale = "+15550003", "es"
    db.session.commit()
    register(client)
    email_ownership.confirm(emailed_token())
    record = stored(guest)
    assert (record.phone, record.locale) == ("+15550003", "es")


def test_a_record_owned_by_another_account_says_to_contact_support(client, factory):
    """The refusal to move a record tells the user to contact support."""
    owner = factory.customer(email="old@example.com")
    owner.customer.email = "changed@example.com"
    db.session.commit()
    register(client, email="changed@example.com")
    response = client.post("/api/auth/confirm-email",
                           json={"token": emailed_token("changed@example.com")})
    assert response.get_json()["message"] == (
        "This address's history belongs to another account; please contact support.")


def confirmation_mail(email: str = VICTIM) -> EmailLog:
    db.session.expire_all()
    return db.session.query(EmailLog).filter_by(to_address=email, template="confirm_email").one()


def test_the_confirmation_mail_greets_the_account_by_name(client, app_ctx):
    """The confirmation mail greets the registrant by the name they gave."""
    register(client)
    assert confirmation_mail().body_text.startswith("Hello Someone Else,")


def test_the_confirmation_mail_says_how_long_the_link_works(client, app_ctx):
    """The mail says in hours how long the link works (EMAIL_CONFIRM_MAX_AGE)."""
    register(client)
    hours = app_ctx.config["EMAIL_CONFIRM_MAX_AGE"] // 3600
    mail = confirmation_mail()
    assert f"expires in {hours} hours" in mail.body_text
    assert f"expires in {hours} hours" in mail.body_html


def test_the_confirmation_mail_greets_a_nameless_account_by_address(client, app_ctx):
    """A name of only blanks leaves the account nameless: the mail greets the address
    rather than nobody."""
    response = client.post("/api/auth/register", json={
        "name": "   ", "email": VICTIM, "password": "longpass123"})
    assert response.status_code == 201, response.get_json()
    assert confirmation_mail().body_text.startswith(f"Hello {VICTIM},")


def test_a_resent_link_is_sent_at_once(app_ctx, smtp, mail_config):
    """With a mail server and background sending, a resent confirmation link leaves
    straight away instead of waiting for the sender's next poll."""
    user = unconfirmed()  # its first link waits: no background sending yet
    mail_config.update(MAIL_BACKGROUND=True, MAIL_POLL_SECONDS=60)
    worker = app_ctx.extensions["support_mail"]
    try:
        email_ownership.resend(user)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(smtp.messages) < 2:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert [m["To"] for m in smtp.messages] == [VICTIM, VICTIM]


def test_no_sender_starts_without_a_mail_server(app_ctx, mail_config):
    """Without a mail server nothing can be delivered: queuing a link starts no sender
    thread (readiness reports none running)."""
    mail_config.update(MAIL_BACKGROUND=True, MAIL_SERVER=None)
    user = unconfirmed()
    db.session.commit()
    worker = app_ctx.extensions["support_mail"]
    try:
        email_ownership.resend(user)
        assert not worker.running()
    finally:
        worker.stop()


def test_the_confirmation_link_uses_the_configured_page(client, app_ctx, monkeypatch):
    """With EMAIL_CONFIRM_URL set (a customer app's page) the emailed link is that page
    with the token in place of {token}, and the token confirms."""
    monkeypatch.setitem(app_ctx.config, "EMAIL_CONFIRM_URL", "https://app.example/c?t={token}")
    register(client)
    row = confirmation_mail()
    token = row.body_text.split("https://app.example/c?t=", 1)[1].split()[0]
    assert "/confirm-email/" not in row.body_text
    assert email_ownership.confirm(token).user.email == VICTIM


# ------------------------------------------------------------------ confirmation links


def test_a_link_for_an_account_that_does_not_exist_is_invalid(app_ctx):
    """A correctly signed link naming no account (deleted since) is refused as invalid,
    with the same code and message as a forged one."""
    token = email_ownership.serializer().dumps({"u": 987654, "e": VICTIM})
    refused = refusal(token)
    assert (refused.code, refused.message) == ("TOKEN_INVALID", INVALID)


def test_a_link_for_a_deactivated_account_is_invalid(client, factory):
    """An account an admin deactivated cannot be confirmed (and so cannot collect the
    address's history) with a link it was sent before."""
    guest, _ticket = guest_history(factory)
    account = register(client)
    token = emailed_token()
    user = db.session.get(SupportUser, account["user_id"])
    user.active = False
    db.session.commit()
    refused = refusal(token)
    assert (refused.code, refused.message) == ("TOKEN_INVALID", INVALID)
    db.session.expire_all()
    assert db.session.get(Customer, guest.id).user_id is None


def test_a_link_to_an_address_the_account_no_longer_has_says_so(client, factory):
    """The refusal's code is the stable, upper-case ADDRESS_CHANGED and its message
    tells why, so the app can ask for a new link."""
    account = register(client)
    token = emailed_token()
    user = db.session.get(SupportUser, account["user_id"])
    user.email = "moved@example.com"
    db.session.commit()
    refused = refusal(token)
    assert (refused.code, refused.message) == (
        "ADDRESS_CHANGED",
        "This confirmation link was sent to an address the account no longer has.")


def test_a_used_link_says_it_has_been_used(client, factory):
    """Once the account is confirmed its link is refused as TOKEN_USED, saying so."""
    register(client)
    token = emailed_token()
    email_ownership.confirm(token)
    refused = refusal(token)
    assert (refused.code, refused.message) == (
        "TOKEN_USED", "This confirmation link has already been used.")


def test_confirming_answers_the_account_and_the_linked_record(client, factory):
    """`confirm` returns the account and the address's record it now holds (the guest's,
    with its history), for callers that go on to show it."""
    guest, _ticket = guest_history(factory)
    account = register(client)
    done = email_ownership.confirm(emailed_token())
    assert done.user.id == account["user_id"]
    assert done.customer.id == guest.id and done.customer.user_id == account["user_id"]


def test_an_expired_link_says_to_ask_for_a_new_one(client, factory, clock):
    """EMAIL_CONFIRM_MAX_AGE after it was sent a link is refused as TOKEN_EXPIRED, with
    a message that tells the user what to do."""
    register(client)
    token = emailed_token()
    clock.shift(dt.timedelta(seconds=client.application.config["EMAIL_CONFIRM_MAX_AGE"] + 1))
    refused = refusal(token)
    assert (refused.code, refused.message) == (
        "TOKEN_EXPIRED", "This confirmation link has expired; ask for a new one.")


def test_a_tampered_link_is_invalid(client, factory):
    """A link whose signature does not match is refused as TOKEN_INVALID."""
    register(client)
    token = emailed_token()
    refused = refusal(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    assert (refused.code, refused.message) == ("TOKEN_INVALID", INVALID)


@pytest.mark.parametrize("claims", [["u", 1], "victim", {"e": VICTIM}])
def test_a_signed_link_without_an_account_number_is_invalid(app_ctx, claims):
    """Signed data that is not {u: account id, ...} (a list, a string, no id) is refused
    as invalid, not an error."""
    refused = refusal(email_ownership.serializer().dumps(claims))
    assert (refused.code, refused.message) == ("TOKEN_INVALID", INVALID)


def test_an_account_number_written_as_text_is_invalid(client, factory):
    """Only a whole number names an account: a link signed with the id as text ("7")
    never confirms that account, even though a database may compare "7" equal to 7."""
    account = register(client)
    token = email_ownership.serializer().dumps({"u": str(account["user_id"]), "e": VICTIM})
    refused = refusal(token)
    assert (refused.code, refused.message) == ("TOKEN_INVALID", INVALID)
    db.session.expire_all()
    assert db.session.get(SupportUser, account["user_id"]).email_confirmed_at is None


def test_confirming_releases_tickets_held_for_the_unconfirmed_account(client, factory):
    """Tickets held because the account had not confirmed its address (older mail) are
    the owner's once it confirms; tickets held for another reason stay held."""
    guest = factory.guest(email=VICTIM)
    held = service.open_ticket(Actor.system("inbound email"), customer_id=guest.id,
                               subject="Mine", description="From my mailbox.", channel="email",
                               unverified_reason=verification.ACCOUNT_UNCONFIRMED).ticket
    other = service.open_ticket(Actor.system("contact form"), customer_id=guest.id,
                                subject="Form", description="Typed by anyone.",
                                channel="contact_form",
                                unverified_reason=verification.CONTACT_FORM).ticket
    register(client)
    email_ownership.confirm(emailed_token())
    db.session.expire_all()
    assert db.session.get(Ticket, held.id).unverified_reason is None
    assert db.session.get(Ticket, other.id).unverified_reason == verification.CONTACT_FORM


def test_resending_for_a_confirmed_account_says_it_is_confirmed(client, factory):
    """The refusal of a resend tells the user their address is already confirmed."""
    account = register(client)
    confirmed = client.post("/api/auth/confirm-email", json={"token": emailed_token()})
    assert confirmed.status_code == 200
    again = client.post("/api/auth/confirm-email/resend",
                        headers={"Authorization": account["Authorization"]})
    assert again.status_code == 400
    assert again.get_json()["message"] == "Your email address is already confirmed."


# -------------------------------------------------------------------- takeover offers


def test_a_deactivated_unconfirmed_account_is_not_offered(app_ctx):
    """Only an active account can be taken over: registering the address of a
    deactivated one mails no takeover link."""
    user = unconfirmed()
    user.active = False
    db.session.commit()
    account_claim.offer(VICTIM)
    assert takeover_mails() == []


def test_offers_are_paced_per_address(app_ctx):
    """The interval between takeover mails counts per address: an offer to one address
    does not hold back the offer to another."""
    unconfirmed()
    unconfirmed("other@example.com")
    account_claim.offer(VICTIM)
    account_claim.offer("other@example.com")
    assert len(takeover_mails()) == 1 and len(takeover_mails("other@example.com")) == 1


def test_a_new_offer_goes_once_the_interval_has_passed(app_ctx, clock):
    """ACCOUNT_CLAIM_INTERVAL seconds after the last takeover mail (to the second) the
    address is still waiting; a second later a new mail goes."""
    interval = app_ctx.config["ACCOUNT_CLAIM_INTERVAL"]
    unconfirmed()
    account_claim.offer(VICTIM)
    clock.shift(dt.timedelta(seconds=interval))
    account_claim.offer(VICTIM)
    assert len(takeover_mails()) == 1
    clock.shift(dt.timedelta(seconds=1))
    account_claim.offer(VICTIM)
    assert len(takeover_mails()) == 2


def test_the_takeover_mail_names_the_address_and_the_links_lifetime(app_ctx):
    """The mail greets the address (never the registrant's name), says how many hours
    the link works, and has its subject in English by default."""
    unconfirmed()
    account_claim.offer(VICTIM)
    [mail] = takeover_mails()
    hours = app_ctx.config["EMAIL_CONFIRM_MAX_AGE"] // 3600
    assert mail.subject == "Is this your email address?"
    assert mail.body_text.startswith(f"Hello {VICTIM},")
    assert f"expires in {hours} hours" in mail.body_text
    assert f"expires in {hours} hours" in mail.body_html


def test_the_takeover_mail_is_in_the_accounts_language(app_ctx):
    """The mail goes in the language the account chose."""
    unconfirmed(locale="es")
    account_claim.offer(VICTIM)
    [mail] = takeover_mails()
    assert mail.subject == "¿Es esta tu dirección de correo electrónico?"


def test_the_takeover_link_uses_the_configured_page(app_ctx, monkeypatch):
    """With ACCOUNT_CLAIM_URL set (a customer app's page) the link is that page with the
    token in it, not the desk's own page."""
    monkeypatch.setitem(app_ctx.config, "ACCOUNT_CLAIM_URL", "https://app.example/claim?t={token}")
    unconfirmed()
    account_claim.offer(VICTIM)
    [mail] = takeover_mails()
    assert "https://app.example/claim?t=" in mail.body_text
    assert "/claim-account/" not in mail.body_text


# ------------------------------------------------------------------------- takeovers


def offered(client, locale: str | None = None) -> str:
    """A squatter's unconfirmed registration, the owner's attempt, the takeover token."""
    register(client, locale=locale)
    client.post("/api/auth/register", json=OWNER)
    return takeover_token()


def test_a_weak_password_is_refused_on_the_password_field(client, factory):
    """The refusal names the `password` field, so the form shows it there."""
    token = offered(client)
    response = client.post("/api/auth/claim-account", json={
        "token": token, "name": "Real Owner", "password": "short"})
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert list(errors) == ["password"] and errors["password"]


def test_a_takeover_cuts_long_names_to_the_columns(client, factory):
    """First and last names are cut to 64 characters, the customer record's name to
    150, as the columns hold."""
    token = offered(client)
    user = account_claim.claim(token, "owners-pass-456", "F" * 100, "L" * 100)
    db.session.expire_all()
    user = db.session.get(SupportUser, user.id)
    assert (user.first_name, user.last_name) == ("F" * 64, "L" * 64)
    record = db.session.query(Customer).filter_by(user_id=user.id).one()
    assert record.name == ("F" * 100 + " " + "L" * 100)[:150]


def test_a_takeover_keeps_the_language_unless_a_new_one_is_chosen(client, factory):
    """Without a language the account keeps the one it had; a chosen one replaces it."""
    token = offered(client, locale="es")
    user = account_claim.claim(token, "owners-pass-456", "Real", "Owner")
    db.session.expire_all()
    assert db.session.get(SupportUser, user.id).locale == "es"


def test_a_takeover_sets_the_chosen_language(client, factory):
    """The owner's chosen language replaces the registrant's."""
    token = offered(client, locale="es")
    user = account_claim.claim(token, "owners-pass-456", "Real", "Owner", locale="fr")
    db.session.expire_all()
    assert db.session.get(SupportUser, user.id).locale == "fr"
