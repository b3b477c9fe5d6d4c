"""The SLA screens (calendars, policies, escalation rules) through FAB's real forms:
a store manager saves rules and policies, lists read labels (never codes or None),
and values the desk cannot use are refused with nothing written."""
from __future__ import annotations

import json
import re
from html import unescape

from sqlalchemy import func, select

from support_app.bootstrap import ensure_sla_defaults
from support_app.extensions import db
from support_app.models import SlaCalendar, SlaEscalationRule, SlaPolicy
from support_app.security import roles
from support_app.tickets import service, sla_checks

from .admin_helpers import desk_client, login, page_token
from .sla_helpers import move


def _manager(app, factory):
    person = factory.staff(roles.STORE_MANAGER)
    client = desk_client(app)
    login(client, person.user.email)
    return client


def _post(client, url: str, data: dict) -> str:
    data = {**data, "csrf_token": page_token(client, url)}
    return client.post(url, data=data, follow_redirects=True).get_data(as_text=True)


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_manager_adds_an_escalation_rule_and_the_list_reads_labels(app, factory):
    client = _manager(app, factory)
    _post(client, "/sla-rules/add", {
        "name": "Breaches go up", "position": "5", "active": "y", "on_state": "breached",
        "target": "", "priority": "high", "category": "", "escalate": "y",
        "notify_managers": "y"})
    rule = db.session.scalar(select(SlaEscalationRule))
    assert (rule.name, rule.on_state, rule.target, rule.priority, rule.category) == (
        "Breaches go up", "breached", None, "high", None)
    assert rule.escalate and rule.notify_managers and not rule.reassign and rule.active
    html = client.get("/sla-rules/list/").get_data(as_text=True)
    assert "Breached" in html and "Any" in html and "High" in html
    assert "None" not in html and "True" not in html


def test_a_rule_with_a_value_no_ticket_has_is_refused(app, factory):
    client = _manager(app, factory)
    _post(client, "/sla-rules/add", {"name": "Bad", "position": "1", "on_state": "breached",
                                     "priority": "HIGH"})
    _post(client, "/sla-rules/add", {"name": "Bad state", "position": "1",
                                     "on_state": "running"})
    assert _count(SlaEscalationRule) == 0


def test_policies_and_calendars_are_edited_as_data(app, factory):
    ensure_sla_defaults()
    client = _manager(app, factory)
    calendar_hours = {"mon": [["08:00", "12:00"], ["13:00", "16:00"]]}
    _post(client, "/sla-calendars/add", {"name": "Madrid", "time_zone": "Europe/Madrid",
                                         "hours": json.dumps(calendar_hours),
                                         "holidays": '[{"date": "2026-12-25", "yearly": true}]'})
    madrid = db.session.scalar(select(SlaCalendar).where(SlaCalendar.name == "Madrid"))
    assert madrid.hours == calendar_hours and madrid.holidays[0]["yearly"] is True
    _post(client, "/sla-calendars/add", {"name": "Broken", "time_zone": "Mars/Olympus",
                                         "hours": json.dumps(calendar_hours)})
    _post(client, "/sla-calendars/add", {"name": "Not JSON", "time_zone": "UTC",
                                         "hours": "{mon: 9-5}"})
    assert _count(SlaCalendar) == 2  # the default and Madrid
    _post(client, "/sla-policies/add", {
        "name": "Urgent", "position": "1", "active": "y", "priority": "urgent",
        "calendar": str(madrid.id), "first_response_minutes": "30",
        "resolution_minutes": "480", "at_risk_percent": "75"})
    urgent = db.session.scalar(select(SlaPolicy).where(SlaPolicy.name == "Urgent"))
    assert (urgent.priority, urgent.category, urgent.calendar_id) == ("urgent", None, madrid.id)
    assert (urgent.first_response_minutes, urgent.next_response_minutes) == (30, None)
    _post(client, "/sla-policies/add", {"name": "Too eager", "position": "2",
                                        "at_risk_percent": "100"})
    assert _count(SlaPolicy) == 2
    html = client.get("/sla-policies/list/").get_data(as_text=True)
    assert "Urgent" in html and "Madrid" in html and "None" not in html


# --------------------------------------------------------------------------- where people see it


def _quick_filter(html: str, label: str) -> str:
    match = re.search(rf'<a class="btn btn-sm btn-default" href="([^"]+)">{label}</a>', html)
    assert match, f"no quick filter {label}"
    return unescape(match.group(1))


def test_ticket_list_shows_sla_state_and_filters_at_risk_and_breached(app, desk, factory, clock):
    late = factory.ticket(desk.alice, subject="Late one")
    move(clock, "2026-12-07 11:00")
    risky = factory.ticket(desk.alice, subject="Risky one")  # first response due 15:00
    calm = factory.ticket(desk.alice, subject="Calm one")
    service.add_message(desk.admin.actor, calm.id, "Answered.")
    move(clock, "2026-12-07 14:30")
    assert sla_checks.check_due() == 2  # late breached, risky at risk
    client = desk_client(app)
    login(client, desk.admin.user.email)
    html = client.get("/tickets/list/").get_data(as_text=True)
    assert "Breached" in html and "At risk" in html and "2026-12-07 15:00" in html
    at_risk = client.get(_quick_filter(html, "SLA at risk")).get_data(as_text=True)
    assert "Risky one" in at_risk and "Late one" not in at_risk and "Calm one" not in at_risk
    breached = client.get(_quick_filter(html, "SLA breached")).get_data(as_text=True)
    assert "Late one" in breached and "Risky one" not in breached
    ordered = client.get("/tickets/list/?_oc_TicketView=sla_due_at&_od_TicketView=asc"
                         ).get_data(as_text=True)
    assert ordered.index("Late one") < ordered.index("Risky one")
    dashboard = client.get("/dashboard/").get_data(as_text=True)
    panel = re.search(r'id="sla-at-risk".*?</table>', dashboard, re.S).group(0)
    assert panel.index(late.number) < panel.index(risky.number) and calm.number not in panel
    attainment = re.search(r'id="sla-attainment-first_response".*?</tr>', dashboard, re.S).group(0)
    assert "50%" in attainment and "(1/2)" in attainment  # calm met in time, late breached


def test_a_refused_calendar_or_policy_reads_in_the_managers_language(app, factory):
    """The refusal comes from the domain's check (tickets/business_time.py, sla.py) and
    is shown translated, values as typed."""
    ensure_sla_defaults()
    client = _manager(app, factory)
    client.get("/lang/es")
    html = unescape(_post(client, "/sla-calendars/add", {
        "name": "Broken", "time_zone": "Mars/Olympus", "hours": '{"mon": [["09:00", "17:00"]]}'}))
    assert "zona horaria desconocida" in html and "unknown time zone" not in html
    html = unescape(_post(client, "/sla-calendars/add", {
        "name": "Late", "time_zone": "UTC", "hours": '{"mon": [["09:00", "25:00"]]}'}))
    assert "mon: '25:00' no es una hora HH:MM entre 00:00 y 24:00" in html
    client.get("/lang/ar")
    html = unescape(_post(client, "/sla-calendars/add", {
        "name": "Overlap", "time_zone": "UTC",
        "hours": '{"tue": [["09:00", "12:00"], ["11:00", "17:00"]]}'}))
    assert "tue: الفترات متداخلة" in html
    assert _count(SlaCalendar) == 1  # the default only
