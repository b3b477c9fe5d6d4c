"""Fast seeding for the benchmark: a few real accounts through the app, then the bulk
(customers, tickets with their SLA clocks, messages, feedback, tags) in batches with
SQLAlchemy Core executemany on SQLite and COPY on PostgreSQL, so a million tickets load
in minutes instead of hours.

Ticket ids are explicit (1..N) so the load generator knows which ids exist; sequences
are moved past them afterwards on PostgreSQL. Every choice (status, SLA band, rating,
tags) is a function of the ticket id, so a seed is the same every time."""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from flask import Flask
from sqlalchemy import Connection, Table, func, select, text, update

ACCOUNT_PASSWORD = "bench-pass-1"
STATUS_CYCLE = (  # 20 slots: 20% open, 15% in_progress, 5% on_hold, 30% resolved, 30% closed
    ("open",) * 4 + ("in_progress",) * 3 + ("on_hold",)
    + ("resolved",) * 6 + ("closed",) * 6
)
PRIORITY_CYCLE = ("low", "medium", "medium", "high", "urgent", "medium", "low")
CATEGORY_CYCLE = ("technical", "billing", "order", "product", "account", "other")
SUBJECTS = (
    "Wrong item in my order", "Refund not received", "Driver never arrived",
    "Table booking was cancelled", "Cannot sign in to my account", "Charged twice",
)
DESCRIPTION = ("I ordered a blue shirt but received a red one. The package was also "
               "damaged and the receipt was missing. Please advise how to return it and "
               "when I can expect the replacement or a refund to my card.")
REPLY = "Thank you for the details, we are looking into it and will update you shortly."
OWNED_EVERY = 50  # then every 50th ticket belongs to one of the signed-in bench customers
LONG_HISTORY = 2_000  # tickets of the one "long history" account (issue 25)
BATCH = 20_000
# Bumped when the seed gains data a workload reads: `run --reuse-seed` seeds an older
# kept database again instead of measuring it without that data.
SEED_VERSION = 2
# SLA bands of unfinished tickets, in percent: the worst open target breached, at risk,
# else running; finished tickets met their targets, some late (percent per target).
SLA_BREACHED, SLA_AT_RISK = 3, 4
LATE_FIRST_RESPONSE, LATE_RESOLUTION = 10, 12
ON_HOLD_FOR = dt.timedelta(days=1)  # on-hold tickets' clocks paused this long ago
FEEDBACK_PERCENT = 30  # of resolved and closed tickets
RATINGS = (1,) * 8 + (2,) * 7 + (3,) * 15 + (4,) * 30 + (5,) * 40  # 100 slots
COMMENTS = (None, None, None, "Quick and helpful, thank you.", "Took too long to hear back.")
TAG_NAMES = ("Refund", "VIP", "Late delivery", "Damaged item", "Fraud check", "Follow-up")
TAGGED_PERCENT, TWO_TAGS_PERCENT = 40, 25  # of all tickets; of the tagged ones


@dataclass
class SeedInfo:
    """What the load generator needs to know about the seeded database."""

    tickets: int
    customers: int
    messages: int
    admin_user_id: int
    agent_user_ids: list[int]
    account_user_ids: list[int]
    account_customer_ids: list[int]
    owned_ticket_ids: dict[int, list[int]] = field(default_factory=dict)  # user id -> ids
    seconds: float = 0.0
    # Issue 25: one account owning many tickets, one owning none (creates as either).
    long_history_user_id: int | None = None
    long_history_tickets: int = 0
    no_history_user_id: int | None = None
    feedback: int = 0
    tagged_tickets: int = 0
    version: int = 1  # SEED_VERSION of the seed that wrote it (1: before the field)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> "SeedInfo":
        data = json.loads(raw)
        data["owned_ticket_ids"] = {int(k): v for k, v in data["owned_ticket_ids"].items()}
        return cls(**data)


def prepare_schema(app: Flask) -> None:
    """Migrate an empty database to head, seed roles and the default SLA calendar and
    policy, as `flask support init` does."""
    from flask_migrate import upgrade

    from support_app.bootstrap import ensure_sla_defaults, sync_permissions

    with app.app_context():
        upgrade()
        sync_permissions()
        ensure_sla_defaults()


@dataclass(frozen=True)
class _Accounts:
    admin: int
    agents: list[int]
    users: list[int]  # the signed-in customers the load threads take turns with
    customers: list[int]
    long_user: int  # issue 25: owns LONG_HISTORY tickets
    long_customer: int
    new_user: int  # issue 25: owns none


def _accounts(accounts: int, agents: int) -> _Accounts:
    """Real users made by the app's own code (password hashing, roles, requester rows)."""
    from support_app.api.auth import create_user
    from support_app.extensions import db
    from support_app.models import AgentProfile, Customer, utcnow
    from support_app.security import roles

    def customer(name: str, email: str) -> tuple[int, int]:
        user = create_user(name, email, ACCOUNT_PASSWORD, roles.CUSTOMER, phone="+15550100")
        return user.id, db.session.scalar(select(Customer.id).where(Customer.user_id == user.id))

    admin = create_user("Bench Admin", "bench-admin@example.com", ACCOUNT_PASSWORD, roles.ADMIN)
    agent_ids = []
    for n in range(agents):
        agent = create_user(f"Bench Agent {n}", f"bench-agent{n}@example.com",
                            ACCOUNT_PASSWORD, roles.SUPPORT_AGENT)
        db.session.execute(update(AgentProfile).where(AgentProfile.user_id == agent.id)
                           .values(is_approved=True, approved_at=utcnow()))
        agent_ids.append(agent.id)
    user_ids, customer_ids = [], []
    for n in range(accounts):
        user_id, customer_id = customer(f"Bench Customer {n}", f"bench-customer{n}@example.com")
        user_ids.append(user_id)
        customer_ids.append(customer_id)
    long_user, long_customer = customer("Bench Long History", "bench-long-history@example.com")
    new_user, _new_customer = customer("Bench New Customer", "bench-no-history@example.com")
    db.session.commit()
    return _Accounts(admin.id, agent_ids, user_ids, customer_ids, long_user, long_customer,
                     new_user)


def _batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _bulk(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows fast: COPY on PostgreSQL (psycopg 3), executemany elsewhere."""
    count = 0
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        cursor = conn.connection.dbapi_connection.cursor()
        for batch in _batched(rows, BATCH):
            columns = list(batch[0])
            sql = f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN'
            with cursor.copy(sql) as copy:
                for row in batch:
                    copy.write_row([row[c] for c in columns])
            count += len(batch)
        return count
    for batch in _batched(rows, BATCH):
        conn.execute(table.insert(), batch)
        count += len(batch)
    return count


LONG = -1  # `Ownership.of`: the long-history account
MASK64 = 2**64 - 1


@dataclass(frozen=True)
class Ownership:
    """Which signed-in account owns the n-th seeded ticket, if any: the first ones go
    one to each account (so every account owns one even in a tiny seed), then every
    OWNED_EVERY-th ticket; the long-history account owns every `stride`-th ticket from
    `first` on, `count` of them. Its ids are odd and the stride even, so it never takes
    an OWNED_EVERY-th ticket."""

    accounts: int
    first: int  # index n of its first ticket
    stride: int
    count: int

    @classmethod
    def plan(cls, first_id: int, tickets: int, accounts: int, long_history: int) -> "Ownership":
        room = max(tickets - accounts - 1, 0)
        count = max(min(long_history, room // 2), 0)
        stride = max(2, (room // max(count, 1)) & ~1)
        first = accounts + (first_id + accounts + 1) % 2  # the first odd ticket id
        return cls(accounts, first, stride, count)

    def of(self, n: int, ticket_id: int) -> int | None:
        """An index into the accounts, LONG, or None (a guest's ticket)."""
        if n < self.accounts:
            return n
        if ticket_id % OWNED_EVERY == 0:
            return (ticket_id // OWNED_EVERY) % self.accounts
        k, offset = divmod(n - self.first, self.stride)
        if n >= self.first and offset == 0 and k < self.count:
            return LONG
        return None


def _spread(i: int, salt: int) -> int:
    """0..99, evenly spread over ticket ids and independent per salt: a deterministic
    stand-in for a random percentage (the splitmix64 finaliser of id and salt)."""
    x = (i * 0x9E3779B97F4A7C15 + salt * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return (x ^ (x >> 31)) % 100


class SlaClocks:
    """The SLA columns `tickets/sla.py` would hold on a seeded ticket under the desk's
    policy (the default one `support init` ships). Unfinished tickets get due times
    around the moment of seeding (their creation is years ago, their clocks are not),
    SLA_BREACHED percent with the worst open target past due, SLA_AT_RISK percent at
    risk, the rest running; each `sla_check_at` is in the future, so the background
    check finds nothing due when the seed is fresh. On-hold clocks are paused (no due,
    state or check on the ticket, as `Clock._summarize` leaves them). Finished tickets
    met every target (paused at resolution); some late, their due time before it.
    Business-time walks are few: due times come from a small set of minutes left,
    each computed once on the policy's calendar."""

    def __init__(self, rule: Any, now: dt.datetime) -> None:
        from support_app.models import TARGETS
        from support_app.tickets.business_time import add_business_minutes

        self.add_business_minutes = add_business_minutes
        self.rule = rule
        self.now = now
        self.paused_at = now - ON_HOLD_FOR
        self.targets = [t for t in ("first_response", "resolution") if rule.minutes[t]]
        self._blank: dict[str, Any] = {"sla_policy_id": rule.id, "sla_paused_at": None,
                                       "sla_due_at": None, "sla_state": None,
                                       "sla_check_at": None}
        for target in TARGETS:
            self._blank.update({f"{target}_due_at": None, f"{target}_state": None,
                                f"{target}_breached": False})
        self._memo: dict[tuple[dt.datetime, float], dt.datetime] = {}

    def _add(self, anchor: dt.datetime, minutes: float) -> dt.datetime:
        key = (anchor, minutes)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self.add_business_minutes(self.rule.calendar, anchor,
                                                                minutes)
        return found

    def _left(self, target: str, state: str, i: int) -> float:
        """Business minutes left on an open target in `state`, one of eight steps."""
        total, margin = self.rule.minutes[target], self.rule.margin(target)
        step = i % 8 + 1
        if state == "at_risk":  # inside the margin, not yet due
            return round(margin * step / 9, 1)
        return round(margin + (total - margin) * step / 8, 1)

    def columns(self, i: int, status: str, created: dt.datetime, responded: dt.datetime | None,
                resolved: dt.datetime | None) -> dict[str, Any]:
        out = dict(self._blank)
        targets = self.targets
        if resolved is not None:  # finishing met every open target and paused the clock
            out["sla_paused_at"] = resolved
            for target in targets:
                met = responded if target == "first_response" and responded else resolved
                late = _spread(i, 1 if target == "first_response" else 2) < (
                    LATE_FIRST_RESPONSE if target == "first_response" else LATE_RESOLUTION)
                out[f"{target}_due_at"] = (created + (met - created) / 2 if late
                                           else met + dt.timedelta(hours=2))
                out[f"{target}_state"], out[f"{target}_breached"] = "met", late
            return out
        paused = status == "on_hold"
        anchor = self.paused_at if paused else self.now
        open_targets = []
        for target in targets:
            if target == "first_response" and responded is not None:
                out.update(first_response_due_at=responded + dt.timedelta(hours=2),
                           first_response_state="met")
            else:
                open_targets.append(target)
        band = _spread(i, 0)
        worst = ("breached" if band < SLA_BREACHED else
                 "at_risk" if band < SLA_BREACHED + SLA_AT_RISK else "running")
        checks = []
        for n, target in enumerate(open_targets):
            state = worst if n == 0 else "running"  # the first open target sets the band
            if state == "breached":
                due = anchor - dt.timedelta(hours=i % 48 + 1)
                out[f"{target}_breached"] = True
            else:
                left = self._left(target, state, i)
                due = self._add(anchor, left)
                checks.append(due if state == "at_risk"
                              else self._add(anchor, left - self.rule.margin(target)))
            out[f"{target}_due_at"], out[f"{target}_state"] = due, state
        if paused:
            out["sla_paused_at"] = self.paused_at
        elif open_targets:
            out["sla_due_at"] = min(out[f"{t}_due_at"] for t in open_targets)
            out["sla_state"] = worst
            out["sla_check_at"] = min(checks, default=None)
        return out


def _ticket_rows(first_id: int, count: int, start: dt.datetime, span: dt.timedelta,
                 guest_ids: Sequence[int], accounts: _Accounts, owners: Ownership,
                 sla: SlaClocks | None = None) -> Iterator[dict[str, Any]]:
    """The tickets; with `sla`, their SLA columns too (the other passes over the same
    rows, for messages, feedback and tags, do not need them)."""
    step = span / max(count, 1)
    staff_ids = accounts.agents or [accounts.admin]
    for n in range(count):
        i = first_id + n
        created = start + step * n
        status = STATUS_CYCLE[i % len(STATUS_CYCLE)]
        messages = i % 3
        replied = messages == 2  # the second message is the desk's reply
        assignee = None if status == "open" else staff_ids[i % len(staff_ids)]
        account = owners.of(n, i)
        owner = (guest_ids[i % len(guest_ids)] if account is None else
                 accounts.long_customer if account == LONG else accounts.customers[account])
        finished = status in ("resolved", "closed")
        responded = created + dt.timedelta(hours=2) if replied else None
        resolved = created + dt.timedelta(days=1) if finished else None
        row = {
            "id": i,
            "number": f"TKT-{i:013X}",
            "customer_id": owner,
            "subject": f"{SUBJECTS[i % len(SUBJECTS)]} #{i}",
            "description": DESCRIPTION,
            "status": status,
            "priority": PRIORITY_CYCLE[i % len(PRIORITY_CYCLE)],
            "category": CATEGORY_CYCLE[i % len(CATEGORY_CYCLE)],
            "channel": "api",
            "assigned_to_id": assignee,
            "created_by_id": None,
            "escalation_level": 0,
            "message_count": messages,
            "is_customer_read": not replied,
            "is_admin_read": status != "open",
            "last_replied_at": responded,
            "last_replied_by_id": (assignee or accounts.admin) if replied else None,
            "first_response_at": responded,
            "resolved_at": resolved,
            "closed_at": created + dt.timedelta(days=2) if status == "closed" else None,
            "created_at": created,
            "updated_at": responded or created,
        }
        if sla is not None:
            row.update(sla.columns(i, status, created, responded, resolved))
        yield row


def _message_rows(tickets: Iterable[dict[str, Any]], first_id: int) -> Iterator[dict[str, Any]]:
    message_id = first_id
    for ticket in tickets:
        for k in range(ticket["message_count"]):
            desk = k == 1
            at = ticket["created_at"] + dt.timedelta(hours=2 * k)
            yield {
                "id": message_id,
                "ticket_id": ticket["id"],
                "sender_type": "admin" if desk else "customer",
                "customer_id": None if desk else ticket["customer_id"],
                "admin_id": ticket["last_replied_by_id"] if desk else None,
                "body": REPLY if desk else DESCRIPTION,
                "channel": "api",
                "is_read": not desk or ticket["is_customer_read"],
                "read_at": None,
                "created_at": at,
                "updated_at": at,
            }
            message_id += 1


def _feedback_rows(tickets: Iterable[dict[str, Any]], first_id: int) -> Iterator[dict[str, Any]]:
    """One rating for FEEDBACK_PERCENT of the resolved and closed tickets, given by the
    ticket's customer a few hours after resolution (mostly 4 and 5, as desks see)."""
    feedback_id = first_id
    for ticket in tickets:
        i = ticket["id"]
        if ticket["resolved_at"] is None or _spread(i, 3) >= FEEDBACK_PERCENT:
            continue
        yield {"id": feedback_id, "ticket_id": i, "customer_id": ticket["customer_id"],
               "rating": RATINGS[_spread(i, 4)], "comment": COMMENTS[i % len(COMMENTS)],
               "created_at": ticket["resolved_at"] + dt.timedelta(hours=3)}
        feedback_id += 1


def _tag_rows(first_id: int, now: dt.datetime) -> Iterator[dict[str, Any]]:
    for n, name in enumerate(TAG_NAMES):
        yield {"id": first_id + n, "name": name, "name_key": name.casefold(), "created_at": now}


def _ticket_tag_rows(tickets: Iterable[dict[str, Any]],
                     tag_ids: Sequence[int]) -> Iterator[dict[str, Any]]:
    """TAGGED_PERCENT of the tickets carry one tag, TWO_TAGS_PERCENT of those a second."""
    for ticket in tickets:
        i = ticket["id"]
        if _spread(i, 5) >= TAGGED_PERCENT:
            continue
        first = _spread(i, 6) % len(tag_ids)
        chosen = [first]
        if _spread(i, 7) < TWO_TAGS_PERCENT:
            chosen.append((first + 1 + _spread(i, 8) % (len(tag_ids) - 1)) % len(tag_ids))
        for k in chosen:
            yield {"ticket_id": i, "tag_id": tag_ids[k], "created_at": ticket["created_at"]}


def _guest_rows(first_id: int, count: int, now: dt.datetime) -> Iterator[dict[str, Any]]:
    for n in range(count):
        i = first_id + n
        yield {"id": i, "name": f"Guest {i}", "email": f"bench-guest{i}@example.com",
               "locale": "en", "points": 0, "credit_balance": 0,
               "created_at": now, "updated_at": now}


def _max_id(conn: Connection, table: Table) -> int:
    return conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0


def _advance_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    if conn.dialect.name != "postgresql":
        return  # SQLite's INTEGER PRIMARY KEY continues from max(id) by itself
    for table in tables:
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM \"{table.name}\"))"
        ))


def seed(app: Flask, tickets: int, *, accounts: int = 16, agents: int = 4,
         customers: int | None = None, long_history: int = LONG_HISTORY,
         progress: Any = None) -> SeedInfo:
    """Add accounts and `tickets` tickets (with SLA clocks, messages, feedback and tags)
    to a migrated database."""
    from support_app.bootstrap import ensure_sla_defaults
    from support_app.extensions import db
    from support_app.models import Customer, Feedback, Message, Tag, Ticket, TicketTag, utcnow
    from support_app.tickets import sla

    began = time.monotonic()
    say = progress or (lambda _msg: None)
    with app.app_context():
        ensure_sla_defaults()  # what `support init` ships, if the database has no SLA data
        people = _accounts(accounts, agents)
        customer_table: Table = Customer.__table__
        ticket_table: Table = Ticket.__table__
        message_table: Table = Message.__table__
        feedback_table: Table = Feedback.__table__
        tag_table: Table = Tag.__table__
        guests = customers if customers is not None else max(tickets // 5, 1)
        now = utcnow()
        # Every seeded ticket is an API ticket with no service: one policy matches them all.
        fields = {"priority": None, "category": None, "channel": "api", "service_type": None}
        rule = sla.policy_for(fields)
        clocks = SlaClocks(rule, now) if rule is not None else None
        with db.engine.begin() as conn:
            first_guest = _max_id(conn, customer_table) + 1
            _bulk(conn, customer_table, _guest_rows(first_guest, guests, now))
            say(f"{guests} customers")
            first_ticket = _max_id(conn, ticket_table) + 1
            first_message = _max_id(conn, message_table) + 1
            first_feedback = _max_id(conn, feedback_table) + 1
            guest_ids = range(first_guest, first_guest + guests)
            owners = Ownership.plan(first_ticket, tickets, accounts, long_history)

            def rows(with_sla: bool = False) -> Iterator[dict[str, Any]]:
                return _ticket_rows(first_ticket, tickets, now - dt.timedelta(days=730),
                                    dt.timedelta(days=729), guest_ids, people, owners,
                                    clocks if with_sla else None)

            _bulk(conn, ticket_table, rows(with_sla=True))
            say(f"{tickets} tickets")
            messages = _bulk(conn, message_table, _message_rows(rows(), first_message))
            say(f"{messages} messages")
            feedback = _bulk(conn, feedback_table, _feedback_rows(rows(), first_feedback))
            say(f"{feedback} feedback ratings")
            first_tag = _max_id(conn, tag_table) + 1
            _bulk(conn, tag_table, _tag_rows(first_tag, now))
            tag_ids = list(range(first_tag, first_tag + len(TAG_NAMES)))
            tagged = _bulk(conn, TicketTag.__table__, _ticket_tag_rows(rows(), tag_ids))
            say(f"{tagged} ticket tags")
            _advance_sequences(conn, (customer_table, ticket_table, message_table,
                                      feedback_table, tag_table))
            tagged_tickets = conn.scalar(select(func.count(func.distinct(TicketTag.ticket_id))))
        from support_app.tickets.counters import recount

        recount()  # bulk rows bypass the service: rebuild its exact counters once
        say("counters rebuilt")
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            # Settled as a long-running desk's tables are: planner statistics, and (on
            # PostgreSQL) visibility map and hint bits set, so the first target to read
            # the bulk-loaded rows does not pay for writing them.
            conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
        owned: dict[int, list[int]] = {uid: [] for uid in people.users}
        for n in range(tickets):
            account = owners.of(n, first_ticket + n)
            if account is not None and account != LONG and len(owned[people.users[account]]) < 200:
                owned[people.users[account]].append(first_ticket + n)
    return SeedInfo(
        tickets=tickets, customers=guests + accounts + 2, messages=messages,
        admin_user_id=people.admin, agent_user_ids=people.agents,
        account_user_ids=people.users, account_customer_ids=people.customers,
        owned_ticket_ids=owned, seconds=round(time.monotonic() - began, 1),
        long_history_user_id=people.long_user, long_history_tickets=owners.count,
        no_history_user_id=people.new_user, feedback=feedback, tagged_tickets=tagged_tickets,
        version=SEED_VERSION,
    )
