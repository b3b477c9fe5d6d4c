"""Red team (issue 20): SQLite gives a new row the id of the highest row deleted before
it, so the account registered after an admin deleted the newest one got its id, and
the deleted person's tokens (a refresh token lives 30 days) signed in as the newcomer.
Found live against `support serve`: GET /api/auth/me with the deleted user's token
answered 200 with the newcomer's account."""
from __future__ import annotations

from sqlalchemy import update

from support_app.extensions import db
from support_app.models import Customer, SupportUser


def register(client, email: str) -> dict:
    response = client.post("/api/auth/register", json={
        "name": "Someone", "email": email, "password": "longpass123"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_deleted_users_tokens_never_sign_in_whoever_gets_the_id_next(client, app_ctx):
    leaver = register(client, "leaver@example.com")
    user_id = leaver["user"]["id"]
    db.session.execute(update(Customer).where(Customer.user_id == user_id).values(user_id=None))
    db.session.delete(db.session.get(SupportUser, user_id))
    db.session.commit()

    newcomer = register(client, "newcomer@example.com")
    if db.session.get_bind().dialect.name == "sqlite":
        assert newcomer["user"]["id"] == user_id  # the reuse this test is about

    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {leaver['access_token']}"})
    assert me.status_code == 401, me.get_json()
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": leaver["refresh_token"]})
    assert refreshed.status_code == 401, refreshed.get_json()
    mine = client.get("/api/auth/me", headers={"Authorization": f"Bearer {newcomer['access_token']}"})
    assert mine.get_json()["email"] == "newcomer@example.com"
