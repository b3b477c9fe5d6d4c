"""The list search form in Chromium, in Arabic: a status filter is a select of
translated labels whose choice filters the list by code; the date filter's default
reads in the one date format; no script error on the way."""
from __future__ import annotations

import re

import pytest

from support_app.extensions import db
from support_app.security import roles
from support_app.tickets import service

from .test_admin_browser import sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", ["ar"])
def test_status_filter_is_a_translated_select_that_filters_by_code(page, shot, factory, language):
    admin = factory.staff(roles.ADMIN)
    admin.user.locale = language
    db.session.commit()
    owner = factory.customer()
    kept = factory.ticket(owner, subject="Still waiting")
    held = factory.ticket(owner, subject="Waiting on a part")
    service.update_ticket(admin.actor, held.id, status="on_hold")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    sign_in(page, admin.user.email)
    page.goto("/tickets/list/")
    page.click("a.accordion-toggle[href='#accordion1_href']")
    page.wait_for_selector("#filter_form button.dropdown-toggle", state="visible")
    page.click("#filter_form button.dropdown-toggle")
    page.click("#filter_form a.filter[name=created_at]")
    when = page.locator("#filter_form input[name$=_created_at]").input_value()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", when), when
    page.click("#filter_form button.dropdown-toggle")
    page.click("#filter_form a.filter[name=status]")
    status = page.locator("#filter_form select.filter_val[name$=_status]")
    status.select_option(label="مفتوحة")
    shot(page, "ticket_list_status_filter_ar")
    page.locator("#filter_form tr", has=page.locator("input[name$=_created_at]")) \
        .locator("a.remove-filter").click()
    page.locator("#filter_form button[type=submit], #filter_form input[type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    assert re.search(r"_flt_\d+_status=open", page.url), page.url
    listing = page.inner_text("body")
    assert kept.number in listing and held.number not in listing
    assert errors == []
