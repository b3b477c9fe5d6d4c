"""Group participants of a ticket (seed 004 `groupCustomerIds`): the customers who
share the order, ride or booking the ticket is about, as the commerce sync records
them (`ServiceMember`). A customer cannot add anyone else to their ticket."""
from __future__ import annotations

from typing import Iterable

from flask_babel import gettext as _
from sqlalchemy import false, or_, select

from ..extensions import db
from ..models import Booking, Customer, Order, Ride, ServiceMember, Ticket
from .errors import NotFound


def participants(customer_ids: Iterable[int], owner_id: int, order: Order | None,
                 ride: Ride | None, booking: Booking | None) -> list[Customer]:
    """The customers named, each of whom must share one of the ticket's services. An
    unknown id and an unrelated one get the same refusal, so the list cannot probe
    which customers exist."""
    ids = sorted({int(cid) for cid in customer_ids if int(cid) != owner_id})
    if not ids:
        return []
    shared = [column == row.id for column, row in ((ServiceMember.order_id, order),
              (ServiceMember.ride_id, ride), (ServiceMember.booking_id, booking)) if row]
    found = list(db.session.scalars(
        select(Customer).join(ServiceMember, ServiceMember.customer_id == Customer.id)
        .where(Customer.id.in_(ids), or_(false(), *shared)).distinct()))
    if len(found) != len(ids):
        raise NotFound("customer", _("Customer or group member not found"))
    return found


def may_have_participants(ticket: Ticket) -> bool:
    """Only a ticket about an order, ride or booking has group participants:
    `participants` admits only customers who share one, and a merge joins groups only
    between tickets about the same one. The others skip the participants query."""
    return bool(ticket.order_id or ticket.ride_id or ticket.booking_id)
