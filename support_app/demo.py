"""Realistic demo data for trying the desk: `flask --app wsgi support seed-demo`."""
from __future__ import annotations

from flask import current_app

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import select

from .api.auth import create_user
from .extensions import db
from .models import FAQ, AgentProfile, Booking, Customer, Order, Ride, utcnow
from .security import roles
from .security.current import actor_for_user
from .tickets import service

DEMO_PASSWORD = "demo-pass-123"
CUSTOMERS = [
    ("Amina Rahman", "amina@example.com", "+8801711000001", "bn"),
    ("Lucía García", "lucia@example.com", "+34600000002", "es"),
    ("Claire Dubois", "claire@example.com", "+33600000003", "fr"),
    ("Omar Haddad", "omar@example.com", "+971500000004", "ar"),
    ("John Doe", "john@example.com", "+1234567890", "en"),
]
TICKETS = [
    ("Wrong item in my order", "I ordered a blue shirt but received a red one in size L.", "order", "high"),
    ("Payment charged twice", "My card shows two identical charges for the same order.", "billing", "urgent"),
    ("Cannot reset my password", "The reset link in the email says it has expired immediately.", "account", "medium"),
    ("Package arrived damaged", "The box was crushed and the glass inside is broken.", "damaged", "high"),
    ("Delivery is late", "The tracking page has not moved for four days now.", "late", "medium"),
]
FAQS = [
    ("What if my package arrived damaged?", "Open a support ticket with photos; we replace or refund within 48 hours.", "damaged"),
    ("My delivery is late, what can I do?", "Check the tracking page first; after 3 days without movement, open a ticket.", "late"),
    ("How do I cancel an order?", "Orders can be cancelled while pending or processing from the order page.", "other"),
]


def _user(name: str, email: str, role: str, **extra: str):
    return current_app.appbuilder.sm.find_user(email=email) or create_user(name, email, DEMO_PASSWORD, role, **extra)


def seed_demo(rng: random.Random | None = None) -> dict[str, int]:
    rng = rng or random.Random(7)
    agent = _user("Sam Agent", "agent@example.com", roles.SUPPORT_AGENT)
    profile = db.session.scalar(select(AgentProfile).where(AgentProfile.user_id == agent.id))
    profile.is_approved, profile.approved_at = True, utcnow()
    manager = _user("Maria Manager", "manager@example.com", roles.STORE_MANAGER)
    _user("Felix Fulfillment", "fulfillment@example.com", roles.FULFILLMENT)
    db.session.commit()

    made = {"customers": 0, "orders": 0, "rides": 0, "bookings": 0, "tickets": 0, "faqs": 0}
    for index, (name, email, phone, locale) in enumerate(CUSTOMERS):
        user = _user(name, email, roles.CUSTOMER, phone=phone, locale=locale)
        customer = db.session.scalar(select(Customer).where(Customer.user_id == user.id))
        made["customers"] += 1
        order = Order(order_number=f"ORD-2026-{index + 1:06d}", customer_id=customer.id,
                      status=rng.choice(["pending", "processing", "shipped", "delivered"]),
                      total=Decimal(rng.randint(500, 20000)) / 100, currency="USD",
                      placed_at=utcnow() - dt.timedelta(days=rng.randint(1, 20)))
        ride = Ride(external_id=f"RIDE-{index + 1:05d}", customer_id=customer.id,
                    pickup_location=f"{rng.randint(1, 999)} Main St",
                    dropoff_location=f"{rng.randint(1, 999)} Elm St", status="completed")
        booking = Booking(external_id=f"BOOK-{index + 1:05d}", customer_id=customer.id,
                          venue="La Terrazza", party_size=rng.randint(2, 8),
                          booked_for=utcnow() + dt.timedelta(days=rng.randint(1, 10)))
        db.session.add_all([order, ride, booking])
        db.session.commit()
        made["orders"] += 1
        made["rides"] += 1
        made["bookings"] += 1

        subject, body, category, priority = TICKETS[index % len(TICKETS)]
        actor = actor_for_user(user)
        ticket = service.open_ticket(actor, subject=subject, description=body, category=category,
                                     priority=priority, order_id=order.id).ticket
        made["tickets"] += 1
        staff = actor_for_user(manager)
        service.add_message(staff, ticket.id, "Thanks for reaching out, we are looking into it.")
        service.add_message(actor, ticket.id, "Thank you! Please keep me posted.")
        if index % 2 == 0:
            service.update_ticket(staff, ticket.id, status="resolved",
                                  resolution_details="Replacement shipped.")

    for question, answer, category in FAQS:
        if db.session.scalar(select(FAQ.id).where(FAQ.question == question)) is None:
            db.session.add(FAQ(question=question, answer=answer, category=category))
            made["faqs"] += 1
    db.session.commit()
    return made
