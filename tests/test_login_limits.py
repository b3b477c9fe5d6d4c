"""Guessing is limited wherever a password or an email address can be tried: FAB's own
token API is not exposed, sign-ups are rate-limited, and behind trusted proxies each
client (not the proxy) has its own bucket."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from support_app.security import roles

from .admin_helpers import desk_client
from .factories import PASSWORD
from .live import ServerProcess


def test_fabs_token_api_is_not_exposed(app, factory):
    """It answered 40 wrong passwords with 401 and never 429, and its tokens were
    accepted by every /api/ surface; /api/auth/login is the one token login."""
    admin = factory.staff(roles.ADMIN)
    client = desk_client(app)
    for _attempt in range(3):
        assert client.post("/api/v1/security/login", json={
            "username": admin.user.email, "password": "wrong-pass-1", "provider": "db",
            "refresh": True}).status_code == 404
    assert client.post("/api/v1/security/login", json={
        "username": admin.user.email, "password": PASSWORD, "provider": "db"}).status_code == 404
    assert client.post("/api/v1/security/refresh", headers=admin.headers).status_code == 404


def test_sign_ups_share_one_rate_limit(app, factory):
    """Each sign-up answers "email taken": customer and agent registration share one
    budget per client (REGISTER_RATE_LIMIT, 5 a minute)."""
    taken = factory.customer().user.email
    client = desk_client(app)
    codes = [client.post("/api/auth/register", json={
        "name": "Prober", "email": taken, "password": "longpass123"}).status_code for _ in range(3)]
    codes += [client.post("/api/support/register-agent/", json={
        "name": "Prober", "email": taken, "password": "longpass123"}).status_code for _ in range(2)]
    assert codes == [422, 422, 422, 400, 400]
    refused = client.post("/api/auth/register", json={
        "name": "Prober", "email": "fresh@example.com", "password": "longpass123"})
    assert refused.status_code == 429 and refused.get_json()["success"] is False
    assert client.post("/api/support/register-agent/", json={
        "name": "Prober", "email": "fresh@example.com", "password": "longpass123"}).status_code == 429
    assert desk_client(app).post("/api/auth/register", json={  # another client is not affected
        "name": "Someone", "email": "someone@example.com", "password": "longpass123"}).status_code == 201


def _login_codes(url: str, forwarded_for: str, attempts: int) -> list[int]:
    codes = []
    for _attempt in range(attempts):
        request = urllib.request.Request(
            f"{url}/api/auth/login", method="POST",
            data=json.dumps({"email": "nobody@example.com", "password": "wrong-pass-1"}).encode(),
            headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                codes.append(response.status)
        except urllib.error.HTTPError as error:
            codes.append(error.code)
    return codes


def test_a_forwarded_address_counts_only_behind_a_trusted_proxy(app, tmp_path):
    """With TRUSTED_PROXIES=0 (the default) X-Forwarded-For is anyone's to write, so it
    must not pick the bucket; with 1 the proxy's header names the client."""
    limits = {"RATELIMIT_ENABLED": "true", "AUTH_RATE_LIMIT": "3 per minute"}
    with ServerProcess(app, tmp_path, TRUSTED_PROXIES="0", **limits) as direct:
        assert _login_codes(direct.url, "203.0.113.1", 3) == [401] * 3
        assert _login_codes(direct.url, "203.0.113.2", 1) == [429], "a spoofed header escaped the limit"
    with ServerProcess(app, tmp_path, TRUSTED_PROXIES="1", **limits) as proxied:
        assert _login_codes(proxied.url, "203.0.113.1", 4) == [401, 401, 401, 429]
        assert _login_codes(proxied.url, "203.0.113.2", 1) == [401], "each client has its own bucket"
