"""The edges of the bearer-token trust boundary that the flow tests pass over: what a
token carries, how a revocation is stored (database table, Redis, Redis down), how a
token is verified (audience, issuer, leeway, type, subject) and what each refusal
says, the dashboard session's token version and CSRF proof, and the request's
identity (permissions, name, locale, one lookup per request).

(Written to close gaps the mutation run of `security-tokens` found; each test states
the behaviour it pins.)"""
from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

import jwt
import pytest
import redis
import time_machine
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from support_app.extensions import db
from support_app.models import RevokedToken, SupportUser
from support_app.security import current, roles, tokens
from support_app.security.current import AuthError

from .admin_helpers import desk_client, login, page_token
from .conftest import require_service
from .factories import PASSWORD

CLIENT_KEY = "support_revocations_redis"
DOWN_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused at once


def user_of(person) -> SupportUser:
    return db.session.get(SupportUser, person.id)


def signed(app, **claims) -> str:
    """A token signed with the app's own key, with exactly `claims` (tokens this app
    never issues, or issued by an older version of it)."""
    payload = {"exp": int(time.time()) + 600, "iat": int(time.time()),
               "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(payload, app.config["JWT_SECRET_KEY"], algorithm="HS256")


def refusal(token: str, expected_type: str = "access") -> AuthError:
    with pytest.raises(AuthError) as raised:
        current.verified_token(token, expected_type)
    return raised.value


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rows() -> dict[str, int]:
    db.session.expire_all()
    return {row.key: row.expires_at for row in db.session.scalars(select(RevokedToken))}


@pytest.fixture
def database_store(app, monkeypatch):
    """Revocations in the `revoked_tokens` table whatever the environment says."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)


@pytest.fixture
def redis_down(app, monkeypatch):
    """Revocations configured for a Redis that refuses every connection."""
    saved = app.extensions.pop(CLIENT_KEY, None)
    monkeypatch.setitem(app.config, "REDIS_URL", DOWN_URL)
    yield
    app.extensions.pop(CLIENT_KEY, None)
    if saved is not None:
        app.extensions[CLIENT_KEY] = saved


@pytest.fixture
def redis_store(app, monkeypatch):
    """Revocations in a real Redis (TEST_REDIS_URL); this test's keys removed after."""
    url = require_service("Redis", "TEST_REDIS_URL")
    saved = app.extensions.pop(CLIENT_KEY, None)
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    client = redis.Redis.from_url(url)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield client, prefix
    for key in client.scan_iter(f"support:revoked:*{prefix}*"):
        client.delete(key)
    app.extensions.pop(CLIENT_KEY, None)
    if saved is not None:
        app.extensions[CLIENT_KEY] = saved


def redis_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == tokens.log.name and r.getMessage().startswith("Redis unavailable")]


# --------------------------------------------------------------------------- issue


def test_a_login_issues_a_fresh_token_pair_of_one_new_session(app_ctx, factory):
    """A login's access token is fresh (a password was just given), both tokens name the
    user, a new sign-in session, the token version and the account's creation instant;
    a refresh keeps the session and its access token is not fresh."""
    user = user_of(factory.customer())
    user.token_version = 3
    db.session.commit()
    pair = tokens.issue(user)
    access, refresh = decode_token(pair["access_token"]), decode_token(pair["refresh_token"])
    assert (access["type"], refresh["type"]) == ("access", "refresh")
    assert access["fresh"] is True
    for claims in (access, refresh):
        assert claims["sub"] == str(user.id)
        assert claims["tv"] == 3
        assert claims["ac"] == tokens.account_stamp(user.created_on) is not None
    assert len(access["fam"]) == 32 and access["fam"] == refresh["fam"]
    assert decode_token(tokens.issue(user)["access_token"])["fam"] != access["fam"]
    again = tokens.issue(user, access["fam"])
    renewed = decode_token(again["access_token"])
    assert renewed["fresh"] is False and renewed["fam"] == access["fam"]
    assert decode_token(again["refresh_token"])["fam"] == access["fam"]


def test_a_token_of_a_user_never_signed_out_carries_version_zero(app_ctx, factory):
    user = user_of(factory.customer())
    assert user.token_version == 0
    assert decode_token(tokens.issue(user)["access_token"])["tv"] == 0


# --------------------------------------------------------------------------- claims


def test_a_token_is_revoked_under_its_own_id_and_its_sessions():
    """Both the token's id and its sign-in session's; a claim missing or empty is no key."""
    assert tokens.revocation_keys({"jti": "j1", "fam": "f1", "sub": "5"}) == ("j1", "f1")
    assert tokens.revocation_keys({"jti": "j1"}) == ("j1",)
    assert tokens.revocation_keys({"jti": "", "fam": "f1"}) == ("f1",)
    assert tokens.revocation_keys({}) == ()


def test_the_account_stamp_is_the_creation_instant_to_the_microsecond():
    assert tokens.account_stamp(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000000"
    assert tokens.account_stamp(dt.datetime(2024, 1, 2, 3, 4, 5, 7)) == "2024-01-02T03:04:05.000007"
    assert tokens.account_stamp(None) is None


def test_a_token_is_outdated_by_another_version_or_another_account():
    """The version must match (a token without one predates versions: version 0); the
    account stamp, when the token has one, must be this account's."""
    made = dt.datetime(2024, 5, 6, 7, 8, 9, 10)
    stamp = tokens.account_stamp(made)
    assert not tokens.outdated({}, 0, made)
    assert tokens.outdated({}, 1, made)
    assert not tokens.outdated({"tv": 2}, 2, made)
    assert tokens.outdated({"tv": 1}, 2, made)
    assert tokens.outdated({"tv": 3}, 2, made)
    assert not tokens.outdated({"tv": 2, "ac": stamp}, 2, made)
    assert tokens.outdated({"tv": 2, "ac": stamp}, 2, made + dt.timedelta(microseconds=1))
    assert tokens.outdated({"tv": 2, "ac": stamp}, 2, None)
    assert not tokens.outdated({"tv": 0, "ac": None}, 0, None)


# --------------------------------------------------------------------------- the database store


def test_revoking_in_the_database_keeps_the_key_a_second_past_the_expiry(app_ctx, database_store):
    """The stored expiry rounds up (a float expiry is never cut short), and a key
    revoked twice answers False the second time (refresh reuse relies on it)."""
    assert tokens.in_database()
    later = time.time() + 100.25
    assert tokens.revoke("k-first", later) is True
    assert tokens.revoke("k-first", later + 50) is False
    assert rows() == {"k-first": int(later) + 1}


def test_revoking_sweeps_the_rows_already_expired_and_only_those(app_ctx, database_store):
    """A revocation whose token has expired anyway is deleted by the next revoke; one
    expiring this very second is still in force, so it stays."""
    with time_machine.travel(dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc), tick=False):
        now = int(time.time())
        db.session.add_all([RevokedToken(key="gone", expires_at=now - 1),
                            RevokedToken(key="edge", expires_at=now),
                            RevokedToken(key="later", expires_at=now + 5)])
        db.session.commit()
        tokens.revoke("new", now + 10)
        db.session.commit()
        assert rows() == {"edge": now, "later": now + 5, "new": now + 11}
        assert tokens.revoked({"jti": "edge"}) is True
        assert tokens.revoked({"jti": "gone"}) is False


def test_a_revocation_holds_through_its_last_second_and_not_after(app_ctx, database_store):
    db.session.add(RevokedToken(key="fam-1", expires_at=2_000_000_000))
    db.session.commit()
    claims = {"jti": "other", "fam": "fam-1"}
    with time_machine.travel(2_000_000_000, tick=False):
        assert tokens.revoked(claims) is True
        assert tokens.revoked({"jti": "fam-1"}) is True
        assert tokens.revoked({"jti": "other"}) is False
        assert tokens.revoked({}) is False
    with time_machine.travel(2_000_000_001, tick=False):
        assert tokens.revoked(claims) is False


def test_a_refresh_token_is_consumed_once_until_it_expires(app_ctx, database_store):
    claims = {"jti": "abc", "exp": 2_000_000_000, "fam": "f"}
    assert tokens.consume(claims) is True
    assert tokens.consume(claims) is False
    assert rows() == {"used:abc": 2_000_000_001}
    assert tokens.revoked(claims) is False  # used, not revoked: a second use still arrives


def test_ending_a_session_revokes_it_for_the_refresh_lifetime(app, app_ctx, database_store,
                                                              monkeypatch):
    monkeypatch.setitem(app.config, "JWT_REFRESH_TOKEN_EXPIRES", dt.timedelta(hours=2))
    with time_machine.travel(1_900_000_000.5, tick=False):
        tokens.end_session("sess-1")
    assert rows() == {"sess-1": 1_900_000_000 + 7200 + 1}


def test_the_refresh_lifetime_is_read_as_a_timedelta_or_as_seconds(app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "JWT_REFRESH_TOKEN_EXPIRES", dt.timedelta(days=30))
    assert tokens._refresh_lifetime() == 30 * 86400.0
    monkeypatch.setitem(app.config, "JWT_REFRESH_TOKEN_EXPIRES", 3600)
    assert tokens._refresh_lifetime() == 3600.0


def test_sign_out_everywhere_moves_the_version_on_by_one(app_ctx, factory):
    user = user_of(factory.customer())
    tokens.end_all(user)
    assert user.token_version == 1
    user.token_version = 5
    tokens.end_all(user)
    assert user.token_version == 6
    user.token_version = None
    tokens.end_all(user)
    assert user.token_version == 1


def test_the_database_store_reports_no_redis_problem(app_ctx, database_store, caplog):
    """Without REDIS_URL nothing asks Redis: no warning about it on any token check."""
    caplog.set_level(logging.WARNING)
    assert tokens.revoked_in_redis(["a", "b"]) is False
    assert tokens.revoked({"jti": "a"}) is False
    assert redis_warnings(caplog) == []


# --------------------------------------------------------------------------- Redis


def test_redis_is_used_when_configured_through_one_client_with_short_timeouts(app, app_ctx,
                                                                               redis_down):
    """REDIS_URL moves revocations to Redis; the app keeps one client (one connection
    pool) and a stalled Redis costs a request at most two seconds."""
    assert tokens.in_database() is False
    client = tokens._redis(app)
    assert isinstance(client, redis.Redis)
    assert tokens._redis(app) is client
    assert app.extensions[CLIENT_KEY] is client
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 1)
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (2, 2)


def test_a_redis_that_is_down_records_nothing_and_says_why(app_ctx, redis_down, caplog):
    """Redis down: a revocation is reported done (the API keeps serving, as the rate
    limits do), each time, and a warning names the key with the connection error."""
    caplog.set_level(logging.WARNING)
    assert tokens.revoke("sess-down", time.time() + 60) is True
    assert tokens.revoke("sess-down", time.time() + 60) is True
    assert rows() == {}  # not in the database either
    warnings = redis_warnings(caplog)
    assert [w.getMessage() for w in warnings] == [
        "Redis unavailable: token sess-down not recorded as revoked"] * 2
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].exc_info and issubclass(warnings[0].exc_info[0], redis.ConnectionError)


def test_a_redis_that_is_down_revokes_nothing_and_says_so(app_ctx, redis_down, caplog):
    caplog.set_level(logging.WARNING)
    assert tokens.revoked_in_redis(["k1", "k2"]) is False
    assert tokens.revoked({"jti": "k1", "fam": "f1"}) is False
    warnings = redis_warnings(caplog)
    assert [w.getMessage() for w in warnings] == [
        "Redis unavailable: token revocations not checked"] * 2
    assert warnings[0].exc_info and issubclass(warnings[0].exc_info[0], redis.ConnectionError)
    caplog.clear()
    assert tokens.revoked_in_redis([]) is False  # nothing to ask: Redis is not called
    assert tokens.revoked({}) is False
    assert redis_warnings(caplog) == []


def test_with_redis_down_a_token_is_still_served(app, app_ctx, factory, redis_down):
    """The request's identity asks Redis only for revocations; Redis down, a live token
    is served and the database table is not consulted."""
    person = factory.customer()
    pair = tokens.issue(user_of(person))
    claims = decode_token(pair["access_token"])
    db.session.add(RevokedToken(key=claims["fam"], expires_at=int(time.time()) + 60))
    db.session.commit()
    assert current.identity_of(person.id, tokens.revocation_keys(claims)).revoked is False
    assert desk_client(app).get("/api/auth/me", headers=bearer(pair["access_token"])).status_code == 200


def test_redis_records_each_revocation_once_until_its_expiry(app_ctx, redis_store):
    client, prefix = redis_store
    key = f"sess-{prefix}"
    expires = time.time() + 300.5
    assert tokens.revoke(key, expires) is True
    assert tokens.revoke(key, expires) is False
    assert client.expiretime(tokens._REDIS_PREFIX + key) == int(expires) + 1
    assert tokens.revoked_in_redis([f"other-{prefix}", key]) is True
    assert tokens.revoked({"jti": f"x-{prefix}", "fam": key}) is True
    assert tokens.revoked({"jti": f"x-{prefix}"}) is False


def test_a_token_revoked_in_redis_is_refused(app, app_ctx, factory, redis_store):
    _client, prefix = redis_store
    person = factory.customer()
    session = f"fam-{prefix}"
    pair = tokens.issue(user_of(person), session)
    assert desk_client(app).get("/api/auth/me", headers=bearer(pair["access_token"])).status_code == 200
    tokens.end_session(session)
    answer = desk_client(app).get("/api/auth/me", headers=bearer(pair["access_token"]))
    assert answer.status_code == 401 and answer.get_json()["message"] == "Token has been revoked"


# --------------------------------------------------------------------------- verification


def test_an_auth_error_reads_as_its_reason():
    """What a log line or traceback prints of a refusal is why it was refused."""
    refusal = AuthError("Token has expired")
    assert (str(refusal), refusal.reason) == ("Token has expired", "Token has expired")


def test_a_bearer_header_names_its_token(app_ctx):
    assert current.bearer_token(None) is None
    assert current.bearer_token("") is None
    assert current.bearer_token("Bearer abc.def") == "abc.def"
    assert current.bearer_token("bearer abc") == "abc"
    assert current.bearer_token("BEARER abc") == "abc"
    assert current.bearer_token("Bearer   abc  ") == "abc"
    assert current.bearer_token("Basic abc") is None
    assert current.bearer_token("Bearer ") is None
    assert current.bearer_token("Bearer") is None
    assert current.bearer_token("abc") is None


def test_verification_answers_the_id_and_claims_of_a_good_token(app_ctx, factory):
    person = factory.customer()
    token = create_access_token(identity=str(person.id))
    user_id, claims = current.verified_token(token, "access")
    assert user_id == person.id and claims["sub"] == str(person.id)
    user, again = current.user_from_token(token)  # access is what is expected by default
    assert user.id == person.id and again["jti"] == claims["jti"]


def test_each_refusal_says_why(app, app_ctx, factory):
    person = factory.customer()
    expired = create_access_token(identity=str(person.id), expires_delta=dt.timedelta(seconds=-30))
    assert refusal(expired).reason == "Token has expired"
    assert str(refusal(expired)) == "Token has expired"  # what a log line or traceback shows
    assert refusal("not-a-token").reason == "Invalid token"
    assert refusal(signed(app, sub=str(person.id), type="access") + "x").reason == "Invalid token"
    refresh = create_refresh_token(identity=str(person.id))
    assert refusal(refresh).reason == "Invalid token type"
    assert refusal(create_access_token(identity=str(person.id)), "refresh").reason == (
        "Invalid token type")
    assert refusal(signed(app, sub="alice", type="access")).reason == "Invalid token"
    assert refusal(signed(app, type="access")).reason == "Invalid token"  # no subject


def test_a_numeric_subject_claim_is_refused(app, app_ctx, factory):
    """JWT subjects are strings (JWT_VERIFY_SUB): a token naming the user by a bare
    number was not made by this app."""
    person = factory.customer()
    assert app.config["JWT_VERIFY_SUB"] is True
    assert refusal(signed(app, sub=person.id, type="access")).reason == "Invalid token"


def test_a_token_without_a_type_is_an_access_token(app, app_ctx, factory):
    person = factory.customer()
    token = signed(app, sub=str(person.id))
    assert current.verified_token(token, "access")[0] == person.id
    assert refusal(token, "refresh").reason == "Invalid token type"


def test_a_cached_token_still_expires_with_the_clock(app_ctx, factory):
    """Verified claims are cached, but the expiry is checked on every use, and reads
    as PyJWT's own expiry does."""
    person = factory.customer()
    start = dt.datetime(2031, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    with time_machine.travel(start, tick=False):
        token = create_access_token(identity=str(person.id), expires_delta=dt.timedelta(minutes=5))
        assert current.verified_token(token, "access")[0] == person.id
    with time_machine.travel(start + dt.timedelta(minutes=5, seconds=1), tick=False):
        refused = refusal(token)
    assert refused.reason == "Token has expired"
    assert isinstance(refused.__cause__, jwt.ExpiredSignatureError)
    assert str(refused.__cause__) == "Signature has expired"


@pytest.mark.parametrize("leeway", [dt.timedelta(seconds=60), 60])
def test_the_leeway_lets_a_just_expired_token_through(app, app_ctx, factory, monkeypatch, leeway):
    """JWT_DECODE_LEEWAY (a timedelta or seconds) forgives that long past the expiry,
    for a token seen before and one seen the first time alike, and no longer."""
    monkeypatch.setitem(app.config, "JWT_DECODE_LEEWAY", leeway)
    person = factory.customer()
    start = dt.datetime(2031, 4, 1, 12, 0, tzinfo=dt.timezone.utc)
    with time_machine.travel(start, tick=False):
        seen = create_access_token(identity=str(person.id), expires_delta=dt.timedelta(minutes=5))
        fresh = create_access_token(identity=str(person.id), expires_delta=dt.timedelta(minutes=5))
        assert current.verified_token(seen, "access")[0] == person.id
    with time_machine.travel(start + dt.timedelta(minutes=5, seconds=30), tick=False):
        assert current.verified_token(seen, "access")[0] == person.id
        assert current.verified_token(fresh, "access")[0] == person.id
    with time_machine.travel(start + dt.timedelta(minutes=6, seconds=1), tick=False):
        assert refusal(seen).reason == "Token has expired"


@pytest.mark.parametrize("audience", ["support-desk", ["support-desk", "mobile"]])
def test_the_configured_audience_is_required(app, app_ctx, factory, monkeypatch, audience):
    person = factory.customer()
    monkeypatch.setitem(app.config, "JWT_DECODE_AUDIENCE", audience)
    monkeypatch.setitem(app.config, "JWT_ENCODE_AUDIENCE", "support-desk")
    assert current.verified_token(create_access_token(identity=str(person.id)), "access")[0] == person.id
    monkeypatch.setitem(app.config, "JWT_ENCODE_AUDIENCE", "another-app")
    assert refusal(create_access_token(identity=str(person.id))).reason == "Invalid token"
    monkeypatch.setitem(app.config, "JWT_ENCODE_AUDIENCE", None)
    assert refusal(create_access_token(identity=str(person.id))).reason == "Invalid token"


def test_the_configured_issuer_is_required(app, app_ctx, factory, monkeypatch):
    person = factory.customer()
    monkeypatch.setitem(app.config, "JWT_DECODE_ISSUER", "support-desk")
    monkeypatch.setitem(app.config, "JWT_ENCODE_ISSUER", "support-desk")
    assert current.verified_token(create_access_token(identity=str(person.id)), "access")[0] == person.id
    monkeypatch.setitem(app.config, "JWT_ENCODE_ISSUER", "someone-else")
    assert refusal(create_access_token(identity=str(person.id))).reason == "Invalid token"


def test_a_token_of_a_missing_or_inactive_user_is_refused(app_ctx, factory):
    person = factory.customer()
    with pytest.raises(AuthError) as raised:
        current.user_from_token(create_access_token(identity="987654"))
    assert raised.value.reason == "User is inactive or does not exist"
    user = user_of(person)
    token = tokens.issue(user)["refresh_token"]
    user.active = False
    db.session.commit()
    with pytest.raises(AuthError) as raised:
        current.user_from_token(token, expected_type="refresh")
    assert raised.value.reason == "User is inactive or does not exist"


def test_an_ended_token_is_refused_as_revoked(app_ctx, factory, database_store):
    person = factory.customer()
    pair = tokens.issue(user_of(person))
    tokens.end_session(decode_token(pair["refresh_token"])["fam"])
    db.session.commit()
    with pytest.raises(AuthError) as raised:
        current.user_from_token(pair["refresh_token"], expected_type="refresh")
    assert raised.value.reason == "Token has been revoked"


# --------------------------------------------------------------------------- the request's identity


def test_the_identity_names_the_user_and_their_language(app_ctx, factory):
    """The Actor's name is the first and last name (either alone), its language the
    user's own, else the customer record's, else the default."""
    person = factory.customer(locale="fr")
    user = user_of(person)
    user.first_name, user.last_name, user.locale = "Ana", "Lima", None
    db.session.commit()
    identity = current.identity_of(person.id)
    assert identity.actor.name == "Ana Lima"
    assert identity.actor.locale == "fr" and identity.user_locale is None
    assert identity.actor.customer_id == person.customer.id
    assert (identity.active, identity.token_version, identity.revoked) == (True, 0, False)
    assert identity.created_on == user.created_on
    user.last_name, user.locale, user.token_version = "", "de", 4
    db.session.commit()
    identity = current.identity_of(person.id)
    assert identity.actor.name == "Ana"
    assert identity.actor.locale == "de" and identity.user_locale == "de"
    assert identity.token_version == 4
    staff = factory.staff(roles.STORE_MANAGER)
    staff_user = user_of(staff)
    staff_user.locale = None
    db.session.commit()
    assert current.identity_of(staff.id).actor.locale == "en"
    assert current.identity_of(staff.id).actor.customer_id is None
    assert current.identity_of(123456) is None


def test_a_user_stripped_of_every_role_is_identified_with_no_permissions(app_ctx, factory):
    """The identity query then finds one row (no role, no permission): the user is
    still known, allowed nothing, and not a server error."""
    person = factory.staff(roles.STORE_MANAGER, name="Role Less")
    user = user_of(person)
    user.roles = []
    db.session.commit()
    identity = current.identity_of(person.id)
    assert identity.active is True and identity.actor.name == "Role Less"
    assert identity.actor.permissions == frozenset()


def test_the_identity_tells_a_revoked_token_from_a_live_one(app_ctx, factory, database_store):
    person = factory.customer()
    db.session.add(RevokedToken(key="ended", expires_at=int(time.time()) + 60))
    db.session.commit()
    assert current.identity_of(person.id, ("live", "ended")).revoked is True
    assert current.identity_of(person.id, ("live",)).revoked is False
    assert current.identity_of(person.id).revoked is False


def test_the_admin_role_has_every_api_permission_whatever_its_grants(app, app_ctx, factory,
                                                                     monkeypatch):
    """AUTH_ROLE_ADMIN's role holds every API permission even once one is taken from it
    in the Roles screen (FAB's default name, Admin, when unset)."""
    admin, manager = factory.staff(roles.ADMIN), factory.staff(roles.STORE_MANAGER)
    with factory.revoked(roles.SYNC_COMMERCE, roles.ADMIN):
        monkeypatch.delitem(app.config, "AUTH_ROLE_ADMIN", raising=False)
        assert current.identity_of(admin.id).actor.permissions == frozenset(roles.API_PERMISSIONS)
        monkeypatch.setitem(app.config, "AUTH_ROLE_ADMIN", roles.ADMIN)
        assert current.identity_of(admin.id).actor.permissions == frozenset(roles.API_PERMISSIONS)
    assert current.identity_of(manager.id).actor.permissions < frozenset(roles.API_PERMISSIONS)
    monkeypatch.setitem(app.config, "AUTH_ROLE_ADMIN", roles.STORE_MANAGER)
    assert current.identity_of(manager.id).actor.permissions == frozenset(roles.API_PERMISSIONS)


def test_a_loaded_user_without_a_row_is_a_bug_not_a_stranger(app_ctx):
    with pytest.raises(AssertionError) as raised:
        current.actor_for_user(SupportUser(id=876543))
    assert str(raised.value) == "a loaded user has a row"


def test_the_request_resolves_its_actor_once(app, app_ctx, factory):
    """One identity lookup per request: the second ask is answered from the request,
    and the user's language is kept there for the locale selector."""
    from .querycount import count_queries

    person = factory.customer(locale="fr")
    token = tokens.issue(user_of(person))["access_token"]
    with app.test_request_context("/api/auth/me", headers=bearer(token)):
        first = current.require_actor()
        with count_queries() as seen:
            assert current.require_actor() is first
        assert seen == []
        assert first.user_id == person.id
        from flask import request
        assert request.environ["support.user_locale"] == "fr"
        assert request.environ["support.actor"] is first


# --------------------------------------------------------------------------- over HTTP


def test_each_401_over_http_says_why(app, factory, database_store):
    person = factory.customer()
    client = desk_client(app)

    def refused(headers: dict[str, str]) -> str:
        answer = client.get("/api/auth/me", headers=headers)
        assert answer.status_code == 401
        return answer.get_json()["message"]

    assert refused({}) == "Unauthenticated"
    assert refused({"Authorization": "Basic dXNlcjpwYXNz"}) == "Invalid authorization header"
    assert refused(bearer("garbage")) == "Invalid token"
    assert refused(bearer(create_access_token(identity="555555"))) == (
        "User is inactive or does not exist")
    pair = desk_client(app).post("/api/auth/login", json={
        "email": person.user.email, "password": PASSWORD}).get_json()
    assert client.get("/api/auth/me", headers=bearer(pair["access_token"])).status_code == 200
    assert client.post("/api/auth/logout", headers=bearer(pair["access_token"])).status_code == 204
    assert refused(bearer(pair["access_token"])) == "Token has been revoked"
    user = db.session.get(SupportUser, person.id)
    user.active = False
    db.session.commit()
    assert refused(bearer(create_access_token(identity=str(person.id)))) == (
        "User is inactive or does not exist")


def test_a_bearer_only_route_ignores_the_dashboard_session(app, factory):
    """/api/auth/me takes a bearer token only: the dashboard's cookie does not sign in
    to it (it would to a route that allows the session)."""
    admin = factory.staff(roles.ADMIN)
    client = desk_client(app)
    login(client, admin.user.email)
    answer = client.get("/api/auth/me")
    assert answer.status_code == 401 and answer.get_json()["message"] == "Unauthenticated"
    assert client.get("/api/macros").status_code == 200


def test_a_session_write_without_the_csrf_token_is_refused_with_the_reason(app, factory):
    admin, owner = factory.staff(roles.ADMIN), factory.customer()
    ticket = factory.ticket(owner)
    client = desk_client(app)
    login(client, admin.user.email)
    refused = client.put(f"/api/tickets/{ticket.id}/tags/forged")
    assert refused.status_code == 403
    assert refused.get_json()["message"] == "The CSRF token is missing or invalid."
    token = {"X-CSRFToken": page_token(client, f"/tickets/show/{ticket.id}")}
    assert client.put(f"/api/tickets/{ticket.id}/tags/vip", headers=token).status_code == 200


# --------------------------------------------------------------------------- dashboard sessions


def test_a_dashboard_session_remembers_the_version_it_signed_in_under(app, factory):
    person = factory.staff(roles.STORE_MANAGER)
    client = desk_client(app)
    login(client, person.user.email)
    with client.session_transaction() as cookie:
        assert cookie[tokens.SESSION_VERSION] == 0
    user = user_of(person)
    user.token_version = 3
    db.session.commit()
    again = desk_client(app)
    login(again, person.user.email)
    with again.session_transaction() as cookie:
        assert cookie[tokens.SESSION_VERSION] == 3


def test_a_session_is_outdated_only_by_a_version_it_does_not_carry(app_ctx, factory):
    user = user_of(factory.customer())
    assert not tokens.session_outdated({}, user)  # signed in before versions existed
    assert not tokens.session_outdated({tokens.SESSION_VERSION: 0}, user)
    assert tokens.session_outdated({tokens.SESSION_VERSION: 1}, user)
    user.token_version = 2
    assert not tokens.session_outdated({tokens.SESSION_VERSION: 2}, user)
    assert tokens.session_outdated({tokens.SESSION_VERSION: 0}, user)
    user.token_version = None
    assert not tokens.session_outdated({tokens.SESSION_VERSION: 0}, user)


def test_resetting_another_users_password_keeps_the_admins_session(app, factory):
    """Only one's own password change carries one's session over: an admin resetting
    someone else's password stays signed in, and the other user's sessions end."""
    admin, person = factory.staff(roles.ADMIN), factory.staff(roles.STORE_MANAGER)
    theirs = desk_client(app)
    login(theirs, person.user.email)
    dashboard = desk_client(app)
    login(dashboard, admin.user.email)
    url = f"/resetpassword/form?pk={person.id}"
    response = dashboard.post(url, data={"password": "another-pass-2", "conf_password": "another-pass-2",
                                         "csrf_token": page_token(dashboard, url)})
    assert response.status_code == 302
    with dashboard.session_transaction() as cookie:
        assert cookie[tokens.SESSION_VERSION] == 0
    assert dashboard.get("/tickets/list/").status_code == 200
    page = theirs.get("/tickets/list/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


# --------------------------------------------------------------------------- install


def test_install_hooks_a_session_factory_once(app, app_ctx, factory):
    """Any session factory given to install ends a user's tokens on a password change
    made through it, and installing twice hooks it once."""
    person = factory.customer()
    factory_ = sessionmaker(bind=db.engine)
    before = len(factory_().dispatch.before_flush)  # the listeners every Session has
    tokens.install(app, factory_)
    assert factory_._support_token_versions_installed is True
    assert len(factory_().dispatch.before_flush) == before + 1
    tokens.install(app, factory_)
    assert len(factory_().dispatch.before_flush) == before + 1
    with factory_() as session:
        user = session.get(SupportUser, person.id)
        user.password = "changed-hash"
        session.commit()
        assert user.token_version == 1
    # The app's own hooks are in place too: a dashboard sign-in notes its version.
    manager = factory.staff(roles.STORE_MANAGER)
    client = desk_client(app)
    login(client, manager.user.email)
    with client.session_transaction() as cookie:
        assert cookie[tokens.SESSION_VERSION] == 0


def test_a_cached_token_dies_at_the_instant_pyjwt_refuses_a_new_one(app, app_ctx, factory):
    """The cached path and PyJWT agree on the last instant: a token is alive until
    `exp + leeway` and dead from it (PyJWT refuses at `exp <= now - leeway`)."""
    person = factory.customer()
    start = dt.datetime(2031, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    with time_machine.travel(start, tick=False):
        token = create_access_token(identity=str(person.id), expires_delta=dt.timedelta(minutes=5))
        assert current.verified_token(token, "access")[0] == person.id  # cached from here
        uncached = create_access_token(identity=str(person.id), expires_delta=dt.timedelta(minutes=5))
    with time_machine.travel(start + dt.timedelta(minutes=5, microseconds=-1), tick=False):
        assert current.verified_token(token, "access")[0] == person.id
    with time_machine.travel(start + dt.timedelta(minutes=5), tick=False):
        assert refusal(uncached).reason == "Token has expired"  # PyJWT's own verdict
        assert refusal(token).reason == "Token has expired"     # and the cache's
