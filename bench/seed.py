"""Fast seeding for the benchmark: a few real accounts through the app, then the bulk
(customers, tickets, messages) in batches with SQLAlchemy Core executemany on SQLite
and COPY on PostgreSQL, so a million tickets load in minutes instead of hours.

Ticket ids are explicit (1..N) so the load generator knows which ids exist; sequences
are moved past them afterwards on PostgreSQL."""
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
BATCH = 20_000


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

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> "SeedInfo":
        data = json.loads(raw)
        data["owned_ticket_ids"] = {int(k): v for k, v in data["owned_ticket_ids"].items()}
        return cls(**data)


def prepare_schema(app: Flask) -> None:
    """Migrate an empty database to head and seed roles, as `flask support init` does."""
    from flask_migrate import upgrade

    from support_app.bootstrap import sync_permissions

    with app.app_context():
        upgrade()
        sync_permissions()


def _accounts(accounts: int, agents: int) -> tuple[int, list[int], list[int], list[int]]:
    """Real users made by the app's own code (password hashing, roles, requester rows)."""
    from support_app.api.auth import create_user
    from support_app.extensions import db
    from support_app.models import AgentProfile, Customer, utcnow
    from support_app.security import roles

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
        user = create_user(f"Bench Customer {n}", f"bench-customer{n}@example.com",
                           ACCOUNT_PASSWORD, roles.CUSTOMER, phone="+15550100")
        user_ids.append(user.id)
        customer_ids.append(db.session.scalar(select(Customer.id).where(Customer.user_id == user.id)))
    db.session.commit()
    return admin.id, agent_ids, user_ids, customer_ids


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


def _account_index(n: int, ticket_id: int, accounts: int) -> int | None:
    """Which signed-in account owns the n-th seeded ticket, if any: the first ones go
    one to each account (so every account owns one even in a tiny seed), then every
    OWNED_EVERY-th ticket."""
    if n < accounts:
        return n
    if ticket_id % OWNED_EVERY == 0:
        return (ticket_id // OWNED_EVERY) % accounts
    return None


def _ticket_rows(first_id: int, count: int, start: dt.datetime, span: dt.timedelta,
                 guest_ids: Sequence[int], account_ids: Sequence[int],
                 staff_ids: Sequence[int], admin_id: int) -> Iterator[dict[str, Any]]:
    step = span / max(count, 1)
    for n in range(count):
        i = first_id + n
        created = start + step * n
        status = STATUS_CYCLE[i % len(STATUS_CYCLE)]
        messages = i % 3
        replied = messages == 2  # the second message is the desk's reply
        assignee = None if status == "open" else staff_ids[i % len(staff_ids)]
        account = _account_index(n, i, len(account_ids))
        owner = guest_ids[i % len(guest_ids)] if account is None else account_ids[account]
        finished = status in ("resolved", "closed")
        yield {
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
            "last_replied_at": created + dt.timedelta(hours=2) if replied else None,
            "last_replied_by_id": (assignee or admin_id) if replied else None,
            "first_response_at": created + dt.timedelta(hours=2) if replied else None,
            "resolved_at": created + dt.timedelta(days=1) if finished else None,
            "closed_at": created + dt.timedelta(days=2) if status == "closed" else None,
            "created_at": created,
            "updated_at": created + dt.timedelta(hours=2) if replied else created,
        }


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
         customers: int | None = None, progress: Any = None) -> SeedInfo:
    """Add accounts and `tickets` tickets (with messages) to a migrated database."""
    from support_app.extensions import db
    from support_app.models import Customer, Message, Ticket, utcnow

    began = time.monotonic()
    say = progress or (lambda _msg: None)
    with app.app_context():
        admin_id, agent_ids, user_ids, account_customer_ids = _accounts(accounts, agents)
        customer_table: Table = Customer.__table__
        ticket_table: Table = Ticket.__table__
        message_table: Table = Message.__table__
        guests = customers if customers is not None else max(tickets // 5, 1)
        now = utcnow()
        with db.engine.begin() as conn:
            first_guest = _max_id(conn, customer_table) + 1
            _bulk(conn, customer_table, _guest_rows(first_guest, guests, now))
            say(f"{guests} customers")
            first_ticket = _max_id(conn, ticket_table) + 1
            first_message = _max_id(conn, message_table) + 1
            guest_ids = range(first_guest, first_guest + guests)
            staff_ids = agent_ids or [admin_id]

            def rows() -> Iterator[dict[str, Any]]:
                return _ticket_rows(first_ticket, tickets, now - dt.timedelta(days=730),
                                    dt.timedelta(days=729), guest_ids, account_customer_ids,
                                    staff_ids, admin_id)

            _bulk(conn, ticket_table, rows())
            say(f"{tickets} tickets")
            messages = _bulk(conn, message_table, _message_rows(rows(), first_message))
            say(f"{messages} messages")
            _advance_sequences(conn, (customer_table, ticket_table, message_table))
        from support_app.tickets.counters import recount

        recount()  # bulk rows bypass the service: rebuild its exact counters once
        say("counters rebuilt")
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            # Settled as a long-running desk's tables are: planner statistics, and (on
            # PostgreSQL) visibility map and hint bits set, so the first target to read
            # the bulk-loaded rows does not pay for writing them.
            conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
        owned: dict[int, list[int]] = {uid: [] for uid in user_ids}
        for n in range(tickets):
            account = _account_index(n, first_ticket + n, len(user_ids))
            if account is not None and len(owned[user_ids[account]]) < 200:
                owned[user_ids[account]].append(first_ticket + n)
    return SeedInfo(
        tickets=tickets, customers=guests + accounts, messages=messages,
        admin_user_id=admin_id, agent_user_ids=agent_ids, account_user_ids=user_ids,
        account_customer_ids=account_customer_ids, owned_ticket_ids=owned,
        seconds=round(time.monotonic() - began, 1),
    )
