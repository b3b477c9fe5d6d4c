"""The ticket list at a common laptop width (1366×768): every column on screen, dates
and subjects on one line, long names cut rather than widening their column."""
from __future__ import annotations

import pytest

from support_app.security import roles

from .test_admin_browser import sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", ["en", "ar"])
def test_ticket_list_reads_well_at_1366(page, shot, factory, language):
    from support_app.bootstrap import ensure_sla_defaults
    from support_app.extensions import db
    from support_app.tickets import sla

    sla.rules.clear()
    ensure_sla_defaults()  # the SLA cell shows a state and a due time
    admin = factory.staff(roles.ADMIN)
    admin.user.locale = language
    db.session.commit()
    owner = factory.customer(name="Maximiliana Constantinopoulou-Richardson")
    factory.ticket(owner, subject="Package arrived damaged and the glass is broken",
                   category="service_quality")
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, admin.user.email)
    page.goto("/tickets/list/")
    shot(page, f"layout_{language}_ticket_list_1366")
    table = page.locator("table.table-hover, .table-responsive table").last
    overflow = page.evaluate(
        "t => { const box = t.closest('.table-responsive') || t.parentElement;"
        " return box.scrollWidth - box.clientWidth; }", table.element_handle())
    assert overflow <= 1, f"the list scrolls sideways by {overflow}px"
    # A long subject may take two lines (it had three, and dates three, before).
    for selector, most in (("td .desk-when", 1), ("td .desk-person", 1), ("td .desk-subject", 2)):
        lines = page.evaluate(
            "s => { const e = document.querySelector(s); const h = e.getBoundingClientRect().height;"
            " return h / parseFloat(getComputedStyle(e).lineHeight); }", selector)
        assert lines < most + 0.5, (selector, lines)
