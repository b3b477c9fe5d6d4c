"""Who may call what: every API rule in the URL map × every role, against resources
owned by customer A. A rule without an entry in `MATRIX` fails the test, so a new
endpoint cannot ship unclassified.

Each role runs in its own test on a fresh world; the calls run in `MATRIX` order, so
the ones that end a ticket's life (close, cancel) come last. A denial must not leak the
ticket (number, subject), and no response a customer-side role receives ever contains
the internal note planted on A's ticket. `MATRIX_PROBE=1` prints the statuses a role
actually gets instead of asserting (to classify a new endpoint, then review by hand).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import Macro, Notification
from support_app.security import roles
from support_app.tickets import service

from .admin_helpers import desk_client, login
from .attachment_helpers import PNG, upload_file
from .factories import PASSWORD

ROLES = ("anonymous", "owner", "stranger", "participant", "unapproved_agent",
         "assigned_agent", "other_agent", "fulfillment", "store_manager", "admin")
CUSTOMER_SIDE = {"anonymous", "owner", "stranger", "participant"}
STAFF = ("fulfillment", "store_manager", "admin")
NOTE = "PLANTED-INTERNAL-NOTE-7f3a"
SUBJECT = "Matrix subject 5c1d"


@dataclass
class World:
    people: dict[str, Any]
    ticket: Any
    message_id: int
    notification_id: int
    order_id: int
    ride_id: int
    booking_id: int
    customer_id: int
    ticket_number: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """How to call a rule: path and body from the world; `session` routes authenticate
    with the dashboard cookie (and CSRF token) instead of a bearer token."""
    path: Callable[[World], str]
    json: Callable[[World], Any] | None = None
    data: Callable[[World], Any] | None = None
    session: bool = False
    public: bool = False  # no credentials sent at all (login, register, webhook, docs)


def _t(w: World) -> int:
    return w.ticket.id


# (method, rule) -> (Call, {role: expected status}).
MATRIX: dict[tuple[str, str], tuple[Call, dict[str, int]]] = {}
SEES_TICKET = {"owner", "participant", "assigned_agent", "fulfillment", "store_manager", "admin"}


def entry(method: str, rule: str, call: Call, statuses: str) -> None:
    """`statuses`: the expected status per role, in `ROLES` order."""
    codes = [int(code) for code in statuses.split()]
    assert len(codes) == len(ROLES), (method, rule)
    MATRIX[(method, rule)] = (call, dict(zip(ROLES, codes)))


def _build_world(factory) -> World:
    owner = factory.customer(name="Owner A")
    stranger = factory.customer(name="Stranger B")
    participant = factory.customer(name="Participant P")
    people = {
        "owner": owner, "stranger": stranger, "participant": participant,
        "unapproved_agent": factory.agent(approved=False),
        "assigned_agent": factory.agent(name="Assigned Agent"),
        "other_agent": factory.agent(name="Other Agent"),
        "fulfillment": factory.staff(roles.FULFILLMENT),
        "store_manager": factory.staff(roles.STORE_MANAGER),
        "admin": factory.staff(roles.ADMIN),
    }
    order = factory.order(owner.customer)
    ride = factory.ride(owner.customer, members=[participant.customer.id])  # they share it
    booking = factory.booking(owner.customer)
    ticket = service.open_ticket(owner.actor, subject=SUBJECT,
                                 description="Matrix description of the problem.",
                                 ride_id=ride.id, service_type="ride",
                                 participant_customer_ids=[participant.customer.id]).ticket
    service.assign_self(people["assigned_agent"].actor, ticket.id)
    photo = upload_file(owner.actor, "parcel.png")
    message = service.add_message(owner.actor, ticket.id, "Owner's message in the thread",
                                  attachments=[photo.id])
    note_photo = upload_file(people["admin"].actor, "internal.png")
    service.add_note(people["admin"].actor, ticket.id, NOTE, attachments=[note_photo.id])
    notification_id = db.session.scalar(
        select(Notification.id).where(Notification.user_id == owner.user.id).limit(1))
    assert notification_id is not None
    world = World(people, ticket, message.id,
                  notification_id, order.id, ride.id, booking.id, owner.customer.id)
    world.ticket_number = ticket.number
    world.extra.update(message_file=photo.id, note_file=note_photo.id)
    # A second ticket of A, already resolved: the target of feedback and close.
    resolved = service.open_ticket(owner.actor, subject=SUBJECT + " resolved",
                                   description="A problem that was solved already.",
                                   ride_id=ride.id, participant_customer_ids=[participant.customer.id]).ticket
    service.assign_self(people["assigned_agent"].actor, resolved.id)
    service.update_ticket(people["admin"].actor, resolved.id, status="resolved",
                          resolution_details="Refunded.")
    world.extra.update(resolved=resolved.id, resolved_number=resolved.number)
    # A duplicate of A's ticket, worked by the same agent: what staff merge into it.
    duplicate = service.open_ticket(owner.actor, subject=SUBJECT + " again",
                                    description="Writing again about the same ride.",
                                    ride_id=ride.id).ticket
    service.assign_self(people["assigned_agent"].actor, duplicate.id)
    world.extra.update(duplicate=duplicate.id)
    macro = Macro(name="Matrix macro", body_en="Hello {customer_name}", set_status="on_hold")
    db.session.add(macro)
    db.session.commit()
    world.extra["macro"] = macro.id
    return world


# --------------------------------------------------------------------------- the table
# Columns: anonymous owner(A) stranger(B) participant unapproved-agent assigned-agent
# other-agent Fulfillment StoreManager Admin. Reviewed by hand: owner and participant
# reach A's ticket (only the owner escalates, closes, rates), B never does, agents
# only once approved and assigned, staff by permission. A 400 is a refusal on the
# ticket's state (already escalated / already assigned) after authorization passed.

TICKET = "/api/support-tickets"
DESK = "/api/support/tickets"
MUNCH = "/api/customer/munch/support"
MTXI = "/api/customer/mtxi/support"
ADMIN000 = "/api/admin/support"

entry("GET", "/api/openapi.json", Call(lambda w: "/api/openapi.json", public=True), "200 200 200 200 200 200 200 200 200 200")
entry("GET", "/api/docs", Call(lambda w: "/api/docs", public=True), "200 200 200 200 200 200 200 200 200 200")
entry("GET", "/api/support/faq/", Call(lambda w: "/api/support/faq/"), "200 200 200 200 200 200 200 200 200 200")
entry("POST", "/api/auth/login", Call(lambda w: "/api/auth/login", json=lambda w: {
    "email": "nobody@example.com", "password": "wrong-password"}, public=True), "401 401 401 401 401 401 401 401 401 401")
entry("POST", "/api/auth/register", Call(lambda w: "/api/auth/register", json=lambda w: {
    "name": "New Person", "email": f"new-{w.ticket.id}@example.com", "password": "longpass123"},
    public=True), "201 201 201 201 201 201 201 201 201 201")
entry("POST", "/api/auth/refresh", Call(lambda w: "/api/auth/refresh"), "401 401 401 401 401 401 401 401 401 401")
entry("GET", "/api/auth/me", Call(lambda w: "/api/auth/me"), "401 200 200 200 200 200 200 200 200 200")
# Without credentials: a logout with the role's token would end it for the calls below
# (tests/test_token_lifecycle.py signs out for real).
entry("POST", "/api/auth/logout", Call(lambda w: "/api/auth/logout", public=True),
      "401 401 401 401 401 401 401 401 401 401")
entry("POST", "/api/auth/confirm-email", Call(lambda w: "/api/auth/confirm-email", json=lambda w: {
    "token": "forged.token.value"}, public=True), "400 400 400 400 400 400 400 400 400 400")
entry("POST", "/api/auth/claim-account", Call(lambda w: "/api/auth/claim-account", json=lambda w: {
    "token": "forged.token.value", "name": "Owner", "password": "long-enough-1"}, public=True),
      "400 400 400 400 400 400 400 400 400 400")
# Everyone in the world is confirmed already (made by the factory, not self-registered).
entry("POST", "/api/auth/confirm-email/resend", Call(lambda w: "/api/auth/confirm-email/resend"),
      "401 400 400 400 400 400 400 400 400 400")
entry("GET", "/api/v1/menu/", Call(lambda w: "/api/v1/menu/"), "401 403 403 403 403 403 403 403 403 200")
entry("POST", "/api/contact", Call(lambda w: "/api/contact", json=lambda w: {
    "name": "Guest", "email": "guest-matrix@example.com", "subject": "Hello",
    "message": "A question"}, public=True), "201 201 201 201 201 201 201 201 201 201")
entry("POST", "/api/webhooks/mailgun/inbound", Call(lambda w: "/api/webhooks/mailgun/inbound",
      data=lambda w: {"sender": "x@example.com"}, public=True), "406 406 406 406 406 406 406 406 406 406")
entry("POST", "/api/support/register-agent/", Call(lambda w: "/api/support/register-agent/",
      json=lambda w: {"email": f"agent-new-{w.ticket.id}@example.com", "password": "securepass123",
                      "name": "New Agent", "contact_number": "+1 555 0100"}, public=True),
      "201 201 201 201 201 201 201 201 201 201")

# 002 support tickets
entry("GET", TICKET, Call(lambda w: TICKET), "401 200 200 200 200 200 200 200 200 200")
entry("POST", TICKET, Call(lambda w: TICKET, json=lambda w: {
    "subject": "Another", "description": "Another problem description."}), "401 201 201 201 403 403 403 403 403 403")
entry("GET", TICKET + "/<int:ticket>", Call(lambda w: f"{TICKET}/{_t(w)}"), "401 200 403 200 403 200 403 200 200 200")
entry("GET", TICKET + "/<int:ticket>/messages", Call(lambda w: f"{TICKET}/{_t(w)}/messages"), "401 200 403 200 403 200 403 200 200 200")
entry("POST", TICKET + "/<int:ticket>/messages", Call(lambda w: f"{TICKET}/{_t(w)}/messages",
      json=lambda w: {"message": "A reply"}), "401 201 403 201 403 201 403 201 201 201")
entry("PUT", "/api/support-messages/<int:message>/read",
      Call(lambda w: f"/api/support-messages/{w.message_id}/read"), "401 200 403 200 403 200 403 200 200 200")
entry("GET", TICKET + "/navbar/count", Call(lambda w: f"{TICKET}/navbar/count"), "401 200 200 200 200 200 200 200 200 200")
entry("GET", TICKET + "/navbar/latest", Call(lambda w: f"{TICKET}/navbar/latest"), "401 200 200 200 200 200 200 200 200 200")

# notifications
entry("GET", "/api/notifications", Call(lambda w: "/api/notifications"), "401 200 200 200 200 200 200 200 200 200")
entry("POST", "/api/notifications/<int:notification_id>/read",
      Call(lambda w: f"/api/notifications/{w.notification_id}/read"), "401 200 404 404 404 404 404 404 404 404")
entry("PUT", "/api/notifications/<int:notification_id>/read",
      Call(lambda w: f"/api/notifications/{w.notification_id}/read"), "401 200 404 404 404 404 404 404 404 404")
entry("POST", "/api/notifications/read-all", Call(lambda w: "/api/notifications/read-all"), "401 200 200 200 200 200 200 200 200 200")
entry("PUT", "/api/notifications/read-all", Call(lambda w: "/api/notifications/read-all"), "401 200 200 200 200 200 200 200 200 200")

# attachments: anyone signed in uploads; a message's file reaches who sees the ticket,
# an internal note's file staff who see notes; everyone else gets a 404
entry("POST", "/api/attachments", Call(lambda w: "/api/attachments", data=lambda w: {
    "file": (io.BytesIO(PNG), "photo.png")}), "401 201 201 201 201 201 201 201 201 201")
entry("GET", "/api/attachments/<int:attachment_id>", Call(
    lambda w: f"/api/attachments/{w.extra['message_file']}"), "401 200 404 200 404 200 404 200 200 200")
entry("GET", "/api/attachments/<int:attachment_id>/thumbnail", Call(
    lambda w: f"/api/attachments/{w.extra['note_file']}/thumbnail"), "401 404 404 404 404 200 404 200 200 200")

# SLA (staff who see the ticket; never a customer, not even its owner)
entry("GET", "/api/tickets/<int(max=2147483647):ticket_id>/sla", Call(lambda w: f"/api/tickets/{_t(w)}/sla"),
      "401 403 403 403 403 200 403 200 200 200")
entry("GET", "/api/tickets/sla", Call(lambda w: "/api/tickets/sla?state=breached"),
      "401 403 403 403 200 200 200 200 200 200")

# Merge (staff who may work both tickets; the duplicate merges into A's ticket)
entry("POST", "/api/tickets/<int(max=2147483647):ticket_id>/merge",
      Call(lambda w: f"/api/tickets/{w.extra['duplicate']}/merge", json=lambda w: {"into": _t(w)}),
      "401 403 403 403 403 200 403 200 200 200")

# Tags and macros (staff who may work the ticket; never a customer)
def _macro_id(w: World) -> int:
    return w.extra["macro"]  # made with the world: a call must not add rows itself


TAG_RULE = "/api/tickets/<int(max=2147483647):ticket_id>/tags/<string(maxlength=200):name>"
entry("PUT", TAG_RULE, Call(lambda w: f"/api/tickets/{_t(w)}/tags/matrix"),
      "401 403 403 403 403 200 403 200 200 200")
entry("DELETE", TAG_RULE, Call(lambda w: f"/api/tickets/{_t(w)}/tags/matrix"),
      "401 403 403 403 403 200 403 200 200 200")
entry("GET", "/api/macros", Call(lambda w: "/api/macros"), "401 403 403 403 403 200 200 200 200 200")
entry("POST", "/api/tickets/<int(max=2147483647):ticket_id>/apply-macro",
      Call(lambda w: f"/api/tickets/{_t(w)}/apply-macro",
           json=lambda w: {"macro_id": _macro_id(w), "mode": "preview"}),
      "401 403 403 403 403 200 403 200 200 200")

# 001 munch
entry("POST", MUNCH + "/ticket", Call(lambda w: f"{MUNCH}/ticket", json=lambda w: {
    "orderId": w.order_id, "issueType": "FOOD_QUALITY",
    "description": "The pizza arrived cold and half the order was missing."}), "401 200 404 404 403 403 403 403 403 404")
entry("GET", MUNCH + "/ticket/<ticket_id:ticket_id>/status",
      Call(lambda w: f"{MUNCH}/ticket/{_t(w)}/status"), "401 200 404 200 403 403 403 403 403 404")

# 004 mtxi
entry("POST", MTXI + "/", Call(lambda w: f"{MTXI}/", json=lambda w: {
    "serviceType": "booking", "bookingId": w.booking_id, "issueType": "OTHER",
    "description": "The table was not ready at the booked time."}), "401 200 404 404 403 403 403 403 403 404")
entry("GET", MTXI + "/<ticket_id:ticket_id>", Call(lambda w: f"{MTXI}/{_t(w)}"), "401 200 404 200 403 403 403 403 403 404")

# 003 agent desk
entry("POST", DESK + "/create/", Call(lambda w: f"{DESK}/create/", json=lambda w: {
    "subject": "Desk ticket", "description": "Created on the desk surface",
    "category": "Damaged"}), "401 201 201 201 403 403 403 403 403 403")
entry("GET", DESK + "/", Call(lambda w: f"{DESK}/"), "401 200 200 200 200 200 200 200 200 200")
entry("GET", DESK + "/<ticket_id>/", Call(lambda w: f"{DESK}/{_t(w)}/"), "401 200 403 200 403 200 403 200 200 200")
entry("POST", DESK + "/<ticket_id>/add-note/", Call(lambda w: f"{DESK}/{_t(w)}/add-note/",
      json=lambda w: {"note": "Another internal note"}), "401 403 403 403 403 201 403 201 201 201")
entry("GET", "/api/agent/tickets/", Call(lambda w: "/api/agent/tickets/"), "401 403 403 403 403 200 200 403 403 403")
entry("GET", "/api/admin/support/tickets/", Call(lambda w: "/api/admin/support/tickets/"), "401 403 403 403 403 403 403 200 200 200")
entry("POST", "/api/admin/approve-agent/<agent_id>/", Call(
    lambda w: f"/api/admin/approve-agent/{w.people['unapproved_agent'].id}/"), "401 403 403 403 403 403 403 403 403 200")
entry("PUT", DESK + "/<ticket_id>/update-status/", Call(lambda w: f"{DESK}/{_t(w)}/update-status/",
      json=lambda w: {"status": "On Hold", "priority": "High"}), "401 403 403 403 403 200 403 200 200 200")
entry("POST", DESK + "/<ticket_id>/reassign/", Call(lambda w: f"{DESK}/{_t(w)}/reassign/",
      json=lambda w: {"agent_id": str(w.people["assigned_agent"].id)}), "401 403 403 403 403 403 403 403 403 200")
entry("POST", DESK + "/<ticket_id>/assign-self/", Call(lambda w: f"{DESK}/{_t(w)}/assign-self/"),
      "401 403 403 403 403 400 400 400 400 400")

# 000 storefront (customer) and storefront admin (dashboard session + CSRF)
entry("GET", "/api/customer/orders/support", Call(lambda w: "/api/customer/orders/support"), "401 200 200 200 403 403 403 403 403 403")
entry("POST", "/api/customer/orders/support", Call(lambda w: "/api/customer/orders/support",
      json=lambda w: {"subject": "Where is it?", "message": "Late parcel", "orderId": w.order_id}),
      "401 201 404 404 403 403 403 403 403 403")
entry("POST", "/api/customer/orders/support/<int:id>/reply", Call(
    lambda w: f"/api/customer/orders/support/{_t(w)}/reply", json=lambda w: {"message": "More"}),
    "401 201 403 201 403 403 403 403 403 403")
entry("GET", "/api/customer/support", Call(lambda w: "/api/customer/support"), "401 200 200 200 403 403 403 403 403 403")
entry("POST", "/api/customer/support", Call(lambda w: "/api/customer/support",
      json=lambda w: {"subject": "Legacy", "message": "Old client"}), "401 201 201 201 403 403 403 403 403 403")
entry("GET", "/api/admin/csrf-token", Call(lambda w: "/api/admin/csrf-token", session=True), "401 403 403 403 403 403 403 200 200 200")
entry("GET", ADMIN000, Call(lambda w: ADMIN000, session=True), "401 403 403 403 403 403 403 200 200 200")
entry("POST", ADMIN000, Call(lambda w: ADMIN000, session=True, json=lambda w: {
    "customerId": w.customer_id, "subject": "Phoned in", "message": "Customer called"}), "401 403 403 403 403 403 403 201 201 201")
entry("GET", ADMIN000 + "/<int:id>", Call(lambda w: f"{ADMIN000}/{_t(w)}", session=True), "401 403 403 403 403 403 403 200 200 200")
entry("PATCH", ADMIN000 + "/<int:id>", Call(lambda w: f"{ADMIN000}/{_t(w)}", session=True,
      json=lambda w: {"priority": "urgent"}), "401 403 403 403 403 403 403 200 200 200")
# The customer directory and the email logs take their screens' permission (Fulfillment
# has neither screen, so neither API: admin/permissions.py).
entry("GET", ADMIN000 + "/customers/search", Call(lambda w: f"{ADMIN000}/customers/search?q=Owner",
      session=True), "401 403 403 403 403 403 403 403 200 200")
entry("GET", ADMIN000 + "/customers/<int:customerId>/orders", Call(
    lambda w: f"{ADMIN000}/customers/{w.customer_id}/orders", session=True), "401 403 403 403 403 403 403 200 200 200")
entry("GET", ADMIN000 + "/email-logs/<int:ticketId>", Call(
    lambda w: f"{ADMIN000}/email-logs/{_t(w)}", session=True), "401 403 403 403 403 403 403 403 200 200")

# commerce sync (staff integrations)
entry("PUT", "/api/sync/orders/<external_id:order_number>", Call(lambda w: "/api/sync/orders/MX-1",
      json=lambda w: {"customer_email": "buyer@example.com", "status": "pending"}), "401 403 403 403 403 403 403 403 403 201")
entry("PUT", "/api/sync/rides/<external_id:external_id>", Call(lambda w: "/api/sync/rides/MX-1",
      json=lambda w: {"customer_email": "rider@example.com", "pickup_location": "A",
                      "dropoff_location": "B"}), "401 403 403 403 403 403 403 403 403 201")
entry("PUT", "/api/sync/bookings/<external_id:external_id>", Call(
    lambda w: "/api/sync/bookings/MX-1", json=lambda w: {
        "customer_email": "diner@example.com", "venue": "Cafe", "party_size": 2}), "401 403 403 403 403 403 403 403 403 201")

# Last: calls that end the ticket's (or order's) active life.
entry("PUT", MUNCH + "/ticket/escalate", Call(lambda w: f"{MUNCH}/ticket/escalate",
      json=lambda w: {"ticketId": _t(w)}), "401 200 404 403 403 403 403 403 403 404")
entry("POST", MTXI + "/escalate", Call(lambda w: f"{MTXI}/escalate", json=lambda w: {"ticketId": _t(w)}),
      "401 400 404 403 403 403 403 403 403 404")
entry("POST", DESK + "/<ticket_id>/feedback/", Call(lambda w: f"{DESK}/{_r(w)}/feedback/",
      json=lambda w: {"rating": 5, "comment": "Thanks"}), "401 201 403 403 403 403 403 403 403 403")
entry("POST", MTXI + "/close", Call(lambda w: f"{MTXI}/close", json=lambda w: {"ticketId": _r(w)}),
      "401 200 404 403 403 403 403 403 403 404")
entry("POST", "/api/orders/<int:order>/cancel", Call(lambda w: f"/api/orders/{w.order_id}/cancel"),
      "401 200 403 403 403 403 403 200 200 200")
# The very last: ends every token of the role (keep new rows above it).
entry("POST", "/api/auth/logout-all", Call(lambda w: "/api/auth/logout-all"),
      "401 204 204 204 204 204 204 204 204 204")


# --------------------------------------------------------------------------- the walk

def api_rules(app) -> set[tuple[str, str]]:
    pairs = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                pairs.add((method, rule.rule))
    return pairs


def test_every_api_rule_is_classified(app):
    missing = sorted(api_rules(app) - set(MATRIX))
    stale = sorted(set(MATRIX) - api_rules(app))
    assert missing == [], f"classify these endpoints in MATRIX: {missing}"
    assert stale == [], f"MATRIX names rules that no longer exist: {stale}"


def _session_client(app, world: World, role: str) -> tuple[FlaskClient, dict[str, str]]:
    client = desk_client(app)
    if role == "anonymous":
        return client, {}
    login(client, world.people[role].user.email, PASSWORD)
    token = client.get("/api/admin/csrf-token").get_json()
    return client, ({"X-CSRFToken": token["csrf_token"]} if token and "csrf_token" in token else {})


def _call(client: FlaskClient, method: str, call: Call, world: World, headers: dict[str, str]):
    kwargs: dict[str, Any] = {"headers": headers}
    if call.json is not None:
        kwargs["json"] = call.json(world)
    if call.data is not None:
        kwargs["data"] = call.data(world)
    return client.open(call.path(world), method=method, **kwargs)


def _r(w: World) -> int:
    return w.extra["resolved"]


def _leaks(body: str, world: World) -> bool:
    return any(secret in body for secret in (world.ticket_number, world.extra["resolved_number"], SUBJECT))


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(app, factory, role):
    world = _build_world(factory)
    person = world.people.get(role)
    bearer = person.headers if person is not None else {}
    plain = desk_client(app)
    session, csrf_headers = _session_client(app, world, role)
    problems, seen = [], {}
    for (method, rule), (call, expected) in MATRIX.items():
        if call.session:
            response = _call(session, method, call, world, csrf_headers)
        else:
            response = _call(plain, method, call, world, {} if call.public else bearer)
        body = response.get_data().decode("utf-8", "replace")  # files are bytes
        status = response.status_code
        seen[(method, rule)] = status
        want = expected[role]
        if status >= 500:
            problems.append(f"{method} {rule}: {status} {body[:200]}")
        elif want != status:
            problems.append(f"{method} {rule}: expected {want}, got {status} {body[:160]}")
        if (status >= 400 or role not in SEES_TICKET) and _leaks(body, world):
            problems.append(f"{method} {rule}: {role} sees A's ticket: {body[:200]}")
        if role in CUSTOMER_SIDE and NOTE in body:
            problems.append(f"{method} {rule}: internal note visible to {role}")
    if os.environ.get("MATRIX_PROBE"):
        print("PROBE", role, {f"{m} {r}": s for (m, r), s in seen.items()})
        return
    assert problems == [], "\n".join(problems)
