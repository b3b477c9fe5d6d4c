"""The command line a new user meets first: seed-demo (idempotent, generated logins shown
once, a month of desk history made through the ticket service, refused in production),
create-user for agents (--approved, and a warning when not), reset-password."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from support_app.admin.dashboard import desk_stats
from support_app.extensions import db
from support_app.models import (
    AgentProfile, Feedback, Message, Order, SupportUser, Ticket, TicketEvent, utcnow,
)
from support_app.models.tickets import CHANNELS

LOGIN = re.compile(r"^\s+(.+?)\s+(\S+@example\.com) / (\S+)$", re.M)


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["support", *args])


def can_log_in(client, email: str, password: str) -> bool:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    return response.status_code == 200 and "access_token" in response.get_json()


def counts() -> dict[str, int]:
    db.session.expire_all()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (SupportUser, Order, Ticket, Message, Feedback, TicketEvent)}


def test_seed_demo_twice_creates_once_and_shows_generated_logins_once(app, app_ctx, client):
    first = run(app, "seed-demo")
    assert first.exit_code == 0, first.output
    logins = LOGIN.findall(first.output)
    assert {"agent@example.com", "manager@example.com", "john@example.com"} <= {e for _, e, _ in logins}
    before = counts()
    assert before["Ticket"] > 0

    second = run(app, "seed-demo")
    assert second.exit_code == 0, second.output
    assert "already seeded" in second.output and not LOGIN.findall(second.output)
    assert counts() == before

    passwords = {password for _role, _email, password in logins}
    assert len(passwords) == len(logins)  # one generated password per account
    for _role, email, password in logins[:3] + logins[-2:]:
        assert can_log_in(client, email, password), email
    for user in db.session.scalars(select(SupportUser)):
        assert not check_password_hash(user.password, "demo-pass-123")


def test_demo_data_looks_like_a_desk_that_ran_for_a_month(app, app_ctx):
    assert run(app, "seed-demo").exit_code == 0
    tickets = db.session.scalars(select(Ticket)).all()
    now = utcnow()
    days = {t.created_at.date() for t in tickets}
    assert len(days) >= 15 and all(now - dt.timedelta(days=31) < t.created_at <= now for t in tickets)
    assert {t.channel for t in tickets} == set(CHANNELS)
    assert sum(t.assigned_to_id is not None for t in tickets) >= len(tickets) // 2
    assert {"open", "in_progress", "resolved", "closed"} <= {t.status for t in tickets}
    for ticket in tickets:  # each ticket's history is in order, and in the past
        moments = [ticket.created_at, ticket.first_response_at, ticket.resolved_at, ticket.closed_at]
        present = [m for m in moments if m is not None]
        assert present == sorted(present) and present[-1] <= now
        events = db.session.scalars(select(TicketEvent.created_at).where(
            TicketEvent.ticket_id == ticket.id)).all()
        assert min(events) >= ticket.created_at
    staff_replies = db.session.scalar(select(func.count()).select_from(Message).where(
        Message.sender_type == "admin"))
    assert staff_replies >= len(tickets) // 2

    stats = desk_stats()
    assert sum(1 for value in stats["per_day"]["values"] if value) >= 15
    assert len(stats["per_agent"]["labels"]) >= 2
    assert stats["median_first_response_seconds"] > 10 * 60
    assert stats["ratings"] >= 5 and 1 <= stats["average_rating"] <= 5


def test_seed_demo_is_refused_in_production(app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    result = run(app, "seed-demo")
    assert result.exit_code != 0 and "production" in result.output
    assert counts()["Ticket"] == 0 and counts()["SupportUser"] == 0


def _agent_profile(email: str) -> AgentProfile:
    db.session.expire_all()
    user = db.session.scalar(select(SupportUser).where(SupportUser.email == email))
    return db.session.scalar(select(AgentProfile).where(AgentProfile.user_id == user.id))


def test_create_user_approved_agent(app, app_ctx):
    result = run(app, "create-user", "--email", "ana@example.com", "--password", "secret123",
                 "--name", "Ana Agent", "--role", "Support Agent", "--approved")
    assert result.exit_code == 0, result.output
    assert "Approved" in result.output
    assert _agent_profile("ana@example.com").is_approved


def test_create_user_unapproved_agent_is_warned_about(app, app_ctx):
    result = run(app, "create-user", "--email", "bo@example.com", "--password", "secret123",
                 "--name", "Bo Agent", "--role", "Support Agent")
    assert result.exit_code == 0, result.output
    assert "not approved" in result.output and "--approved" in result.output
    assert not _agent_profile("bo@example.com").is_approved


def test_approved_is_for_agents_only(app, app_ctx):
    result = run(app, "create-user", "--email", "cy@example.com", "--password", "secret123",
                 "--name", "Cy", "--role", "Customer", "--approved")
    assert result.exit_code == 2 and "Support Agent" in result.output
    assert counts()["SupportUser"] == 0


def test_reset_password_with_a_given_password(app, app_ctx, client):
    assert run(app, "init", "--email", "boss@example.com", "--password", "forgotten1").exit_code == 0
    result = run(app, "reset-password", "--email", "Boss@Example.com", "--password", "remembered2")
    assert result.exit_code == 0, result.output
    assert can_log_in(client, "boss@example.com", "remembered2")
    assert not can_log_in(client, "boss@example.com", "forgotten1")


def test_reset_password_generates_and_prints_one(app, app_ctx, client):
    assert run(app, "init", "--email", "boss@example.com", "--password", "forgotten1").exit_code == 0
    result = run(app, "reset-password", "--email", "boss@example.com")
    assert result.exit_code == 0, result.output
    password = re.search(r"boss@example\.com / (\S+)", result.output).group(1)
    assert can_log_in(client, "boss@example.com", password)


def test_reset_password_refusals(app, app_ctx, client):
    assert run(app, "init", "--email", "boss@example.com", "--password", "forgotten1").exit_code == 0
    unknown = run(app, "reset-password", "--email", "nobody@example.com")
    assert unknown.exit_code == 1 and "No user" in unknown.output
    weak = run(app, "reset-password", "--email", "boss@example.com", "--password", "short")
    assert weak.exit_code == 1
    assert can_log_in(client, "boss@example.com", "forgotten1")
