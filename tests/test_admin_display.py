"""What a manager reads and where the dashboard sends people: script-safe action
texts, readable values (no Python True/False/None, no microseconds, no raw codes),
the pending-approval page, returning to the page an action was pressed on."""
from __future__ import annotations

import difflib
import logging
import re
from pathlib import Path

import flask_appbuilder
from flask_babel import refresh
import pytest
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import FAQ, AgentProfile, EmailLog
from support_app.security import roles
from support_app.tickets import service
from tests.admin_helpers import desk_client, login, page_token

ROOT = Path(__file__).resolve().parent.parent
# A FAB action call whose arguments are JSON literals (or false): nothing unquoted.
SAFE_CALL = re.compile(r'execute_\w+\((?:"(?:[^"\\]|\\.)*"|false)(?:, ?(?:"(?:[^"\\]|\\.)*"|false))?\)')
MICROSECONDS = re.compile(r"\d\d:\d\d:\d\d\.\d+")
PYTHON_VALUES = re.compile(r">\s*(True|False|None)\s*<")


def _as(app, factory, role=roles.ADMIN, language="en"):
    person = factory.staff(role)
    person.user.locale = language
    db.session.commit()
    client = desk_client(app)
    login(client, person.user.email)
    return person, client


def test_fab_lib_copy_differs_from_fab_only_by_tojson():
    """templates/appbuilder/general/lib.html shadows FAB's; a FAB upgrade that changes
    the original shows up here instead of silently running old markup."""
    ours = (ROOT / "templates/appbuilder/general/lib.html").read_text().splitlines()
    fab = (Path(flask_appbuilder.__file__).parent
           / "templates/appbuilder/general/lib.html").read_text().splitlines()
    changed = [line for line in difflib.unified_diff(fab, ours, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    removed = [line for line in changed if line.startswith("-")]
    added = [line[1:] for line in changed if line.startswith("+") and not line.startswith("+{#")
             and "tojson" not in line]
    assert len(removed) == 5 and all("'{{" in line for line in removed)
    assert [line for line in added if line.strip() and not line.startswith(("   ", "   \""))] == []


@pytest.mark.parametrize("language", ["en", "fr", "es", "ar", "bn"])
def test_every_action_script_gets_json_literals(app, factory, language):
    """FAB put the confirmation raw into JavaScript: "agents' approval" ended the string."""
    factory.agent(approved=True, name="Nadia Newcomer")
    factory.staff(roles.STORE_MANAGER)
    owner = factory.customer()
    factory.order(owner.customer)
    _person, client = _as(app, factory, language=language)
    profile = db.session.scalar(select(AgentProfile.id))
    for url in ("/agents/list/", f"/agents/show/{profile}", "/orders/list/", "/tickets/list/",
                "/faqs/list/"):
        html = client.get(url).get_data(as_text=True)
        calls = re.findall(r"execute_\w+\([^\n]*\)", html)
        assert calls or url == "/faqs/list/", url
        for call in calls:
            assert SAFE_CALL.fullmatch(call), (language, url, call)


def test_lists_show_marks_dashes_and_the_one_date_format(app, factory):
    factory.agent(approved=False, name="Nadia Newcomer")
    factory.customer()
    db.session.add(FAQ(question="How do refunds work?", answer="Within 5 days.", category="billing",
                       language="en", is_published=False, position=1))
    db.session.add(EmailLog(direction="out", status="not_sent", to_address="a@example.com",
                            subject="Hello"))
    db.session.commit()
    _person, client = _as(app, factory, language="ar")
    for url in ("/agents/list/", "/faqs/list/", "/email-logs/list/", "/customers/list/"):
        tables = re.findall(r"<table.*?</table>", client.get(url).get_data(as_text=True), re.S)
        html = "".join(t for t in tables if "filters" not in t)  # the search form's default aside
        assert not PYTHON_VALUES.search(html), (url, PYTHON_VALUES.search(html))
        assert not MICROSECONDS.search(html), url
        assert re.search(r'<bdi dir="ltr" class="desk-when">\d{4}-\d\d-\d\d \d\d:\d\d</bdi>', html), url
    agents = client.get("/agents/list/").get_data(as_text=True)
    assert "Approved by None" not in agents
    assert "desk-no" in agents and "لا" in agents  # not approved, in Arabic
    faqs = client.get("/faqs/list/").get_data(as_text=True)
    assert "الفوترة" in faqs and ">billing<" not in faqs
    emails = client.get("/email-logs/list/").get_data(as_text=True)
    assert "صادر" in emails and ">out<" not in emails


def test_ticket_codes_and_history_read_in_the_readers_language(app, factory):
    admin, client = _as(app, factory, language="ar")
    ticket = factory.ticket(factory.customer(), subject="Late parcel", category="delivery")
    service.assign_self(admin.actor, ticket.id)
    html = client.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    assert 'data-code="open"' in html or 'data-code="in_progress"' in html
    assert "التوصيل" in html  # category
    assert "أنشأ التذكرة" in html and "created —" not in html  # history
    assert admin.user.name in re.search(r'id="history".*?</ul>', html, re.S).group(0)
    assert 'class="desk-body" dir="auto"' in html
    listing = client.get("/tickets/list/").get_data(as_text=True)
    assert "التوصيل" in listing and ">delivery<" not in listing


def test_status_select_shows_the_current_status(app, factory):
    admin, client = _as(app, factory)
    ticket = factory.ticket(factory.customer())
    service.update_ticket(admin.actor, ticket.id, status="on_hold")
    html = client.get(f"/tickets/show/{ticket.id}").get_data(as_text=True)
    select_html = re.search(r'<select name="status".*?</select>', html, re.S).group(0)
    assert re.search(r'<option value="" selected>On hold</option>', select_html)


def test_unapproved_agent_is_told_approval_is_pending(app, factory):
    applicant = factory.agent(approved=False)
    client = desk_client(app)
    login(client, applicant.user.email)
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert 'id="approval-pending"' in html and "No records found" not in html


def test_action_on_an_agents_page_returns_to_that_page(app, factory, caplog):
    applicant = factory.agent(approved=False)
    profile = db.session.scalar(select(AgentProfile.id).where(AgentProfile.user_id == applicant.user.id))
    _admin, client = _as(app, factory)
    client.get("/agents/list/")
    page = f"http://localhost/agents/show/{profile}"
    token = page_token(client, page)
    caplog.clear()  # the helper's sign-in posts no `next` (the real form does)
    with caplog.at_level(logging.WARNING):
        response = client.post(f"/agents/action/approve/{profile}", data={"csrf_token": token},
                               headers={"Referer": page})
    assert response.status_code == 302 and response.headers["Location"] == page
    assert "Invalid redirect" not in caplog.text
    db.session.expire_all()
    assert db.session.get(AgentProfile, profile).is_approved


def test_sign_in_and_language_switch_return_where_the_user_was(app, factory, caplog):
    person = factory.staff(roles.STORE_MANAGER)
    client = desk_client(app)
    with caplog.at_level(logging.WARNING):
        login(client, person.user.email)
    assert "Invalid redirect" not in caplog.text
    form = client.get("/login/?next=/faqs/list/").get_data(as_text=True)  # signed in: FAB redirects
    client.get("/logout/")
    form = client.get("/login/?next=/faqs/list/").get_data(as_text=True)
    assert 'action="/login/?next=/faqs/list/"' in form and 'type="email"' in form
    login(client, person.user.email)
    response = client.get("/lang/fr", headers={"Referer": "http://localhost/dashboard/"})
    assert response.headers["Location"] == "http://localhost/dashboard/"


def test_favicon_is_served(app):
    response = app.test_client().get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")


def test_every_openapi_tag_has_a_human_name(app):
    spec = app.test_client().get("/api/openapi.json").get_json()
    names = {tag["name"] for tag in spec["tags"]}
    used = {t for path in spec["paths"].values() for op in path.values() if isinstance(op, dict)
            for t in op.get("tags", [])}
    assert used <= names
    for name in names:
        assert name[0].isupper() and "_" not in name, name


def test_not_found_is_one_sentence_per_resource(app, factory):
    from support_app.tickets.errors import NotFound

    person = factory.customer()
    with pytest.raises(NotFound) as refused:
        service.open_ticket(person.actor, customer_id=person.customer.id, subject="Where?",
                            description="My ride never came, please help.", ride_id=999)
    assert refused.value.message == "Ride not found"
    with app.test_request_context(headers={"Accept-Language": "ar"}):
        refresh()
        assert NotFound("ride").message == "الرحلة غير موجودة"


def test_a_foreign_referrer_is_never_followed(app, factory):
    """Returning to the referring page must not become an open redirect."""
    applicant = factory.agent(approved=False)
    profile = db.session.scalar(select(AgentProfile.id).where(AgentProfile.user_id == applicant.user.id))
    _admin, client = _as(app, factory)
    token = page_token(client, f"/agents/show/{profile}")
    for foreign in ("https://evil.example/phish", "//evil.example/x", "javascript:alert(1)"):
        response = client.post(f"/agents/action/revoke/{profile}", data={"csrf_token": token},
                               headers={"Referer": foreign})
        assert response.status_code == 302
        assert "evil" not in response.headers["Location"] and "javascript" not in response.headers["Location"]
        response = client.get("/lang/en", headers={"Referer": foreign})
        assert "evil" not in response.headers["Location"] and "javascript" not in response.headers["Location"]
    form = client.get("/logout/") and client.get("/login/?next=https://evil.example/").get_data(as_text=True)
    assert "evil" not in re.search(r'<form[^>]*name="login"', form).group(0)
