"""The smaller ticket modules, the edges the main tests leave open (found by mutation
testing, the `tickets-rest` target): the actors background jobs and guests act as, the
domain errors' messages and details, the navbar badges (a customer's unread first, on
hold as in progress for staff, zeros for someone who sees no ticket), the gamification
ledger's daily cap and its failures, the search pattern, merged tickets' ids and
numbers, the desk-wide counters, and auto-assignment's choice, lock and log line.

Functions are called directly inside the app context where that is what they are for
(the counters, the ledger, the id resolvers, the badge counts); the search and the
badges are also asked through the support-tickets API.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from support_app.extensions import db
from support_app.models import PointsTransaction, Ticket
from support_app.security import roles
from support_app.tickets import (
    Actor, assignment, badges, counters, gamification, merge, queries, service)
from support_app.tickets.errors import NotFound, ValidationFailed

from .lock_reads import reads_of
from .querycount import count_queries

ON_PG = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


# --------------------------------------------------------------------------- actor


def test_the_system_actor_is_named_system_unless_told():
    """Background jobs act as `system` by default, or under the name they give."""
    assert Actor.system() == Actor(user_id=None, customer_id=None, name="system", is_system=True)
    assert Actor.system("email").name == "email"


def test_a_guest_may_create_and_reply_as_the_customer_it_names():
    """A guest (contact form, inbound mail) is the customer it names, with only the
    create and reply permissions, no name and English unless told."""
    assert Actor.guest(7) == Actor(
        user_id=None, customer_id=7, permissions=frozenset({roles.CREATE, roles.REPLY}),
        name="", locale="en")
    told = Actor.guest(8, name="Ann", locale="fr")
    assert (told.customer_id, told.name, told.locale, told.user_id) == (8, "Ann", "fr", None)
    assert told.can(roles.CREATE) and told.can(roles.REPLY) and not told.is_staff


# --------------------------------------------------------------------------- errors


def test_not_found_says_the_resources_sentence_unless_given_more(app_ctx):
    """A NotFound names its resource in its details; its message is the resource's own
    sentence, or the caller's when given."""
    plain = NotFound("agent")
    assert (plain.message, plain.resource, plain.details) == (
        "Agent not found", "agent", {"resource": "agent"})
    told = NotFound("agent", "Agent not found or not approved")
    assert (told.message, str(told), told.details) == (
        "Agent not found or not approved", "Agent not found or not approved",
        {"resource": "agent"})


def test_validation_failed_carries_its_errors_and_a_default_message():
    """A ValidationFailed says "Validation failed" unless told and carries the field
    errors both as `errors` and in its details."""
    errors = {"email": ["The email has already been taken."]}
    plain = ValidationFailed(errors)
    assert (plain.message, str(plain), plain.errors, plain.details) == (
        "Validation failed", "Validation failed", errors, {"errors": errors})
    told = ValidationFailed(errors, "Bad email")
    assert (told.message, told.details) == ("Bad email", {"errors": errors})


def test_reassigning_to_an_unapproved_agent_says_so(factory):
    """Reassigning a ticket to an agent not approved is refused with the service's own
    sentence, naming the agent as the missing resource."""
    admin, pending = factory.staff(), factory.agent(approved=False)
    ticket_id = factory.ticket(factory.customer()).id
    with pytest.raises(NotFound) as refused:
        service.reassign(admin.actor, ticket_id, pending.id)
    assert (refused.value.message, refused.value.details) == (
        "Agent not found or not approved", {"resource": "agent"})


# --------------------------------------------------------------------------- gamification


@pytest.fixture
def ledger(app_ctx, factory, monkeypatch):
    """A guest customer with an empty ledger, a ticket to award points for, and a clock."""
    class Ledger:
        customer = factory.guest()
        other = factory.guest()
        ticket_id = factory.ticket(factory.customer()).id

        @staticmethod
        def clock(now: dt.datetime) -> None:
            """The ledger's day is the one `now` falls in."""
            monkeypatch.setattr(gamification, "utcnow", lambda: now)

        def past(self, at: dt.datetime, customer_id: int | None = None) -> None:
            db.session.add(PointsTransaction(
                customer_id=customer_id or self.customer.id, ticket_id=None,
                action=gamification.SUPPORT_INTERACTION, points=10, credit=0, created_at=at))
            db.session.commit()

        def award(self) -> str | None:
            reason = gamification.award(self.customer.id, self.ticket_id,
                                        gamification.SUPPORT_INTERACTION)
            db.session.commit()
            return reason

        def rows(self) -> list[tuple[int | None, str]]:
            db.session.expire_all()
            return db.session.execute(
                select(PointsTransaction.ticket_id, PointsTransaction.action)
                .where(PointsTransaction.customer_id == self.customer.id)).all()
    return Ledger()


def test_three_awards_a_day_unless_configured(app, ledger, monkeypatch):
    """Without GAMIFICATION_DAILY_CAP a customer earns three awards a day, the fourth is
    refused; each award records the ticket it was for."""
    monkeypatch.delitem(app.config, "GAMIFICATION_DAILY_CAP", raising=False)
    assert [ledger.award() for _ in range(4)] == [None, None, None, "DAILY_LIMIT_REACHED"]
    assert ledger.rows() == [(ledger.ticket_id, gamification.SUPPORT_INTERACTION)] * 3


def test_the_day_starts_at_midnight_utc(app, ledger, monkeypatch):
    """An award at exactly midnight counts for that day (cap one: the next is refused)."""
    monkeypatch.setitem(app.config, "GAMIFICATION_DAILY_CAP", 1)
    ledger.clock(dt.datetime(2026, 3, 10, 12, 34, 56, 789000))
    ledger.past(dt.datetime(2026, 3, 10))
    assert ledger.award() == "DAILY_LIMIT_REACHED"


def test_other_days_and_other_customers_do_not_count(app, ledger, monkeypatch):
    """Yesterday's last award, tomorrow's first one (exactly midnight) and another
    customer's awards today leave today's cap untouched."""
    monkeypatch.setitem(app.config, "GAMIFICATION_DAILY_CAP", 1)
    ledger.clock(dt.datetime(2026, 3, 10, 12, 34, 56, 789000))
    ledger.past(dt.datetime(2026, 3, 9, 23, 59, 59, 999999))
    ledger.past(dt.datetime(2026, 3, 11))
    ledger.past(dt.datetime(2026, 3, 10, 8), customer_id=ledger.other.id)
    assert ledger.award() is None


def test_a_failed_award_is_logged_and_named(app, ledger, caplog):
    """An award the ledger cannot store (a ticket that does not exist) leaves the
    operation alone: it is logged with the customer's id and named GAMIFICATION_FAILED."""
    caplog.set_level(logging.ERROR, logger="support_app.tickets.gamification")
    reason = gamification.award(ledger.customer.id, 10**6, gamification.TICKET_CLOSURE)
    db.session.commit()
    assert reason == "GAMIFICATION_FAILED"
    [record] = [r for r in caplog.records if r.name == "support_app.tickets.gamification"]
    assert record.getMessage() == f"gamification award failed for customer {ledger.customer.id}"
    assert record.exc_info is not None
    assert ledger.rows() == []


# --------------------------------------------------------------------------- search


def test_like_pattern_matches_backslash_percent_and_underscore_literally():
    """Each LIKE wildcard and the escape character itself are escaped."""
    assert queries.like_pattern("a\\b%c_d") == "%a\\\\b\\%c\\_d%"


def test_search_finds_wildcards_literally(client, factory):
    """Searching for `50%`, `a_b` or a backslash finds only the tickets that say so."""
    john = factory.customer()
    made = {subject: factory.ticket(john, subject=subject, description="See subject").id
            for subject in ("Refund 50% please", "Refund 500 please", "Code a_b broken",
                            "Code axb broken", "Path C:\\temp lost", "Path C:temp lost")}

    def found(term: str) -> list[int]:
        r = client.get("/api/support-tickets", query_string={"search": term},
                       headers=john.headers)
        return sorted(t["id"] for t in r.get_json()["data"]["data"])

    assert found("50%") == [made["Refund 50% please"]]
    assert found("a_b") == [made["Code a_b broken"]]
    assert found("C:\\temp") == [made["Path C:\\temp lost"]]


# --------------------------------------------------------------------------- badges


def test_the_badge_counts_zero_for_someone_who_sees_no_tickets(client, factory):
    """A customer without tickets and an agent who sees none (another agent works the
    one ticket there is) get zeros on the navbar badge, not a count of one."""
    other = factory.agent()
    service.assign_self(other.actor, factory.ticket(factory.customer()).id)
    customer, agent = factory.customer(), factory.agent()
    r = client.get("/api/support-tickets/navbar/count", headers=customer.headers)
    assert r.get_json() == {"success": True, "total_unresolved": 0, "unread_count": 0,
                            "count": 0}
    r = client.get("/api/support-tickets/navbar/count", headers=agent.headers)
    assert r.get_json() == {"success": True, "total_tickets": 0, "open_tickets": 0,
                            "in_progress_tickets": 0, "unread_count": 0, "count": 0}


def test_a_customers_badge_counts_unread_tickets_first(client, factory):
    """A customer with three unresolved tickets, one answered by the desk since they
    last read it: the badge shows one unread, three unresolved, and counts the unread."""
    customer, agent = factory.customer(), factory.agent()
    answered, *_ = (factory.ticket(customer).id for _ in range(3))
    service.assign_self(agent.actor, answered)
    service.add_message(agent.actor, answered, "We are on it.")
    db.session.commit()
    r = client.get("/api/support-tickets/navbar/count", headers=customer.headers)
    assert r.get_json() == {"success": True, "total_unresolved": 3, "unread_count": 1,
                            "count": 1}


def test_staff_badges_count_on_hold_as_in_progress(factory):
    """Staff badges: one open ticket, one in progress and one on hold read as one open
    and two in progress, whether the desk's counters answer (an admin, who sees every
    ticket: no read of the tickets table) or the tickets the agent sees are tallied."""
    customer, agent, admin = factory.customer(), factory.agent(), factory.staff()
    first, second, _ = (factory.ticket(customer).id for _ in range(3))
    service.assign_self(agent.actor, first)
    service.assign_self(agent.actor, second)
    service.update_ticket(agent.actor, second, status="on_hold")
    db.session.commit()
    db.session.expire_all()
    assert sorted(t.status for t in db.session.scalars(select(Ticket))) == [
        "in_progress", "on_hold", "open"]
    unread = len(db.session.scalars(select(Ticket).where(Ticket.is_admin_read.is_(False))).all())
    assert unread > 0
    expected = {"success": True, "total_tickets": 3, "open_tickets": 1,
                "in_progress_tickets": 2, "unread_count": unread, "count": unread}
    assert badges.navbar_counts(agent.actor) == expected
    with count_queries() as statements:
        assert badges.navbar_counts(admin.actor) == expected
    assert not [s for s in statements if re.search(r"\bFROM tickets\b", s)]


# --------------------------------------------------------------------------- merged tickets


@pytest.fixture
def merged(app_ctx, factory):
    """Three tickets of one customer; the third is merged into the second."""
    customer, admin = factory.customer(), factory.staff()
    first, kept, gone = (factory.ticket(customer, subject=f"Issue {n}") for n in range(3))
    merge.merge(admin.actor, gone.id, kept.id)
    db.session.expire_all()
    return first, kept, gone


def test_a_merged_tickets_number_resolves_to_the_ticket_it_went_into(merged):
    """A merged ticket's number names the ticket it was merged into; any other number
    names its own ticket."""
    first, kept, gone = merged

    def by_number(number: str) -> list[int]:
        return list(db.session.scalars(select(Ticket.id).where(queries.resolves_number(number))))

    assert by_number(gone.number) == [kept.id]
    assert by_number(kept.number) == [kept.id]
    assert by_number(first.number) == [first.id]
    assert by_number("TKT-NOPE") == []


def test_a_merged_tickets_id_answers_for_the_ticket_it_went_into(merged):
    """survivor_id: a merged ticket's id gives the ticket it went into, any other id
    itself, an unknown id stays as it is."""
    first, kept, gone = merged
    assert queries.survivor_id(gone.id) == kept.id
    assert queries.survivor_id(kept.id) == kept.id
    assert queries.survivor_id(first.id) == first.id
    assert queries.survivor_id(10**6) == 10**6
    resolved = db.session.scalars(select(Ticket.id).where(queries.resolves_to(gone.id)))
    assert list(resolved) == [kept.id]


# --------------------------------------------------------------------------- counters


def _counts() -> dict[str, int]:
    db.session.commit()
    names = [counters.TOTAL, counters.ADMIN_UNREAD] + [counters.status_key(s) for s in (
        "open", "in_progress", "on_hold", "resolved", "closed")]
    return counters.read(*names)


@pytest.fixture
def desk_tickets(app_ctx, factory):
    """Three open tickets no one on the desk has read yet."""
    customer = factory.customer()
    tickets = [factory.ticket(customer).id for _ in range(3)]
    db.session.commit()
    return tickets


def _read_flags(ids: list[int]) -> list[bool]:
    db.session.expire_all()
    return [db.session.get(Ticket, i).is_admin_read for i in ids]


def test_marking_read_flips_one_ticket_and_counts_only_real_flips(desk_tickets):
    """set_admin_read changes only the named ticket, and the unread counter follows a
    real flip, never a repeated one."""
    a, b, c = desk_tickets
    assert _counts()[counters.ADMIN_UNREAD] == 3
    counters.set_admin_read(b, True)
    assert _counts()[counters.ADMIN_UNREAD] == 2
    assert _read_flags(desk_tickets) == [False, True, False]
    counters.set_admin_read(b, True)  # already read: nothing to count
    assert _counts()[counters.ADMIN_UNREAD] == 2
    counters.set_admin_read(a, True)
    assert _read_flags(desk_tickets) == [True, True, False]
    assert _counts()[counters.ADMIN_UNREAD] == 1
    counters.set_admin_read(b, False)
    assert _read_flags(desk_tickets) == [True, False, False]
    assert _counts()[counters.ADMIN_UNREAD] == 2
    counters.set_admin_read(b, False)  # already unread
    assert _counts()[counters.ADMIN_UNREAD] == 2


def test_a_locked_change_counts_the_read_flag_it_changes(desk_tickets):
    """locked_change counts a change of the read flag, and a change without one leaves
    the unread counter alone."""
    a, b, _ = desk_tickets
    ticket = db.session.get(Ticket, a)
    counters.locked_change(ticket, {"is_admin_read": True})
    ticket.is_admin_read = True
    assert _counts()[counters.ADMIN_UNREAD] == 2
    ticket = db.session.get(Ticket, b)
    counters.locked_change(ticket, {"priority": "high"})
    ticket.priority = "high"
    assert _counts()[counters.ADMIN_UNREAD] == 2
    ticket = db.session.get(Ticket, a)
    counters.locked_change(ticket, {"status": "on_hold"})
    ticket.status = "on_hold"
    assert _counts()[counters.ADMIN_UNREAD] == 2
    assert counters.tickets_with_status(["on_hold"]) == 1


def test_move_status_only_from_the_status_the_ticket_still_has(desk_tickets):
    """A move from a status the ticket no longer has changes nothing and says so."""
    a, *_ = desk_tickets
    assert counters.move_status(a, "closed", "resolved") is False
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Ticket, a).status == "open"
    assert counters.tickets_with_status(["resolved"]) == 0
    assert counters.move_status(a, "open", "resolved") is True
    assert counters.tickets_with_status(["resolved"]) == 0  # counted when it commits
    db.session.commit()
    assert counters.tickets_with_status(["resolved"]) == 1


def test_tickets_with_status_counts_all_or_the_statuses_named(desk_tickets):
    """All tickets without statuses, else the sum over the statuses named."""
    a, b, _ = desk_tickets
    counters.move_status(a, "open", "resolved")
    counters.move_status(b, "open", "on_hold")
    db.session.commit()
    assert counters.tickets_with_status() == 3
    assert counters.tickets_with_status(["open"]) == 1
    assert counters.tickets_with_status(["resolved", "on_hold"]) == 2
    assert counters.tickets_with_status(["open", "resolved", "on_hold", "closed"]) == 3
    assert counters.tickets_with_status([]) == 0


def test_an_opened_ticket_counts_as_unread_only_if_the_desk_has_not_read_it(app_ctx):
    """ticket_opened counts the ticket and its status, and the unread counter only for a
    ticket the desk has not read."""
    counters.ticket_opened("open", admin_read=True)
    counts = _counts()
    assert (counts[counters.TOTAL], counts[counters.status_key("open")],
            counts[counters.ADMIN_UNREAD]) == (1, 1, 0)
    counters.ticket_opened("on_hold", admin_read=False)
    counts = _counts()
    assert (counts[counters.TOTAL], counts[counters.status_key("on_hold")],
            counts[counters.ADMIN_UNREAD]) == (2, 1, 1)


def test_recount_drops_the_changes_still_pending(desk_tickets):
    """recount rebuilds the counters from the tickets table: deltas pending in the
    session are not added on top when it commits."""
    counters.set_admin_read(desk_tickets[0], True)
    counters.bump({counters.TOTAL: 5, counters.ADMIN_UNREAD: 4})
    values = counters.recount()
    assert values[counters.TOTAL] == 3 and values[counters.ADMIN_UNREAD] == 2
    assert _counts()[counters.TOTAL] == 3
    assert _counts()[counters.ADMIN_UNREAD] == 2


def test_a_rollback_drops_the_changes_counted_in_it(desk_tickets):
    """Counter changes of a transaction that rolls back are never written; a savepoint
    rolling back keeps the outer transaction's."""
    counters.move_status(desk_tickets[0], "open", "resolved")
    db.session.rollback()
    counters.set_admin_read(desk_tickets[1], True)
    try:
        with db.session.begin_nested():
            raise RuntimeError("refused")
    except RuntimeError:
        pass
    counts = _counts()
    assert counts[counters.status_key("resolved")] == 0 and counts[counters.status_key("open")] == 3
    assert counts[counters.ADMIN_UNREAD] == 2


def test_install_makes_a_session_factory_write_and_drop_pending_counts(app_ctx):
    """A session of an installed factory writes its pending deltas once when it commits
    (installing twice changes nothing) and drops them when it rolls back."""
    factory = sessionmaker(bind=db.engine)
    counters.install(factory)
    counters.install(factory)
    with factory() as session:
        session.info[counters.PENDING] = {counters.TOTAL: 2}
        session.commit()
        session.execute(text("SELECT 1"))
        session.info[counters.PENDING] = {counters.TOTAL: 7}
        session.rollback()
        session.commit()
    assert counters.read(counters.TOTAL) == {counters.TOTAL: 2}


# --------------------------------------------------------------------------- assignment


@pytest.fixture
def auto_assign(app, monkeypatch):
    def set_policy(policy: str) -> None:
        monkeypatch.setitem(app.config, "AUTO_ASSIGN_POLICY", policy)
    return set_policy


def test_an_unknown_policy_is_logged_with_its_value(app_ctx, auto_assign, caplog):
    """An AUTO_ASSIGN_POLICY that is none of the three is logged, value and choices, and
    assigns no one."""
    auto_assign(" Fastest ")
    caplog.set_level(logging.ERROR, logger="support_app.tickets.assignment")
    assert assignment.configured_policy() == "off"
    [record] = [r for r in caplog.records if r.name == "support_app.tickets.assignment"]
    assert record.getMessage() == (
        "AUTO_ASSIGN_POLICY='fastest' is not one of ('off', 'round_robin', 'least_open');"
        " not assigning")


def test_least_open_counts_open_tickets_and_idle_agents_as_zero(factory, auto_assign):
    """The lower-id agent with one open ticket loses to the agent with none; once both
    have one, the lower id wins the tie."""
    customer = factory.customer()
    first, second = factory.agent(), factory.agent()
    service.assign_self(first.actor, factory.ticket(customer).id)
    auto_assign("least_open")
    assert factory.ticket(customer).assigned_to_id == second.id
    assert factory.ticket(customer).assigned_to_id == first.id


def test_only_choosing_an_agent_locks_the_agents_rows(factory):
    """Listing the approved agents reads them plainly; choosing one locks their profile
    rows (FOR UPDATE on PostgreSQL) for the rest of the transaction."""
    agent = factory.agent()
    with reads_of("agent_profiles") as reads:
        assert assignment.approved_agents() == [agent.id]
    assert reads == [False]
    with reads_of("agent_profiles") as reads:
        assert assignment.choose_agent("round_robin") == agent.id
    assert reads and reads[0] is True
    db.session.rollback()


@pytest.mark.skipif(not ON_PG, reason="row locks: PostgreSQL only")
def test_choosing_an_agent_locks_the_profiles_not_the_accounts(app, factory):
    """The lock taken while choosing holds the agents' profile rows only: their user
    accounts stay free for others (a login updating the account is not held up)."""
    agent = factory.agent()
    assert assignment.choose_agent("round_robin") == agent.id
    try:
        with db.engine.connect() as other:
            other.execute(text("SET lock_timeout = '200ms'"))
            other.execute(text("SELECT id FROM ab_user WHERE id = :id FOR UPDATE NOWAIT"),
                          {"id": agent.id})
            other.rollback()
            with pytest.raises(Exception, match="lock"):
                other.execute(text(
                    "SELECT user_id FROM agent_profiles WHERE user_id = :id FOR UPDATE NOWAIT"),
                    {"id": agent.id})
            other.rollback()
    finally:
        db.session.rollback()


def test_approved_agents_are_listed_in_user_id_order(factory):
    """Agents come in user-id order even when their profile rows were written in
    another order."""
    from support_app.models import AgentProfile

    first, second = factory.agent(), factory.agent()
    profile = db.session.scalar(select(AgentProfile).where(AgentProfile.user_id == first.id))
    fields = {c.key: getattr(profile, c.key) for c in AgentProfile.__table__.columns
              if c.key != "id"}
    db.session.delete(profile)
    db.session.flush()
    db.session.add(AgentProfile(**fields))
    db.session.commit()
    assert assignment.approved_agents() == [first.id, second.id]
