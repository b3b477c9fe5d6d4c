"""Translations: complete catalogs, every surface answering in the request's language,
a Bengali customer's notifications and emails in Bengali, Arabic right to left.

Expected texts come from the shipped catalogs (the .po files translators maintain),
never from literals written here."""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from babel.support import Translations
from flask_babel import force_locale, ngettext
from sqlalchemy import select

import flask_appbuilder
from support_app import catalogs
from support_app.extensions import db
from support_app.models import EmailLog, Notification
from support_app.security import roles
from support_app.tickets import service

from .admin_helpers import desk_client, login

SPANISH = {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}


@functools.cache
def _catalog(language: str):
    path = catalogs.TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    with open(path, "rb") as handle:
        return read_po(handle, locale=language)


def tr(language: str, msgid: str, **values: object) -> str:
    """The catalog's translation, formatted as gettext formats it."""
    message = _catalog(language)[msgid]
    assert message is not None and message.string, f"{msgid!r} has no {language} translation"
    return message.string % values if values else message.string


def fab_tr(language: str, msgid: str) -> str:
    """A FAB UI string: from FAB's own catalog (inside the package), or from ours for
    the languages FAB ships none in."""
    directory = catalogs.FAB_TRANSLATIONS if language in catalogs.FAB_SHIPPED else \
        Path(flask_appbuilder.__file__).parent / "translations"
    return Translations.load(str(directory), [language]).gettext(msgid)


def undecided(person):
    """A customer who never picked a language: the request's Accept-Language decides."""
    person.user.locale = None
    db.session.commit()
    return person


# --------------------------------------------------------------------------- catalogs


def test_every_shipped_catalog_is_complete_and_compiled():
    reports = catalogs.check_all()
    assert [r.name for r in reports] == [*catalogs.SHIPPED, "ar (Flask-AppBuilder)",
                                         "bn (Flask-AppBuilder)"]
    for report in reports:
        assert report.complete, (report.name, report.missing[:10], report.fuzzy,
                                 report.stale_mo)
        assert report.translated == report.total > (300 if not report.scope else 100)


def test_fab_catalogs_cover_what_fab_translates_and_the_template_is_current():
    """A FAB upgrade that adds strings shows up here (and in i18n-check) until the
    template is rewritten (`flask support i18n-fab-template`) and translated."""
    with open(catalogs.FAB_TRANSLATIONS / "messages.pot", "rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    assert template == catalogs.fab_source_ids()
    assert {"Search", "Logout", "Add Filter", "Sign In"} <= template


def test_plural_forms_match_each_language():
    assert _catalog("ar").num_plurals == 6 and _catalog("bn").num_plurals == 2
    for language in catalogs.SHIPPED:
        for message in _catalog(language):
            if message.pluralizable:
                assert len(message.string) == _catalog(language).num_plurals
                assert all(message.string), (language, message.id)


def test_i18n_check_command_reports_each_language(app):
    result = app.test_cli_runner().invoke(args=["support", "i18n-check"])
    assert result.exit_code == 0, result.output
    for name in (*catalogs.SHIPPED, *(f"{lang} (Flask-AppBuilder)" for lang in catalogs.FAB_SHIPPED)):
        assert re.search(rf"^{re.escape(name)}: (\d+)/\1 translated, 0 fuzzy, 0 missing \[ok\]$",
                         result.output, re.M), result.output


# --------------------------------------------------------------------------- API surfaces


def test_002_validation_and_403_in_spanish(client, factory):
    john, jane = undecided(factory.customer()), factory.customer()
    r = client.post("/api/support-tickets", json={}, headers={**john.headers, **SPANISH})
    body = r.get_json()
    assert r.status_code == 422 and body["message"] == tr("es", "Validation failed")
    assert body["errors"]["subject"] == [
        tr("es", "The %(attribute)s field is required.", attribute="subject")]

    hers = factory.ticket(jane)
    r = client.get(f"/api/support-tickets/{hers.id}", headers={**john.headers, **SPANISH})
    assert r.status_code == 403
    assert r.get_json()["message"] == tr("es", "Unauthorized access to this ticket")


def test_000_storefront_in_spanish(client, factory):
    customer = undecided(factory.customer())
    r = client.post("/api/customer/orders/support", json={"category": "nope"},
                    headers={**customer.headers, **SPANISH})
    body = r.get_json()
    assert r.status_code == 400 and body["message"] == tr("es", "Validation failed")
    assert body["errors"]["subject"] == [tr("es", "Missing data for required field.")]
    assert body["errors"]["category"][0].startswith(
        tr("es", "Must be one of: {choices}.").split("{")[0])


def test_003_agent_desk_in_spanish(client, factory):
    customer = undecided(factory.customer())
    r = client.post("/api/support/tickets/create/", json={"subject": "x" * 300, "bogus": 1},
                    headers={**customer.headers, **SPANISH})
    body = r.get_json()
    assert r.status_code == 400, body
    assert body["bogus"] == [tr("es", "Unknown field.")]
    assert body["description"] == [tr("es", "Missing data for required field.")]
    r = client.get("/api/agent/tickets/", headers={**customer.headers, **SPANISH})
    assert r.status_code == 403
    assert r.get_json() == {"error": tr("es", "Only support agents can view agent tickets")}


def test_munch_and_mtxi_in_spanish(client, factory):
    customer = undecided(factory.customer())
    headers = {**customer.headers, **SPANISH}
    r = client.post("/api/customer/munch/support/ticket", json={"issueType": "OTHER"},
                    headers=headers)
    body = r.get_json()
    assert r.status_code in (400, 422) and body["status"] == "error", body
    assert body["message"] != "" and body["message"] == tr("es", _message_id(body["message"]))
    assert tr("es", "Missing data for required field.") in body["errors"]["orderId"]

    r = client.get("/api/customer/mtxi/support/999999", headers=headers)
    body = r.get_json()
    assert r.status_code == 404 and body["message"] == tr("es", _message_id(body["message"]))
    r = client.post("/api/customer/mtxi/support", json={"serviceType": "ride"}, headers=headers)
    body = r.get_json()
    assert r.status_code in (400, 422) and tr("es", "Missing data for required field.") in \
        sum(body["errors"].values(), [])


def test_auth_login_in_spanish(client, factory):
    customer = factory.customer()
    r = client.post("/api/auth/login", json={"email": customer.user.email, "password": "nope"},
                    headers=SPANISH)
    assert r.status_code == 401
    assert r.get_json()["message"] == tr("es", "Invalid credentials")


def test_without_accept_language_answers_stay_english(client, factory):
    customer = undecided(factory.customer())
    r = client.post("/api/support-tickets", json={}, headers=customer.headers)
    assert r.get_json()["message"] == "Validation failed"


def test_a_stored_locale_wins_over_accept_language(client, factory):
    customer = factory.customer(locale="fr")
    hers = factory.ticket(factory.customer())
    r = client.get(f"/api/support-tickets/{hers.id}", headers={**customer.headers, **SPANISH})
    assert r.get_json()["message"] == tr("fr", "Unauthorized access to this ticket")


def _message_id(translated: str) -> str:
    """The msgid whose Spanish translation is `translated` (the surface chose which)."""
    for message in _catalog("es"):
        if message.id and message.string == translated:
            return message.id
    raise AssertionError(f"{translated!r} is not a Spanish catalog translation")


# --------------------------------------------------------------------------- Bengali customer


def test_bengali_customer_gets_bengali_notifications_and_email(client, factory):
    rahim = factory.customer(name="Rahim", locale="bn")
    agent = factory.staff(roles.ADMIN)
    ticket = factory.ticket(rahim, subject="Late delivery")
    service.add_message(agent.actor, ticket.id, "We are on it")

    rows = db.session.scalars(select(Notification).where(Notification.user_id == rahim.user.id)
                              .order_by(Notification.id)).all()
    assert [n.locale for n in rows] == ["bn", "bn"]
    assert rows[0].title == tr("bn", "Ticket %(number)s created", number=ticket.number)
    assert rows[0].body == tr("bn", 'We received your request "%(subject)s". Our team will '
                                    "reply soon.", subject="Late delivery")
    assert rows[1].title == tr("bn", "New reply on ticket %(number)s", number=ticket.number)
    listed = client.get("/api/notifications", headers=rahim.headers).get_json()["data"]
    assert {n["title"] for n in listed} == {rows[0].title, rows[1].title}

    received, replied = db.session.scalars(select(EmailLog).where(EmailLog.ticket_id == ticket.id)
                                           .order_by(EmailLog.id)).all()
    assert received.subject == tr("bn", "[%(number)s] We received your request: %(subject)s",
                                  number=ticket.number, subject="Late delivery")
    assert tr("bn", "Hello %(name)s,", name="Rahim") in received.body_text
    assert tr("bn", "We have received your request and opened ticket %(number)s. Our team will "
                    "get back to you as soon as possible.", number=ticket.number) in received.body_html
    assert replied.subject == tr("bn", "[%(number)s] New reply to your request: %(subject)s",
                                 number=ticket.number, subject="Late delivery")
    assert '<html lang="bn" dir="ltr">' in received.body_html


def test_arabic_html_email_is_right_to_left(factory):
    ticket = factory.ticket(factory.customer(locale="ar"))
    row = db.session.scalar(select(EmailLog).where(EmailLog.ticket_id == ticket.id))
    assert '<html lang="ar" dir="rtl">' in row.body_html
    assert tr("ar", "Your message") in row.body_html


# --------------------------------------------------------------------------- dashboard


def test_arabic_dashboard_is_right_to_left(app, factory):
    admin = factory.staff(roles.ADMIN)
    admin.user.locale = "ar"
    db.session.commit()
    client = desk_client(app)
    login(client, admin.user.email)
    html = client.get("/tickets/list/").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert tr("ar", "Tickets") in html and tr("ar", "Desk") in html


@pytest.mark.parametrize("language", ["es", "fr"])
def test_menu_choice_translates_fab_and_our_strings(app, factory, language):
    admin = factory.staff(roles.ADMIN)
    client = desk_client(app)
    login(client, admin.user.email)
    client.get(f"/lang/{language}")
    html = client.get("/tickets/list/").get_data(as_text=True)
    assert f'<html lang="{language}" dir="ltr">' in html
    assert tr(language, "Email logs") in html and tr(language, "Commerce") in html
    for fab_string in ("Logout", "List Users"):  # FAB's own catalog
        assert fab_tr(language, fab_string) != fab_string
        assert fab_tr(language, fab_string) in html


@pytest.mark.parametrize("language", ["ar", "bn"])
def test_fab_screens_are_translated_where_fab_ships_no_catalog(app, factory, language):
    """FAB's own chrome (list search, filters, logout, login form) in Arabic and Bengali
    comes from our catalogs, and the app's plural rules still hold beside them."""
    admin = factory.staff(roles.ADMIN)
    client = desk_client(app)
    login_page = client.get(f"/lang/{language}", follow_redirects=True)
    assert fab_tr(language, "Sign In") != "Sign In"
    assert fab_tr(language, "Sign In") in client.get("/login/").get_data(as_text=True)
    login(client, admin.user.email)
    html = client.get("/tickets/list/").get_data(as_text=True)
    assert login_page.status_code == 200
    for fab_string in ("Logout", "Search", "Add Filter", "Record Count", "List Users"):
        assert fab_tr(language, fab_string) != fab_string
        assert fab_tr(language, fab_string) in html, fab_string
    assert ">Logout<" not in html and "Add Filter" not in html
    # every search filter's operators, "In" and "Not In" included (FAB's own Spanish
    # catalog, the reference for what FAB translates, lacks those two)
    for operator in ("Starts with", "Equal to", "In", "Not In"):
        assert fab_tr(language, operator) != operator
        assert json.dumps(fab_tr(language, operator)) in html, operator  # the filters' JSON
    assert '"Not In"' not in html and '"In"' not in html
    with app.test_request_context(), force_locale(language):
        # Flask-Babel keeps the last catalog's plural rule: both must be the language's.
        assert ngettext("%(num)d ticket updated.", "%(num)d tickets updated.", 3) == \
            _catalog(language)["%(num)d ticket updated."].string[1 if language == "bn" else 3] % {"num": 3}


def test_dashboard_without_a_choice_is_english_left_to_right(app, factory):
    admin = factory.staff(roles.ADMIN)
    client = desk_client(app)
    login(client, admin.user.email)
    html = client.get("/tickets/list/").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in html and "Email logs" in html


def test_names_subjects_and_dates_are_bidi_isolated_on_the_desk(app, factory):
    """An Arabic name beside Latin text (or the reverse) must not pull the
    separator and date that follow it into its own direction."""
    admin = factory.staff(roles.ADMIN, name="Sam Agent")
    customer = factory.customer(name="ليلى حسن")
    ticket = factory.ticket(customer, subject="طرد متأخر")
    service.add_message(admin.actor, ticket.id, "We are on it.")
    client = desk_client(app)
    login(client, admin.user.email)
    html = client.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    assert "<bdi>طرد متأخر</bdi>" in html
    assert "<bdi>ليلى حسن</bdi> ·" in html  # the opening message's byline
    assert re.search(r"<bdi>Sam Agent</bdi>\s*·", html)  # the reply's byline
    assert "<strong><bdi>ليلى حسن</bdi></strong> created the ticket" in html  # the history line
    assert re.search(r'<bdi dir="ltr" class="desk-when">\d{4}-\d\d-\d\d \d\d:\d\d</bdi> ·', html)  # dates stay LTR

    listing = client.get("/tickets/list/").get_data(as_text=True)
    assert f"ليلى حسن &lt;{customer.user.email}&gt;</bdi>" in listing
    assert '<bdi class="desk-person"' in listing
    assert re.search(r'<bdi dir="ltr" class="desk-when">\d{4}-\d\d-\d\d \d\d:\d\d</bdi>', listing)
    # An <option> holds no <bdi>: the new-ticket form's customer names are isolated by
    # Unicode's first-strong isolate instead.
    form = client.get("/tickets/new/").get_data(as_text=True)
    assert f"\u2068ليلى حسن &lt;{customer.user.email}&gt;\u2069</option>" in form
