"""The platform's orders, rides and bookings that tickets refer to (read-only:
they are synced in), each with its tickets; orders can be cancelled via the service."""
from __future__ import annotations

from flask import flash
from flask_appbuilder import action
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from ..models import Booking, Order, Ride
from ..tickets import service
from . import permissions as perms
from .redirects import back
from .base import DeskModelView, attempt, current_actor, isolated
from .labels import SERVICE_STATUS_LABELS
from .tickets import TicketView

_LABELS = {
    "order_number": _l("Order"), "external_id": _l("Reference"), "customer": _l("Customer"),
    "status": _l("Status"), "total": _l("Total"), "currency": _l("Currency"),
    "placed_at": _l("Placed"), "cancellation_reason": _l("Cancellation reason"),
    "cancelled_at": _l("Cancelled"), "pickup_location": _l("Pickup"),
    "dropoff_location": _l("Drop-off"), "requested_at": _l("Requested"), "venue": _l("Venue"),
    "booked_for": _l("Booked for"), "party_size": _l("Party size"), "created_at": _l("Created"),
}


class OrderView(DeskModelView):
    datamodel = SQLAInterface(Order)
    class_permission_name = perms.ORDERS
    route_base = "/orders"
    list_title = _l("Orders")
    show_title = _l("Order")
    base_permissions = ["can_list", "can_show", "can_cancel"]
    method_permission_name = {"cancel": "cancel"}
    related_views = [TicketView]
    base_order = ("created_at", "desc")
    list_columns = ["order_number", "customer", "status", "total", "currency", "placed_at"]
    show_columns = list_columns + ["cancellation_reason", "cancelled_at", "created_at"]
    search_columns = ["order_number", "customer", "status", "placed_at"]
    label_columns = _LABELS
    formatters_columns = {"customer": isolated}
    code_labels = {"status": SERVICE_STATUS_LABELS}

    @action("cancel", _l("Cancel order"), _l("Cancel the selected orders?"), "fa-ban")
    def cancel(self, items):
        items = items if isinstance(items, list) else [items]
        done = 0
        for order in (i for i in items if i is not None):
            number = order.order_number
            if attempt(service.cancel_order, current_actor(), order.id, label=number):
                done += 1
        if done:
            flash(ngettext("%(num)d order cancelled.", "%(num)d orders cancelled.", done), "success")
        return back(self.get_redirect)


class RideView(DeskModelView):
    datamodel = SQLAInterface(Ride)
    class_permission_name = perms.RIDES
    route_base = "/rides"
    list_title = _l("Rides")
    base_permissions = ["can_list", "can_show"]
    related_views = [TicketView]
    base_order = ("created_at", "desc")
    list_columns = ["external_id", "customer", "pickup_location", "dropoff_location", "status",
                    "requested_at"]
    search_columns = ["external_id", "customer", "status", "requested_at"]
    label_columns = _LABELS
    formatters_columns = {"customer": isolated}
    code_labels = {"status": SERVICE_STATUS_LABELS}


class BookingView(DeskModelView):
    datamodel = SQLAInterface(Booking)
    class_permission_name = perms.BOOKINGS
    route_base = "/bookings"
    list_title = _l("Bookings")
    base_permissions = ["can_list", "can_show"]
    related_views = [TicketView]
    base_order = ("created_at", "desc")
    list_columns = ["external_id", "customer", "venue", "booked_for", "party_size", "status"]
    search_columns = ["external_id", "customer", "venue", "status", "booked_for"]
    label_columns = _LABELS
    formatters_columns = {"customer": isolated}
    code_labels = {"status": SERVICE_STATUS_LABELS}
