"""The inbound webhook's trust boundary, pinned where mutation testing (target
`inbound-webhook`) found it loose: the exact signature algorithm, the edges of the
freshness window and of the token memory, which form parts count as signature fields,
what each refusal says, and what the intake records for a mail it accepts.

Each test posts real signed Mailgun payloads (or calls the check itself on a real
form) against the test database; nothing is mocked."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import logging

import pytest
import time_machine
from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import UnprocessableEntity

from support_app.api import errors as api_errors
from support_app.extensions import db
from support_app.inbound import signature, webhook
from support_app.inbound.signature import SignatureRefused, SignedDelivery
from support_app.models import Customer, EmailLog, InboundToken, Message, Ticket, utcnow
from support_app.tickets.errors import DomainError

from .conftest import require_service
from .inbound_payloads import KEY, URL, deliver, new_message_id, payload, signed, with_files

NOW = 1_800_000_000  # a fixed "now" for the signature check (2027-01-15)
FROZEN = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.timezone.utc)


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _nothing_written() -> bool:
    return (_count(Ticket), _count(EmailLog), _count(Customer)) == (0, 0, 0)


def _form(timestamp: int | str, token: str = "t" * 50, key: str = KEY) -> MultiDict:
    stamp = str(timestamp)
    return MultiDict({"timestamp": stamp, "token": token,
                      "signature": signature.sign(key, stamp, token)})


def _refusal(response) -> tuple[int, dict]:
    return response.status_code, response.get_json()


# --------------------------------------------------------------------------- signature


def test_signature_is_mailguns_hmac_sha256_of_timestamp_then_token():
    """Mailgun signs hex(HMAC-SHA256(key, timestamp + token)): any other construction
    refuses every genuine delivery (or accepts forged ones)."""
    expected = hmac.new(b"key-1", b"1700000000" + b"abc123", hashlib.sha256).hexdigest()
    assert signature.sign("key-1", "1700000000", "abc123") == expected
    assert signature.sign("key-1", "1700000000", "abc124") != expected
    assert signature.sign("key-2", "1700000000", "abc123") != expected


def test_verify_returns_the_signed_timestamp_and_token(app_ctx):
    """The token handed on to the replay memory is the one that was signed."""
    delivery = signature.verify(_form(NOW, token="a" * 50), MultiDict(), now=NOW)
    assert delivery == SignedDelivery(NOW, "a" * 50)


def test_verify_judges_freshness_against_the_given_clock(app_ctx):
    """`now` is the clock the window is measured on, not the wall clock."""
    past = 1_000_000_000  # 2001: stale by the wall clock, fresh for this `now`
    assert signature.verify(_form(past), MultiDict(), now=past + 5).timestamp == past
    with pytest.raises(SignatureRefused) as refused:
        signature.verify(_form(past), MultiDict(), now=past + 5000)
    assert refused.value.code == "STALE_TIMESTAMP"


@pytest.mark.parametrize("age, fresh", [(900, True), (-900, True), (901, False), (-901, False)])
def test_freshness_window_includes_exactly_max_age_in_both_directions(app_ctx, age, fresh):
    """MAILGUN_MAX_AGE seconds of clock skew either way are accepted; one more is not."""
    form = _form(NOW - age)
    if fresh:
        assert signature.verify(form, MultiDict(), now=NOW).timestamp == NOW - age
    else:
        with pytest.raises(SignatureRefused,
                           match="^The timestamp is outside the accepted window.$") as refused:
            signature.verify(form, MultiDict(), now=NOW)
        assert refused.value.code == "STALE_TIMESTAMP"


def test_freshness_window_follows_the_configured_max_age(app, app_ctx, monkeypatch):
    """An operator who narrows MAILGUN_MAX_AGE narrows the replay window."""
    monkeypatch.setitem(app.config, "MAILGUN_MAX_AGE", 60)
    assert signature.verify(_form(NOW - 60), MultiDict(), now=NOW).timestamp == NOW - 60
    with pytest.raises(SignatureRefused) as refused:
        signature.verify(_form(NOW - 61), MultiDict(), now=NOW)
    assert refused.value.code == "STALE_TIMESTAMP"


def test_freshness_window_defaults_to_fifteen_minutes(app, app_ctx, monkeypatch):
    """Without MAILGUN_MAX_AGE the window is Mailgun's recommended 15 minutes."""
    monkeypatch.delitem(app.config, "MAILGUN_MAX_AGE")
    assert signature.verify(_form(NOW - 900), MultiDict(), now=NOW).timestamp == NOW - 900
    with pytest.raises(SignatureRefused) as refused:
        signature.verify(_form(NOW - 901), MultiDict(), now=NOW)
    assert refused.value.code == "STALE_TIMESTAMP"


def test_signed_but_non_numeric_timestamp_is_refused(client, app_ctx):
    """A correctly signed timestamp that is not a number cannot be judged fresh."""
    data = {**payload("new_request"), **_form("soon")}
    assert _refusal(client.post(URL, data=data)) == (406, {
        "success": False, "code": "INVALID_SIGNATURE",
        "message": "The timestamp is not a number."})
    assert _nothing_written()


def test_refusals_say_why_in_the_webhook_format(client, app, app_ctx, monkeypatch):
    """Each refusal names its reason: Mailgun's logs are where an operator reads it."""
    unsigned = client.post(URL, data=payload("new_request"))
    assert _refusal(unsigned) == (406, {"success": False, "code": "MISSING_SIGNATURE",
                                        "message": "The request is not signed."})
    good = signed(payload("new_request"))
    twice = MultiDict(list(good.items()))
    twice.add("timestamp", good["timestamp"])
    assert _refusal(client.post(URL, data=twice)) == (406, {
        "success": False, "code": "DUPLICATE_SIGNATURE_FIELDS",
        "message": "Signature fields must appear exactly once."})
    monkeypatch.setitem(app.config, "MAILGUN_SIGNING_KEY", None)
    assert _refusal(deliver(client, payload("new_request"))) == (406, {
        "success": False, "code": "NOT_CONFIGURED",
        "message": "Inbound email is disabled: no signing key is configured."})
    assert _nothing_written()


def test_refusal_carries_its_message_as_the_exception_text(app_ctx):
    """Logged refusals read as their message, not "None"."""
    with pytest.raises(SignatureRefused, match="^The request is not signed.$"):
        signature.verify(MultiDict({"token": "t"}), MultiDict(), now=NOW)


@pytest.mark.parametrize("with_form_value", [False, True], ids=["file-only", "form-and-file"])
def test_signature_field_sent_as_a_file_part_is_refused(client, app_ctx, with_form_value):
    """A token (or timestamp, signature) smuggled in as a multipart file makes "which one
    was signed" ambiguous: refused, never read from either place."""
    data = signed(payload("new_request"))
    token = data.pop("token")
    part = (io.BytesIO(token.encode()), "token.txt")
    data["token"] = [token, part] if with_form_value else part
    response = client.post(URL, data=data, content_type="multipart/form-data")
    assert _refusal(response) == (406, {
        "success": False, "code": "DUPLICATE_SIGNATURE_FIELDS",
        "message": "Signature fields must appear exactly once."})
    assert _nothing_written()


# --------------------------------------------------------------------------- replay memory


@pytest.fixture
def frozen(app, app_ctx, monkeypatch):
    """The clock stopped, and the token memory in the database (no Redis)."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    with time_machine.travel(FROZEN, tick=False) as clock:
        yield clock


def _remembered() -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(InboundToken.token)))


def _seen(token: str, seconds_ago: float) -> None:
    db.session.add(InboundToken(token=token, seen_at=utcnow() - dt.timedelta(seconds=seconds_ago)))
    db.session.commit()


def test_token_memory_keeps_tokens_for_exactly_twice_the_window(client, app, frozen, monkeypatch):
    """A token is replayable while its timestamp is fresh in either direction of skew,
    2 x MAILGUN_MAX_AGE: it must be remembered that long, up to and including the edge,
    and pruned after it."""
    monkeypatch.setitem(app.config, "MAILGUN_MAX_AGE", 100)
    _seen("young", 199)
    _seen("edge", 200)
    _seen("old", 201)
    response = deliver(client, payload("new_request"), token="n" * 50)
    assert response.status_code == 200
    assert _remembered() == {"young", "edge", "n" * 50}


def test_token_memory_defaults_to_thirty_minutes(client, app, frozen, monkeypatch):
    """Without MAILGUN_MAX_AGE (15 minutes) tokens are kept 30 minutes."""
    monkeypatch.delitem(app.config, "MAILGUN_MAX_AGE")
    _seen("kept", 1800)
    _seen("pruned", 1801)
    assert deliver(client, payload("new_request"), token="n" * 50).status_code == 200
    assert _remembered() == {"kept", "n" * 50}


def test_claimed_token_is_remembered_with_the_time_it_was_seen(client, frozen):
    """The row the pruning reads: the token itself, stamped now."""
    assert deliver(client, payload("new_request"), token="m" * 50).status_code == 200
    row = db.session.get(InboundToken, "m" * 50)
    assert row.seen_at == utcnow()


def test_replayed_token_is_refused_with_its_reason(client, frozen):
    """A second POST with a remembered token is final (406), whatever mail it carries."""
    data = signed(payload("new_request"))
    assert client.post(URL, data=data).status_code == 200
    replay = {**data, "message-headers": payload("new_request")["message-headers"]}
    assert _refusal(client.post(URL, data=replay)) == (406, {
        "success": False, "code": "REPLAYED_TOKEN",
        "message": "This delivery was already received."})
    assert _count(Ticket) == 1


def _post_while_failing(client, data: dict, *prefixes: str):
    """POST `data` while the database drops every statement starting with `prefixes`."""
    def fail(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith(prefixes):
            raise OperationalError(statement, params, Exception("server closed the connection"))

    event.listen(db.engine, "before_cursor_execute", fail)
    try:
        return client.post(URL, data=data)
    finally:
        event.remove(db.engine, "before_cursor_execute", fail)


def test_a_delivery_whose_attempt_died_after_the_claim_is_taken_on_retry(client, frozen):
    """The token was claimed and the attempt never finished (the process died, or the
    store failed while forgetting it: before, its retry was refused as a replay and the
    mail lost). The token is remembered with its delivery, so the retry is taken."""
    data = signed(payload("new_request"))
    signature.claim(data["token"], signature.digest(MultiDict(data), MultiDict()))
    assert _remembered() == {data["token"]} and _count(Ticket) == 0
    retry = client.post(URL, data=data)
    assert retry.status_code == 200 and retry.get_json()["outcome"] == "created"
    assert _count(Ticket) == 1


def test_a_token_comes_back_only_with_its_own_delivery(client, frozen):
    """Mailgun signs the token, not the mail: the same delivery again is taken (and is
    a duplicate by its Message-Id), any change to a field or a file is refused."""
    data = signed(payload("new_request"))
    files = {"attachment-1": (io.BytesIO(b"%PDF-1.4 receipt"), "receipt.pdf", "application/pdf"),
             "attachment-count": "1"}
    first = client.post(URL, data={**data, **files}, content_type="multipart/form-data")
    assert first.get_json()["outcome"] == "created"
    again = {**data, "attachment-1": (io.BytesIO(b"%PDF-1.4 receipt"), "receipt.pdf",
                                      "application/pdf"), "attachment-count": "1"}
    assert client.post(URL, data=again, content_type="multipart/form-data").get_json()[
        "outcome"] == "duplicate"
    for changed in (
            {**data, "subject": "Another subject"},                           # a field
            {**data, "extra": "x"},                                           # one more field
            {**data, "attachment-1": (io.BytesIO(b"%PDF-1.4 other"), "receipt.pdf",
                                      "application/pdf"), "attachment-count": "1"},  # content
            {**data, "attachment-1": (io.BytesIO(b"%PDF-1.4 receipt"), "other.pdf",
                                      "application/pdf"), "attachment-count": "1"},  # name
            {**data, "attachment-1": (io.BytesIO(b"%PDF-1.4 receipt"), "receipt.pdf",
                                      "text/plain"), "attachment-count": "1"},       # type
            {**data, "attachment-2": (io.BytesIO(b"%PDF-1.4 receipt"), "receipt.pdf",
                                      "application/pdf"), "attachment-count": "1"},  # field
    ):
        response = client.post(URL, data=changed, content_type="multipart/form-data")
        assert (response.status_code, response.get_json()["code"]) == (406, "REPLAYED_TOKEN")
    assert _count(Ticket) == 1


def test_the_digest_frames_each_part_and_rewinds_the_files(app):
    """Bytes moved from one field to the next change the digest; the files are read
    from where they stood, and left there for the intake."""
    from werkzeug.datastructures import FileStorage, MultiDict

    assert signature.digest(MultiDict([("a", "bc")]), MultiDict()) != signature.digest(
        MultiDict([("ab", "c")]), MultiDict())
    assert signature.digest(MultiDict([("a", "1"), ("b", "2")]), MultiDict()) == signature.digest(
        MultiDict([("b", "2"), ("a", "1")]), MultiDict())  # the order of fields is no change
    stream = io.BytesIO(b"xxhello")
    stream.seek(2)
    upload = FileStorage(stream, "a.txt", "attachment-1", "text/plain")
    first = signature.digest(MultiDict(), MultiDict([("attachment-1", upload)]))
    assert stream.tell() == 2
    assert first == signature.digest(MultiDict(), MultiDict([("attachment-1", FileStorage(
        io.BytesIO(b"hello"), "a.txt", "attachment-1", "text/plain"))]))


def _framed(*parts: bytes) -> bytes:
    return b"".join(b"%d:" % len(part) + part for part in parts)


def test_the_digest_is_sha256_of_every_part_length_framed(app):
    """The exact construction: form fields sorted by name (one field's values in their
    order), then each file's field, filename, type and SHA-256 of its content, each part
    as b"<length>:" + bytes. Files under one name keep their order; a file without a
    name or type hashes them as empty. (A token remembered before a deploy is compared
    with the digest the new code computes: the construction must not drift.)"""
    from werkzeug.datastructures import FileStorage

    form = MultiDict([("subject", "Hi"), ("from", "Jane <jane@example.org>"), ("subject", "Re")])
    files = MultiDict([
        ("attachment-2", FileStorage(io.BytesIO(b"second"), None, "attachment-2")),
        ("attachment-1", FileStorage(io.BytesIO(b"%PDF"), "r.pdf", "attachment-1",
                                     "application/pdf")),
        ("attachment-1", FileStorage(io.BytesIO(b"GIF89a"), "s.gif", "attachment-1",
                                     "image/gif")),
    ])
    expected = hashlib.sha256(_framed(
        b"from", b"Jane <jane@example.org>", b"subject", b"Hi", b"subject", b"Re",
        b"attachment-1", b"r.pdf", b"application/pdf", hashlib.sha256(b"%PDF").digest(),
        b"attachment-1", b"s.gif", b"image/gif", hashlib.sha256(b"GIF89a").digest(),
        b"attachment-2", b"", b"", hashlib.sha256(b"second").digest(),
    )).hexdigest()
    assert signature.digest(form, files) == expected


def test_every_value_of_a_field_and_every_file_of_a_name_is_in_the_digest(app):
    """A second value of a field, or a second file under one name, is part of the
    delivery: changing it is another mail, never Mailgun's retry of this one."""
    from werkzeug.datastructures import FileStorage

    def fields(second: str) -> str:
        return signature.digest(MultiDict([("subject", "Hi"), ("subject", second)]), MultiDict())

    def files(second: bytes) -> str:
        return signature.digest(MultiDict(), MultiDict([
            ("attachment-1", FileStorage(io.BytesIO(b"one"), "a.txt", "attachment-1")),
            ("attachment-1", FileStorage(io.BytesIO(second), "a.txt", "attachment-1"))]))

    assert fields("Re") != fields("Fwd")
    assert files(b"two") != files(b"three")


def test_the_digest_reads_files_in_bounded_chunks(app):
    """An attachment (up to Mailgun's 25 MB) is hashed 64 KiB at a time, never read
    into memory whole."""
    from werkzeug.datastructures import FileStorage

    class Recorded(io.BytesIO):
        sizes: list = []

        def read(self, size=-1):
            self.sizes.append(size)
            return super().read(size)

    content = bytes(range(256)) * 1024  # 256 KiB
    stream = Recorded(content)
    stream.sizes = []
    got = signature.digest(MultiDict(), MultiDict([("attachment-1", FileStorage(
        stream, "big.bin", "attachment-1", "application/octet-stream"))]))
    assert stream.sizes == [1 << 16] * 5  # four full chunks, then the empty read
    assert got == hashlib.sha256(_framed(
        b"attachment-1", b"big.bin", b"application/octet-stream",
        hashlib.sha256(content).digest())).hexdigest()
    assert stream.tell() == 0

def test_a_field_sent_twice_keeps_its_order_in_the_digest(client, frozen):
    """The intake reads the first value of a field: two values of one field swapped
    are another mail (here, without a Message-Id, another ticket), not the same
    delivery again. Only the order of differently named fields is no change."""
    data = signed(payload("new_request", headers={"Message-Id": None}))
    fields = [(name, value) for name, value in data.items() if name != "subject"]
    first = MultiDict(fields + [("subject", "Broken lid"), ("subject", "Refund please")])
    swapped = MultiDict(fields + [("subject", "Refund please"), ("subject", "Broken lid")])
    assert client.post(URL, data=first).get_json()["outcome"] == "created"
    answer = client.post(URL, data=swapped)
    assert (answer.status_code, answer.get_json().get("code") or answer.get_json()["outcome"]) \
        == (406, "REPLAYED_TOKEN")
    assert _count(Ticket) == 1
    assert signature.digest(first, MultiDict()) == signature.digest(
        MultiDict([("subject", "Broken lid")] + list(reversed(fields)) + [
            ("subject", "Refund please")]), MultiDict())


def test_redis_client_is_built_once_per_url_with_short_timeouts(app, app_ctx, monkeypatch):
    """One connection pool per Redis URL for the app's life (not one per delivery), and
    a hung Redis fails the delivery within seconds (503, Mailgun retries) instead of
    holding the worker."""
    url = "redis://127.0.0.1:1/0"
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    monkeypatch.delitem(app.extensions, "mailgun_replay_redis", raising=False)
    try:
        client = signature._redis()
        assert signature._redis() is client
        assert app.extensions["mailgun_replay_redis"] == {url: client}
        kwargs = client.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (5, 5)
        assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 1)
    finally:
        app.extensions.pop("mailgun_replay_redis", None)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    assert signature._redis() is None


@pytest.fixture
def redis_memory(app, monkeypatch):
    """The token memory in a real Redis (TEST_REDIS_URL), emptied of this test's keys."""
    import redis

    url = require_service("Redis", "TEST_REDIS_URL")
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    app.extensions.pop("mailgun_replay_redis", None)
    client = redis.Redis.from_url(url)
    yield client
    for key in client.scan_iter(signature.REDIS_PREFIX + "*"):
        client.delete(key)
    app.extensions.pop("mailgun_replay_redis", None)


def test_redis_remembers_each_token_for_twice_the_window(client, app, app_ctx, redis_memory,
                                                         monkeypatch):
    """In Redis the token's key expires after 2 x MAILGUN_MAX_AGE and holds the digest
    of its delivery: that delivery again is taken (a duplicate), another is refused."""
    monkeypatch.setitem(app.config, "MAILGUN_MAX_AGE", 100)
    data = signed(payload("new_request"))
    assert client.post(URL, data=data).status_code == 200
    key = signature.REDIS_PREFIX + data["token"]
    assert redis_memory.exists(key) == 1
    assert 190 <= redis_memory.ttl(key) <= 200
    assert redis_memory.get(key) == signature.digest(MultiDict(data), MultiDict()).encode()
    assert _count(InboundToken) == 0
    assert client.post(URL, data=data).get_json()["outcome"] == "duplicate"
    other = {**data, "subject": "Another subject"}
    assert client.post(URL, data=other).get_json()["code"] == "REPLAYED_TOKEN"


def test_redis_keeps_the_token_of_a_failed_delivery_and_takes_its_retry(
        client, app_ctx, redis_memory):
    """A delivery that failed on our side (503) stays remembered in Redis with its
    digest: Mailgun's retry of it is taken, another mail under its token is not."""
    data = signed(payload("new_request"))
    response = _post_while_failing(client, data, "INSERT INTO EMAIL_LOGS")
    assert response.status_code == 503
    assert redis_memory.exists(signature.REDIS_PREFIX + data["token"]) == 1
    other = {**data, "subject": "Another subject"}
    assert client.post(URL, data=other).get_json()["code"] == "REPLAYED_TOKEN"
    assert client.post(URL, data=data).get_json()["outcome"] == "created"


# --------------------------------------------------------------------------- error format


def test_webhook_validation_errors_are_final_and_list_the_fields(app):
    """A form the webhook's schema rejects is answered 406 (Mailgun does not retry) in
    the webhook's error format, with the fields at fault."""
    with app.test_request_context(URL, method="POST"):
        err = UnprocessableEntity()
        err.data = {"messages": {"form": {"subject": ["Not a valid string."]}}}
        response = api_errors.handle_http_error(err)
    assert response.status_code == 406
    assert response.get_json() == {
        "success": False, "code": "INVALID_REQUEST", "message": "Validation failed",
        "errors": {"subject": ["Not a valid string."]}}


def test_webhook_error_without_a_code_still_names_one(app):
    """Every webhook error body has a machine-readable code, even one raised without."""
    with app.test_request_context(URL, method="POST"):
        assert webhook.SURFACE.respond(500, "Server error").get_json() == {
            "success": False, "code": "ERROR", "message": "Server error",
            "request_id": api_errors.current_request_id()}


@pytest.mark.parametrize("code, answered", [(None, "NOT_APPLICABLE"), ("forbidden", "forbidden")])
def test_domain_error_is_a_final_406_with_its_code(app, code, answered):
    """A mail the desk cannot take is refused for good (Mailgun does not retry a 406),
    with the domain's own code, or a stable one when it has none."""
    err = DomainError("This mail cannot be taken.")
    err.code = code
    with app.test_request_context(URL, method="POST"):
        response = api_errors.handle_domain_error(err)
    assert response.status_code == 406
    assert response.get_json() == {"success": False, "code": answered,
                                   "message": "This mail cannot be taken."}


# --------------------------------------------------------------------------- intake


def _ticket(number: str) -> Ticket:
    db.session.expire_all()
    return db.session.scalar(select(Ticket).where(Ticket.number == number))


def _inbound_log(message_id: str) -> EmailLog:
    db.session.expire_all()
    return db.session.scalar(select(EmailLog).where(EmailLog.message_id == message_id,
                                                    EmailLog.direction == "in"))


def test_email_log_records_who_wrote_to_which_address_and_what(client, app_ctx):
    """Staff read the inbound log to trace a mail: sender, recipient, subject and the
    full plain text as received."""
    mid = new_message_id()
    fields = payload("new_request", address="Ada@Example.NET", name="Ada", message_id=mid)
    assert deliver(client, fields).get_json()["outcome"] == "created"
    log = _inbound_log(mid)
    assert (log.from_address, log.to_address) == ("ada@example.net", "support@desk.example.com")
    assert log.subject == "Order ORD-1042 arrived with a broken lid"
    assert log.body_text == fields["body-plain"].replace("\r\n", "\n")
    assert (log.in_reply_to, log.error, log.status) == (None, None, "received")


@pytest.mark.parametrize("length, outcome", [(320, "created"), (321, "ignored")])
def test_a_sender_address_longer_than_any_mailbox_is_ignored_not_lost(client, app_ctx,
                                                                       length, outcome):
    """An address past 320 characters fits no customer (customers.email): on PostgreSQL
    opening its ticket failed on every retry (the mail lost). It is ignored and logged,
    with the reason, instead; 320 characters are still a customer."""
    sender = "a" * 64 + "@" + "d" * (length - 64 - 1 - len(".example")) + ".example"
    mid = new_message_id()
    fields = payload("new_request", address=sender, message_id=mid)
    answer = deliver(client, fields).get_json()
    assert answer["outcome"] == outcome
    if outcome == "ignored":
        assert answer["reason"] == "sender address too long"
        assert _count(Customer) == 0 and _count(Ticket) == 0
        assert _inbound_log(mid).from_address == sender[:320]
    else:
        assert db.session.scalar(select(Customer.email)) == sender


def test_email_log_cuts_overlong_header_fields_to_their_columns(client, app_ctx):
    """Header fields are attacker-sized: the log keeps at most 320 characters of an
    address and 998 (RFC 5322's line limit) of a subject or In-Reply-To."""
    sender = "a" * 320 + "@example.org"
    parent = "<" + "p" * 1100 + "@mail.example.org>"
    subject = "S" * 1200
    mid = new_message_id()
    fields = payload("out_of_office", address=sender, in_reply_to=parent, message_id=mid,
                     headers={"Subject": subject})
    fields["subject"] = subject
    fields["recipient"] = ", ".join(["support@desk.example.com"] +
                                    [f"user{i}@example.org" for i in range(30)])
    assert deliver(client, fields).get_json()["outcome"] == "ignored"
    log = _inbound_log(mid)
    assert log.from_address == sender[:320] and len(log.from_address) == 320
    assert log.to_address == fields["recipient"][:320] and len(log.to_address) == 320
    assert log.subject == subject[:998] and len(log.subject) == 998
    assert log.in_reply_to == parent[:998] and len(log.in_reply_to) == 998
    assert log.ticket_id is None


@pytest.mark.parametrize("local", [
    "m" * 1100, "".join(chr(0x4E00 + i * 7919 % 20000) for i in range(950))], ids=["long", "wide"])
def test_a_message_id_too_long_for_its_column_is_replaced_by_a_stable_one(client, app_ctx,
                                                                         local):
    """The Message-Id is attacker-sized too, and stored whole in unique columns of 998
    characters (PostgreSQL refuses more: a 500 on every retry, the mail lost). One that
    does not fit in 998 bytes is replaced by a stable id of its own, so the mail is
    kept and its redelivery is still a duplicate."""
    fields = payload("new_request", message_id=f"<{local}@mail.example.org>")
    first = deliver(client, fields)
    assert (first.status_code, first.get_json().get("outcome")) == (200, "created")
    again = deliver(client, fields)
    assert (again.status_code, again.get_json().get("outcome")) == (200, "duplicate")
    (stored,) = db.session.scalars(select(EmailLog.message_id).where(EmailLog.direction == "in"))
    assert stored.endswith("@inbound.invalid>") and len(stored.encode()) <= 998
    assert _count(Ticket) == 1


def test_mail_from_the_address_it_was_sent_to_is_ignored(client, app_ctx):
    """A mail "from" any address it came in on (its +tag dropped) is our own echo or a
    forgery of it: it must never open a ticket (no mail loops)."""
    fields = payload("new_request", address="help@other.example")
    fields["recipient"] = "support@desk.example.com, help+vip@other.example"
    response = deliver(client, fields)
    assert response.get_json() == {"success": True, "outcome": "ignored",
                                   "ticket_number": None,
                                   "reason": "sent from our own address"}
    assert _count(Ticket) == 0 and _count(Customer) == 0


@pytest.mark.parametrize("quoted", ["help@desk", "help,desk"])
def test_an_own_address_with_a_quoted_local_part_never_opens_a_ticket(client, app_ctx, quoted):
    """Recipients are read as addresses (a quoted local part may hold "," or "@"), and a
    quoted local part is no sender address at all (`normalize_address`): the echo of
    such an address of ours is set aside and opens no ticket (no mail loop)."""
    own = f'"{quoted}"@other.example'
    fields = payload("new_request", headers={"From": f"Help <{own}>"})
    fields.update({"from": f"Help <{own}>", "sender": own,
                   "recipient": f'"{quoted}"+vip@other.example, support@desk.example.com'})
    response = deliver(client, fields)
    assert response.get_json()["reason"] == "no sender address"
    assert _count(Ticket) == 0 and _count(Customer) == 0


def test_mail_without_a_sender_to_a_bare_recipient_is_not_called_our_own(client, app_ctx):
    """A recipient that is no address (a bare "support") names none of ours: a mail
    without any sender is logged as such, not as our own echo."""
    fields = payload("new_request", headers={"From": None})
    fields.update({"from": "", "sender": "", "recipient": "support"})
    response = deliver(client, fields)
    assert response.get_json() == {"success": True, "outcome": "ignored",
                                   "ticket_number": None, "reason": "no sender address"}
    assert _count(Ticket) == 0


def test_a_mail_taken_by_a_racing_delivery_is_a_duplicate_of_its_ticket(client, factory):
    """Another delivery of the same mail commits its log between our check and our
    insert: ours fails on the unique Message-Id and answers as the duplicate it is,
    naming the ticket the other one filed it under."""
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    mid = new_message_id()
    raced: list[str] = []

    def race(conn, cursor, statement, params, context, executemany):
        text = statement.lstrip().upper()
        if not raced and text.startswith("INSERT") and "INBOUND_TOKENS" not in text:
            raced.append(statement)
            with db.engine.begin() as other:  # the other delivery, on its own connection
                other.execute(EmailLog.__table__.insert().values(
                    direction="in", status="received", to_address="support@desk.example.com",
                    subject="", message_id=mid, ticket_id=ticket.id, attempts=0,
                    created_at=utcnow()))

    event.listen(db.engine, "before_cursor_execute", race)
    try:
        response = deliver(client, payload("new_request", message_id=mid))
    finally:
        event.remove(db.engine, "before_cursor_execute", race)
    assert raced
    assert response.get_json() == {"success": True, "outcome": "duplicate",
                                   "ticket_number": ticket.number, "reason": None}
    assert _count(Ticket) == 1
    assert _count(EmailLog, EmailLog.message_id == mid) == 1

def test_mail_without_any_address_is_ignored_as_such(client, app_ctx):
    """No From, no envelope sender, no recipient: nobody to open a ticket for, and the
    log says so rather than calling it our own mail."""
    fields = payload("new_request", headers={"From": None})
    fields.update({"from": "", "sender": ""})
    fields.pop("recipient")
    response = deliver(client, fields)
    assert response.get_json() == {"success": True, "outcome": "ignored",
                                   "ticket_number": None, "reason": "no sender address"}
    assert _count(Ticket) == 0


def test_mail_whose_message_id_is_already_on_a_ticket_message_is_a_duplicate(client, factory):
    """The Message-Id stored on a ticket's message (without an inbound log, e.g. one
    written by another path) marks the mail as taken: no second message."""
    from support_app.tickets import service

    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    mid = new_message_id()
    service.add_message(person.actor, ticket.id, "Sent before", channel="email",
                        origin="email", email_message_id=mid)
    response = deliver(client, payload("gmail_reply", ticket=ticket.number, message_id=mid))
    assert response.get_json() == {"success": True, "outcome": "duplicate",
                                   "ticket_number": ticket.number, "reason": None}
    assert _count(Message, Message.ticket_id == ticket.id) == 1


def test_redelivered_mail_is_a_duplicate_even_if_it_would_now_be_refused(client, factory):
    """Mailgun redelivers a mail we took: it is answered as a duplicate (200), not
    processed again, even when the desk would now refuse it."""
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    fields = payload("gmail_reply", ticket=ticket.number)
    assert deliver(client, fields).get_json()["outcome"] == "replied"
    person.user.roles = []
    db.session.commit()
    again = deliver(client, fields)
    assert again.status_code == 200
    assert again.get_json()["outcome"] == "duplicate"


def _opened(client, fields) -> Ticket:
    response = deliver(client, fields)
    assert response.status_code == 200, response.get_json()
    return _ticket(response.get_json()["ticket_number"])


def test_refused_attachments_are_listed_under_the_text(client, app_ctx):
    """Staff see, under the customer's words, every file the desk did not keep."""
    fields = with_files(payload("new_request"),
                        ("setup.exe", b"MZ" + b"2" * 100, "application/octet-stream"),
                        ("empty.pdf", b"", "application/pdf"))
    ticket = _opened(client, fields)
    log = db.session.scalar(select(EmailLog).where(EmailLog.direction == "in"))
    refused = log.error.split("; ")
    assert len(refused) == 2 and refused[0].startswith("setup.exe")
    text = fields["stripped-text"].replace("\r\n", "\n")
    assert ticket.description == (text + "\n\nAttachments not accepted:\n"
                                  + "\n".join(f"- {line}" for line in refused))


def test_nul_characters_are_dropped_from_body_and_subject(client, app_ctx):
    """A NUL in mail text is noise (and refused by the ticket service): the mail is
    still taken, without it."""
    fields = payload("new_request")
    fields["stripped-text"] = "Hello\x00 there"
    fields["subject"] = "Broken\x00 lid"
    ticket = _opened(client, fields)
    assert (ticket.subject, ticket.description) == ("Broken lid", "Hello there")


def test_mail_without_text_or_subject_gets_placeholders(client, app_ctx):
    """An empty mail still opens a readable ticket: "(no text)", "Email from <sender>"."""
    fields = payload("new_request", address="ada@example.net", headers={"Subject": None})
    fields.update({"stripped-text": "", "body-plain": "", "body-html": "", "subject": ""})
    ticket = _opened(client, fields)
    assert ticket.description == "(no text)"
    assert ticket.subject == "Email from ada@example.net"


def test_text_of_exactly_the_limit_is_kept_whole(client, app_ctx):
    """5000 characters fit: nothing is cut or marked."""
    fields = payload("new_request")
    fields["stripped-text"] = "x" * 5000
    assert _opened(client, fields).description == "x" * 5000


def test_overlong_text_is_cut_at_a_word_and_marked(client, app_ctx):
    """Past 5000 characters the text is cut (trailing space dropped) and ends with a
    visible "…" so staff know there was more."""
    fields = payload("new_request")
    fields["stripped-text"] = "a" * 4997 + " " + "b" * 100
    description = _opened(client, fields).description
    assert description == "a" * 4997 + "\n…"


def test_overlong_text_leaves_room_for_the_refused_files_note(client, app_ctx):
    """The note of refused files is never cut off by a long text."""
    fields = with_files(payload("new_request"),
                        ("setup.exe", b"MZ" + b"2" * 100, "application/octet-stream"))
    fields["stripped-text"] = "w" * 6000
    description = _opened(client, fields).description
    log = db.session.scalar(select(EmailLog).where(EmailLog.direction == "in"))
    notes = "\n\nAttachments not accepted:\n- " + log.error
    assert len(description) <= 5000
    assert description == "w" * (5000 - len(notes) - 2) + "\n…" + notes


NO_VERDICTS = {"X-Mailgun-Spf": None, "X-Mailgun-Dkim-Check-Result": None}


def _thread(ticket_id: int) -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)))


def test_emailed_ticket_and_reply_are_published_as_email_events(client, factory,
                                                                 recorded_events):
    """Integrations (webhooks, realtime) see that the change came by email."""
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    recorded_events.clear()
    assert deliver(client, payload("gmail_reply", ticket=ticket.number)).get_json()[
        "outcome"] == "replied"
    number = deliver(client, payload("new_request", address="ada@example.net")).get_json()[
        "ticket_number"]
    seen = [(e.name, e.ticket.number, e.origin) for e in recorded_events
            if e.name in ("ticket.message_added", "ticket.created")]
    assert seen == [("ticket.message_added", ticket.number, "email"),
                    ("ticket.created", number, "email")]


def test_unauthenticated_new_mail_is_held_for_staff(client, app_ctx):
    """Without SPF/DKIM proof the mail's ticket is kept but marked, for staff only."""
    response = deliver(client, payload("new_request", headers=NO_VERDICTS))
    body = response.get_json()
    assert (body["outcome"], body["reason"]) == ("held", "mail_unauthenticated")
    assert _ticket(body["ticket_number"]).unverified_reason == "mail_unauthenticated"


def test_authenticated_new_mail_is_created_unmarked(client, app_ctx):
    """A proved sender's ticket is an ordinary one: no held marker, no reason."""
    body = deliver(client, payload("new_request")).get_json()
    assert (body["outcome"], body["reason"]) == ("created", None)
    assert _ticket(body["ticket_number"]).unverified_reason is None


def test_staff_reply_by_mail_is_posted_as_that_staff_member(client, factory):
    """A proved staff address answering a ticket they work writes as themselves."""
    from support_app.security import roles

    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    admin = factory.staff(roles.ADMIN)
    response = deliver(client, payload("gmail_reply", ticket=ticket.number,
                                       address=admin.user.email, name="Desk Admin"))
    assert response.get_json() == {"success": True, "outcome": "replied",
                                   "ticket_number": ticket.number, "reason": None}
    (message,) = _thread(ticket.id)
    assert (message.sender_type, message.admin_id) == ("admin", admin.user.id)
    assert (message.channel, message.email_message_id) == (
        "email", _inbound_log(message.email_message_id).message_id)


def test_auto_reply_is_logged_against_the_ticket_it_answers(client, factory):
    """An out-of-office to a ticket's mail is filed under that ticket (for staff), and
    the receipt names it, without touching the thread."""
    from support_app.security import roles

    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    admin = factory.staff(roles.ADMIN)
    for address in ("jane@example.org", admin.user.email):
        mid = new_message_id()
        response = deliver(client, payload("out_of_office", ticket=ticket.number,
                                           address=address, message_id=mid))
        assert response.get_json() == {"success": True, "outcome": "ignored",
                                       "ticket_number": ticket.number,
                                       "reason": "Auto-Submitted: auto-replied"}, address
        log = _inbound_log(mid)
        assert (log.ticket_id, log.status, log.error) == (
            ticket.id, "ignored", "Auto-Submitted: auto-replied")
    assert _thread(ticket.id) == []


def test_signed_reply_address_of_a_merged_ticket_reaches_the_surviving_ticket(
        client, factory):
    """Our reply address for a ticket since merged still proves its customer: the mail
    joins the ticket it was merged into."""
    from support_app.notify.mail import reply_address
    from support_app.security import roles
    from support_app.tickets import merge

    person = factory.customer(email="jane@example.org")
    source, target = factory.ticket(person), factory.ticket(person)
    admin = factory.staff(roles.ADMIN)
    merge.merge(admin.actor, source.id, target.id)
    mid = new_message_id()
    fields = payload("gmail_reply", ticket=source.number, headers=NO_VERDICTS, message_id=mid)
    fields["recipient"] = reply_address(source.number, "jane@example.org", current_app.config)
    response = deliver(client, fields)
    assert response.get_json()["outcome"] == "replied", response.get_json()
    assert response.get_json()["ticket_number"] == target.number
    assert [m.email_message_id for m in _thread(target.id)][-1] == mid


def test_spoofed_reply_naming_a_ticket_without_proof_is_held_not_threaded(client, factory):
    """Knowing a ticket number and its customer's address is not enough: without
    SPF/DKIM or our signed reply address the mail never joins the thread."""
    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    response = deliver(client, payload("gmail_reply", ticket=ticket.number, headers=NO_VERDICTS))
    body = response.get_json()
    assert (body["outcome"], body["reason"]) == ("held", "mail_unauthenticated")
    assert body["ticket_number"] != ticket.number and _thread(ticket.id) == []


def test_signed_reply_address_proves_the_sender_only_for_its_own_ticket(client, factory):
    """The reply address we gave for one ticket does not let a mail (unauthenticated
    otherwise) into another ticket of the same customer it happens to reference."""
    from support_app.notify.mail import reply_address

    person = factory.customer(email="jane@example.org")
    mine, other = factory.ticket(person), factory.ticket(person)
    sent = "<desk.other.1@desk.example.com>"
    db.session.add(EmailLog(ticket_id=other.id, direction="out", status="sent",
                            to_address="jane@example.org", subject=f"[{other.number}]",
                            message_id=sent))
    db.session.commit()
    fields = payload("gmail_reply", ticket=mine.number, headers=NO_VERDICTS,
                     in_reply_to=sent, references=sent)
    fields["recipient"] = reply_address(mine.number, "jane@example.org", current_app.config)
    body = deliver(client, fields).get_json()
    assert body["outcome"] == "held", body
    assert _thread(mine.id) == [] and _thread(other.id) == []


def test_staff_member_mailing_a_new_request_gets_an_ordinary_ticket(client, factory):
    """A staff address writing about no ticket they work is treated like anyone else."""
    from support_app.security import roles

    admin = factory.staff(roles.ADMIN)
    body = deliver(client, payload("new_request", address=admin.user.email)).get_json()
    assert body["outcome"] == "created", body
    assert _ticket(body["ticket_number"]).customer.email == admin.user.email


def test_mail_without_a_sender_is_filed_under_nobodys_ticket(client, factory):
    """An anonymous mail is never matched to an account, even one whose address is
    blank: it cannot be filed under (or reveal) someone's ticket."""
    from support_app.security import roles

    person = factory.customer(email="jane@example.org")
    ticket = factory.ticket(person)
    admin = factory.staff(roles.ADMIN)
    person.customer.email = ""
    admin.user.email = ""
    db.session.commit()
    mid = new_message_id()
    fields = payload("gmail_reply", ticket=ticket.number, message_id=mid,
                     headers={"From": None})
    fields.update({"from": "", "sender": ""})
    assert deliver(client, fields).get_json() == {
        "success": True, "outcome": "ignored", "ticket_number": None,
        "reason": "no sender address"}
    assert _inbound_log(mid).ticket_id is None


def test_unreachable_redis_is_reported_with_its_cause(app, app_ctx, monkeypatch):
    """The replay store being down is a temporary failure that carries Redis's own
    error (what an operator needs to see), never a refusal."""
    import redis

    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.delitem(app.extensions, "mailgun_replay_redis", raising=False)
    try:
        with pytest.raises(signature.ReplayStoreDown) as down:
            signature.claim("t" * 50, "0" * 64)
    finally:
        app.extensions.pop("mailgun_replay_redis", None)
    assert isinstance(down.value.__cause__, redis.RedisError)
    assert str(down.value) == str(down.value.__cause__) != ""
