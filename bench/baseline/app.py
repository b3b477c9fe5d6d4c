"""The bare-framework yardstick: Flask + SQLAlchemy Core and nothing else, doing the
database work of the five benchmark workloads on support_app's own schema and data,
answering in the 002 shapes. The benchmark reports support_app as a ratio to it.

Deliberately plain: one auth query per request, straightforward SQL, json responses;
no extensions, no schema library, no caching.

`durable=True` (the benchmark's "durable" target) also writes, in the same
transaction, the rows support_app writes with each create and reply: the SLA columns
(plain arithmetic, no business calendar), a notification for whoever the change is
for, the customer's queued receipt email, the desk counters, and a reopening reply's
audit row. Against it, the app's ratio is what the framework costs (routing, schemas,
events, rendering), not the work the desk must do anyway."""
from __future__ import annotations

import datetime as dt
import os
import secrets
from typing import Any

import jwt
from flask import Flask, g, jsonify, request
from sqlalchemy import (
    MetaData,
    and_,
    case,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, RowMapping

PRIORITIES = ("low", "medium", "high", "urgent")
CATEGORIES = ("technical", "billing", "order", "product", "account", "other")
STATUSES = ("open", "in_progress", "on_hold", "resolved", "closed")
UNRESOLVED = ("open", "in_progress", "on_hold")
PER_PAGE = 15
TICKET_FIELDS = (
    "id", "customer_id", "subject", "description", "status", "priority", "category",
    "message_count", "is_customer_read", "is_admin_read", "resolved_at", "closed_at",
    "last_replied_at", "created_at", "updated_at",
)


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Same engine tuning the real app uses (WAL and busy timeout on SQLite)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=16, max_overflow=8)


def create_baseline_app(database_url: str, jwt_secret: str, durable: bool = False) -> Flask:
    app = Flask(__name__)
    engine = make_engine(database_url)
    meta = MetaData()
    meta.reflect(engine, only=["tickets", "ticket_messages", "ticket_events", "customers",
                               "ab_user", "ab_user_role", "ab_role", "notifications",
                               "email_logs", "ticket_counters"])
    t = meta.tables["tickets"]
    m = meta.tables["ticket_messages"]
    ev = meta.tables["ticket_events"]
    c = meta.tables["customers"]
    u = meta.tables["ab_user"]
    ur = meta.tables["ab_user_role"]
    r = meta.tables["ab_role"]
    assignee = u.alias("assignee")
    app.extensions["baseline_engine"] = engine
    writes = DurableWrites(meta, engine.dialect.name) if durable else None

    def fail(status: int, message: str, errors: dict | None = None):
        body: dict[str, Any] = {"success": False, "message": message}
        if errors:
            body["errors"] = errors
        return jsonify(body), status

    @app.before_request
    def authenticate():
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return fail(401, "Unauthenticated")
        try:
            claims = jwt.decode(header[7:], jwt_secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return fail(401, "Invalid token")
        staff = (select(func.count()).select_from(ur.join(r, r.c.id == ur.c.role_id))
                 .where(ur.c.user_id == u.c.id, r.c.name != "Customer").scalar_subquery())
        with engine.connect() as conn:
            row = conn.execute(
                select(u.c.id, u.c.active, c.c.id.label("customer_id"), staff.label("staff"))
                .outerjoin(c, c.c.user_id == u.c.id)
                .where(u.c.id == int(claims["sub"]))
            ).mappings().first()
        if row is None or not row["active"]:
            return fail(401, "User is inactive or does not exist")
        g.user_id, g.customer_id, g.staff = row["id"], row["customer_id"], row["staff"] > 0
        return None

    def ticket_json(row: RowMapping) -> dict[str, Any]:
        data = {k: _iso(row[k]) for k in TICKET_FIELDS}
        data["ticket_number"] = row["number"]
        data["assigned_to"] = row["assigned_to_id"]
        data["last_replied_by"] = row["last_replied_by_id"]
        data["customer"] = {"id": row["customer_id"], "name": row["customer_name"],
                            "email": row["customer_email"]}
        if "assignee_id" in row:
            data["assigned_admin"] = None if row["assignee_id"] is None else {
                "id": row["assignee_id"], "email": row["assignee_email"],
                "name": f"{row['assignee_first']} {row['assignee_last']}".strip()}
        return data

    def ticket_query():
        return (
            select(t, c.c.name.label("customer_name"), c.c.email.label("customer_email"),
                   assignee.c.id.label("assignee_id"), assignee.c.email.label("assignee_email"),
                   assignee.c.first_name.label("assignee_first"),
                   assignee.c.last_name.label("assignee_last"))
            .join(c, c.c.id == t.c.customer_id)
            .outerjoin(assignee, assignee.c.id == t.c.assigned_to_id)
        )

    def visible(conn, ticket_id: int):
        row = conn.execute(ticket_query().where(t.c.id == ticket_id)).mappings().first()
        if row is None:
            return None, fail(404, "Ticket not found")
        if not g.staff and row["customer_id"] != g.customer_id:
            return None, fail(403, "Unauthorized access to this ticket")
        return row, None

    @app.post("/api/support-tickets")
    def create_ticket():
        body = request.get_json(silent=True) or {}
        errors: dict[str, list[str]] = {}
        subject, description = body.get("subject"), body.get("description")
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 255:
            errors["subject"] = ["The subject field is required."]
        if not isinstance(description, str) or not 10 <= len(description) <= 5000:
            errors["description"] = ["The description must be at least 10 characters."]
        priority = body.get("priority", "medium")
        category = body.get("category", "other")
        if priority not in PRIORITIES:
            errors["priority"] = ["The selected priority is invalid."]
        if category not in CATEGORIES:
            errors["category"] = ["The selected category is invalid."]
        if errors:
            return fail(422, "Validation failed", errors)
        if g.customer_id is None:
            return fail(403, "Only customers may create support tickets")
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        with engine.begin() as conn:
            ticket_id = conn.execute(t.insert().values(
                number="TKT-" + secrets.token_hex(7).upper()[:13], customer_id=g.customer_id,
                subject=subject, description=description, status="open", priority=priority,
                category=category, channel="api", created_by_id=g.user_id, escalation_level=0,
                message_count=0, is_customer_read=True, is_admin_read=False,
                created_at=now, updated_at=now, **(writes.sla(now) if writes else {}),
            )).inserted_primary_key[0]
            conn.execute(ev.insert().values(ticket_id=ticket_id, actor_id=g.user_id,
                                            actor_type="customer", kind="created",
                                            new_value="open", created_at=now))
            row = conn.execute(ticket_query().where(t.c.id == ticket_id)).mappings().one()
            if writes:
                writes.receipt(conn, row, g.user_id, now)
                writes.created(conn)  # last: every writer updates these rows
        return jsonify({"success": True, "message": "Support ticket created successfully",
                        "data": ticket_json(row)}), 201

    @app.get("/api/support-tickets")
    def list_tickets():
        status = request.args.get("status")
        page = max(request.args.get("page", 1, type=int), 1)
        per_page = min(max(request.args.get("per_page", PER_PAGE, type=int), 1), 100)
        where = []
        if status in STATUSES:
            where.append(t.c.status == status)
        if not g.staff:
            where.append(t.c.customer_id == g.customer_id)
        cond = and_(*where) if where else None
        count = select(func.count()).select_from(t)
        page_q = ticket_query().order_by(t.c.created_at.desc(), t.c.id.desc())
        if cond is not None:
            count, page_q = count.where(cond), page_q.where(cond)
        with engine.connect() as conn:
            total = conn.scalar(count)
            rows = conn.execute(page_q.limit(per_page).offset((page - 1) * per_page)).mappings().all()
        last_page = max((total + per_page - 1) // per_page, 1)
        base = request.base_url
        return jsonify({"success": True, "data": {
            "current_page": page, "data": [ticket_json(row) for row in rows],
            "first_page_url": f"{base}?page=1", "from": (page - 1) * per_page + 1 if rows else None,
            "last_page": last_page, "last_page_url": f"{base}?page={last_page}",
            "next_page_url": f"{base}?page={page + 1}" if page < last_page else None,
            "path": base, "per_page": per_page,
            "prev_page_url": f"{base}?page={page - 1}" if page > 1 else None,
            "to": (page - 1) * per_page + len(rows) if rows else None, "total": total,
        }})

    @app.get("/api/support-tickets/<int:ticket_id>")
    def ticket_detail(ticket_id: int):
        with engine.connect() as conn:
            row, error = visible(conn, ticket_id)
        if error:
            return error
        return jsonify({"success": True, "data": ticket_json(row)})

    @app.post("/api/support-tickets/<int:ticket_id>/messages")
    def post_message(ticket_id: int):
        body = request.get_json(silent=True) or {}
        text = body.get("message")
        if not isinstance(text, str) or not 1 <= len(text.strip()) <= 5000:
            return fail(422, "Validation failed", {"message": ["The message field is required."]})
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        with engine.begin() as conn:
            row, error = visible(conn, ticket_id)
            if error:
                return error
            desk = g.staff and row["customer_id"] != g.customer_id
            values: dict[str, Any] = {"message_count": t.c.message_count + 1, "updated_at": now}
            if desk:
                values.update(is_customer_read=False, is_admin_read=True, last_replied_at=now,
                              last_replied_by_id=g.user_id)
                if row["status"] in ("resolved", "closed"):
                    values.update(status="in_progress", resolved_at=None, closed_at=None)
            else:
                values.update(is_admin_read=False, is_customer_read=True)
                if row["status"] in ("resolved", "closed"):
                    values.update(status="open", resolved_at=None, closed_at=None)
            message_id = conn.execute(m.insert().values(
                ticket_id=ticket_id, sender_type="admin" if desk else "customer",
                customer_id=None if desk else row["customer_id"],
                admin_id=g.user_id if desk else None, body=text, channel="api",
                is_read=False, created_at=now, updated_at=now,
            )).inserted_primary_key[0]
            conn.execute(t.update().where(t.c.id == ticket_id).values(**values))
            if writes:
                writes.replied(conn, row, desk, values.get("status"), g.user_id, now)
        return jsonify({"success": True, "message": "Message sent successfully", "data": {
            "id": message_id, "ticket_id": ticket_id,
            "customer_id": None if desk else row["customer_id"],
            "admin_id": g.user_id if desk else None, "message": text,
            "sender_type": "admin" if desk else "customer", "is_read": False, "read_at": None,
            "attachments": None, "created_at": _iso(now), "updated_at": _iso(now),
        }}), 201

    @app.get("/api/support-tickets/navbar/count")
    def navbar_count():
        if g.staff:
            q = select(
                func.count(),
                func.coalesce(func.sum(case((t.c.status == "open", 1), else_=0)), 0),
                func.coalesce(func.sum(case((t.c.status == "in_progress", 1), else_=0)), 0),
                func.coalesce(func.sum(case((and_(t.c.is_admin_read.is_(False),
                                                  t.c.status.in_(UNRESOLVED)), 1), else_=0)), 0),
            ).select_from(t)
            with engine.connect() as conn:
                total, open_, in_progress, unread = conn.execute(q).one()
            return jsonify({"success": True, "total_tickets": total, "open_tickets": open_,
                            "in_progress_tickets": in_progress, "unread_count": unread,
                            "count": unread})
        q = select(
            func.coalesce(func.sum(case((t.c.status.in_(UNRESOLVED), 1), else_=0)), 0),
            func.coalesce(func.sum(case((t.c.is_customer_read.is_(False), 1), else_=0)), 0),
        ).where(t.c.customer_id == g.customer_id)
        with engine.connect() as conn:
            unresolved, unread = conn.execute(q).one()
        return jsonify({"success": True, "total_unresolved": unresolved,
                        "unread_count": unread, "count": unread or unresolved})

    return app


class DurableWrites:
    """The rows support_app writes with a create or a reply besides the ticket, the
    message and the audit row, as plain Core INSERTs and UPDATEs."""

    def __init__(self, meta: MetaData, dialect: str) -> None:
        self.ev = meta.tables["ticket_events"]
        self.notes = meta.tables["notifications"]
        self.mail = meta.tables["email_logs"]
        counters = meta.tables["ticket_counters"]
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        upsert = insert(counters)
        self.bump = upsert.on_conflict_do_update(
            index_elements=[counters.c.name],
            set_={"value": counters.c.value + upsert.excluded.value})

    @staticmethod
    def sla(now: dt.datetime) -> dict[str, Any]:
        """A new ticket's SLA columns: due in 4 and 120 hours, checked at 80%."""
        first = now + dt.timedelta(hours=4)
        return dict(first_response_due_at=first, first_response_state="running",
                    resolution_due_at=now + dt.timedelta(hours=120), resolution_state="running",
                    sla_due_at=first, sla_state="running",
                    sla_check_at=now + dt.timedelta(hours=3, minutes=12))

    def created(self, conn) -> None:
        """The desk counters a new ticket moves (total, open, unread), written last in
        the transaction: on PostgreSQL every writer waits for their row locks, so taken
        early they serialise all the rest of each create (the app does the same)."""
        conn.execute(self.bump, [{"name": name, "value": 1}
                                 for name in ("admin_unread", "status:open", "tickets")])

    def receipt(self, conn, row: RowMapping, user_id: int, now: dt.datetime) -> None:
        """The customer's notification and queued receipt email."""
        number = row["number"]
        self.notify(conn, user_id, row["id"], "ticket_created", f"Ticket {number} created",
                    f'We received your request "{row["subject"]}".', number, "open", now)
        conn.execute(self.mail.insert().values(
            ticket_id=row["id"], direction="out", status="queued",
            from_address="support@localhost", to_address=row["customer_email"],
            subject=f"[{number}] {row['subject']}", template="ticket_received",
            message_id=f"<tkt-{number}-{secrets.token_hex(16)}@localhost>",
            body_text=f"We received your request \"{row['subject']}\".", attempts=0,
            created_at=now))

    def replied(self, conn, row: RowMapping, desk: bool, new_status: str | None,
                user_id: int, now: dt.datetime) -> None:
        """A notification for the other side; a reopening reply's audit row and
        counters."""
        recipient = row["assigned_to_id"] if not desk else None
        if recipient:
            self.notify(conn, recipient, row["id"], "message",
                        f"New message on ticket {row['number']}", "reply", row["number"],
                        new_status or row["status"], now)
        if new_status:
            conn.execute(self.ev.insert().values(
                ticket_id=row["id"], actor_id=user_id, actor_type="admin" if desk else "customer",
                kind="status", old_value=row["status"], new_value=new_status, created_at=now))
            conn.execute(self.bump, [{"name": f"status:{row['status']}", "value": -1},
                                     {"name": f"status:{new_status}", "value": 1}])

    def notify(self, conn, user_id: int, ticket_id: int, kind: str, title: str, body: str,
               number: str, status: str, now: dt.datetime) -> None:
        conn.execute(self.notes.insert().values(
            user_id=user_id, ticket_id=ticket_id, kind=kind, locale="en", title=title,
            body=body, data={"ticket_number": number, "status": status}, created_at=now))


def app_from_env(durable: bool = False) -> Flask:
    """For gunicorn: `gunicorn 'bench.baseline.app:app_from_env()'` (or `(durable=True)`)."""
    return create_baseline_app(os.environ["DATABASE_URL"], os.environ["JWT_SECRET_KEY"],
                               durable)
