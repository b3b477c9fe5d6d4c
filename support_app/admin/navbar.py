"""The navbar's ticket badge: rendered with the page, then kept live over Socket.IO
(`static/admin/badge.js` applies each `support:navbar:count` event: the 002 staff navbar
counts, `{"count": n, ...}`, emitted by the realtime layer to the `staff` room)."""
from __future__ import annotations

from flask import current_app
from flask_login import current_user

from ..tickets.badges import navbar_counts
from . import permissions as perms
from .base import current_actor, per_request


def support_navbar() -> dict[str, int] | None:
    """Counts for a signed-in user who works tickets, else None (once per request)."""
    def build() -> dict[str, int] | None:
        if current_user.is_authenticated and current_app.appbuilder.sm.has_access(
            "can_list", perms.TICKETS
        ):
            return navbar_counts(current_actor())
        return None

    return per_request("navbar", build)
