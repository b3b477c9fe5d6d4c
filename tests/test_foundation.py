"""The foundation: migrations match the models, roles are seeded, token login works."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import current_app

from support_app.bootstrap import ensure_admin, sync_permissions
from support_app.extensions import db
from support_app.security import roles


def test_migrated_schema_matches_models(app_ctx):
    """Upgrade ran on an empty database (fixture); autogenerate must find nothing to add."""
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                db.metadata)
    assert diff == []


def test_roles_and_seed_permissions_exist_and_reseeding_changes_nothing(app_ctx):
    sm = current_app.appbuilder.sm
    for name in roles.ALL_ROLES:
        assert sm.find_role(name) is not None
    for perm in ("create_support_ticket", "track_support_ticket",
                 "escalate_support_ticket", "close_support_ticket"):
        assert sm.find_permission_view_menu(perm, roles.SUPPORT_VIEW) is not None
    before = {r.name: sorted(str(p) for p in r.permissions) for r in sm.get_all_roles()}
    sync_permissions()
    after = {r.name: sorted(str(p) for p in r.permissions) for r in sm.get_all_roles()}
    assert before == after


def test_customer_role_holds_customer_permissions_only(app_ctx):
    customer = current_app.appbuilder.sm.find_role(roles.CUSTOMER)
    names = {pv.permission.name for pv in customer.permissions}
    assert roles.CREATE in names and roles.VIEW_ALL not in names and roles.MANAGE not in names


def test_register_login_refresh(client):
    body = {"name": "John Doe", "email": "John@Example.com", "password": "longpass123",
            "phone": "+1234567890", "locale": "es"}
    created = client.post("/api/auth/register", json=body)
    assert created.status_code == 201
    data = created.get_json()
    assert data["user"]["email"] == "john@example.com"
    assert data["user"]["roles"] == ["Customer"]
    assert data["access_token"] and data["refresh_token"]

    again = client.post("/api/auth/register", json=body)
    assert again.status_code == 422
    assert "email" in again.get_json()["errors"]

    login = client.post("/api/auth/login", json={"email": "john@example.com",
                                                  "password": "longpass123"})
    assert login.status_code == 200
    refresh = client.post("/api/auth/refresh",
                          json={"refresh_token": login.get_json()["refresh_token"]})
    assert refresh.status_code == 200
    assert refresh.get_json()["user"]["id"] == data["user"]["id"]
    assert refresh.get_json()["access_token"]


def test_weak_password_names_the_rule(client):
    r = client.post("/api/auth/register",
                    json={"name": "A", "email": "a@example.com", "password": "short"})
    assert r.status_code == 422
    assert "at least 8" in r.get_json()["errors"]["password"][0]


def test_wrong_password_and_inactive_user_get_401(client, factory):
    person = factory.customer(email="c@example.com")
    assert client.post("/api/auth/login",
                       json={"email": "c@example.com", "password": "nope"}).status_code == 401
    person.user.active = False
    db.session.commit()
    r = client.post("/api/auth/login", json={"email": "c@example.com", "password": "secret-pass-1"})
    assert r.status_code == 401
    assert r.get_json()["success"] is False


def test_refresh_token_is_not_an_access_token(client, factory):
    person = factory.customer()
    login = client.post("/api/auth/login", json={"email": person.user.email,
                                                  "password": "secret-pass-1"}).get_json()
    r = client.post("/api/auth/refresh", json={"refresh_token": login["access_token"]})
    assert r.status_code == 401


def test_ensure_admin_is_idempotent(app_ctx):
    email, created, generated = ensure_admin("boss@example.com", None)
    assert created and generated
    assert ensure_admin("boss@example.com", None) == ("boss@example.com", False, None)


def test_fab_login_page_is_served(client):
    r = client.get("/login/")
    assert r.status_code == 200
    assert b"password" in r.data.lower()
