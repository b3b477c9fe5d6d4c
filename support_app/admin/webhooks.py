"""Outgoing webhooks (Admin): endpoints as data, "send test", and the deliveries log
with "resend". Deliveries go through the same outbox as the ticket events."""
from __future__ import annotations

from flask import current_app, flash, redirect
from flask_appbuilder import action
from flask_appbuilder.fieldwidgets import Select2ManyWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from markupsafe import Markup
from wtforms import BooleanField, Field, Form, SelectMultipleField, ValidationError
from wtforms.validators import DataRequired

from ..extensions import db
from ..models import WebhookDelivery, WebhookEndpoint
from ..webhooks import delivery, endpoints, guard
from . import permissions as perms
from .base import DeskModelView, ticket_link


def public_url(form: Form, field: Field) -> None:
    """The SSRF guard at save time (it runs again before every delivery)."""
    try:
        guard.check_url(field.data, bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE")))
    except guard.RefusedURL as exc:
        raise ValidationError(str(exc)) from None


STATUS_LABELS = {"queued": _l("Waiting to be sent"), "sending": _l("Sending now"),
                 "delivered": _l("Delivered to the endpoint"), "failed": _l("Failed for good")}


# What a delivery's event column reads (and its search filter offers): the test ping too.
EVENT_LABELS = {**endpoints.EVENTS, endpoints.PING: _l("Test (ping)")}


def event_label(name: str) -> str:
    return str(EVENT_LABELS.get(name, name))


def event_labels(chosen: list[str] | None) -> Markup:
    return Markup(", ").join(event_label(name) for name in chosen or [])


def _form_fields() -> dict[str, Field]:
    """The event choice, and on/off boxes that may be left unticked (FAB would make a
    NOT NULL boolean a required box)."""
    return {
        "events": SelectMultipleField(_l("Events"), choices=list(endpoints.EVENTS.items()),
                                      validators=[DataRequired()], widget=Select2ManyWidget()),
        "is_active": BooleanField(_l("Active"), default=True),
        "is_internal": BooleanField(
            _l("Receives internal notes"),
            description=_l("Internal notes are sent only to endpoints marked internal.")),
    }


_LABELS = {"name": _l("Name"), "url": _l("URL"), "events": _l("Events"),
           "secret": _l("Signing secret"), "is_active": _l("Active"),
           "is_internal": _l("Receives internal notes"),
           "consecutive_failures": _l("Failures in a row"), "disabled_at": _l("Turned off at"),
           "disabled_reason": _l("Why it was turned off"), "created_at": _l("Created"),
           "endpoint": _l("Webhook"), "event": _l("Event"), "ticket": _l("Ticket"),
           "status": _l("Status"), "response_code": _l("Response code"),
           "duration_ms": _l("Duration (ms)"), "attempts": _l("Attempts"), "error": _l("Error"),
           "next_attempt_at": _l("Next attempt"), "delivered_at": _l("Delivered at"),
           "body": _l("Body")}


def _queued(items, queue) -> int:
    items = items if isinstance(items, list) else [items]
    done = [queue(item) for item in items if item is not None]
    db.session.commit()
    delivery.wake()
    return len(done)


class WebhookEndpointView(DeskModelView):
    datamodel = SQLAInterface(WebhookEndpoint)
    class_permission_name = perms.WEBHOOKS
    route_base = "/webhooks"
    list_title = _l("Webhooks")
    show_title = _l("Webhook")
    add_title = _l("Add webhook")
    edit_title = _l("Edit webhook")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete",
                        "can_send_test"]
    base_order = ("created_at", "desc")
    list_columns = ["name", "url", "events", "is_active", "is_internal",
                    "consecutive_failures", "disabled_at"]
    show_columns = ["name", "url", "events", "secret", "is_active", "is_internal",
                    "consecutive_failures", "disabled_at", "disabled_reason", "created_at"]
    add_columns = edit_columns = ["name", "url", "events", "is_active", "is_internal"]
    add_form_extra_fields = _form_fields()
    edit_form_extra_fields = _form_fields()
    validators_columns = {"url": [public_url]}
    formatters_columns = {"events": event_labels}
    label_columns = _LABELS
    description_columns = {"secret": _l("Verify the X-Support-Signature header with this secret.")}

    def pre_update(self, item: WebhookEndpoint) -> None:
        """Turning an endpoint back on starts its failure count afresh."""
        if item.is_active and item.disabled_at is not None:
            item.consecutive_failures, item.disabled_at, item.disabled_reason = 0, None, None

    @action("send_test", _l("Send test"), icon="fa-paper-plane")
    def send_test(self, items):
        done = _queued(items, endpoints.queue_ping)
        flash(ngettext("%(num)d test delivery queued.", "%(num)d test deliveries queued.",
                       done), "success")
        return redirect(self.get_redirect())


class WebhookDeliveryView(DeskModelView):
    datamodel = SQLAInterface(WebhookDelivery)
    class_permission_name = perms.WEBHOOK_DELIVERIES
    route_base = "/webhook-deliveries"
    list_title = _l("Webhook deliveries")
    show_title = _l("Webhook delivery")
    base_permissions = ["can_list", "can_show", "can_resend"]
    base_order = ("created_at", "desc")
    list_columns = ["created_at", "endpoint", "event", "ticket", "status", "response_code",
                    "duration_ms", "attempts", "error"]
    show_columns = ["created_at", "endpoint", "event", "ticket", "status", "response_code",
                    "duration_ms", "attempts", "next_attempt_at", "delivered_at", "error", "body"]
    search_columns = ["endpoint", "event", "status", "response_code", "created_at"]
    formatters_columns = {"ticket": ticket_link}
    code_labels = {"event": EVENT_LABELS, "status": STATUS_LABELS}
    label_columns = _LABELS

    @action("resend", _l("Resend"), icon="fa-repeat")
    def resend(self, items):
        done = _queued(items, endpoints.queue_resend)
        flash(ngettext("%(num)d delivery queued again.", "%(num)d deliveries queued again.",
                       done), "success")
        return redirect(self.get_redirect())
