"""The dashboard in headless Chromium, per role: sign in, see only the allowed menus,
open a ticket, reply, change its status; the admin approves an agent; the badge
follows Socket.IO pushes. Screenshots of the main screens go to tests/artifacts/."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import AgentProfile, Message, Ticket
from support_app.security import roles
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

TOP_MENUS = {
    roles.ADMIN: {"Dashboard", "Reports", "Desk", "Commerce", "Security"},
    roles.STORE_MANAGER: {"Dashboard", "Reports", "Desk", "Commerce"},
    roles.FULFILLMENT: {"Desk", "Commerce"},
    roles.SUPPORT_AGENT: {"Desk"},
}
SCREEN_LINKS = {
    roles.ADMIN: {"Tickets", "Agents", "FAQs", "Email logs", "Feedback", "Customers", "Orders",
                  "Rides", "Bookings", "List Users", "List Roles"},
    roles.STORE_MANAGER: {"Tickets", "FAQs", "Email logs", "Feedback", "Customers", "Orders",
                          "Rides", "Bookings"},
    roles.FULFILLMENT: {"Tickets", "Orders"},
    roles.SUPPORT_AGENT: {"Tickets"},
}
ALL_LINKS = set().union(*SCREEN_LINKS.values())


def sign_in(page, email: str) -> None:
    page.goto("/login/")
    page.fill("#username", email)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url


def menus(page) -> tuple[set[str], set[str]]:
    """(top-level entries, screen links) of the left navbar, hidden dropdowns included."""
    top = page.locator("ul.nav.navbar-nav").first
    firsts = {t.strip() for t in top.locator(":scope > li > a").all_text_contents()}
    links = {t.strip() for t in top.locator("ul.dropdown-menu a").all_text_contents()}
    return {t for t in firsts if t}, links & ALL_LINKS


def staff_for(factory, role):
    return factory.agent() if role == roles.SUPPORT_AGENT else factory.staff(role)


@pytest.mark.parametrize("role", list(TOP_MENUS))
def test_role_signs_in_sees_its_menus_and_works_a_ticket(page, shot, factory, role):
    person = staff_for(factory, role)
    owner = factory.customer(name="Claire Dubois")
    order = factory.order(owner.customer)
    ticket = factory.ticket(owner, subject="Package arrived damaged", order_id=order.id,
                            description="The box was crushed and the glass inside is broken.")
    slug = role.lower().replace(" ", "_")

    sign_in(page, person.user.email)
    top, links = menus(page)
    assert top == TOP_MENUS[role]
    assert links == SCREEN_LINKS[role]

    page.goto("/tickets/list/")
    assert page.locator("#support-badge").inner_text() == "1"
    shot(page, f"{slug}_ticket_list")
    page.click(f"a[href='/tickets/show/{ticket.id}']")
    page.wait_for_selector("#thread")
    assert "Claire Dubois" in page.inner_text("#ticket-customer")
    assert order.order_number in page.inner_text("#ticket-service")

    if role == roles.SUPPORT_AGENT:  # the pool ticket is theirs once they take it
        page.click("#action-assign_to_me")
        page.wait_for_selector("#reply-form")

    page.fill("#reply-form textarea", f"Hello from the {role} desk.")
    page.click("#reply-form button[type=submit]")
    page.wait_for_selector(f"#thread :text('Hello from the {role} desk.')")
    assert "Reply sent" in page.inner_text(".alert-success")

    page.select_option("#status-form select[name=status]", "on_hold")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#ticket-status[data-code=on_hold]")
    shot(page, f"{slug}_ticket_page")

    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "on_hold"
    assert db.session.scalar(select(Message.body).where(Message.ticket_id == ticket.id)) == (
        f"Hello from the {role} desk.")


def test_admin_approves_an_agent(page, shot, factory):
    admin = factory.staff(roles.ADMIN)
    applicant = factory.agent(approved=False, name="Nadia Newcomer")
    profile_id = db.session.scalar(select(AgentProfile.id).where(AgentProfile.user_id == applicant.user.id))
    sign_in(page, admin.user.email)
    page.goto("/agents/list/")
    shot(page, "admin_agents")
    page.click(f"a[href='/agents/show/{profile_id}']")
    page.click("#btn-action-AgentView\\.action-approve")
    page.wait_for_selector(".alert-success")
    db.session.expire_all()
    assert db.session.get(AgentProfile, profile_id).is_approved
    for screen in ("/users/list/", "/roles/list/", "/permissionviews/list/"):
        page.goto(screen)  # FAB's own screens load nothing from other hosts either
        assert page.locator(".panel").count() >= 1
    shot(page, "admin_roles")


def test_dashboard_draws_its_charts_from_local_assets(page, shot, factory):
    from support_app.tickets import service

    manager = factory.staff(roles.STORE_MANAGER)
    owner = factory.customer()
    for subject in ("Late delivery", "Refund please", "Wrong colour"):
        ticket = factory.ticket(owner, subject=subject)
    service.add_message(manager.actor, ticket.id, "On it.")
    sign_in(page, manager.user.email)
    page.goto("/")
    page.wait_for_selector("body[data-charts=ready]")
    assert page.url.endswith("/dashboard/")
    assert page.inner_text("#stat-total") == "3"
    assert re.match(r"\d+ min", page.inner_text("#stat-first-response"))
    shot(page, "dashboard")


def test_badge_follows_support_navbar_pushes(page, factory):
    """The page's Socket.IO client (vendored, session cookie) applies `support:navbar:count`."""
    from support_app.extensions import socketio

    manager = factory.staff(roles.STORE_MANAGER)
    sign_in(page, manager.user.email)
    page.goto("/tickets/list/")
    assert page.inner_text("#support-badge") == "0"
    page.wait_for_function("window.supportSocket && window.supportSocket.connected")
    socketio.emit("support:navbar:count", {"success": True, "total_tickets": 9, "open_tickets": 4,
                                     "in_progress_tickets": 2, "unread_count": 7, "count": 7})
    page.wait_for_selector("#support-badge:text('7')", timeout=10_000)


def test_badge_goes_up_when_a_customer_opens_a_ticket_over_the_api(app, page, factory, desk_server):
    import json
    import urllib.request

    manager = factory.staff(roles.STORE_MANAGER)
    customer = factory.customer()
    sign_in(page, manager.user.email)
    page.goto("/tickets/list/")
    page.wait_for_function("window.supportSocket && window.supportSocket.connected")
    assert page.inner_text("#support-badge") == "0"
    request = urllib.request.Request(
        f"{desk_server}/api/support-tickets", method="POST",
        headers={**customer.headers, "Content-Type": "application/json"},
        data=json.dumps({"subject": "Where is my parcel?",
                         "description": "It has been ten days already."}).encode())
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
    page.wait_for_selector("#support-badge:text('1')", timeout=10_000)
