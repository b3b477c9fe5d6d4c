"""Requesters, with their tickets and orders as tabs (FAB related views)."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from ..models import Customer
from . import permissions as perms
from .base import DeskModelView
from .labels import language_name
from .commerce import BookingView, OrderView, RideView
from .tickets import TicketView


class CustomerView(DeskModelView):
    datamodel = SQLAInterface(Customer)
    class_permission_name = perms.CUSTOMERS
    route_base = "/customers"
    list_title = _l("Customers")
    show_title = _l("Customer")
    base_permissions = ["can_list", "can_show"]
    related_views = [TicketView, OrderView, RideView, BookingView]
    base_order = ("created_at", "desc")
    list_columns = ["name", "email", "phone", "locale", "points", "credit_balance", "created_at"]
    show_columns = list_columns + ["user"]
    search_columns = ["name", "email", "phone", "locale", "created_at"]
    label_columns = {"name": _l("Name"), "email": _l("Email"), "phone": _l("Phone"),
                     "locale": _l("Language"), "points": _l("Points"),
                     "credit_balance": _l("Credit"), "created_at": _l("Since"),
                     "user": _l("Account")}
    formatters_columns = {"locale": language_name}
