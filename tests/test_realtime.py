"""Socket.IO over a real server on loopback, with the real python-socketio client."""
from __future__ import annotations

import datetime as dt

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_jwt_extended import create_access_token, create_refresh_token

from support_app.extensions import db
from support_app.models import SupportUser
from support_app.realtime.dispatch import dispatcher
from support_app.security import roles
from support_app.tickets import service

from .live import Listener


def refusal(server, opened, **kwargs):
    listener = Listener(server.url, **kwargs)
    opened.append(listener)
    return listener.try_connect()


# --------------------------------------------------------------------------- connect


def test_connect_refused_without_token(server, opened, app_ctx):
    reason = refusal(server, opened)
    assert "Authentication required" in reason["message"]
    assert reason["data"]["code"] == "UNAUTHORIZED"


def test_connect_refused_with_bad_expired_or_refresh_token(server, opened, factory):
    person = factory.customer()
    assert refusal(server, opened, auth={"token": "not-a-jwt"})["message"] == "Invalid token"
    expired = create_access_token(identity=str(person.id), expires_delta=dt.timedelta(seconds=-5))
    assert refusal(server, opened, auth={"token": expired})["message"] == "Token has expired"
    refresh = create_refresh_token(identity=str(person.id))
    assert refusal(server, opened, auth={"token": refresh})["message"] == "Invalid token type"
    assert refusal(server, opened, auth={"token": ""})["message"] == "Invalid token"


def test_connect_refused_for_inactive_user(server, opened, factory):
    person = factory.customer()
    person.user.active = False
    db.session.commit()
    token = person.headers["Authorization"].split(" ", 1)[1]
    assert refusal(server, opened, auth={"token": token})["message"] == (
        "User is inactive or does not exist")


def test_connect_with_bearer_header_and_with_dashboard_session(server, opened, factory, app):
    person = factory.staff(roles.ADMIN)
    listener = Listener(server.url, headers=person.headers)
    opened.append(listener)
    listener.connect()
    assert listener.client.connected

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(person.id)
        session["_fresh"] = True
    cookie = client.get_cookie("session")
    by_cookie = Listener(server.url, headers={"Cookie": f"session={cookie.value}"})
    opened.append(by_cookie)
    by_cookie.connect()
    assert by_cookie.client.connected


# --------------------------------------------------------------------------- rooms


def test_customer_receives_own_ticket_events_and_nothing_of_others(connect, factory):
    alice, bob = factory.customer(), factory.customer()
    alice_socket, bob_socket = connect(alice), connect(bob)

    ticket = factory.ticket(alice, subject="Wrong shirt")
    created = alice_socket.wait_for("support:ticket:created")
    assert created == {"ticketId": ticket.id, "ticketNumber": ticket.number, "status": "OPEN",
                       "customerId": str(alice.customer.id)}
    mtxi = alice_socket.wait_for("support:ticket_created")
    assert mtxi["ticketId"] == ticket.id and mtxi["customerId"] == alice.customer.id
    assert alice_socket.wait_for("support:navbar:count") == {
        "success": True, "total_unresolved": 1, "unread_count": 0, "count": 1}

    # Bob's own ticket comes later on the same ordered connection: had Alice's
    # events leaked to him, they would have arrived first.
    own = factory.ticket(bob, subject="Late delivery")
    bob_socket.wait_for("support:ticket:created", lambda d: d["ticketId"] == own.id)
    leaked = [d for _e, d in bob_socket.events
              if isinstance(d, dict) and ticket.id in (d.get("ticketId"), d.get("ticket_id"))]
    assert leaked == []


def test_staff_receive_new_ticket_events(connect, factory):
    admin, agent, pending = factory.staff(roles.ADMIN), factory.agent(), factory.agent(approved=False)
    customer = factory.customer()
    admin_socket, agent_socket, pending_socket = connect(admin), connect(agent), connect(pending)

    ticket = factory.ticket(customer)
    for socket in (admin_socket, agent_socket):
        assert socket.wait_for("support:ticket:created")["ticketId"] == ticket.id
        assert socket.wait_for("support:ticket_created")["ticketId"] == ticket.id
    desk = admin_socket.wait_for("support:navbar:count")
    assert desk["total_tickets"] == 1 and desk["open_tickets"] == 1 and desk["unread_count"] == 1

    # An agent awaiting approval sees no ticket, so hears of none.
    service.open_ticket(customer.actor, subject="Second", description="Second issue here")
    admin_socket.wait_for("support:ticket:created", lambda d: d["ticketId"] != ticket.id)
    dispatcher.wait_idle()
    assert "support:ticket:created" not in pending_socket.names()
    # In several of its rooms (staff, staff:all), the admin still hears it once.
    assert [d["ticketId"] for d in admin_socket.received("support:ticket:created")].count(ticket.id) == 1


def test_subscribe_checks_the_policy_every_time(connect, factory):
    owner, stranger = factory.customer(), factory.customer()
    ticket = factory.ticket(owner)
    owner_socket, stranger_socket = connect(owner), connect(stranger)

    assert owner_socket.call("subscribe", {"ticketId": ticket.id}) == {
        "ok": True, "ticketId": ticket.id, "internalNotes": False}
    refused = stranger_socket.call("subscribe", {"ticketId": ticket.id})
    assert refused["ok"] is False and refused["code"] == "FORBIDDEN"
    assert stranger_socket.call("subscribe", {"ticketId": 999999})["code"] == "TICKET_NOT_FOUND"
    assert stranger_socket.call("subscribe", {"ticketId": "x"})["code"] == "INVALID_REQUEST"
    assert stranger_socket.call("subscribe", None)["code"] == "INVALID_REQUEST"

    # The stranger's refused subscription left them outside the room.
    service.add_message(owner.actor, ticket.id, "Any news on this?")
    owner_socket.wait_for("support:message:created")
    dispatcher.wait_idle()
    assert "support:message:created" not in stranger_socket.names()


def test_internal_notes_reach_staff_only(connect, factory):
    customer, admin = factory.customer(), factory.staff(roles.ADMIN)
    ticket = factory.ticket(customer)
    customer_socket, admin_socket = connect(customer), connect(admin)
    assert customer_socket.call("subscribe", {"ticketId": ticket.id})["ok"]
    assert admin_socket.call("subscribe", {"ticketId": ticket.id})["internalNotes"] is True

    service.add_note(admin.actor, ticket.id, "Customer is a known reseller; check stock")
    service.update_ticket(admin.actor, ticket.id, status="in_progress", note="Escalated to stock team")
    service.add_message(admin.actor, ticket.id, "We are on it.")

    note = admin_socket.wait_for("support:note:created")
    assert note["note"]["note"] == "Customer is a known reseller; check stock"
    admin_socket.wait_for("support:note:created", lambda d: d["note"]["note"] == "Escalated to stock team")
    reply = customer_socket.wait_for("support:message:created")
    assert reply["message"]["message"] == "We are on it." and reply["message"]["sender_type"] == "admin"
    assert customer_socket.wait_for("support:ticket:status")["status"] == "in_progress"
    dispatcher.wait_idle()
    assert "support:note:created" not in customer_socket.names()
    assert all("reseller" not in repr(data) and "stock team" not in repr(data)
               for _e, data in customer_socket.events)


def test_escalation_and_closing_emit_both_seed_families(connect, factory):
    customer, admin = factory.customer(), factory.staff(roles.ADMIN)
    ticket = factory.ticket(customer)
    socket = connect(customer)
    service.escalate(customer.actor, ticket.id, origin="munch")
    escalated = socket.wait_for("support:ticket:escalated")
    assert escalated == {"ticketId": ticket.id, "ticketNumber": ticket.number, "status": "OPEN",
                         "customerId": str(customer.customer.id)}
    assert socket.wait_for("support:ticket_escalated")["escalationLevel"] == 1
    service.close_ticket(admin.actor, ticket.id)
    closed = socket.wait_for("support:ticket_closed")
    assert closed["status"] == "CLOSED" and closed["ticketId"] == ticket.id


def test_assignment_reaches_the_agent_and_empties_the_ticket_room(connect, factory):
    customer, admin, agent, other = (factory.customer(), factory.staff(roles.ADMIN),
                                     factory.agent(), factory.agent())
    ticket = factory.ticket(customer)
    agent_socket, other_socket = connect(agent), connect(other)
    assert other_socket.call("subscribe", {"ticketId": ticket.id})["ok"]  # unassigned: visible

    service.reassign(admin.actor, ticket.id, agent.id)
    assigned = agent_socket.wait_for("support:ticket:assigned")
    assert assigned["assigned_to"] == agent.id
    notice = agent_socket.wait_for("notification", lambda d: d["kind"] == "assigned")
    assert ticket.number in notice["title"]

    # The other agent may no longer see it: the room was emptied and re-joining is refused.
    assert other_socket.call("subscribe", {"ticketId": ticket.id})["code"] == "FORBIDDEN"
    service.add_message(customer.actor, ticket.id, "Hello again")
    agent_socket.wait_for("support:message:created")
    dispatcher.wait_idle()
    assert "support:message:created" not in other_socket.names()


def test_notification_text_in_the_customers_language(connect, factory, app):
    customer, admin = factory.customer(locale="es"), factory.staff(roles.ADMIN)
    socket = connect(customer)
    ticket = factory.ticket(customer, subject="Pedido incorrecto")
    notice = socket.wait_for("notification", lambda d: d["kind"] == "ticket_created")
    assert notice["locale"] == "es"
    with force_locale("es"):
        assert notice["title"] == _("Ticket %(number)s created", number=ticket.number)

    service.add_message(admin.actor, ticket.id, "Le enviamos el producto correcto.")
    reply = socket.wait_for("notification", lambda d: d["kind"] == "message")
    assert reply["locale"] == "es" and reply["body"] == "Le enviamos el producto correcto."


def test_deactivated_or_regraded_user_is_disconnected(connect, factory, app):
    customer, agent = factory.customer(), factory.agent()
    customer_socket, agent_socket = connect(customer), connect(agent)

    user = db.session.get(SupportUser, customer.id)
    user.active = False
    db.session.commit()
    assert customer_socket.disconnected.wait(10)

    user = db.session.get(SupportUser, agent.id)
    user.roles = [app.appbuilder.sm.find_role(roles.CUSTOMER)]
    db.session.commit()
    assert agent_socket.disconnected.wait(10)


def test_legacy_create_without_notification_still_updates_live_state(connect, factory):
    customer = factory.customer()
    socket = connect(customer)
    ticket = service.open_ticket(customer.actor, subject="Legacy", description="Legacy route",
                                 notify=False).ticket
    socket.wait_for("support:ticket:created", lambda d: d["ticketId"] == ticket.id)
    dispatcher.wait_idle()
    assert socket.received("notification") == []
