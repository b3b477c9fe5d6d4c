"""Builders for realistic test data; tickets are opened through the real service."""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Iterator

from flask import Flask
from flask_jwt_extended import create_access_token

from support_app.api.auth import create_user
from support_app.extensions import db
from support_app.models import (
    AgentProfile, Booking, Customer, Order, Ride, ServiceMember, SupportUser, utcnow)
from support_app.security import roles
from support_app.security.current import actor_for_user
from support_app.tickets import Actor, service

PASSWORD = "secret-pass-1"
_seq = itertools.count(1)


@dataclass
class Person:
    user: SupportUser
    headers: dict[str, str]
    customer: Customer | None = None

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def actor(self) -> Actor:
        return actor_for_user(db.session.get(SupportUser, self.user.id))


class Factory:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def headers(self, user: SupportUser, **extra: str) -> dict[str, str]:
        token = create_access_token(identity=str(user.id))
        return {"Authorization": f"Bearer {token}", **extra}

    def customer(self, name: str | None = None, email: str | None = None,
                 locale: str = "en", phone: str | None = "+1234567890") -> Person:
        n = next(_seq)
        user = create_user(name or f"Customer {n}", email or f"customer{n}@example.com",
                           PASSWORD, roles.CUSTOMER, phone=phone, locale=locale)
        customer = db.session.query(Customer).filter_by(user_id=user.id).one()
        return Person(user, self.headers(user), customer)

    def guest(self, email: str | None = None, name: str = "Guest") -> Customer:
        customer = Customer(name=name, email=email or f"guest{next(_seq)}@example.com")
        db.session.add(customer)
        db.session.commit()
        return customer

    def staff(self, role: str = roles.ADMIN, name: str | None = None) -> Person:
        n = next(_seq)
        user = create_user(name or f"{role} {n}", f"staff{n}@example.com", PASSWORD, role)
        return Person(user, self.headers(user))

    def agent(self, approved: bool = True, name: str | None = None) -> Person:
        person = self.staff(roles.SUPPORT_AGENT, name)
        profile = db.session.query(AgentProfile).filter_by(user_id=person.user.id).one()
        profile.is_approved = approved
        profile.approved_at = utcnow() if approved else None
        db.session.commit()
        return person

    def order(self, customer: Customer, status: str = "pending") -> Order:
        order = Order(order_number=f"ORD-{next(_seq):06d}", customer_id=customer.id,
                      status=status, total=Decimal("19.99"), currency="USD")
        db.session.add(order)
        db.session.commit()
        return order

    def ride(self, customer: Customer, members: Iterable[int] = ()) -> Ride:
        """`members`: customer ids sharing the ride (who may be a ticket's group)."""
        ride = Ride(external_id=f"R{next(_seq)}", customer_id=customer.id,
                    pickup_location="123 Main St", dropoff_location="456 Elm St")
        db.session.add(ride)
        db.session.flush()
        db.session.add_all(ServiceMember(customer_id=cid, ride_id=ride.id)
                           for cid in set(members) - {customer.id})
        db.session.commit()
        return ride

    def booking(self, customer: Customer) -> Booking:
        booking = Booking(external_id=f"B{next(_seq)}", customer_id=customer.id,
                          venue="La Terrazza", party_size=4)
        db.session.add(booking)
        db.session.commit()
        return booking

    def ticket(self, person: Person, **fields):
        """A ticket with group participants is about a ride they share (unless a
        service is given)."""
        group = fields.get("participant_customer_ids")
        if group and not {"ride_id", "order_id", "booking_id"} & set(fields):
            fields["ride_id"] = self.ride(person.customer, members=group).id
        fields.setdefault("subject", "Issue with order")
        fields.setdefault("description", "I received the wrong product in my order.")
        return service.open_ticket(person.actor, **fields).ticket

    @contextmanager
    def revoked(self, permission: str, role: str = roles.CUSTOMER) -> Iterator[None]:
        """Take an API permission from a role, as an admin would in the Roles screen.
        The roles tables outlive each test, so the grant is restored afterwards."""
        sm = self.app.appbuilder.sm
        grant = sm.find_permission_view_menu(permission, roles.SUPPORT_VIEW)
        sm.del_permission_role(sm.find_role(role), grant)
        try:
            yield
        finally:
            sm.add_permission_role(sm.find_role(role), grant)
