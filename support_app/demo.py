"""Demo data for trying the desk: `flask --app wsgi support seed-demo`.

It should look like a desk that has run for a month, so the dashboard's charts and
figures mean something: tickets over the last 30 days from every channel, most taken by
an agent, answered, many resolved and rated. Every ticket change goes through the ticket
service (the same rules and side effects as in production); only the timestamps are moved
back afterwards, because the service stamps "now". Safe to re-run: what exists is kept,
and passwords are generated and shown once, for the accounts this run creates.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from flask import current_app
from sqlalchemy import case, select, update

from .api.auth import create_user
from .extensions import db
from .models import (
    FAQ,
    Booking,
    Customer,
    EmailLog,
    Feedback,
    InternalNote,
    Message,
    Notification,
    Order,
    Ride,
    SupportUser,
    Ticket,
    TicketEvent,
    utcnow,
)
from .models.tickets import CHANNELS
from .security import roles
from .security.current import actor_for_user
from .security.passwords import generate_password
from .tickets import service
from .tickets.actor import Actor

DAYS = 30
TICKETS = 48
STAFF = [
    ("Sam Agent", "agent@example.com", roles.SUPPORT_AGENT, True),
    ("Nadia Karim", "nadia@example.com", roles.SUPPORT_AGENT, True),
    ("Kenji Sato", "kenji@example.com", roles.SUPPORT_AGENT, True),
    ("Pat Pending", "pending-agent@example.com", roles.SUPPORT_AGENT, False),
    ("Maria Manager", "manager@example.com", roles.STORE_MANAGER, False),
    ("Felix Fulfillment", "fulfillment@example.com", roles.FULFILLMENT, False),
]
CUSTOMERS = [
    ("Amina Rahman", "amina@example.com", "+8801711000001", "bn"),
    ("Lucía García", "lucia@example.com", "+34600000002", "es"),
    ("Claire Dubois", "claire@example.com", "+33600000003", "fr"),
    ("Omar Haddad", "omar@example.com", "+971500000004", "ar"),
    ("John Doe", "john@example.com", "+1234567890", "en"),
    ("Priya Nair", "priya@example.com", "+919800000006", "en"),
    ("Diego Fernández", "diego@example.com", "+5491100000007", "es"),
    ("Emma Schulz", "emma@example.com", "+4915100000008", "en"),
]
# subject, description, category, priority, what it is about (order / ride / booking)
ISSUES = [
    ("Wrong item in my order", "I ordered a blue shirt but received a red one in size L.", "order", "high", "order"),
    ("Payment charged twice", "My card shows two identical charges for the same order.", "billing", "urgent", "order"),
    ("Cannot reset my password", "The reset link in the email says it has expired immediately.", "account", "medium", None),
    ("Package arrived damaged", "The box was crushed and the glass inside is broken.", "damaged", "high", "order"),
    ("Delivery is late", "The tracking page has not moved for four days now.", "late", "medium", "order"),
    ("Driver took a longer route", "The fare is almost double the estimate; the driver ignored the map.", "billing", "medium", "ride"),
    ("Left my phone in the car", "I think I left my phone on the back seat after my ride this morning.", "other", "high", "ride"),
    ("Table was not ready", "We arrived on time for our booking and waited 40 minutes.", "service_quality", "low", "booking"),
    ("Change my booking time", "Could we move our table from 19:00 to 20:30, same party size?", "booking", "low", "booking"),
    ("Food arrived cold", "The soup and the rice were both cold when the courier arrived.", "quality", "medium", "order"),
    ("Item missing from the bag", "The dessert I paid for was not in the delivery bag.", "lost", "medium", "order"),
    ("Refund not received", "You confirmed the refund a week ago but my bank shows nothing yet.", "payment", "high", "order"),
]
REPLIES = [
    "Thanks for reaching out, I'm looking into it now.",
    "Sorry about this! I have asked the team for the details and will update you shortly.",
    "I can see the problem on our side; a fix is on its way.",
]
FOLLOW_UPS = [
    "Thank you! Please keep me posted.",
    "Any news on this? It has been a while.",
    "Here is the extra information you asked for: it happened twice this week.",
]
RESOLUTIONS = [
    "Replacement shipped with express delivery.",
    "Refund issued to the original payment method.",
    "Explained the steps; the customer confirmed it works now.",
    "Voucher for the next order added to the account.",
]
NOTES = ["Customer is a regular, be generous.", "Checked with the warehouse: stock issue.",
         "Second report this week about this courier."]
FAQS = [
    ("What if my package arrived damaged?", "Open a support ticket with photos; we replace or refund within 48 hours.", "damaged"),
    ("My delivery is late, what can I do?", "Check the tracking page first; after 3 days without movement, open a ticket.", "late"),
    ("How do I cancel an order?", "Orders can be cancelled while pending or processing from the order page.", "other"),
]
# Rows whose timestamps follow their ticket's timeline, and the columns to move.
TIMELINE_COLUMNS: list[tuple[type, Any, tuple[str, ...]]] = [
    (Ticket, Ticket.id, ("created_at", "updated_at", "escalated_at", "last_replied_at",
                         "first_response_at", "resolved_at", "closed_at")),
    (Message, Message.ticket_id, ("created_at", "updated_at", "read_at")),
    (InternalNote, InternalNote.ticket_id, ("created_at",)),
    (Feedback, Feedback.ticket_id, ("created_at",)),
    (TicketEvent, TicketEvent.ticket_id, ("created_at",)),
    (Notification, Notification.ticket_id, ("created_at", "read_at")),
    (EmailLog, EmailLog.ticket_id, ("created_at",)),
]


class DemoRefused(Exception):
    """seed-demo in production: demo accounts with known logins have no place there."""


@dataclass
class DemoReport:
    created: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # role, email, password

    def count(self, kind: str, number: int = 1) -> None:
        self.created[kind] = self.created.get(kind, 0) + number


@dataclass
class Timeline:
    """When each step of one ticket really ran, and when the demo says it happened."""

    marks: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)

    def at(self, planned: dt.datetime, step: Callable[[], Any]) -> None:
        self.marks.append((utcnow(), planned))
        step()

    def apply(self, ticket_id: int) -> None:
        """Move each row the steps wrote to its step's planned time (the service wrote
        every timestamp of step i between mark i and mark i+1)."""
        for model, key, columns in TIMELINE_COLUMNS:
            values = {}
            for name in columns:
                column = getattr(model, name)
                values[name] = case(*[(column >= real, planned) for real, planned in reversed(self.marks)],
                                    else_=column)
            db.session.execute(update(model).where(key == ticket_id).values(values),
                               execution_options={"synchronize_session": False})
        db.session.commit()


def seed_demo(rng: random.Random | None = None) -> DemoReport:
    if current_app.config.get("ENV_NAME") == "production":
        raise DemoRefused("seed-demo is refused when SUPPORT_ENV=production")
    rng = rng or random.Random(7)
    report = DemoReport()
    staff = {email: _user(report, name, email, role) for name, email, role, _ in STAFF}
    for _name, email, _role, approved in STAFF:
        if approved:
            service.approve_agent(Actor.system("seed-demo"), staff[email].id)
    customers = [_customer(report, index, *row, rng) for index, row in enumerate(CUSTOMERS)]
    demo_ids = [customer.id for customer, _user_row in customers]
    if db.session.scalar(select(Ticket.id).where(Ticket.customer_id.in_(demo_ids)).limit(1)) is None:
        agents = [actor_for_user(staff[email]) for _n, email, _r, approved in STAFF if approved]
        manager = actor_for_user(staff["manager@example.com"])
        for number in range(TICKETS):
            _ticket_history(report, rng, number, rng.choice(customers), agents, manager)
    for question, answer, category in FAQS:
        if db.session.scalar(select(FAQ.id).where(FAQ.question == question)) is None:
            db.session.add(FAQ(question=question, answer=answer, category=category))
            report.count("faqs")
    db.session.commit()
    return report


def _user(report: DemoReport, name: str, email: str, role: str, **extra: Any) -> SupportUser:
    existing = current_app.appbuilder.sm.find_user(email=email)
    if existing:
        return existing
    password = generate_password()
    user = create_user(name, email, password, role, **extra)
    report.logins.append((role, email, password))
    report.count("users")
    return user


def _customer(report: DemoReport, index: int, name: str, email: str, phone: str, locale: str,
              rng: random.Random) -> tuple[Customer, SupportUser]:
    user = _user(report, name, email, roles.CUSTOMER, phone=phone, locale=locale)
    customer = db.session.scalar(select(Customer).where(Customer.user_id == user.id))
    number = f"ORD-DEMO-{index + 1:05d}"
    if db.session.scalar(select(Order.id).where(Order.order_number == number)) is None:
        db.session.add_all([
            Order(order_number=number, customer_id=customer.id,
                  status=rng.choice(["pending", "processing", "shipped", "delivered"]),
                  total=Decimal(rng.randint(500, 20000)) / 100, currency="USD",
                  placed_at=utcnow() - dt.timedelta(days=rng.randint(1, DAYS))),
            Ride(external_id=f"RIDE-DEMO-{index + 1:05d}", customer_id=customer.id,
                 pickup_location=f"{rng.randint(1, 999)} Main St",
                 dropoff_location=f"{rng.randint(1, 999)} Elm St", status="completed"),
            Booking(external_id=f"BOOK-DEMO-{index + 1:05d}", customer_id=customer.id,
                    venue="La Terrazza", party_size=rng.randint(2, 8),
                    booked_for=utcnow() + dt.timedelta(days=rng.randint(1, 10))),
        ])
        db.session.commit()
        report.count("orders, rides and bookings", 3)
    return customer, user


def _references(customer: Customer, about: str | None) -> dict[str, int]:
    model = {"order": Order, "ride": Ride, "booking": Booking}.get(about or "")
    if model is None:
        return {}
    row_id = db.session.scalar(select(model.id).where(model.customer_id == customer.id).limit(1))
    return {f"{about}_id": row_id, "service_type": about}


def _open(channel: str, customer: Customer, owner: Actor, manager: Actor, issue: tuple,
          ) -> Callable[[], int]:
    subject, description, category, priority, about = issue
    actor, origin = {"api": (owner, "api"), "admin": (manager, "admin"),
                     "contact_form": (Actor.system("contact form"), "contact"),
                     "email": (Actor.system("email"), "email")}[channel]
    return lambda: service.open_ticket(
        actor, customer_id=customer.id, subject=subject, description=description,
        category=category, priority=priority, channel=channel, origin=origin,
        **_references(customer, about)).ticket.id


def _ticket_history(report: DemoReport, rng: random.Random, number: int,
                    customer_row: tuple[Customer, SupportUser], agents: list[Actor],
                    manager: Actor) -> None:
    """One ticket's life, as far as it got by now: opened, taken, answered, maybe
    escalated, followed up, resolved or closed, rated."""
    customer, user = customer_row
    owner = actor_for_user(user)
    now = utcnow()
    when = now - dt.timedelta(days=rng.uniform(0, DAYS - 0.5), hours=rng.uniform(0, 8))
    timeline = Timeline()
    opened: list[int] = []
    channel = CHANNELS[number % len(CHANNELS)]
    open_step = _open(channel, customer, owner, manager, rng.choice(ISSUES))
    timeline.at(when, lambda: opened.append(open_step()))
    ticket_id = opened[0]
    report.count("tickets")
    agent = rng.choice(agents)
    steps: list[tuple[float, Callable[[], Any]]] = []  # (hours after the previous, step)
    if rng.random() < 0.85:
        steps.append((rng.uniform(0.1, 3), lambda: service.assign_self(agent, ticket_id)))
        steps.append((rng.uniform(0.1, 5), lambda: service.add_message(agent, ticket_id, rng.choice(REPLIES))))
        if rng.random() < 0.3:
            steps.append((rng.uniform(0, 1), lambda: service.add_note(agent, ticket_id, rng.choice(NOTES))))
        if rng.random() < 0.15:
            steps.append((rng.uniform(1, 24), lambda: service.escalate(owner, ticket_id)))
        if rng.random() < 0.5:
            steps.append((rng.uniform(1, 20), lambda: service.add_message(owner, ticket_id, rng.choice(FOLLOW_UPS))))
            steps.append((rng.uniform(0.2, 6), lambda: service.add_message(agent, ticket_id, rng.choice(REPLIES))))
        ending = rng.random()
        if ending < 0.7:
            steps.append((rng.uniform(2, 48), lambda: service.update_ticket(
                agent, ticket_id, status="resolved", resolution_details=rng.choice(RESOLUTIONS))))
            if rng.random() < 0.7:
                rating = rng.choice([5, 5, 5, 4, 4, 4, 3, 2, 1])
                steps.append((rng.uniform(1, 30), lambda: service.submit_feedback(owner, ticket_id, rating)))
            if rng.random() < 0.3:
                steps.append((rng.uniform(24, 72), lambda: service.update_ticket(agent, ticket_id, status="closed")))
        elif ending < 0.8:
            steps.append((rng.uniform(1, 12), lambda: service.update_ticket(agent, ticket_id, status="on_hold")))
    for hours, step in steps:
        when += dt.timedelta(hours=hours)
        if when >= now:
            break  # the rest of this ticket's story has not happened yet
        timeline.at(when, step)
    timeline.apply(ticket_id)
