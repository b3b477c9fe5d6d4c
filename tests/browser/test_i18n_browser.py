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
