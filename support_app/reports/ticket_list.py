"""The dashboard's ticket list as CSV rows: the list's own query (its base filter, the
filters in the URL, its order) narrowed to plain columns and read in batches
(`yield_per`: a server-side cursor on PostgreSQL), so a million rows stream in
constant memory."""
from __future__ import annotations

from typing import Any, Iterator

from flask_babel import gettext as _
from sqlalchemy.orm import Query, aliased

from ..admin.labels import CATEGORY_LABELS, CHANNEL_LABELS, label
from ..i18n import PRIORITY_LABELS, STATUS_LABELS
from ..models import Customer, SupportUser, Ticket

BATCH = 500


def headings() -> list[str]:
    return [_("Number"), _("Subject"), _("Customer"), _("Email"), _("Status"), _("Priority"),
            _("Category"), _("Channel"), _("Assignee"), _("Escalation"), _("Created"),
            _("Updated"), _("Resolved")]


def rows(query: Query) -> Iterator[list[Any]]:
    """The list's query (filters and order applied) as one CSV row per ticket."""
    assignee = aliased(SupportUser)
    columns = query.with_entities(
        Ticket.number, Ticket.subject, Customer.name, Customer.email, Ticket.status,
        Ticket.priority, Ticket.category, Ticket.channel, assignee.first_name,
        assignee.last_name, Ticket.escalation_level, Ticket.created_at, Ticket.updated_at,
        Ticket.resolved_at,
    ).outerjoin(Customer, Customer.id == Ticket.customer_id) \
        .outerjoin(assignee, assignee.id == Ticket.assigned_to_id) \
        .order_by(Ticket.id.desc()).yield_per(BATCH)
    try:
        for (number, subject, customer, email, status, priority, category, channel, first,
             last, escalation, created, updated, resolved) in columns:
            yield [number, subject, customer, email, label(STATUS_LABELS, status),
                   label(PRIORITY_LABELS, priority), label(CATEGORY_LABELS, category),
                   label(CHANNEL_LABELS, channel), " ".join(p for p in (first, last) if p),
                   escalation, created, updated, resolved]
    finally:
        # The rows are read while the response streams, after the request's teardown has
        # already ended its session; reading began a new transaction on that session, so
        # end it here (finished or aborted download) or the connection stays checked out,
        # idle in a transaction, until garbage collection.
        query.session.close()
