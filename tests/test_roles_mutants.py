"""The password rule at its edges, generated passwords, sign-in names the security
manager refuses or normalises, and what `seed_roles` repairs: the behaviours the
`security-roles` mutation target found untested."""
from __future__ import annotations

import re

import pytest
from flask import current_app

from support_app.bootstrap import ensure_admin, sync_permissions
from support_app.extensions import db
from support_app.security import roles
from support_app.security.passwords import password_problem

from .admin_helpers import desk_client, login, page_token
from .factories import PASSWORD
from .querycount import count_queries

TOO_SHORT = "The password must be at least 8 characters."
NO_MIX = "The password must contain both letters and digits."
TOO_LONG = "The password may not be greater than 128 characters."


@pytest.mark.parametrize(("password", "problem"), [
    ("abcdef1", TOO_SHORT),            # 7 characters
    ("abcdef12", None),                # 8: the shortest accepted
    ("abcdefghijkl", NO_MIX),          # letters only
    ("123456789012", NO_MIX),          # digits only
    ("a" * 127 + "1", None),           # 128: the longest accepted
    ("a" * 128 + "1", TOO_LONG),       # 129
])
def test_password_rule_names_the_broken_rule_at_each_edge(app_ctx, password, problem):
    """One rule serves the API's sign-up, the account claim, the dashboard's forms and
    the CLI: its bounds are exactly 8 and 128 characters, it wants letters *and*
    digits, and the message (shown to the person as is) names the rule broken."""
    assert password_problem(password) == problem


def test_dashboard_reset_form_accepts_a_password_that_keeps_the_rule(app, factory):
    """FAB's password forms call the rule through FAB_PASSWORD_COMPLEXITY_VALIDATOR
    with the typed password: a good one is saved and signs in (a weak one is refused,
    see test_admin_permissions)."""
    admin = factory.staff(roles.ADMIN)
    client = desk_client(app)
    login(client, admin.user.email)
    token = page_token(client, "/resetmypassword/form")
    new = "brand-new-pass-42"
    response = client.post("/resetmypassword/form", data={
        "password": new, "conf_password": new, "csrf_token": token})
    assert "at least 8 characters" not in response.get_data(as_text=True)
    api = desk_client(app)
    assert api.post("/api/auth/login", json={"email": admin.user.email,
                                             "password": new}).status_code == 200
    assert api.post("/api/auth/login", json={"email": admin.user.email,
                                             "password": PASSWORD}).status_code == 401


def test_generated_password_is_sixteen_random_characters_then_1a(client, app_ctx):
    """The password `support init` and `reset-password` print once: 12 random bytes
    (16 URL-safe characters, 96 bits), then "1a", which keeps the letters-and-digits
    rule whatever the random part draws. It signs in, and no two are alike."""
    email, created, generated = ensure_admin("first-admin@example.com", None)
    assert created
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}1a", generated), generated
    assert password_problem(generated) is None
    _, _, other = ensure_admin("second-admin@example.com", None)
    assert other != generated
    assert client.post("/api/auth/login", json={"email": email,
                                                "password": generated}).status_code == 200


def test_address_with_non_ascii_letters_signs_in_as_typed_in_any_case(client, factory):
    """Addresses are stored lower-cased and sign-in lower-cases what is typed. Only
    lower-casing finds "straße@…" again: upper-casing turns ß into SS, which no
    case-insensitive comparison maps back (and SQLite's lower() is ASCII-only)."""
    factory.customer(email="Straße@Example.com")
    for typed in ("straße@example.com", " Straße@EXAMPLE.com "):
        r = client.post("/api/auth/login", json={"email": typed, "password": PASSWORD})
        assert r.status_code == 200, typed
        assert r.get_json()["user"]["email"] == "straße@example.com"


@pytest.mark.parametrize("name", [None, "", "   ", "boss@example.com\x00",
                                  "bo\x00ss@example.com"])
def test_missing_or_nul_login_name_fails_before_any_query(app_ctx, factory, name):
    """A NUL is no one's address and PostgreSQL refuses it in a query parameter (a 500
    there, where SQLite just finds no one): it must never reach the database. A missing
    or blank name is no one either and is refused up front the same way."""
    factory.staff(roles.ADMIN)  # someone to find, were a lookup made
    sm = current_app.appbuilder.sm
    with count_queries() as statements:
        assert sm.auth_user_db(name, PASSWORD) is None
    assert statements == []


def _role_pairs(role) -> set[tuple[str, str]]:
    return {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}


def test_seeding_grants_back_a_permission_taken_from_a_role(app_ctx):
    """`support init` re-run after an admin removed a seeded grant (by mistake, in the
    Roles screen) puts it back: every role holds again its API and screen permissions."""
    from support_app.admin.permissions import ROLE_SCREEN_PERMISSIONS

    sm = current_app.appbuilder.sm
    manager = sm.find_role(roles.STORE_MANAGER)
    screen_perm, screen_view = ROLE_SCREEN_PERMISSIONS[roles.STORE_MANAGER][0]
    taken = [sm.find_permission_view_menu(screen_perm, screen_view),
             sm.find_permission_view_menu(roles.MANAGE, roles.SUPPORT_VIEW)]
    try:
        for pv in taken:
            sm.del_permission_role(manager, pv)
        assert (screen_perm, screen_view) not in _role_pairs(manager)
    finally:
        sync_permissions()
    for role_name in roles.ALL_ROLES:
        held = _role_pairs(sm.find_role(role_name))
        wanted = {(p, roles.SUPPORT_VIEW) for p in roles.ROLE_API_PERMISSIONS[role_name]}
        wanted |= set(ROLE_SCREEN_PERMISSIONS.get(role_name, []))
        assert wanted <= held, (role_name, wanted - held)


def test_every_api_permission_exists_even_when_no_role_holds_it(app_ctx, monkeypatch):
    """A permission no role is granted yet (a new one, or one taken out of the table)
    is still created, so that an admin can grant it in the Roles screen without a
    deploy; and seeding does not hand it to anyone."""
    sm = current_app.appbuilder.sm
    admin = sm.find_role(roles.ADMIN)
    try:
        sm.del_permission_role(admin, sm.find_permission_view_menu(roles.SYNC_COMMERCE,
                                                                   roles.SUPPORT_VIEW))
        sm.del_permission_view_menu(roles.SYNC_COMMERCE, roles.SUPPORT_VIEW)
        assert sm.find_permission_view_menu(roles.SYNC_COMMERCE, roles.SUPPORT_VIEW) is None
        with monkeypatch.context() as patch:
            patch.setitem(roles.ROLE_API_PERMISSIONS, roles.ADMIN, tuple(
                p for p in roles.API_PERMISSIONS if p != roles.SYNC_COMMERCE))
            roles.seed_roles(sm)
            db.session.commit()
        pv = sm.find_permission_view_menu(roles.SYNC_COMMERCE, roles.SUPPORT_VIEW)
        assert pv is not None
        assert all(pv not in role.permissions for role in sm.get_all_roles())
    finally:
        sync_permissions()  # the table as shipped: Admin holds it again
    assert (roles.SYNC_COMMERCE, roles.SUPPORT_VIEW) in _role_pairs(sm.find_role(roles.ADMIN))
