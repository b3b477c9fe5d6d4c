"""Kills the inbound-mail mutation survivors in support_app/inbound/parse.py: what
Mailgun's parsed-mail form becomes (sender, name, recipient, subject, body, the stored
Message-Id), how `message-headers` is read, the HTML-to-text rendering, address
normalization and why a mail counts as an auto reply. Pure functions: no app needed."""
from __future__ import annotations

import json
import re

import pytest
from werkzeug.datastructures import MultiDict

from support_app.inbound.parse import auto_reply_reason, html_to_text, normalize_address, parse

SUBSTITUTE_ID = re.compile(r"<[0-9a-f]{40}@inbound\.invalid>")
# One of each header Mailgun also posts as a form field of its own.
SEPARATE_HEADERS = [
    ("Message-Id", "<m1@mail.example>"),
    ("In-Reply-To", "<r1@desk.example>"),
    ("References", "<r0@desk.example> <r1@desk.example>"),
    ("Auto-Submitted", "auto-replied"),
    ("X-Autoreply", "yes"),
    ("Precedence", "bulk"),
]
MAIL = {"from": "Jane Doe <jane@example.org>", "recipient": "support@desk.example",
        "subject": "Lid cracked", "Date": "Fri, 5 Dec 2025 10:00:00 +0000",
        "body-plain": "The lid is cracked."}


def _parse(fields: dict[str, str], headers: list | None = None):
    """Parse a form; `headers` becomes its `message-headers` JSON."""
    if headers is not None:
        fields = {**fields, "message-headers": json.dumps(headers)}
    return parse(MultiDict(fields))


# normalize_address --------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ('"Bob" <Bob@Example.com>', "bob@example.com"),
    ('"john doe"@example.com', ""),        # a space: no mailbox a customer can have
    ('"jane@example.org@"', ""),           # nothing after the last "@"
    (None, ""),
])
def test_normalize_address(value, expected):
    """An address is lower-cased; one with a space or an empty domain is no address."""
    assert normalize_address(value) == expected


# message-headers ----------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["5", "null", "true", '{"Message-Id": "<j@x>"}',
                                 '"<j@x>"', "[not json"])
def test_message_headers_that_are_no_list_of_pairs_fall_back_to_the_separate_fields(raw):
    """JSON that is no list (or no JSON at all) is no headers: the separate fields count."""
    mail = parse(MultiDict({"message-headers": raw, "Message-Id": "<fallback@mail.example>"}))
    assert mail.headers == [("Message-Id", "<fallback@mail.example>")]
    assert mail.message_id == "<fallback@mail.example>"


def test_header_entries_that_are_not_name_value_pairs_are_skipped():
    """Only two-item lists are headers; a triple or a two-letter string is not one."""
    mail = _parse({}, [["Message-Id", "<three@x>", "extra"], "ab", ["Subject", "Hi"]])
    assert mail.headers == [("Subject", "Hi")]
    assert mail.message_id != "<three@x>"


def test_without_message_headers_each_separately_posted_header_is_read():
    """Mailgun's separate Message-Id, In-Reply-To, ... fields are the headers then."""
    mail = parse(MultiDict(SEPARATE_HEADERS))
    assert mail.headers == SEPARATE_HEADERS
    assert mail.message_id == "<m1@mail.example>"
    assert mail.in_reply_to == ["<r1@desk.example>"]
    assert mail.references == ["<r0@desk.example>", "<r1@desk.example>"]
    assert auto_reply_reason(mail, set()) == "Auto-Submitted: auto-replied"


def test_an_empty_separate_header_field_is_no_header():
    """An empty field is left out, not kept as a header with no value."""
    mail = parse(MultiDict({"Precedence": "", "X-Autoreply": "", "Message-Id": "<m@x>"}))
    assert mail.headers == [("Message-Id", "<m@x>")]
    assert auto_reply_reason(mail, set()) == "no sender address"


def test_a_repeated_header_counts_once_its_first_time_in_any_case():
    """Header names are case-insensitive; the first of a repeated header wins."""
    mail = _parse({}, [["Message-ID", "<first@x>"], ["message-id", "<second@x>"],
                       ["SUBJECT", "First subject"], ["Subject", "Second subject"]])
    assert mail.message_id == "<first@x>"
    assert mail.subject == "First subject"
    assert mail.header("message-id") == "<first@x>"


# HTML to text -------------------------------------------------------------------------

@pytest.mark.parametrize(("html", "text"), [
    ("<p>Fish &amp; chips &#8364;5</p>", "Fish & chips €5"),
    ("<p>Hello</p><p>world</p>", "Hello\nworld"),
    ("<script>alert(1)</script>Hi<style>p {color: red}</style> there", "Hi there"),
    ("<div><SCRIPT>x()</SCRIPT>after the script</div>", "after the script"),
    ("<p>Hi</p></script></style><p>there</p>", "Hi\nthere"),
])
def test_html_to_text(html, text):
    """Entities are decoded, blocks are lines, script and style are dropped, and the
    text after them is kept, after a stray </script> too."""
    assert html_to_text(html) == text


# Message-Id ---------------------------------------------------------------------------

def test_a_message_id_of_998_bytes_is_kept():
    """998 bytes is what the Message-Id columns hold: such an id is stored as it is."""
    message_id = "<" + "a" * 994 + "@x>"
    assert len(message_id) == 998
    assert _parse({}, [["Message-Id", message_id]]).message_id == message_id


def test_a_message_id_too_long_to_store_gets_a_stable_substitute():
    """Over 998 bytes the id is replaced by one from its content: the same for a
    redelivery, different for another mail, and the same in every release."""
    long_id = "<" + "a" * 995 + "@x>"
    other = "<" + "b" * 995 + "@x>"
    first = _parse({}, [["Message-Id", long_id]]).message_id
    assert SUBSTITUTE_ID.fullmatch(first)
    assert _parse({}, [["Message-Id", long_id]]).message_id == first
    assert _parse({}, [["Message-Id", other]]).message_id != first
    assert first == "<670e9509ec0d121311be79b0b625e80c4508c124@inbound.invalid>"


def test_a_mail_without_message_id_gets_the_same_id_in_every_release():
    """The id made from a mail's content never changes, so a redelivery after an
    upgrade is still a duplicate (this mail has no Date field)."""
    fields = {key: value for key, value in MAIL.items() if key != "Date"}
    message_id = _parse(fields).message_id
    assert message_id == "<0dd4ba8cd023fdea565c0c7d5feddf2cd8dd1d87@inbound.invalid>"
    assert _parse(fields).message_id == message_id


@pytest.mark.parametrize("name", ["from", "recipient", "subject", "Date", "body-plain"])
def test_mails_without_message_id_differing_in_one_field_get_different_ids(name):
    """Sender, recipient, subject, date and plain body each tell two mails apart."""
    changed = {**MAIL, name: MAIL[name] + " (2)"}
    first = _parse(MAIL).message_id
    assert SUBSTITUTE_ID.fullmatch(first)
    assert _parse(changed).message_id != first


# Sender -------------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "headers", "address", "name"), [
    ({"from": "Alice <alice@a.org>", "sender": "bounce@c.org"},
     [["From", "Bob <bob@b.org>"]], "alice@a.org", "Alice"),
    ({"from": "Alice <alice@a.org>", "sender": "bounce@c.org"}, [], "alice@a.org", "Alice"),
    ({"sender": "bounce@c.org"}, [["From", "Bob <bob@b.org>"]], "bob@b.org", "Bob"),
    ({"sender": "Carol <carol@c.org>"}, [], "carol@c.org", "Carol"),
    ({"from": "undisclosed-recipients:;", "sender": "Dan@D.org"}, [], "dan@d.org", "dan"),
    ({"from": "Erin@E.org"}, [], "erin@e.org", "erin"),
])
def test_sender_address_and_name(fields, headers, address, name):
    """The form's from, else the From header, else the envelope sender; the name falls
    back to the address's local part."""
    mail = _parse(fields, headers)
    assert (mail.from_address, mail.from_name) == (address, name)


# Recipient, subject, body -------------------------------------------------------------

@pytest.mark.parametrize(("recipient", "expected"), [
    ("support@desk.example, Sales <Sales@desk.example>",
     "support@desk.example, Sales@desk.example"),
    (None, ""),
])
def test_recipient_lists_the_addresses(recipient, expected):
    """Each recipient's address, comma-separated; none when the field is missing."""
    fields = {} if recipient is None else {"recipient": recipient}
    assert _parse(fields).recipient == expected


@pytest.mark.parametrize(("fields", "headers", "subject"), [
    ({"subject": "  Lid\n   cracked "}, [["Subject", "From the header"]], "Lid cracked"),
    ({}, [["Subject", "From  the header"]], "From the header"),
    ({}, [], ""),
])
def test_subject_comes_from_the_form_else_the_header(fields, headers, subject):
    """The form's subject, else the Subject header, with whitespace folded; else none."""
    assert _parse(fields, headers).subject == subject


def test_the_body_is_the_stripped_reply_and_the_log_keeps_the_plain_text():
    """With stripped-text the body is the reply alone; full_text is all of body-plain."""
    mail = _parse({"stripped-text": " Thanks!\r\n", "body-plain": "Thanks!\r\n> earlier"})
    assert mail.body == "Thanks!"
    assert mail.full_text == "Thanks!\n> earlier"


def test_without_plain_text_the_log_keeps_the_body():
    """A mail with only stripped-text logs that text."""
    mail = _parse({"stripped-text": "Only this"})
    assert (mail.body, mail.full_text) == ("Only this", "Only this")


def test_a_mail_without_any_body_has_empty_text():
    """No stripped-text, body-plain or body-html: body and full_text are empty."""
    mail = _parse({"from": "jane@example.org"})
    assert (mail.body, mail.full_text) == ("", "")


# Auto replies -------------------------------------------------------------------------

LONGEST_ADDRESS = "a" * 64 + "@" + ("b" * 63 + ".") * 3 + "c" * 63   # 320 characters


@pytest.mark.parametrize(("headers", "sender", "reason"), [
    ([["Auto-Submitted", " Auto-Replied "]], "jane@example.org", "Auto-Submitted: auto-replied"),
    ([["auto-submitted", "no"]], "jane@example.org", None),
    ([["X-Autoreply", ""]], "jane@example.org", "X-Autoreply"),
    ([["X-Autorespond", "yes"]], "jane@example.org", "X-Autoreply"),
    ([["precedence", " Bulk"]], "jane@example.org", "Precedence: bulk"),
    ([["Precedence", "first-class"]], "jane@example.org", None),
    ([["Content-Type", "multipart/report; report-type=delivery-status"]],
     "jane@example.org", "delivery report"),
    ([["content-type", "Multipart/Report; report-type=disposition-notification"]],
     "jane@example.org", "delivery report"),
    ([["Content-Type", "multipart/mixed"]], "jane@example.org", None),
    ([], "MAILER-DAEMON@mx.example", "bounce from mailer-daemon@mx.example"),
    ([], "support@desk.example", "sent from our own address"),
    ([], "", "no sender address"),
    ([], LONGEST_ADDRESS, None),
    ([], "x" + LONGEST_ADDRESS, "sender address too long"),
])
def test_auto_reply_reason(headers, sender, reason):
    """Which headers and senders mark a mail as automatic, and near misses that do not."""
    mail = _parse({"from": sender}, headers)
    assert auto_reply_reason(mail, {"support@desk.example"}) == reason
