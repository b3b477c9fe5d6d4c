"""The dashboard sweep: for every role and for English, French and Arabic, open every
screen the menu offers (lists, show pages, add/edit forms, the dashboard, the ticket
page) and press every action and button, in headless Chromium. Any JavaScript error
(`pageerror`) or console error fails it, and every press is checked in the database.

Screens are read from the rendered menu and each list's own links; actions from FAB's
registry (`sweep.EFFECTS` says how each one shows in the database). One browser, one
context per role and language. Screenshots of every screen land in tests/artifacts/.
"""
from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from flask_appbuilder import ModelView
from sqlalchemy import func, select

from support_app.bootstrap import ensure_sla_defaults
from support_app.extensions import db
from support_app.models import (FAQ, Attachment, EmailLog, InternalNote, Macro, Message,
                                SlaEscalationRule, Ticket)
from support_app.security import roles
from support_app.tickets import service, tags
from tests.attachment_helpers import PNG
from tests.factories import PASSWORD

from .conftest import ARTIFACTS
from .sweep import EFFECTS, EXPORT_LINKS, FORMS, Desk, check_export

pytestmark = pytest.mark.browser

UNAPPROVED = "Support Agent (unapproved)"
ROLES = (roles.ADMIN, roles.STORE_MANAGER, roles.FULFILLMENT, roles.SUPPORT_AGENT, UNAPPROVED)
LANGUAGES = ("en", "fr", "ar")
SCREENSHOT_LANGUAGES = ("en", "ar")
SKIP_LINKS = ("/logout/", "/lang/")


class Sweep:
    """One signed-in browser context: visits pages, fails on script errors."""

    def __init__(self, page, desk: Desk, language: str, slug: str) -> None:
        self.page, self.desk, self.language, self.slug = page, desk, language, slug
        self.errors: list[str] = []
        self.visited: dict[str, str] = {}  # path -> full path as linked
        self.bulk: dict[str, set[str]] = {}  # list path -> the actions its menu offers
        self.shots: set[str] = set()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: message.type == "error" and self.errors.append(
            f"{page.url}: console: {message.text}"))
        page.on("dialog", lambda dialog: dialog.accept())

    def clean(self, where: str) -> None:
        assert self.errors == [], f"{where}: {self.errors}"

    def go(self, path: str, shot: str | None = None) -> None:
        response = self.page.goto(path, wait_until="domcontentloaded")
        assert response is not None and response.status < 400, (path, response and response.status)
        self.clean(path)
        if shot and self.language in SCREENSHOT_LANGUAGES and shot not in self.shots:
            self.shots.add(shot)  # the first of a path's pages (not its filtered views)
            self.page.wait_for_load_state("load")
            self.page.screenshot(path=str(ARTIFACTS / f"{self.slug}_{shot}.png"), full_page=True)

    def press(self, locator, confirm: bool = False) -> None:
        """Click something that submits; accept FAB's confirmation dialog if it shows."""
        # FAB's action links are href="#": the hash change is not the submission.
        with self.page.expect_navigation(url=lambda url: not url.endswith("#"),
                                         wait_until="domcontentloaded"):
            locator.click()
            if confirm:
                self.page.wait_for_selector("#modal-confirm-ok", state="visible")
                self.page.click("#modal-confirm-ok")
        self.clean(f"after pressing on {self.page.url}")
        assert self.page.locator(".alert-danger").count() == 0, self.page.inner_text(".alert-danger")

    def links(self, selector: str) -> list[str]:
        hrefs = self.page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('href'))")
        return [h for h in hrefs if h and h.startswith("/") and not h.startswith(SKIP_LINKS)]


def _shot_name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", urlparse(path).path.lower()).strip("_") or "home"


def _seed(factory, role: str, language: str) -> Desk:
    ensure_sla_defaults()  # the SLA screens list the default calendar and policy
    db.session.add(SlaEscalationRule(name="Breaches escalate", on_state="breached",
                                     priority="high", escalate=True, notify_managers=True))
    admin = factory.staff(roles.ADMIN, name="Amira Admin")
    if role == UNAPPROVED:
        person = factory.agent(approved=False, name="Nadia Newcomer")
    elif role == roles.SUPPORT_AGENT:
        person = factory.agent(name="Sam Agent")
    else:
        person = factory.staff(role, name=f"{role} Person")
    person.user.locale = language
    factory.agent(name="Omar Approved")
    customer = factory.customer(name="Claire Dubois")
    order = factory.order(customer.customer)
    factory.ride(customer.customer)
    factory.booking(customer.customer)
    ticket = factory.ticket(customer, subject="Package arrived damaged", order_id=order.id,
                            category="damaged",
                            description="The box was crushed and the glass inside is broken.")
    service.add_message(admin.actor, ticket.id, "We are sorry: a replacement is on its way.")
    service.update_ticket(admin.actor, ticket.id, status="resolved")
    service.submit_feedback(customer.actor, ticket.id, 4, "Quick and kind.")
    db.session.add(Macro(name="Sweep macro", body_en="Hello {customer_name}, ticket {ticket_number}.",
                         body_fr="Bonjour {customer_name}, ticket {ticket_number}.",
                         body_ar="مرحبا {customer_name}، التذكرة {ticket_number}.",
                         add_tags="sweep-macro"))
    db.session.add(FAQ(question="How do refunds work?", answer="Within 5 days.",
                       category="billing", language="en", is_published=True, position=1))
    db.session.add(EmailLog(direction="out", status="not_sent", to_address="claire@example.com",
                            subject="Your ticket", ticket_id=ticket.id))
    db.session.commit()
    desk = Desk(factory, person, role, customer)
    desk._admin = admin
    return desk


def _sign_in(sweep: Sweep) -> None:
    page = sweep.page
    sweep.go("/login/", shot="login")
    page.fill("#username", sweep.desk.person.user.email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("input[type=submit]")
    assert "/login" not in page.url
    sweep.clean("sign in")


def _visit_screens(sweep: Sweep) -> None:
    """Every menu entry, then each list's first show, edit and add pages."""
    sweep.go("/")
    menu = sweep.links("ul.nav.navbar-nav a[href]")
    assert menu, "no menu"
    language_link = f"/lang/{sweep.language}"  # the language menu returns to this page
    here = urlparse(sweep.page.url).path
    sweep.page.goto(language_link, wait_until="domcontentloaded")
    assert urlparse(sweep.page.url).path == here
    for path in dict.fromkeys(menu):
        sweep.go(path, shot=_shot_name(path))
        sweep.visited[urlparse(path).path] = path
        if "/list/" not in path:
            continue
        sweep.bulk[urlparse(path).path] = {
            name[:-len("_menu_item")] for name in sweep.page.eval_on_selector_all(
                "[class$=_menu_item]", "els => els.map(e => e.className)")}
        row_links = sweep.links("table a[href]") + sweep.links(".well a[href], .list-add-action a[href], a.btn[href]")
        for kind in ("/show/", "/edit/", "/add"):
            target = next((h for h in row_links if kind in h), None)
            if target and urlparse(target).path not in sweep.visited:
                sweep.go(target, shot=_shot_name(target))
                sweep.visited[urlparse(target).path] = target


def _registry(app):
    """(view, list path) of every ModelView the signed-in role reached from its menu."""
    for view in app.appbuilder.baseviews:
        if isinstance(view, ModelView) and view.actions:
            with app.test_request_context():
                from flask import url_for
                yield view, url_for(f"{view.endpoint}.list"), url_for(f"{view.endpoint}.show", pk=0)[:-1]


def _press_actions(app, sweep: Sweep) -> None:
    """Every registered action this role is offered: from its list (bulk) and from a
    row's page (single)."""
    for view, list_path, show_prefix in _registry(app):
        for name, action in view.actions.items():
            key = (view.__class__.__name__, name)
            assert key in EFFECTS, f"no sweep entry for action {key}: add one to tests/browser/sweep.py"
            if action.multiple and name in sweep.bulk.get(list_path, ()):
                _press_bulk(sweep, list_path, name, action, EFFECTS[key])
            if action.single:
                _press_single(sweep, view, show_prefix, name, action, EFFECTS[key])


def _press_bulk(sweep: Sweep, list_path: str, name: str, action, effect) -> None:
    page = sweep.page
    pk = effect.prepare(sweep.desk)
    sweep.go(list_path)
    page.check(f"input.action_check[value='{pk}']")
    item = page.locator(f".{name}_menu_item")
    item.locator("xpath=ancestor::div[contains(@class,'btn-group')][1]/button").click()
    sweep.press(item, confirm=bool(action.confirmation))
    if effect.follow:
        effect.follow(page)
        sweep.clean(f"{name} form")
    effect.check(sweep.desk, pk, page)


def _press_single(sweep: Sweep, view, show_prefix: str, name: str, action, effect) -> None:
    """On the row's page if the role reaches show pages of that view, else on the
    visited pages that offer it (FAB's profile page)."""
    page = sweep.page
    pk = effect.prepare(sweep.desk)
    shows = [f"{show_prefix}{pk}"] if any(p.startswith(show_prefix) for p in sweep.visited) else []
    for path in (*shows, *[p for p in sweep.visited.values() if "userinfo" in p]):
        sweep.go(path)
        fab = page.locator(f"[id='btn-action-{view.endpoint}.action-{name}']")
        button = fab if fab.count() else page.locator(f"#action-{name}")  # the ticket page's own
        if button.count():
            sweep.press(button, confirm=bool(action.confirmation) and fab.count() > 0)
            if effect.follow:
                effect.follow(page)
            effect.check(sweep.desk, pk, page)
            return


def _press_forms_and_downloads(sweep: Sweep) -> None:
    """The screens' own forms (`sweep.FORMS`) and every download button."""
    page = sweep.page
    for path in list(sweep.visited):
        if path in FORMS:
            fill, button, check = FORMS[path]
            sweep.go(path)
            fill(page)
            sweep.press(page.locator(button))
            check(sweep.desk, 0, page)
        sweep.go(sweep.visited[path])
        for index in range(page.locator(EXPORT_LINKS).count()):
            with page.expect_download() as download:
                page.locator(EXPORT_LINKS).nth(index).click()
            with open(download.value.path(), "rb") as handle:
                check_export(handle.read(), download.value.suggested_filename)
            sweep.clean(f"download on {path}")


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _work_the_ticket_page(sweep: Sweep) -> None:
    """The ticket page's forms: reply, note, status, priority, reassign; the new-ticket form."""
    page, desk = sweep.page, sweep.desk
    pk = desk.ticket()
    sweep.go(f"/tickets/show/{pk}", shot="ticket_page")
    if page.locator("#reply-form").count():
        before = _count(Message)
        page.fill("#reply-form textarea", "Thank you, we are checking with the courier.")
        sweep.press(page.locator("#reply-form button[type=submit]"))
        assert _count(Message) == before + 1
    if page.locator("#note-form").count():
        before = _count(InternalNote)
        page.fill("#note-form textarea", "Courier confirmed the damage.")
        sweep.press(page.locator("#note-form button[type=submit]"))
        assert _count(InternalNote) == before + 1
    if page.locator("#status-form").count():
        current = db.session.get(Ticket, pk).status
        assert page.locator("#status-form select[name=status] option:checked").inner_text().strip() not in ("", "—")
        page.select_option("#status-form select[name=status]", "on_hold")
        page.select_option("#status-form select[name=priority]", "urgent")
        sweep.press(page.locator("#status-form button[type=submit]"))
        db.session.expire_all()
        ticket = db.session.get(Ticket, pk)
        assert (ticket.status, ticket.priority) == ("on_hold", "urgent"), current
    if page.locator("#tags-form").count():
        page.fill("#tags-form input[name=add]", "Courier, Damaged")
        sweep.press(page.locator("#tags-form button[type=submit]"))
        db.session.expire_all()
        assert tags.names_of(pk) == ["Courier", "Damaged"]
        sweep.press(page.locator("#ticket-tags .desk-untag button").first)
        db.session.expire_all()
        assert tags.names_of(pk) == ["Damaged"]
    if page.locator("#macro-form").count():
        sweep.press(page.locator("#macro-form button[type=submit]"))
        assert page.locator("#macro-missing").count() == 0, "the seeded macro has every value"
        before = _count(Message)
        sweep.press(page.locator("#macro-send"))
        assert _count(Message) == before + 1
        db.session.expire_all()
        assert "sweep-macro" in tags.names_of(pk)
    if page.locator("#reassign-form").count():
        values = page.eval_on_selector_all("#reassign-form option", "os => os.map(o => o.value)")
        page.select_option("#reassign-form select", [v for v in values if v][-1])
        sweep.press(page.locator("#reassign-form button[type=submit]"))
        db.session.expire_all()
        assert str(db.session.get(Ticket, pk).assigned_to_id) == [v for v in values if v][-1]
    sweep.go("/tickets/list/")
    if page.locator("#new-ticket").count():
        sweep.go("/tickets/new/", shot="ticket_new")
        before = _count(Ticket)
        page.fill("#new-ticket-form [name=subject]", "Charged twice")
        page.fill("#new-ticket-form [name=description]", "The card statement shows two payments.")
        page.set_input_files("#new-ticket-files", files=[
            {"name": "statement.png", "mimeType": "image/png", "buffer": PNG}])
        sweep.press(page.locator("#new-ticket-form button[type=submit]"))
        assert _count(Ticket) == before + 1
        db.session.expire_all()
        opened = db.session.scalar(select(Ticket).order_by(Ticket.id.desc()).limit(1))
        assert [a.filename for a in db.session.scalars(
            select(Attachment).where(Attachment.ticket_id == opened.id))] == ["statement.png"]


def _edit_our_records(sweep: Sweep) -> None:
    """Add, edit and delete on our screens that allow them (FAQs), through FAB's forms."""
    page = sweep.page
    if "/faqs/list/" not in sweep.visited or not page.goto("/faqs/add", wait_until="domcontentloaded").ok:
        return
    if page.locator("form #question").count() == 0:
        return
    before = _count(FAQ)
    page.fill("#question", "Can I change my delivery address?")
    page.fill("#answer", "Yes, until the order ships.")
    sweep.press(page.locator("form button[type=submit]").first)
    assert _count(FAQ) == before + 1
    pk = db.session.scalar(select(FAQ.id).where(FAQ.question == "Can I change my delivery address?"))
    sweep.go(f"/faqs/edit/{pk}")
    page.fill("#question", "Can I still change my delivery address?")
    sweep.press(page.locator("form button[type=submit]").first)
    db.session.expire_all()
    assert db.session.get(FAQ, pk).question == "Can I still change my delivery address?"
    sweep.go("/faqs/list/")
    delete = page.locator(f"a[id^='btn-delete-'][id$='/delete/{pk}']")
    if delete.count():
        sweep.press(delete, confirm=True)
        assert _count(FAQ) == before
    _add_sla_rule(sweep)


def _add_sla_rule(sweep: Sweep) -> None:
    """An escalation rule through its form: translated selects, the Any option."""
    page = sweep.page
    if "/sla-rules/list/" not in sweep.visited:
        return
    sweep.go("/sla-rules/add")
    before = _count(SlaEscalationRule)
    page.fill("#name", f"Sweep rule {sweep.desk.seq()}")
    page.select_option("#on_state", "at_risk")
    page.select_option("#target", "first_response")
    page.check("#reassign")
    sweep.press(page.locator("form button[type=submit]").first)
    assert _count(SlaEscalationRule) == before + 1


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", ROLES)
def test_every_screen_and_button(app, page, factory, role, language):
    ARTIFACTS.mkdir(exist_ok=True)
    desk = _seed(factory, role, language)
    slug = f"{language}_{re.sub(r'[^a-z]+', '_', role.lower()).strip('_')}"
    sweep = Sweep(page, desk, language, slug)
    _sign_in(sweep)
    _visit_screens(sweep)
    if role == UNAPPROVED:
        sweep.go("/tickets/list/", shot="pending")
        assert page.locator("#approval-pending").count() == 1
        return
    _press_actions(app, sweep)
    _press_forms_and_downloads(sweep)
    if "/tickets/list/" in sweep.visited:
        _work_the_ticket_page(sweep)
    _edit_our_records(sweep)
    sweep.clean("end of sweep")
