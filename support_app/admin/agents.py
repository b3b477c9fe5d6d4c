"""Support agents: who registered, who is approved; approve or revoke through the service."""
from __future__ import annotations

from flask import flash
from flask_appbuilder import action
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..models import AgentProfile
from ..tickets import service
from . import permissions as perms
from .redirects import back
from .base import DeskModelView, attempt, current_actor


class AgentView(DeskModelView):
    datamodel = SQLAInterface(AgentProfile)
    class_permission_name = perms.AGENTS
    route_base = "/agents"
    list_title = _l("Support agents")
    show_title = _l("Support agent")
    base_permissions = ["can_list", "can_show", "can_approve"]
    method_permission_name = {"approve": "approve", "revoke": "approve"}
    base_order = ("created_at", "desc")
    list_columns = ["user", "user.email", "contact_number", "is_approved", "approved_by",
                    "approved_at", "created_at"]
    show_columns = list_columns
    search_columns = ["user", "contact_number", "is_approved", "created_at"]
    label_columns = {"user": _l("Agent"), "user.email": _l("Email"),
                     "contact_number": _l("Contact number"), "is_approved": _l("Approved"),
                     "approved_by": _l("Approved by"), "approved_at": _l("Approved at"),
                     "created_at": _l("Registered")}

    def _decide(self, items, approved: bool):
        items = items if isinstance(items, list) else [items]
        done = 0
        for profile in (i for i in items if i is not None):
            user_id, label = profile.user_id, str(profile)
            if attempt(service.approve_agent, current_actor(), user_id, approved, label=label):
                done += 1
        if done:
            flash(ngettext("%(num)d agent updated.", "%(num)d agents updated.", done), "success")
        return back(self.get_redirect)

    @action("approve", _l("Approve"), icon="fa-check")
    def approve(self, items):
        return self._decide(items, True)

    @action("revoke", _l("Revoke approval"), _l("Revoke the selected agents' approval?"), "fa-ban")
    def revoke(self, items):
        return self._decide(items, False)
