"""Secrets and sessions: no default secret in production, hashed passwords, rate-limited
logins, expiring and refreshable tokens, and a deactivated user locked out everywhere.

Cookie flags and the dashboard (/login/) rate limit are proven in
`test_admin_permissions.py`; Socket.IO refusals (expired, refresh, inactive) in
`test_realtime.py`. Here the same holds for every bearer endpoint of the URL map.
"""
from __future__ import annotations

import datetime as dt
import time
import os
import subprocess
import sys

import jwt
from flask_jwt_extended import create_access_token
from werkzeug.security import check_password_hash

from support_app.extensions import db
from support_app.models import SupportUser
from support_app.security import roles

from .admin_helpers import desk_client, login, page_token
from .factories import PASSWORD
from .live import ROOT
from .test_authorization_matrix import MATRIX, _build_world, _call


def _start(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "JWT_SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "-c", "from support_app import create_app; create_app(); print('started')"],
        cwd=ROOT, env={**clean, "SUPPORT_INSTANCE_PATH": str(tmp_path), **env},
        capture_output=True, text=True, timeout=120)


def test_production_without_secret_key_refuses_to_start(tmp_path):
    refused = _start({"SUPPORT_ENV": "production"}, tmp_path)
    assert refused.returncode != 0 and "started" not in refused.stdout
    assert "SECRET_KEY" in refused.stderr
    empty = _start({"SUPPORT_ENV": "production", "SECRET_KEY": ""}, tmp_path)
    assert empty.returncode != 0
    ok = _start({"SUPPORT_ENV": "production", "SECRET_KEY": "a-real-secret-from-the-vault"}, tmp_path)
    assert ok.returncode == 0 and "started" in ok.stdout, ok.stderr[-2000:]


def test_passwords_are_stored_hashed(client, app_ctx):
    r = client.post("/api/auth/register", json={"name": "Hash Me", "email": "hash@example.com",
                                                "password": "plain-text-pass-9"})
    assert r.status_code == 201
    user = db.session.query(SupportUser).filter_by(email="hash@example.com").one()
    assert "plain-text-pass-9" not in user.password
    assert user.password.startswith(("pbkdf2:", "scrypt:"))
    assert check_password_hash(user.password, "plain-text-pass-9")


def test_api_login_is_rate_limited(app, factory, monkeypatch):
    person = factory.customer()
    client = desk_client(app)
    codes = []
    # A long window: ten slow (hashed) attempts on a busy machine can outlast 20 s.
    # Another worker's limiter.reset() on shared Redis may clear the counters mid-way,
    # so allow a few extra attempts.
    monkeypatch.setitem(app.config, "AUTH_RATE_LIMIT", "10 per 10 minute")
    while 429 not in codes and len(codes) < 40:
        codes.append(client.post("/api/auth/login", json={
            "email": person.user.email, "password": "wrong-pass-1"}).status_code)
    assert codes[:10] == [401] * 10 and codes[-1] == 429
    body = client.post("/api/auth/login", json={"email": person.user.email,
                                                "password": PASSWORD})
    assert body.status_code == 429, "the right password does not bypass the limit"


def _bearer_calls():
    """Every bearer-authenticated entry the owner can use (anonymous gets 401)."""
    for (method, rule), (call, expected) in MATRIX.items():
        if not call.public and not call.session and expected["anonymous"] == 401 \
                and expected["owner"] != 401 and "/api/v1/" not in rule:
            yield method, rule, call


def test_expired_token_refused_on_every_bearer_endpoint_and_refresh_gives_a_new_one(
        app, factory):
    world = _build_world(factory)
    owner = world.people["owner"]
    expired = create_access_token(identity=str(owner.id), expires_delta=dt.timedelta(seconds=-1))
    client = desk_client(app)
    refused = {f"{m} {r}": _call(client, m, call, world, {"Authorization": f"Bearer {expired}"})
               for m, r, call in _bearer_calls()}
    assert len(refused) > 30
    assert {k: v.status_code for k, v in refused.items() if v.status_code != 401} == {}
    # 001 and 004 document one 401 message ("Unauthorized"); the others say why.
    contract = ("/api/customer/munch/", "/api/customer/mtxi/")
    assert {k for k, v in refused.items()
            if not any(c in k for c in contract) and b"expired" not in v.data.lower()} == set()
    assert {v.get_json()["message"] for k, v in refused.items()
            if any(c in k for c in contract)} == {"Unauthorized"}

    tokens = client.post("/api/auth/login", json={"email": owner.user.email,
                                                  "password": PASSWORD}).get_json()
    fresh = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert fresh.status_code == 200
    headers = {"Authorization": f"Bearer {fresh.get_json()['access_token']}"}
    assert client.get(f"/api/support-tickets/{world.ticket.id}", headers=headers).status_code == 200


def test_forged_or_incomplete_tokens_are_refused(app, factory):
    """Only a token signed with our key, with an expiry and a subject, gets in: not one
    signed with another key, not an unsigned (`alg: none`) one, not one missing a claim."""
    owner = factory.customer()
    ticket = factory.ticket(owner)
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    claims = {"sub": str(owner.id), "type": "access", "iat": now, "exp": now + 600}
    secret = app.config["JWT_SECRET_KEY"]
    forged = {
        "other key": jwt.encode(claims, "not-our-secret-" + "x" * 32, algorithm="HS256"),
        "unsigned": jwt.encode(claims, None, algorithm="none"),
        "no expiry": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, secret,
                                algorithm="HS256"),
        "no subject": jwt.encode({k: v for k, v in claims.items() if k != "sub"}, secret,
                                 algorithm="HS256"),
    }
    client = app.test_client()
    path = f"/api/support-tickets/{ticket.id}"
    for name, token in forged.items():
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert (name, r.status_code) == (name, 401)
    genuine = jwt.encode(claims, secret, algorithm="HS256")
    assert client.get(path, headers={"Authorization": f"Bearer {genuine}"}).status_code == 200


def test_a_token_accepted_before_is_refused_once_it_expires(app, factory):
    """Verified tokens are remembered, their expiry is not: the same token that got in
    a moment ago is a 401 once its `exp` has passed."""
    owner = factory.customer()
    ticket = factory.ticket(owner)
    now = int(time.time())
    token = jwt.encode({"sub": str(owner.id), "type": "access", "iat": now - 100,
                        "exp": now + 2}, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    client = app.test_client()
    path, headers = f"/api/support-tickets/{ticket.id}", {"Authorization": f"Bearer {token}"}
    assert client.get(path, headers=headers).status_code == 200
    assert client.get(path, headers=headers).status_code == 200  # from the cache
    time.sleep(3.1)
    refused = client.get(path, headers=headers)
    assert refused.status_code == 401 and b"expired" in refused.data.lower()


def test_deactivated_users_tokens_and_sessions_stop_working_everywhere(app, factory):
    world = _build_world(factory)
    owner, manager = world.people["owner"], world.people["store_manager"]
    client = desk_client(app)
    tokens = client.post("/api/auth/login", json={"email": owner.user.email,
                                                  "password": PASSWORD}).get_json()
    dashboard = desk_client(app)
    login(dashboard, manager.user.email)
    assert dashboard.get("/api/admin/support").status_code == 200

    for person in (owner, manager):
        db.session.get(SupportUser, person.id).active = False
    db.session.commit()

    statuses = {f"{m} {r}": _call(client, m, call, world, owner.headers).status_code
                for m, r, call in _bearer_calls()}
    assert {k: v for k, v in statuses.items() if v != 401} == {}
    staff = {f"{m} {r}": _call(client, m, call, world, manager.headers).status_code
             for m, r, call in _bearer_calls()}
    assert {k: v for k, v in staff.items() if v != 401} == {}
    assert client.post("/api/auth/refresh",
                       json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    # The dashboard session dies with the account: the admin API and the pages refuse it.
    assert dashboard.get("/api/admin/support").status_code == 401
    page = dashboard.get("/tickets/list/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_role_changes_apply_to_tokens_already_issued(app, factory):
    """A token carries only the user id: permissions are read per request, so taking a
    role away takes effect without waiting for the token to expire."""
    manager = factory.staff(roles.STORE_MANAGER)
    client = desk_client(app)
    assert client.get("/api/admin/support/tickets/", headers=manager.headers).status_code == 200
    db.session.get(SupportUser, manager.id).roles = [app.appbuilder.sm.find_role(roles.CUSTOMER)]
    db.session.commit()
    assert client.get("/api/admin/support/tickets/", headers=manager.headers).status_code == 403


def test_nul_in_a_login_name_is_a_failed_login_on_every_login_route(app, factory):
    """PostgreSQL refuses NUL in a query parameter: it must be a refusal, not a 500."""
    person = factory.customer()
    name = person.user.email[:2] + "\x00" + person.user.email[2:]
    api = desk_client(app)
    assert api.post("/api/auth/login", json={"email": name, "password": PASSWORD}).status_code == 401
    dashboard = desk_client(app)
    token = page_token(dashboard, "/login/")
    response = dashboard.post("/login/", data={"username": name, "password": PASSWORD,
                                               "csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_session_writes_to_the_api_need_the_dashboards_csrf_token(app, factory):
    """The dashboard's cookie also signs in to the staff APIs that accept it; a change
    made with that cookie alone (a page of another site of the same site, a script
    that rides the cookie) is refused on every such route, nothing written, until the
    request carries the session's CSRF token in X-CSRFToken, as the 000 admin routes
    and notifications ask. Bearer calls need none."""
    from sqlalchemy import func, select

    from support_app.models import Macro, Ticket, TicketTag

    admin, owner = factory.staff(roles.ADMIN), factory.customer()
    a, b = factory.ticket(owner), factory.ticket(owner)
    macro = Macro(name="Thanks", body_en="Thank you, {customer_name}.", is_active=True)
    db.session.add(macro)
    db.session.commit()
    client = desk_client(app)
    login(client, admin.user.email)
    writes = [("put", f"/api/tickets/{a.id}/tags/forged", None),
              ("delete", f"/api/tickets/{a.id}/tags/forged", None),
              ("post", f"/api/tickets/{a.id}/apply-macro", {"macro_id": macro.id, "mode": "send"}),
              ("post", f"/api/tickets/{a.id}/merge", {"into": b.id}),
              ("post", "/api/notifications/read-all", None)]
    for method, url, body in writes:
        refused = getattr(client, method)(url, json=body)
        assert refused.status_code == 403, (url, refused.get_json())
        assert refused.get_json()["success"] is False
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(TicketTag)) == 0
    assert db.session.get(Ticket, a.id).message_count == 0  # no macro reply
    assert db.session.scalar(select(func.count()).select_from(Ticket)
                             .where(Ticket.merged_into_id.is_not(None))) == 0
    # Reads need no token; with the session's token, and with a bearer token, writes pass.
    assert client.get(f"/api/tickets/{a.id}/sla").status_code == 200
    token = {"X-CSRFToken": page_token(client, f"/tickets/show/{a.id}")}
    assert client.put(f"/api/tickets/{a.id}/tags/vip", headers=token).status_code == 200
    assert client.post(f"/api/tickets/{a.id}/merge", json={"into": b.id},
                       headers=token).status_code == 200
    assert client.put(f"/api/tickets/{b.id}/tags/bearer",
                      headers=admin.headers).status_code == 200
