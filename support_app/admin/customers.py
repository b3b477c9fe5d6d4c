"""Requesters, with their tickets and orders as tabs (FAB related views)."""
from __future__ import annotations

from flask import flash
from flask_appbuilder import action
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..models import Customer
from ..tickets import feedback
from . import permissions as perms
from .base import DeskModelView, attempt, current_actor
from .labels import language_name
from .commerce import BookingView, OrderView, RideView
from .redirects import back
from .tickets import TicketView


class CustomerView(DeskModelView):
    datamodel = SQLAInterface(Customer)
    class_permission_name = perms.CUSTOMERS
    route_base = "/customers"
    list_title = _l("Customers")
    show_title = _l("Customer")
    base_permissions = ["can_list", "can_show", "can_surveys"]
    method_permission_name = {"surveys_off": perms.SURVEYS, "surveys_on": perms.SURVEYS}
    related_views = [TicketView, OrderView, RideView, BookingView]
    base_order = ("created_at", "desc")
    list_columns = ["name", "email", "phone", "locale", "points", "credit_balance", "created_at"]
    show_columns = list_columns + ["survey_opt_out", "user"]
    search_columns = ["name", "email", "phone", "locale", "created_at"]
    label_columns = {"name": _l("Name"), "email": _l("Email"), "phone": _l("Phone"),
                     "locale": _l("Language"), "points": _l("Points"),
                     "credit_balance": _l("Credit"), "created_at": _l("Since"),
                     "user": _l("Account"), "survey_opt_out": _l("No satisfaction surveys")}
    formatters_columns = {"locale": language_name}

    def _surveys(self, items, opted_out: bool):
        items = items if isinstance(items, list) else [items]
        done = 0
        for customer in (i for i in items if i is not None):
            if attempt(feedback.set_survey_opt_out, current_actor(), customer.id, opted_out,
                       label=str(customer)):
                done += 1
        if done:
            flash(ngettext("%(num)d customer updated.", "%(num)d customers updated.", done),
                  "success")
        return back(self.get_redirect)

    @action("surveys_off", _l("Stop satisfaction surveys"),
            _l("Send the selected customers no more satisfaction surveys?"), "fa-bell-slash")
    def surveys_off(self, items):
        return self._surveys(items, True)

    @action("surveys_on", _l("Allow satisfaction surveys"), icon="fa-bell")
    def surveys_on(self, items):
        return self._surveys(items, False)
