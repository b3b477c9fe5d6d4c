"""The benchmark's own tools: the bulk seeder and the bare baseline app must be correct,
or the benchmark compares against nonsense. (No timings here: speed is measured by
`python -m bench run`, never asserted in tests.)"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from bench.baseline.app import create_baseline_app
from bench.infra import access_token
from bench.seed import OWNED_EVERY, TAG_NAMES, SeedInfo, seed
from bench.workloads import WORKLOADS, Context, acting_users
from support_app.extensions import db
from support_app.models import (
    TARGETS, Customer, Feedback, Message, SupportUser, Tag, Ticket, TicketEvent, TicketTag, utcnow,
)
from support_app.security.current import actor_for_user, user_from_token
from support_app.tickets import service, sla, sla_checks
from tests.conftest import KEEP_TABLES

TICKETS = 300
LONG_HISTORY = 40


@pytest.fixture
def seeded(app) -> SeedInfo:
    return seed(app, TICKETS, accounts=4, agents=2, long_history=LONG_HISTORY)


@pytest.fixture
def baseline(app, database_url):
    base = create_baseline_app(database_url, app.config["JWT_SECRET_KEY"])
    yield base.test_client()
    base.extensions["baseline_engine"].dispose()


@pytest.fixture
def ctx(app, seeded) -> Context:
    return Context(seeded, {uid: access_token(app.config["JWT_SECRET_KEY"], uid)
                            for uid in acting_users(seeded)})


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_seed_writes_tickets_messages_and_accounts(app_ctx, seeded):
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == TICKETS
    assert sorted(db.session.scalars(select(Ticket.id))) == list(range(1, TICKETS + 1))
    expected_messages = sum(i % 3 for i in range(1, TICKETS + 1))
    assert seeded.messages == expected_messages
    assert db.session.scalar(select(func.count()).select_from(Message)) == expected_messages
    # message_count matches the thread on every ticket
    counts = dict(db.session.execute(
        select(Message.ticket_id, func.count()).group_by(Message.ticket_id)).all())
    for ticket in db.session.scalars(select(Ticket)):
        assert ticket.message_count == counts.get(ticket.id, 0)
    statuses = dict(db.session.execute(
        select(Ticket.status, func.count()).group_by(Ticket.status)).all())
    assert set(statuses) == {"open", "in_progress", "on_hold", "resolved", "closed"}
    assert db.session.scalar(select(func.count()).select_from(Customer)) == seeded.customers
    assert db.session.scalar(
        select(func.count()).select_from(Ticket).where(
            Ticket.status == "open", Ticket.assigned_to_id.is_not(None))) == 0


def test_seeded_accounts_own_their_tickets_and_can_act(app_ctx, seeded):
    owned = [i for ids in seeded.owned_ticket_ids.values() for i in ids]
    accounts = len(seeded.account_user_ids)
    expected = set(range(1, accounts + 1)) | set(range(OWNED_EVERY, TICKETS + 1, OWNED_EVERY))
    assert sorted(owned) == sorted(expected)
    assert all(seeded.owned_ticket_ids[uid] for uid in seeded.account_user_ids)
    for user_id, ticket_ids in seeded.owned_ticket_ids.items():
        actor = actor_for_user(db.session.get(SupportUser, user_id))
        for ticket_id in ticket_ids:
            assert db.session.get(Ticket, ticket_id).customer_id == actor.customer_id
    # ids and sequences continue after the bulk rows: the service can still write
    actor = actor_for_user(db.session.get(SupportUser, seeded.account_user_ids[0]))
    ticket = service.open_ticket(actor, subject="After seeding",
                                 description="A ticket opened through the service.").ticket
    assert ticket.id == TICKETS + 1
    message = service.add_message(actor, seeded.owned_ticket_ids[seeded.account_user_ids[0]][0],
                                  "Still here")
    assert message.id == seeded.messages + 1


def test_bench_tokens_are_accepted_by_the_app(app_ctx, seeded):
    token = access_token(app_ctx.config["JWT_SECRET_KEY"], seeded.admin_user_id)
    user, _claims = user_from_token(token)
    assert user.id == seeded.admin_user_id


def test_every_workload_request_gets_its_expected_status_from_the_app(app, ctx):
    client = app.test_client()
    for key, workload in WORKLOADS.items():
        for worker, n in ((0, 0), (3, 7)):
            req = workload.build(ctx, worker, n)
            resp = client.open(req.path, method=req.method, data=req.body,
                               headers={**auth(req.token), "Content-Type": "application/json"})
            assert resp.status_code == workload.expect, (key, resp.get_json())


def test_the_sla_filter_workload_lists_the_seeded_at_risk_tickets(app, ctx):
    req = WORKLOADS["W6"].build(ctx, 0, 0)
    listed = app.test_client().get(req.path, headers=auth(req.token)).get_json()["data"]
    with app.app_context():
        at_risk = list(db.session.scalars(select(Ticket.id).where(Ticket.sla_state == "at_risk")
                                          .order_by(Ticket.sla_due_at, Ticket.id)))
    assert at_risk and [t["ticket_id"] for t in listed] == at_risk[:50]


def test_every_workload_request_gets_its_expected_status_from_the_baseline(baseline, ctx):
    for key, workload in WORKLOADS.items():
        if not workload.baseline:
            continue
        for worker, n in ((0, 0), (3, 7)):
            req = workload.build(ctx, worker, n)
            resp = baseline.open(req.path, method=req.method, data=req.body,
                                 headers={**auth(req.token), "Content-Type": "application/json"})
            assert resp.status_code == workload.expect, (key, resp.get_json())
            assert resp.get_json()["success"] is True


def test_baseline_list_is_the_exact_first_page(app_ctx, baseline, ctx):
    body = baseline.get("/api/support-tickets?status=open", headers=auth(ctx.admin_token())).get_json()
    page = body["data"]
    total = db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.status == "open"))
    assert page["total"] == total and page["per_page"] == 15 and page["current_page"] == 1
    newest = list(db.session.scalars(
        select(Ticket.id).where(Ticket.status == "open")
        .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(15)))
    assert [t["id"] for t in page["data"]] == newest
    assert all(t["status"] == "open" and t["customer"]["email"] for t in page["data"])


def test_baseline_navbar_counts_match_the_table(app_ctx, baseline, ctx):
    body = baseline.get("/api/support-tickets/navbar/count", headers=auth(ctx.admin_token())).get_json()

    def count(*where) -> int:
        return db.session.scalar(select(func.count()).select_from(Ticket).where(*where))

    assert body["total_tickets"] == TICKETS
    assert body["open_tickets"] == count(Ticket.status == "open")
    assert body["in_progress_tickets"] == count(Ticket.status == "in_progress")
    assert body["unread_count"] == count(
        Ticket.is_admin_read.is_(False), Ticket.status.in_(["open", "in_progress", "on_hold"]))


def test_baseline_writes_and_access_checks(app_ctx, baseline, ctx, seeded):
    user = seeded.account_user_ids[0]
    token = ctx.tokens[user]
    created = baseline.post("/api/support-tickets", headers=auth(token), json={
        "subject": "Wrong size", "description": "The shoes are one size too small."})
    assert created.status_code == 201
    ticket = db.session.get(Ticket, created.get_json()["data"]["id"])
    assert ticket.customer_id == seeded.account_customer_ids[0] and ticket.status == "open"
    assert db.session.scalar(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)) == "created"

    short = baseline.post("/api/support-tickets", headers=auth(token),
                          json={"subject": "x", "description": "short"})
    assert short.status_code == 422 and "description" in short.get_json()["errors"]
    assert baseline.get("/api/support-tickets/navbar/count").status_code == 401

    own = seeded.owned_ticket_ids[user][0]
    before = db.session.get(Ticket, own).message_count
    posted = baseline.post(f"/api/support-tickets/{own}/messages", headers=auth(token),
                           json={"message": "Any news?"})
    assert posted.status_code == 201 and posted.get_json()["data"]["sender_type"] == "customer"
    db.session.expire_all()
    assert db.session.get(Ticket, own).message_count == before + 1

    other = seeded.owned_ticket_ids[seeded.account_user_ids[1]][0]
    assert baseline.get(f"/api/support-tickets/{other}", headers=auth(token)).status_code == 403
    assert baseline.post(f"/api/support-tickets/{other}/messages", headers=auth(token),
                         json={"message": "Not mine"}).status_code == 403
    assert baseline.get(f"/api/support-tickets/{TICKETS + 999}",
                        headers=auth(ctx.admin_token())).status_code == 404
    detail = baseline.get(f"/api/support-tickets/{own}", headers=auth(token)).get_json()["data"]
    assert detail["ticket_number"] == db.session.get(Ticket, own).number


def test_the_durable_baseline_writes_what_the_app_writes_with_a_change(app_ctx, app,
                                                                       database_url, ctx,
                                                                       seeded):
    """`durable=True`: a create also writes the SLA columns, the customer's notification
    and queued receipt, and moves the desk counters; a reply notifies the assignee; a
    reopening reply adds its audit row and moves the status counters."""
    from support_app.models import EmailLog, Notification
    from support_app.tickets import counters

    client = create_baseline_app(database_url, app.config["JWT_SECRET_KEY"], durable=True)
    try:
        durable = client.test_client()
        user = seeded.account_user_ids[0]
        before = counters.read(counters.TOTAL, counters.ADMIN_UNREAD, counters.status_key("open"))
        created = durable.post("/api/support-tickets", headers=auth(ctx.tokens[user]), json={
            "subject": "Wrong size", "description": "The shoes are one size too small."})
        assert created.status_code == 201
        ticket = db.session.get(Ticket, created.get_json()["data"]["id"])
        assert ticket.sla_state == "running" and ticket.first_response_due_at > ticket.created_at
        assert db.session.scalars(select(Notification.kind).where(
            Notification.ticket_id == ticket.id, Notification.user_id == user)).all() == [
            "ticket_created"]
        mail = db.session.scalars(select(EmailLog).where(EmailLog.ticket_id == ticket.id)).one()
        assert (mail.template, mail.status, mail.direction) == ("ticket_received", "queued", "out")
        db.session.expire_all()
        after = counters.read(counters.TOTAL, counters.ADMIN_UNREAD, counters.status_key("open"))
        assert {k: after[k] - before[k] for k in after} == {k: 1 for k in after}

        owner_of = {tid: uid for uid, ids in seeded.owned_ticket_ids.items() for tid in ids}
        finished = db.session.scalars(select(Ticket).where(
            Ticket.id.in_(owner_of), Ticket.status == "resolved",
            Ticket.assigned_to_id.is_not(None))).first()
        reopened = durable.post(f"/api/support-tickets/{finished.id}/messages",
                                headers=auth(ctx.tokens[owner_of[finished.id]]),
                                json={"message": "Broke again."})
        assert reopened.status_code == 201
        assert db.session.scalar(select(Notification.user_id).where(
            Notification.ticket_id == finished.id, Notification.kind == "message")) == \
            finished.assigned_to_id
        assert db.session.scalar(select(TicketEvent.new_value).where(
            TicketEvent.ticket_id == finished.id, TicketEvent.kind == "status")) == "open"
        db.session.expire_all()
        assert counters.read(counters.status_key("open"))[counters.status_key("open")] == \
            after[counters.status_key("open")] + 1
    finally:
        client.extensions["baseline_engine"].dispose()


def test_seed_info_round_trips(seeded):
    again = SeedInfo.from_json(seeded.to_json())
    assert again == seeded and json.loads(seeded.to_json())["tickets"] == TICKETS


def test_seed_leaves_exact_ticket_counters(app_ctx):
    from bench.seed import seed
    from support_app.tickets import counters

    seed(app_ctx, 300, accounts=4, agents=2)
    kept = counters.read(counters.TOTAL, counters.ADMIN_UNREAD,
                         *[counters.status_key(s) for s in ("open", "in_progress", "resolved")])
    assert kept[counters.TOTAL] == 300
    assert kept == {name: counters.recount()[name] for name in kept}


def _load(rps: float, p99: float = 50.0) -> dict:
    return {"rps": rps, "p50_ms": 10.0, "p90_ms": 20.0, "p99_ms": p99, "max_ms": p99 * 2,
            "server_cpu": 1.5, "other_cpu": 0.1, "stolen_cpu": 0.0, "requests": int(rps * 15),
            "unexpected": 0, "errors": 0, "generator_cpu": 0.2, "sample_error": None}


def test_rounds_are_reported_as_medians_with_every_rounds_ratio():
    """A round that went badly for one side moves neither the median throughput nor the
    median ratio, and is still printed; a workload one target lacks has no ratio."""
    from bench import report, runner

    rounds = [
        {"app": {"W1": _load(300), "W2": {"missing": "404: not served yet"}},
         "baseline": {"W1": _load(400), "W2": _load(600)}},
        {"app": {"W1": _load(100, p99=900.0), "W2": {"missing": "404: not served yet"}},
         "baseline": {"W1": _load(500), "W2": _load(600)}},
        {"app": {"W1": _load(350), "W2": {"missing": "404: not served yet"}},
         "baseline": {"W1": _load(450), "W2": _load(600)}},
    ]
    results, ratios = runner.summarise(rounds, ("app", "baseline"), ("W1", "W2"))
    assert results["app"]["W1"]["rps"] == 300 and results["baseline"]["W1"]["rps"] == 450
    assert results["app"]["W1"]["p99_ms"] == 50.0 and results["app"]["W1"]["max_ms"] == 1800.0
    assert results["app"]["W1"]["requests"] == (300 + 100 + 350) * 15
    assert ratios["W1"] == {"median": 0.75, "rounds": [0.75, 0.2, 0.78]}
    assert "W2" not in ratios and results["app"]["W2"] == {"missing": "404: not served yet"}

    table = report.markdown({
        "meta": {"db": "sqlite", "tickets": 10, "when": "now", "machine": "m", "workers": 2,
                 "threads": 8, "concurrency": 16, "duration": 15, "warmup": 2, "rounds": 3,
                 "seed_seconds": 1, "command": "python -m bench run"},
        "workloads": ["W1", "W2"], "results": results, "ratios": ratios, "realtime": []})
    assert "| 0.75× (0.75, 0.20, 0.78) |" in table
    assert "n/a (404: not served yet)" in table
    assert "app/durable" not in table

    for r, rps in zip(rounds, (350, 500, 400)):
        r["durable"] = {"W1": _load(rps), "W2": _load(600)}
    results, ratios = runner.summarise(rounds, ("app", "baseline", "durable"), ("W1", "W2"))
    durable = runner.ratios_to(rounds, ("app", "baseline", "durable"), ("W1", "W2"), "durable")
    assert durable == {"W1": {"median": 0.86, "rounds": [0.86, 0.2, 0.88]}}
    table = report.markdown({
        "meta": {"db": "sqlite", "tickets": 10, "when": "now", "machine": "m", "workers": 2,
                 "threads": 8, "concurrency": 16, "duration": 15, "warmup": 2, "rounds": 3,
                 "seed_seconds": 1, "command": "python -m bench run"},
        "workloads": ["W1", "W2"], "results": results, "ratios": ratios,
        "durable_ratios": durable, "realtime": []})
    assert "| 0.75× (0.75, 0.20, 0.78) | 400 | 0.86× (0.86, 0.20, 0.88) |" in table


def test_realtime_percentiles_are_over_every_delivery_of_every_round():
    from bench import runner

    def round_(latencies: list[float]) -> list[dict]:
        return [{"clients": 500, "event": "e", "client": "raw", "server": "gevent",
                 "connected": 500, "deliveries": len(latencies),
                 "expected_deliveries": len(latencies), "p99_ms": max(latencies),
                 "client_cpu": 0.3, "server_cpu": 0.4, "machine_cpu": 1.0, "stolen_cpu": 0.0,
                 "note": None, "latencies_ms": latencies,
                 "per_event_ms": [(5.0, 10.0, max(latencies))]}]

    quick, slow = [10.0] * 99 + [20.0], [10.0] * 98 + [500.0, 600.0]
    [pooled] = runner.pool_realtime([round_(quick), round_(quick), round_(slow)])
    assert pooled["deliveries"] == 300 and pooled["round_p99_ms"] == [20.0, 20.0, 600.0]
    # 2 slow deliveries of 300 are under 1%: the p99 of all events is 20 ms, not 600
    assert pooled["p50_ms"] == 10.0 and pooled["p99_ms"] == 20.0 and pooled["max_ms"] == 600.0
    assert "latencies_ms" not in pooled and pooled["slowest_tickets_ms"] == [600.0, 20.0, 20.0]


def _owned_by(user_id: int) -> int:
    customer = db.session.scalar(select(Customer.id).where(Customer.user_id == user_id))
    return db.session.scalar(select(func.count()).select_from(Ticket)
                             .where(Ticket.customer_id == customer))


def test_long_history_and_new_accounts(app_ctx, seeded, ctx):
    """Issue 25: one account owns many tickets, one none, and every load thread of W1H /
    W1N creates as that one account."""
    assert seeded.long_history_tickets == LONG_HISTORY
    assert _owned_by(seeded.long_history_user_id) == LONG_HISTORY
    assert _owned_by(seeded.no_history_user_id) == 0
    for key, user in (("W1H", seeded.long_history_user_id), ("W1N", seeded.no_history_user_id)):
        assert {WORKLOADS[key].build(ctx, worker, 0).token for worker in range(16)} == {
            ctx.tokens[user]}
    assert user not in seeded.account_user_ids and user not in seeded.owned_ticket_ids


def test_seeded_sla_clocks_are_what_the_policy_says_now(app_ctx, seeded):
    """Every unfinished ticket's stored states are the states `sla.view` computes from
    its due times under the default policy, the background check has nothing to fire,
    and a few percent are at risk or breached; finished tickets met every target, late
    exactly when the due time is before the moment it was met."""
    now = utcnow()
    tickets = list(db.session.scalars(select(Ticket)))
    rule = sla.rules.get()[0]
    assert rule.name == "Default" and all(t.sla_policy_id == rule.id for t in tickets)
    states = {"at_risk": 0, "breached": 0}
    for ticket in tickets:
        shown = {v.target: v for v in sla.view(ticket, now)}
        if ticket.status in ("resolved", "closed"):
            assert ticket.sla_paused_at == ticket.resolved_at and ticket.sla_state is None
            for target in ("first_response", "resolution"):
                met = ticket.resolved_at if target == "resolution" else (
                    ticket.first_response_at or ticket.resolved_at)
                assert shown[target].state == "met"
                assert shown[target].breached == (getattr(ticket, f"{target}_due_at") < met)
            continue
        if ticket.status == "on_hold":
            assert ticket.sla_paused_at is not None and ticket.sla_due_at is None
            continue
        assert ticket.sla_paused_at is None and ticket.sla_check_at is None or \
            ticket.sla_check_at > now
        assert not sla_checks.transitions(ticket, rule, now)
        open_views = [v for v in shown.values() if v.state != "met"]
        for target in TARGETS:
            if target in shown:
                assert shown[target].state == getattr(ticket, f"{target}_state"), ticket.id
        worst = next(s for s in ("breached", "at_risk", "running")
                     if s in {v.state for v in open_views})
        assert ticket.sla_state == worst
        assert ticket.sla_due_at == min(v.due_at for v in open_views)
        states[worst] = states.get(worst, 0) + 1
    unfinished = sum(t.status in ("open", "in_progress") for t in tickets)
    assert 0 < states["at_risk"] < unfinished * 0.1 and 0 < states["breached"] < unfinished * 0.1


def test_seeded_feedback_and_tags(app_ctx, seeded):
    finished = {t.id: t for t in db.session.scalars(
        select(Ticket).where(Ticket.status.in_(("resolved", "closed"))))}
    ratings = list(db.session.scalars(select(Feedback)))
    assert seeded.feedback == len(ratings)
    assert 0.2 * len(finished) < len(ratings) < 0.4 * len(finished)
    assert {f.rating for f in ratings} == {1, 2, 3, 4, 5}
    for rating in ratings:
        ticket = finished[rating.ticket_id]  # only resolved or closed tickets are rated
        assert rating.customer_id == ticket.customer_id and rating.created_at > ticket.resolved_at
    assert sorted(db.session.scalars(select(Tag.name))) == sorted(TAG_NAMES)
    per_ticket = dict(db.session.execute(
        select(TicketTag.ticket_id, func.count()).group_by(TicketTag.ticket_id)).all())
    assert seeded.tagged_tickets == len(per_ticket)
    assert 0.3 * TICKETS < len(per_ticket) < 0.5 * TICKETS
    assert set(per_ticket.values()) == {1, 2}


def test_seed_is_the_same_every_time(app):
    """Two seeds of an empty database hold the same tickets, owners, SLA states,
    ratings and tags (due times move with the moment of seeding)."""
    def snapshot() -> tuple:
        with app.app_context():
            seed(app, 120, accounts=2, agents=1, long_history=10)
            rows = db.session.execute(select(
                Ticket.id, Customer.email, Ticket.status, Ticket.sla_state, Ticket.sla_due_at,
                Ticket.first_response_breached, Ticket.resolution_breached)
                .join(Customer).order_by(Ticket.id)).all()
            rated = db.session.execute(select(Feedback.ticket_id, Feedback.rating)
                                       .order_by(Feedback.ticket_id)).all()
            tags = db.session.execute(select(TicketTag.ticket_id, Tag.name).join(Tag)
                                      .order_by(TicketTag.ticket_id, Tag.name)).all()
            db.session.remove()
            tables = [t for t in reversed(db.metadata.sorted_tables)
                      if t.name not in KEEP_TABLES]
            with db.engine.begin() as conn:  # empty again, as the suite's fixture leaves it
                if conn.dialect.name == "postgresql":
                    names = ", ".join(f'"{t.name}"' for t in tables)
                    conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                else:
                    for table in tables:
                        conn.execute(table.delete())
            return rows, rated, tags

    first, second = snapshot(), snapshot()
    assert [r[:4] + r[5:] for r in first[0]] == [r[:4] + r[5:] for r in second[0]]
    assert first[1:] == second[1:]



def test_a_run_is_told_where_its_figures_go(monkeypatch, tmp_path):
    """`--results-dir`: A/B and trial runs leave the committed bench/results alone."""
    from bench import __main__ as cli
    from bench import report, runner

    chosen: list = []
    monkeypatch.setattr(runner, "run", chosen.append)  # the options, not a benchmark
    cli.main(["run", "--results-dir", str(tmp_path / "trial"), "--rounds", "1"])
    cli.main(["run", "--rounds", "1"])
    assert [opts.results_dir for opts in chosen] == [tmp_path / "trial", report.RESULTS]
