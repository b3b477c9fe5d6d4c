"""Every email in and out (read-only), each linked to its ticket's page."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from ..models import EmailLog
from . import permissions as perms
from .base import DeskModelView, ticket_link
from .labels import EMAIL_DIRECTION_LABELS, EMAIL_STATUS_LABELS


class EmailLogView(DeskModelView):
    datamodel = SQLAInterface(EmailLog)
    class_permission_name = perms.EMAIL_LOGS
    route_base = "/email-logs"
    list_title = _l("Email logs")
    show_title = _l("Email")
    base_permissions = ["can_list", "can_show"]
    base_order = ("created_at", "desc")
    list_columns = ["created_at", "direction", "status", "to_address", "from_address",
                    "subject", "ticket", "attempts"]
    show_columns = ["created_at", "direction", "status", "ticket", "from_address", "to_address",
                    "subject", "template", "message_id", "in_reply_to", "body_text",
                    "attempts", "next_attempt_at", "sent_at", "error"]
    search_columns = ["direction", "status", "to_address", "from_address", "subject",
                      "ticket", "created_at"]
    formatters_columns = {"ticket": ticket_link}
    code_labels = {"direction": EMAIL_DIRECTION_LABELS, "status": EMAIL_STATUS_LABELS}
    label_columns = {"created_at": _l("When"), "direction": _l("Direction"),
                     "status": _l("Status"), "to_address": _l("To"), "from_address": _l("From"),
                     "subject": _l("Subject"), "ticket": _l("Ticket"), "attempts": _l("Attempts"),
                     "body_text": _l("Body"), "error": _l("Error")}

