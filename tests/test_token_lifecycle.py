"""Bearer tokens end when they should, not only when they expire: a password change
(the user's own or an admin's reset), deactivation, sign-out everywhere, logout, and a
refresh token used twice. Refresh rotates. REST and Socket.IO alike; revocations live
in Redis when TEST_REDIS_URL is set, else in the database."""
from __future__ import annotations

from support_app.extensions import db
from support_app.models import SupportUser
from support_app.security import roles

from .admin_helpers import desk_client, login, page_token
from .factories import PASSWORD
from .live import Listener

NEW_PASSWORD = "another-pass-2"


def sign_in(app, email: str, password: str = PASSWORD) -> dict:
    response = desk_client(app).post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def me(app, access: str) -> int:
    return desk_client(app).get("/api/auth/me", headers={"Authorization": f"Bearer {access}"}).status_code


def refresh(app, token: str):
    return desk_client(app).post("/api/auth/refresh", json={"refresh_token": token})


def ended(app, tokens: dict) -> bool:
    """Both tokens of a sign-in are refused."""
    return me(app, tokens["access_token"]) == 401 and refresh(app, tokens["refresh_token"]).status_code == 401


def live(app, tokens: dict) -> bool:
    return me(app, tokens["access_token"]) == 200


# --------------------------------------------------------------------------- ending all


def test_changing_ones_own_password_ends_every_older_token(app, factory):
    person = factory.staff(roles.ADMIN)
    before = sign_in(app, person.user.email)
    dashboard = desk_client(app)
    login(dashboard, person.user.email)
    response = dashboard.post("/resetmypassword/form", data={
        "password": NEW_PASSWORD, "conf_password": NEW_PASSWORD,
        "csrf_token": page_token(dashboard, "/resetmypassword/form")})
    assert response.status_code == 302
    assert ended(app, before)
    assert live(app, sign_in(app, person.user.email, NEW_PASSWORD))


def test_a_password_change_elsewhere_ends_the_other_dashboard_sessions(app, factory):
    person = factory.staff(roles.STORE_MANAGER)
    elsewhere, here = desk_client(app), desk_client(app)
    login(elsewhere, person.user.email)
    login(here, person.user.email)
    assert elsewhere.get("/tickets/list/").status_code == 200
    response = here.post("/resetmypassword/form", data={
        "password": NEW_PASSWORD, "conf_password": NEW_PASSWORD,
        "csrf_token": page_token(here, "/resetmypassword/form")})
    assert response.status_code == 302
    assert here.get("/tickets/list/").status_code == 200  # the session that changed it
    page = elsewhere.get("/tickets/list/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert elsewhere.get("/api/admin/support").status_code == 401
    # An admin's reset (or the CLI's) ends the remaining one too.
    app.appbuilder.sm.reset_password(person.id, PASSWORD)
    page = here.get("/tickets/list/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_an_admins_password_reset_ends_the_users_tokens(app, factory):
    admin, person = factory.staff(roles.ADMIN), factory.staff(roles.STORE_MANAGER)
    before = sign_in(app, person.user.email)
    dashboard = desk_client(app)
    login(dashboard, admin.user.email)
    url = f"/resetpassword/form?pk={person.id}"
    response = dashboard.post(url, data={"password": NEW_PASSWORD, "conf_password": NEW_PASSWORD,
                                         "csrf_token": page_token(dashboard, url)})
    assert response.status_code == 302
    assert ended(app, before)
    assert live(app, sign_in(app, admin.user.email))  # the admin's own tokens are untouched


def test_reactivating_a_user_does_not_revive_their_old_tokens(app, factory):
    person = factory.customer()
    before = sign_in(app, person.user.email)
    user = db.session.get(SupportUser, person.id)
    user.active = False
    db.session.commit()
    user.active = True
    db.session.commit()
    assert ended(app, before)
    assert live(app, sign_in(app, person.user.email))


def test_sign_out_everywhere_ends_every_session_of_the_user_only(app, factory):
    person, other = factory.customer(), factory.customer()
    phone, laptop, others = (sign_in(app, person.user.email), sign_in(app, person.user.email),
                             sign_in(app, other.user.email))
    response = desk_client(app).post("/api/auth/logout-all",
                                     headers={"Authorization": f"Bearer {phone['access_token']}"})
    assert response.status_code == 204
    assert ended(app, phone) and ended(app, laptop)
    assert live(app, others)
    assert live(app, sign_in(app, person.user.email))


# --------------------------------------------------------------------------- one session


def test_refresh_rotates_and_a_reused_refresh_token_ends_that_session(app, factory):
    person = factory.customer()
    first, other_session = sign_in(app, person.user.email), sign_in(app, person.user.email)
    rotated = refresh(app, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert live(app, second) and refresh(app, second["refresh_token"]).status_code == 200
    # A stolen copy of the first refresh token comes back: the whole session ends.
    assert refresh(app, first["refresh_token"]).status_code == 401
    assert me(app, second["access_token"]) == 401
    assert me(app, first["access_token"]) == 401
    assert live(app, other_session) and refresh(app, other_session["refresh_token"]).status_code == 200


def test_logout_revokes_the_presented_tokens_and_that_session_only(app, factory):
    person = factory.customer()
    session, other_session = sign_in(app, person.user.email), sign_in(app, person.user.email)
    response = desk_client(app).post(
        "/api/auth/logout", json={"refresh_token": session["refresh_token"]},
        headers={"Authorization": f"Bearer {session['access_token']}"})
    assert response.status_code == 204
    assert ended(app, session)
    assert live(app, other_session)


def test_logout_needs_a_live_access_token_and_the_same_users_refresh_token(app, factory):
    person, other = factory.customer(), factory.customer()
    mine, theirs = sign_in(app, person.user.email), sign_in(app, other.user.email)
    client = desk_client(app)
    assert client.post("/api/auth/logout").status_code == 401
    assert client.post("/api/auth/logout", headers={
        "Authorization": f"Bearer {mine['refresh_token']}"}).status_code == 401
    assert client.post("/api/auth/logout", json={"refresh_token": theirs["refresh_token"]}, headers={
        "Authorization": f"Bearer {mine['access_token']}"}).status_code == 401
    assert live(app, mine) and live(app, theirs)


def test_flask_jwt_extended_refuses_revoked_tokens_too(app, factory):
    """FAB's own JWT-protected API (`/api/v1/menu/`) verifies with flask-jwt-extended:
    its blocklist loader is ours."""
    admin = factory.staff(roles.ADMIN)
    tokens = sign_in(app, admin.user.email)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert desk_client(app).get("/api/v1/menu/", headers=bearer).status_code == 200
    desk_client(app).post("/api/auth/logout", headers=bearer)
    assert desk_client(app).get("/api/v1/menu/", headers=bearer).status_code == 401


# --------------------------------------------------------------------------- who am I


def test_me_and_every_auth_answer_name_the_customer_id(app, factory):
    person, staff = factory.customer(locale="fr"), factory.staff(roles.STORE_MANAGER)
    tokens = sign_in(app, person.user.email)
    assert tokens["user"]["customer_id"] == person.customer.id
    answer = desk_client(app).get("/api/auth/me",
                                  headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert answer.status_code == 200
    assert answer.get_json() == {
        "id": person.id, "name": person.user.name, "email": person.user.email,
        "roles": [roles.CUSTOMER], "locale": "fr", "customer_id": person.customer.id}
    assert refresh(app, tokens["refresh_token"]).get_json()["user"]["customer_id"] == person.customer.id
    registered = desk_client(app).post("/api/auth/register", json={
        "name": "New Person", "email": "new-person@example.com", "password": "longpass123"}).get_json()
    assert isinstance(registered["user"]["customer_id"], int)
    staff_tokens = sign_in(app, staff.user.email)
    assert staff_tokens["user"]["customer_id"] is None
    assert desk_client(app).get("/api/auth/me", headers={
        "Authorization": f"Bearer {staff_tokens['access_token']}"}).get_json()["customer_id"] is None


# --------------------------------------------------------------------------- sockets


def socket(server, opened, access: str) -> Listener:
    listener = Listener(server.url, auth={"token": access})
    opened.append(listener)
    return listener


def test_sockets_of_ended_tokens_close_and_cannot_reconnect(server, opened, app, factory):
    person = factory.customer()
    session, other_session = sign_in(app, person.user.email), sign_in(app, person.user.email)
    ending, staying = (socket(server, opened, session["access_token"]).connect(),
                       socket(server, opened, other_session["access_token"]).connect())
    desk_client(app).post("/api/auth/logout",
                          headers={"Authorization": f"Bearer {session['access_token']}"})
    assert ending.disconnected.wait(10)
    assert socket(server, opened, session["access_token"]).try_connect()["message"] == (
        "Token has been revoked")
    assert staying.client.connected

    desk_client(app).post("/api/auth/logout-all",
                          headers={"Authorization": f"Bearer {other_session['access_token']}"})
    assert staying.disconnected.wait(10)
    assert socket(server, opened, other_session["access_token"]).try_connect()["message"] == (
        "Token has been revoked")


def test_a_password_change_closes_the_users_sockets(server, opened, app, factory):
    person = factory.customer()
    tokens = sign_in(app, person.user.email)
    connected = socket(server, opened, tokens["access_token"]).connect()
    app.appbuilder.sm.reset_password(person.id, NEW_PASSWORD)
    assert connected.disconnected.wait(10)
    assert socket(server, opened, tokens["access_token"]).try_connect()["message"] == (
        "Token has been revoked")
