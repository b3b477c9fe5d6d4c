"""Every dashboard screen, for every role: allowed screens render, the others are
FAB's access denied (403), never data. Users sign in through the real /login/ form."""
from __future__ import annotations

import re

import pytest
from flask_appbuilder.api import BaseApi

from support_app.admin import permissions as perms
from support_app.security import roles

from .admin_helpers import desk_client, login, page_token

ROLES = (roles.ADMIN, roles.STORE_MANAGER, roles.FULFILLMENT, roles.SUPPORT_AGENT, roles.CUSTOMER)
A, M, F, S, C = ROLES

# screen -> roles that may open it ({ticket}, {customer}, ... are filled in per test).
SCREENS = {
    "/dashboard/": {A, M},
    "/reports/": {A, M},
    "/reports/export.csv": {A, M},
    "/tickets/export.csv": {A, M, F, S},
    "/tickets/list/": {A, M, F, S},
    "/tickets/show/{ticket}": {A, M, F, S},
    "/tickets/new/": {A, M, F},
    "/tickets/status/?ids={ticket}": {A, M, F, S},
    "/tickets/reassign/?ids={ticket}": {A},
    "/agents/list/": {A},
    "/agents/show/{agent}": {A},
    "/faqs/list/": {A, M},
    "/faqs/add": {A, M},
    "/faqs/show/{faq}": {A, M},
    "/email-logs/list/": {A, M},
    "/feedback/list/": {A, M},
    "/customers/list/": {A, M},
    "/customers/show/{customer}": {A, M},
    "/orders/list/": {A, M, F},
    "/orders/show/{order}": {A, M, F},
    "/rides/list/": {A, M},
    "/bookings/list/": {A, M},
    "/users/list/": {A},
    "/roles/list/": {A},
    "/sla-calendars/list/": {A, M},
    "/sla-calendars/add": {A, M},
    "/sla-policies/list/": {A, M},
    "/sla-policies/add": {A, M},
    "/sla-rules/list/": {A, M},
    "/sla-rules/add": {A, M},
}
MENUS = {
    "Dashboard": {A, M}, "Reports": {A, M}, "Tickets": {A, M, F, S}, "Agents": {A}, "FAQs": {A, M},
    "Email logs": {A, M}, "Feedback": {A, M}, "Customers": {A, M}, "Orders": {A, M, F},
    "Rides": {A, M}, "Bookings": {A, M}, "List Users": {A}, "List Roles": {A},
    "SLA calendars": {A, M}, "SLA policies": {A, M}, "SLA escalation rules": {A, M},
}


def _person(factory, role):
    if role == roles.SUPPORT_AGENT:
        return factory.agent(approved=True)
    if role == roles.CUSTOMER:
        return factory.customer()
    return factory.staff(role)


@pytest.fixture
def world(factory):
    from support_app.extensions import db
    from support_app.models import FAQ

    owner = factory.customer()
    order = factory.order(owner.customer)
    ticket = factory.ticket(owner, order_id=order.id)
    agent = factory.agent(approved=False)
    faq = FAQ(question="How?", answer="Like this.", category="other")
    db.session.add(faq)
    db.session.commit()
    return {"ticket": ticket.id, "customer": owner.customer.id, "order": order.id,
            "agent": agent.user.id and db.session.get(type(agent.user), agent.user.id) and
            _profile_id(agent.user.id), "faq": faq.id}


def _profile_id(user_id):
    from sqlalchemy import select

    from support_app.extensions import db
    from support_app.models import AgentProfile

    return db.session.scalar(select(AgentProfile.id).where(AgentProfile.user_id == user_id))


@pytest.mark.parametrize("role", ROLES)
def test_each_screen_is_allowed_or_denied_per_role(app, factory, world, role):
    person = _person(factory, role)
    client = desk_client(app)
    login(client, person.user.email)
    for template, allowed in SCREENS.items():
        url = template.format(**world)
        response = client.get(url)
        response.get_data()  # a streamed download (CSV) is read to its end
        if role in allowed:
            assert response.status_code == 200, (role, url, response.status_code)
        else:
            assert response.status_code == 403, (role, url, response.status_code)
            assert b"TKT-" not in response.data


@pytest.mark.parametrize("role", ROLES)
def test_menu_shows_only_allowed_screens(app, factory, role):
    person = _person(factory, role)
    client = desk_client(app)
    login(client, person.user.email)
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    navbar = html[html.index('role="navigation"'):html.index("</header>")]
    shown = {label for label in MENUS if re.search(rf"(?:>|&nbsp;)\s*{re.escape(label)}\s*</a>", navbar)}
    assert shown == {label for label, allowed in MENUS.items() if role in allowed}


def test_anonymous_user_is_sent_to_login(client, factory, world):
    for template in SCREENS:
        response = client.get(template.format(**world))
        assert response.status_code == 302
        assert "/login/" in response.headers["Location"]


def test_agent_sees_only_own_and_unassigned_tickets(app, factory):
    from support_app.tickets import service

    me, other = factory.agent(), factory.agent()
    owner = factory.customer()
    mine = factory.ticket(owner, subject="Mine to handle")
    pool = factory.ticket(owner, subject="Waiting in the pool")
    theirs = factory.ticket(owner, subject="Someone else's")
    service.assign_self(me.actor, mine.id)
    service.assign_self(other.actor, theirs.id)

    client = desk_client(app)
    login(client, me.user.email)
    listing = client.get("/tickets/list/").get_data(as_text=True)
    assert mine.number in listing and pool.number in listing
    assert theirs.number not in listing
    assert client.get(f"/tickets/show/{theirs.id}").status_code == 404
    # An action on a ticket outside the agent's view changes nothing.
    token = page_token(client, "/tickets/list/")
    client.post("/tickets/action_post", data={"action": "resolve", "rowid": [theirs.id],
                                              "csrf_token": token})
    from support_app.extensions import db
    from support_app.models import Ticket

    db.session.expire_all()
    assert db.session.get(Ticket, theirs.id).status == "in_progress"


def test_unapproved_agent_sees_no_tickets(app, factory):
    agent = factory.agent(approved=False)
    ticket = factory.ticket(factory.customer())
    client = desk_client(app)
    login(client, agent.user.email)
    assert ticket.number not in client.get("/tickets/list/").get_data(as_text=True)


def test_seeded_screen_permissions_name_real_views_and_menus(app):
    """A typo in permissions.py would silently seed a permission nothing checks."""
    declared: set[tuple[str, str]] = set()
    menus = set(app.appbuilder.menu.get_flat_name_list())
    for view in app.appbuilder.baseviews:
        if isinstance(view, BaseApi):
            continue
        for permission in view.base_permissions or []:
            declared.add((permission, view.class_permission_name))
    for role, pairs in perms.ROLE_SCREEN_PERMISSIONS.items():
        for permission, view in pairs:
            if permission == "menu_access":
                assert view in menus, (role, view)
            else:
                assert (permission, view) in declared, (role, permission, view)


def test_roles_hold_the_seeded_screen_permissions(app_ctx):
    sm = app_ctx.appbuilder.sm
    for role_name, pairs in perms.ROLE_SCREEN_PERMISSIONS.items():
        role = sm.find_role(role_name)
        held = {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}
        assert set(pairs) <= held, role_name


def test_every_dashboard_post_needs_the_csrf_token(app, factory):
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    client = desk_client(app)
    login(client, admin.user.email)
    for url, data in [
        ("/tickets/action_post", {"action": "close", "rowid": [ticket.id]}),
        (f"/tickets/action/close/{ticket.id}", {}),
        (f"/tickets/reply/{ticket.id}", {"body": "hello"}),
        (f"/tickets/note/{ticket.id}", {"note": "psst"}),
        ("/faqs/add", {"question": "q", "answer": "a", "category": "other", "language": "en"}),
    ]:
        assert client.post(url, data=data).status_code == 400, url
    from support_app.extensions import db
    from support_app.models import FAQ, Ticket

    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "open"
    assert db.session.get(Ticket, ticket.id).message_count == 0
    assert db.session.query(FAQ).count() == 0


def test_dashboard_forms_refuse_nul_characters(app, factory):
    """A NUL in any dashboard form field is a 400 and nothing is written: PostgreSQL
    cannot store it, and the screens' forms (macros, SLA calendars, ...) passed it to
    the database, a 500. The sign-in form keeps its own refusal (a failed login)."""
    from sqlalchemy import func, select

    from support_app.extensions import db
    from support_app.models import FAQ, Macro, Message, SlaCalendar

    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    client = desk_client(app)
    login(client, admin.user.email)
    token = page_token(client, "/macros/add")
    for url, data in [
        ("/macros/add", {"name": "Sorry\x00", "body_en": "x", "is_active": "y"}),
        ("/macros/add", {"name": "Sorry", "body_en": "a\x00b", "is_active": "y"}),
        ("/sla-calendars/add", {"name": "Office\x00", "timezone": "UTC"}),
        ("/faqs/add", {"question": "q\x00", "answer": "a", "category": "other",
                       "language": "en"}),
        (f"/tickets/reply/{ticket.id}", {"body": "hello\x00"}),
    ]:
        refused = client.post(url, data={**data, "csrf_token": token})
        assert refused.status_code == 400, url
    db.session.expire_all()
    for model in (Macro, SlaCalendar, FAQ, Message):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0, model


def test_login_is_rate_limited(app, factory, monkeypatch):
    staff = factory.staff(roles.STORE_MANAGER)
    client = desk_client(app)
    token = page_token(client, "/login/")
    codes = []
    # A long window: ten slow (hashed) attempts on a busy machine can outlast 20 s.
    # Another worker's limiter.reset() may clear the shared (Redis) counters mid-way,
    # so keep trying a little longer than AUTH_RATE_LIMIT.
    monkeypatch.setitem(app.config, "AUTH_RATE_LIMIT", "10 per 10 minute")
    while 429 not in codes and len(codes) < 40:
        codes.append(client.post("/login/", data={
            "username": staff.user.email, "password": "wrong-pass-1", "csrf_token": token,
        }).status_code)
    # A refused login redirects back to the form; past the limit, 429.
    assert codes[:10] == [302] * 10 and codes[-1] == 429


def test_session_cookie_is_httponly_and_samesite(app, factory):
    staff = factory.staff(roles.ADMIN)
    client = desk_client(app)
    page = client.get("/login/")
    from .admin_helpers import csrf_from

    response = client.post("/login/", data={"username": staff.user.email, "password": "secret-pass-1",
                                            "csrf_token": csrf_from(page.get_data(as_text=True))})
    cookie = " ".join(response.headers.getlist("Set-Cookie"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_weak_password_is_refused_by_the_reset_form(app, factory):
    admin = factory.staff(roles.ADMIN)
    client = desk_client(app)
    login(client, admin.user.email)
    token = page_token(client, "/resetmypassword/form")
    response = client.post("/resetmypassword/form", data={"password": "short", "conf_password": "short",
                                                          "csrf_token": token})
    assert "at least 8 characters" in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/dashboard/", "/tickets/list/", "/tickets/show/{ticket}",
                                 "/faqs/list/", "/customers/show/{customer}", "/login/"])
def test_pages_reference_no_external_assets(app, factory, world, url):
    admin = factory.staff(roles.ADMIN)
    client = desk_client(app)
    if url != "/login/":
        login(client, admin.user.email)
    html = client.get(url.format(**world)).get_data(as_text=True)
    external = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="((?:https?:)?//[^"]+)"', html)
    assert external == []
