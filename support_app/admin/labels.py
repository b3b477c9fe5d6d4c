"""How the dashboard shows stored codes: every category, channel, status, priority and
history entry a person reads comes from the catalogs; the codes themselves stay in
URLs, form values and the API."""
from __future__ import annotations

from typing import Any, Mapping

from flask import current_app
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from ..i18n import PRIORITY_LABELS, SLA_STATE_LABELS, SLA_TARGET_LABELS, STATUS_LABELS

CATEGORY_LABELS = {
    "technical": _l("Technical"), "billing": _l("Billing"), "order": _l("Order"),
    "product": _l("Product"), "account": _l("Account"), "other": _l("Other"),
    "damaged": _l("Damaged item"), "lost": _l("Lost item"), "late": _l("Late"),
    "quality": _l("Quality"), "payment": _l("Payment"),
    "service_quality": _l("Service quality"), "cancellation": _l("Cancellation"),
    "delivery": _l("Delivery"), "booking": _l("Booking"),
}
CHANNEL_LABELS = {
    "api": _l("App"), "admin": _l("Dashboard"), "contact_form": _l("Contact form"),
    "email": _l("Email"),
}
SERVICE_LABELS = {
    "order": _l("Order"), "ride": _l("Ride"), "booking": _l("Booking"),
    "delivery": _l("Delivery"), "event_service": _l("Event service"),
    "in_dining_order": _l("In-restaurant order"),
}
# Orders, rides and bookings arrive from the platform with these states.
SERVICE_STATUS_LABELS = {
    "pending": _l("Pending"), "processing": _l("Processing"), "shipped": _l("Shipped"),
    "delivered": _l("Delivered"), "cancelled": _l("Cancelled"), "requested": _l("Requested"),
    "accepted": _l("Accepted"), "in_progress": _l("In progress"), "completed": _l("Completed"),
    "confirmed": _l("Confirmed"), "seated": _l("Seated"), "no_show": _l("No-show"),
}
EMAIL_STATUS_LABELS = {
    "queued": _l("Queued"), "sent": _l("Sent"), "failed": _l("Failed"),
    "not_sent": _l("Not sent (no mail server)"), "received": _l("Received"),
    "ignored": _l("Ignored (auto-reply or bounce)"), "cancelled": _l("Cancelled"),
}
EMAIL_DIRECTION_LABELS = {"in": _l("Incoming"), "out": _l("Outgoing")}
EVENT_LABELS = {
    "created": _l("created the ticket"), "status": _l("changed the status"),
    "priority": _l("changed the priority"), "note": _l("added an internal note"),
    "escalated": _l("escalated"), "feedback": _l("received a rating"),
    "feedback_comment": _l("received a survey comment"),
    "assigned": _l("changed the assignee"), "auto_assigned": _l("assigned automatically"),
    "merged_into": _l("merged this ticket into another"),
    "merged_from": _l("merged another ticket into this one"),
    "tag_added": _l("added a tag"), "tag_removed": _l("removed a tag"),
    "macro": _l("applied a macro"),
    "sla_policy": _l("changed the SLA policy"), "sla_at_risk": _l("SLA target at risk"),
    "sla_breached": _l("SLA target breached"), "sla_rule": _l("applied an SLA escalation rule"),
}
ACTOR_TYPE_LABELS = {"system": _l("System"), "customer": _l("Customer"), "staff": _l("Staff")}
# Which history entries carry which kind of value.
EVENT_VALUE_LABELS: dict[str, Mapping[str, Any]] = {
    "created": STATUS_LABELS, "status": STATUS_LABELS, "priority": PRIORITY_LABELS,
    "sla_at_risk": SLA_TARGET_LABELS, "sla_breached": SLA_TARGET_LABELS,
}
NONE = "—"


def label(labels: Mapping[str, Any], code: Any) -> str:
    """The translated label of a code; an unknown code is shown as it is (readable,
    not hidden), an empty one as a dash."""
    if code is None or code == "":
        return NONE
    return str(labels.get(code, code))


def labeller(labels: Mapping[str, Any]):
    """A FAB `formatters_columns` entry showing a code column's labels."""
    return lambda code: label(labels, code)


def choices(labels: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Select options: codes as values, lazy labels as text (translated when rendered)."""
    return list(labels.items())


def language_name(code: str | None) -> str:
    """A language code as the language menu names it (a list cell)."""
    return current_app.config["LANGUAGES"].get(code, {}).get("name", code or NONE)


def yes_no(value: Any) -> Markup:
    """A boolean as a mark and a word (a list shows no Python `True`/`False`)."""
    if value is None:
        return Markup(NONE)
    if value:
        return Markup('<span class="desk-yes"><i class="fa fa-check" aria-hidden="true"></i> {}</span>'
                      ).format(_l("Yes"))
    return Markup('<span class="desk-no text-muted"><i class="fa fa-times" aria-hidden="true"></i> {}</span>'
                  ).format(_l("No"))


BY_KIND: dict[str, Mapping[str, Any]] = {
    "status": STATUS_LABELS, "priority": PRIORITY_LABELS, "category": CATEGORY_LABELS,
    "channel": CHANNEL_LABELS, "service": SERVICE_LABELS, "service_status": SERVICE_STATUS_LABELS,
    "event": EVENT_LABELS, "actor": ACTOR_TYPE_LABELS,
    "sla_target": SLA_TARGET_LABELS, "sla_state": SLA_STATE_LABELS,
}


def code_label(kind: str, code: Any) -> str:
    """`code_label('status', 'on_hold')` for templates (a Jinja global)."""
    return label(BY_KIND[kind], code)


ASSIGNMENT_EVENTS = ("assigned", "auto_assigned")


def history_value(kind: str, value: str | None, names: Mapping[str, str]) -> str:
    """An audit entry's old or new value as a person reads it: a status or priority
    label, an assignee's name (the row stores the user id), else the value."""
    if not value:
        return NONE
    if kind in ASSIGNMENT_EVENTS:
        return names.get(value, value)
    return label(EVENT_VALUE_LABELS.get(kind, {}), value)
