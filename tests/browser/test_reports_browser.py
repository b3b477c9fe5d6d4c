"""The Reports screen in headless Chromium, in English and Arabic: the chart drawn from
the vendored Chart.js with no script error, the table beneath in the page's direction,
an empty range saying so, and the CSV button downloading the table (BOM, translated
headings)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from support_app.extensions import db
from support_app.models import Feedback, Ticket
from support_app.security import roles
from tests.test_i18n import tr

from .test_admin_browser import sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language, direction", [("en", "ltr"), ("ar", "rtl")])
def test_reports_screen_in_language(page, shot, factory, language, direction):
    manager = factory.staff(roles.STORE_MANAGER)
    manager.user.locale = language
    db.session.commit()
    owner = factory.customer(name="ليلى حسن")
    day = dt.datetime(2026, 3, 2, 9, 0)
    for n, subject in enumerate(("Late delivery", "طلب استرداد", "Wrong colour")):
        ticket = factory.ticket(owner, subject=subject)
        db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(
            created_at=day + dt.timedelta(days=n), first_response_at=day + dt.timedelta(days=n, minutes=45),
            resolved_at=day + dt.timedelta(days=n, hours=5), status="resolved"))
        db.session.add(Feedback(ticket_id=ticket.id, customer_id=owner.customer.id, rating=4 + n % 2,
                                created_at=day + dt.timedelta(days=n, hours=6)))
    db.session.commit()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))

    sign_in(page, manager.user.email)
    page.goto("/reports/?start=2026-03-01&end=2026-03-07&group=day")
    page.wait_for_selector("body[data-charts=ready]")
    assert page.evaluate("getComputedStyle(document.body).direction") == direction
    headings = page.locator("#report-table th").all_inner_texts()
    assert headings[:3] == [tr(language, "Day") if language != "en" else "Day",
                            tr(language, "Created") if language != "en" else "Created",
                            tr(language, "Resolved") if language != "en" else "Resolved"]
    cells = page.locator("#report-table tbody tr").nth(1).locator("td").all_inner_texts()
    assert cells[0] == "2026-03-02" and cells[1] == "1" and cells[2] == "1"
    assert cells[4] == (tr(language, "%(minutes)d min", minutes=45) if language != "en" else "45 min")
    shot(page, f"reports_{language}")

    with page.expect_download() as download:
        page.click("#report-export")
    with open(download.value.path(), "rb") as handle:
        data = handle.read()
    assert data.startswith(b"\xef\xbb\xbf")
    header = data.decode("utf-8-sig").splitlines()[0]
    assert (tr(language, "Backlog") if language != "en" else "Backlog") in header

    page.select_option("#report-group", "category")
    page.fill("#report-start", "2025-01-01")
    page.fill("#report-end", "2025-01-31")
    page.click("#report-show")
    page.wait_for_selector("#report-empty")
    assert "group=category" in page.url
    assert page.locator("#chart-report").count() == 0
    shot(page, f"reports_{language}_empty")
    assert errors == []
