"""Stored, localized notifications: written in the ticket change's own transaction,
pushed as a `notification` event to `user:{id}` once it commits.

Each notice is rendered once, in the recipient's language (their user locale, else
their customer locale, else the default), and stored with that locale: a client
that was offline lists the same text over GET /api/notifications.

Recipients: the ticket's customer and group participants (with accounts) and the
assigned agent, never the person who made the change, except the creation and
escalation confirmations the 001 document sends the customer. Internal notes notify
the assigned agent only. A legacy create (`notify=False`) notifies nobody.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Callable

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Insert, Select, bindparam, insert, select

from .. import database
from ..extensions import db
from ..i18n import SLA_TARGET_LABELS, STATUS_LABELS
from ..models import Customer, Message, Notification, SupportUser, utcnow
from ..realtime import rooms
from ..realtime.dispatch import listened, push
from ..realtime.publisher import iso
from ..tickets import events
from ..tickets.events import DomainEvent, TicketSnapshot

log = logging.getLogger(__name__)

PRODUCED_KEY = "notifications"

EXCERPT = 140


def payload(row: Notification | SimpleNamespace) -> dict[str, Any]:
    """How a notification looks in the socket event and the REST list (from a stored
    row, or from the values just written)."""
    return {
        "id": row.id,
        "kind": row.kind,
        "ticket_id": row.ticket_id,
        "locale": row.locale,
        "title": row.title,
        "body": row.body,
        "data": row.data or {},
        "is_read": row.read_at is not None,
        "read_at": iso(row.read_at),
        "created_at": iso(row.created_at),
    }


@lru_cache(maxsize=1)
def _locales_statement() -> Select:
    """Built once (it runs on nearly every ticket change): each user's own locale and
    their customer record's."""
    return (
        select(SupportUser.id, SupportUser.locale, Customer.locale)
        .outerjoin(Customer, Customer.user_id == SupportUser.id)
        .where(SupportUser.id.in_(bindparam("user_ids", expanding=True)))
    )


@lru_cache(maxsize=1)
def _insert_returning_ids() -> Insert:
    """Built once (it runs inside nearly every ticket change's write): the rows' ids,
    in the order given, for the pushes."""
    table = Notification.__table__
    return insert(table).returning(table.c.id, sort_by_parameter_order=True)


def recipient_locales(user_ids: set[int]) -> dict[int, str]:
    """Each recipient's language (user choice, else customer record, else the default),
    for all recipients of one change in one query."""
    languages = current_app.config["LANGUAGES"]
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    found = {user_id: default for user_id in user_ids}
    if not user_ids:
        return found
    rows = database.execute_core(_locales_statement(), {"user_ids": sorted(user_ids)})
    for user_id, user_locale, customer_locale in rows:
        found[user_id] = next(
            (loc for loc in (user_locale, customer_locale) if loc in languages), default)
    return found


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


Render = Callable[[], tuple[str, str]]


def _plan(e: DomainEvent) -> list[tuple[set[int | None], str, Render, bool]]:
    """(recipients, kind, render, include the actor) for one domain event."""
    t: TicketSnapshot = e.ticket  # type: ignore[assignment]
    n = {"number": t.number, "subject": t.subject}
    customers = {t.customer_user_id, *t.participant_user_ids}
    agent = {t.assigned_to_id}
    if e.name == events.TICKET_CREATED:
        return [
            ({t.customer_user_id}, "ticket_created", lambda: (
                _("Ticket %(number)s created", **n),
                _("We received your request \"%(subject)s\". Our team will reply soon.", **n)), True),
            (set(t.participant_user_ids), "ticket_participant", lambda: (
                _("You were added to ticket %(number)s", **n),
                _("%(name)s opened \"%(subject)s\" and included you.", name=t.customer_name, **n)),
             False),
        ]
    if e.name == events.MESSAGE_ADDED:
        message = db.session.get(Message, e.data.get("message_id"))
        text = _excerpt(message.body) if message else ""
        if e.data.get("sender_type") == "admin":
            return [(customers, "message", lambda: (
                _("New reply on ticket %(number)s", **n), text), False)]
        return [(agent, "message", lambda: (
            _("New message from %(name)s on ticket %(number)s", name=t.customer_name, **n),
            text), False)]
    if e.name in (events.STATUS_CHANGED, events.CLOSED):
        def status() -> tuple[str, str]:
            label = str(STATUS_LABELS.get(t.status, t.status))
            return (_("Ticket %(number)s is now %(status)s", status=label, **n),
                    _("The status of \"%(subject)s\" changed to %(status)s.", status=label, **n))
        return [(customers | agent, "status", status, False)]
    if e.name == events.ESCALATED:
        def escalated() -> tuple[str, str]:
            return (_("Ticket %(number)s escalated", **n),
                    _("\"%(subject)s\" was escalated to support level %(level)d.",
                      level=t.escalation_level, **n))
        return [({t.customer_user_id}, "escalated", escalated, True),
                (agent, "escalated", escalated, False)]
    if e.name == events.ASSIGNED and t.assigned_to_id is not None:
        return [(agent, "assigned", lambda: (
            _("Ticket %(number)s was assigned to you", **n),
            _("\"%(subject)s\" from %(name)s is now yours.", name=t.customer_name, **n)), False)]
    if e.name == events.NOTE_ADDED:
        return [(agent, "note", lambda: (
            _("New internal note on ticket %(number)s", **n),
            _("A colleague left an internal note on \"%(subject)s\".", **n)), False)]
    if e.name == events.MERGED:
        merged = {"old": e.data.get("merged_number", ""), **n}
        return [(customers, "merged", lambda: (
            _("Ticket %(old)s was merged into %(number)s", **merged),
            _("Your requests are now one conversation: \"%(subject)s\" (%(number)s). "
              "Reply there; nothing you wrote is lost.", **merged)), False)]
    if e.name == events.SLA:
        return [(set(e.data.get("recipients") or ()), "sla", lambda: sla_notice(t, e.data), False)]
    if e.name == events.FEEDBACK:
        return [(agent, "feedback", lambda: (
            _("Feedback on ticket %(number)s", **n),
            _("%(name)s rated the support %(rating)d of 5.", name=t.customer_name,
              rating=int(e.data.get("rating") or 0))), False)]
    return []


def sla_notice(t: TicketSnapshot, data: dict[str, Any]) -> tuple[str, str]:
    """An SLA warning or breach, in the current locale: (title, body)."""
    values = {"number": t.number, "subject": t.subject,
              "target": str(SLA_TARGET_LABELS.get(data.get("target"), data.get("target"))),
              "due": str(data.get("due_at") or "")[:16].replace("T", " ") + " UTC"}
    if data.get("state") == "breached":
        return (_("Ticket %(number)s: %(target)s target breached", **values),
                _("The %(target)s target of \"%(subject)s\" was due at %(due)s.", **values))
    return (_("Ticket %(number)s: %(target)s target at risk", **values),
            _("The %(target)s target of \"%(subject)s\" is due at %(due)s.", **values))


def prepare_notifications(e: DomainEvent) -> events.Write | None:
    """In-transaction subscriber: each notice rendered now, in its recipient's
    language; the rows are written with the change (and roll back with it)."""
    ticket = e.ticket
    if ticket is None or e.data.get("notify") is False:
        return None
    # An unverified ticket notifies nobody on the customer side.
    hidden = {ticket.customer_user_id, *ticket.participant_user_ids} if ticket.unverified else set()
    plan = [(kind, render, sorted(
        uid for uid in recipients - hidden
        if uid is not None and (include_actor or uid != e.actor_user_id)))
        for recipients, kind, render, include_actor in _plan(e)]
    locales = recipient_locales({uid for *_, user_ids in plan for uid in user_ids})
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for kind, render, user_ids in plan:
        for user_id in user_ids:
            locale = locales[user_id]
            try:
                with force_locale(locale):
                    title, body = render()
            except (KeyError, ValueError, TypeError):
                # A broken translation must not undo the ticket change: say it in
                # the default language instead.
                log.exception("notification %s does not render in %s", kind, locale)
                locale = current_app.config["BABEL_DEFAULT_LOCALE"]
                with force_locale(locale):
                    title, body = render()
            rows.append(dict(
                user_id=user_id, kind=kind, locale=locale,
                title=title[:255], body=body, read_at=None, created_at=now,
                data={"ticket_number": ticket.number, "status": ticket.status, "event": e.name},
            ))
    if not rows:
        return None

    def write() -> None:
        # Core, not ORM objects: written once, never changed in this transaction.
        for row in rows:
            row["ticket_id"] = ticket.id  # a new ticket has its id only now
        ids = database.execute_core(_insert_returning_ids(), rows).scalars()
        e.produced[PRODUCED_KEY] = [
            (row["user_id"], payload(SimpleNamespace(id=row_id, **row)))
            for row_id, row in zip(ids, rows)]

    return write


def push_notifications(e: DomainEvent) -> None:
    """After-commit subscriber: each stored notice goes live to its recipient."""
    for user_id, body in e.produced.get(PRODUCED_KEY, []):
        room = rooms.user_room(user_id)
        if listened([room]):  # offline: they list it over GET /api/notifications
            push("notification", body, [room])


def install() -> None:
    events.publisher.subscribe_in_transaction(prepare_notifications)
    events.publisher.subscribe_after_commit(push_notifications)
