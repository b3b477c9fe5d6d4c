"""The satisfaction survey page in headless Chromium: the emailed link opens the page
in the customer's language (right to left for Arabic), its form posts itself, the
rating is recorded at once, and a comment can follow; no script errors."""
from __future__ import annotations

import re

import pytest
from flask import current_app
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import EmailLog, Feedback
from support_app.tickets import feedback, service
from tests import test_i18n

pytestmark = pytest.mark.browser


def tr(language: str, msgid: str) -> str:
    return msgid if language == "en" else test_i18n.tr(language, msgid)


@pytest.fixture
def mail_on(app):
    """Mail is queued (not `not_sent`), though nothing here delivers it."""
    saved = app.config["MAIL_SERVER"]
    app.config["MAIL_SERVER"] = "127.0.0.1"
    yield
    app.config["MAIL_SERVER"] = saved


def survey_path(factory, locale: str, rating: int) -> tuple[int, str]:
    customer = factory.customer(name="Layla", locale=locale)
    agent = factory.agent()
    ticket = factory.ticket(customer, subject="Parcel")
    service.assign_self(agent.actor, ticket.id)
    service.update_ticket(agent.actor, ticket.id, status="resolved")
    body = db.session.scalar(select(EmailLog.body_text).where(
        EmailLog.ticket_id == ticket.id, EmailLog.template == feedback.SURVEY_TEMPLATE))
    url = dict(re.findall(r"(\d) - [^:\n]+: (http\S+)", body))[str(rating)]
    return ticket.id, url.removeprefix(current_app.config["PUBLIC_URL"])


@pytest.mark.parametrize("language, direction", [("en", "ltr"), ("ar", "rtl")])
def test_survey_link_records_the_rating_in_the_customers_language(
        page, shot, factory, mail_on, language, direction):
    ticket_id, path = survey_path(factory, language, 4)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path)
    page.wait_for_selector("#comment")  # the rating form posted itself
    assert page.get_attribute("html", "lang") == language
    assert page.evaluate("getComputedStyle(document.body).direction") == direction
    body = page.inner_text("body")
    assert tr(language, "Thank you: your rating is recorded.") in body
    assert tr(language, "Satisfied") in body
    db.session.expire_all()
    assert db.session.scalar(select(Feedback.rating).where(Feedback.ticket_id == ticket_id)) == 4
    shot(page, f"survey_{language}_recorded")

    page.fill("#comment-text", "شكرا" if language == "ar" else "Thanks!")
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click("#comment button[type=submit]")
    assert tr(language, "Thank you for your comment.") in page.inner_text("body")
    db.session.expire_all()
    assert db.session.scalar(select(Feedback.comment).where(Feedback.ticket_id == ticket_id)) \
        in ("شكرا", "Thanks!")

    # The same link again: already used.
    page.goto(path)
    assert page.locator("#rate").count() == 0
    assert page.locator("#comment").count() == 0
    assert errors == []
