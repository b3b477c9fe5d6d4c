"""The dashboard in Arabic (right to left) and Spanish in headless Chromium: the
browser lays the page out in the chosen direction, with our and FAB's strings
translated. Screenshots go to tests/artifacts/."""
from __future__ import annotations

import pytest

from support_app.extensions import db
from support_app.security import roles
from tests.test_i18n import fab_tr, tr

from .test_admin_browser import sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language, direction", [("ar", "rtl"), ("es", "ltr")])
def test_dashboard_in_language(page, shot, factory, language, direction):
    admin = factory.staff(roles.ADMIN)
    admin.user.locale = language
    db.session.commit()
    factory.ticket(factory.customer(name="Claire Dubois"), subject="Package arrived damaged")

    sign_in(page, admin.user.email)
    page.goto("/tickets/list/")
    assert page.evaluate("getComputedStyle(document.body).direction") == direction
    assert page.get_attribute("html", "lang") == language
    navbar = page.inner_text("ul.nav.navbar-nav >> nth=0")
    assert tr(language, "Desk") in navbar and tr(language, "Commerce") in navbar
    shot(page, f"i18n_{language}_ticket_list")
    page.goto("/")
    assert tr(language, "Tickets by status") in page.inner_text("body")
    # FAB ships Spanish; its Arabic strings come from ours (translations/flask_appbuilder)
    assert fab_tr(language, "Security") != "Security"
    assert fab_tr(language, "Security") in page.inner_text("body")
    shot(page, f"i18n_{language}_dashboard")


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_refused_sla_calendar_reads_in_the_managers_language(page, shot, factory, language):
    """A store manager saves opening hours that overlap: the refusal names the day in
    their language, nothing is written, no script error. (FAB then shows the page it
    came from, not the filled form.)"""
    from sqlalchemy import func, select

    from support_app.models import SlaCalendar

    manager = factory.staff(roles.STORE_MANAGER)
    manager.user.locale = language
    db.session.commit()
    before = db.session.scalar(select(func.count(SlaCalendar.id)))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    sign_in(page, manager.user.email)
    page.goto("/sla-calendars/add")
    page.fill("#name", "Overlapping")
    page.fill("#time_zone", "UTC")
    page.fill("#hours", '{"tue": [["09:00", "12:00"], ["11:00", "17:00"]]}')
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    expected = ("tue: ranges overlap" if language == "en"
                else tr(language, "%(day)s: ranges overlap", day="tue"))
    assert expected in page.inner_text(".alert-danger")
    shot(page, f"sla_calendar_refused_{language}")
    db.session.expire_all()
    assert db.session.scalar(select(func.count(SlaCalendar.id))) == before
    assert errors == []
