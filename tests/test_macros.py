"""Macros: variables filled in the customer's language (English, Arabic), a missing
variable shown as a placeholder that blocks sending, each action, one transaction,
and the staff-only API."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from support_app.extensions import db
from support_app.models import InternalNote, Macro, Message, Tag, Ticket, TicketEvent
from support_app.security import roles
from support_app.tickets import events, macros, service, tags
from support_app.tickets.errors import (
    AlreadyAssigned,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)

EN = ("Hello {customer_name}, your order {order_number} is {order_status}. "
      "Ticket {ticket_number}. {agent_name}, {desk_name}")
AR = ("مرحبا {customer_name}، طلبك {order_number} حالته {order_status}. "
      "التذكرة {ticket_number}. {agent_name}، {desk_name}")


def make_macro(**fields) -> Macro:
    macro = Macro(name=fields.pop("name", "Where is my order"), body_en=fields.pop("body_en", EN),
                  body_ar=fields.pop("body_ar", AR), **fields)
    db.session.add(macro)
    db.session.commit()
    return macro


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def desk(factory):
    admin = factory.staff(roles.ADMIN, name="Amira Admin")
    customer = factory.customer(name="Claire Dubois")
    order = factory.order(customer.customer, status="shipped")
    ticket = factory.ticket(customer, order_id=order.id)
    return admin, customer, order, ticket


def test_preview_fills_variables_in_english(desk):
    admin, customer, order, ticket = desk
    macro = make_macro()
    result = macros.preview(admin.actor, ticket.id, macro.id)
    assert result.language == "en" and result.missing == []
    assert result.body == (f"Hello Claire Dubois, your order {order.order_number} is Shipped. "
                           f"Ticket {ticket.number}. Amira Admin, Support Desk")
    assert count(Message) == 0  # a preview writes nothing


def test_preview_in_arabic_for_an_arabic_customer(factory):
    admin = factory.staff(roles.ADMIN, name="Amira Admin")
    customer = factory.customer(name="ليلى", locale="ar")
    order = factory.order(customer.customer, status="shipped")
    ticket = factory.ticket(customer, order_id=order.id)
    result = macros.preview(admin.actor, ticket.id, make_macro().id)
    assert result.language == "ar" and result.missing == []
    assert result.body.startswith(f"مرحبا ليلى، طلبك {order.order_number} حالته ")
    assert "Shipped" not in result.body  # the order status in Arabic too
    assert ticket.number in result.body and "Amira Admin" in result.body


def test_a_language_without_a_body_falls_back_to_english(factory):
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer(locale="fr")
    ticket = factory.ticket(customer)
    macro = make_macro(body_en="Hi {customer_name}", body_ar=None)
    assert macros.preview(admin.actor, ticket.id, macro.id).language == "en"


def test_missing_variable_is_a_placeholder_and_blocks_send(factory):
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    ticket = factory.ticket(customer)  # no order
    macro = make_macro(body_en="Order {order_number} ({order_status}); {unknown_thing}")
    result = macros.preview(admin.actor, ticket.id, macro.id)
    assert result.body == "Order [[order_number]] ([[order_status]]); [[unknown_thing]]"
    assert result.missing == ["order_number", "order_status", "unknown_thing"]
    with pytest.raises(ValidationFailed) as refused:
        macros.send(admin.actor, ticket.id, macro.id)
    assert "[[order_number]]" in str(refused.value.errors)
    with pytest.raises(ValidationFailed):  # edited, but one placeholder is left
        macros.send(admin.actor, ticket.id, macro.id, body="Order [[order_number]] is on its way")
    assert count(Message) == 0
    sent = macros.send(admin.actor, ticket.id, macro.id, body="Your order is on its way.")
    assert sent.message is not None and count(Message) == 1


def test_values_are_not_expanded_twice_nor_attributes_reached(factory):
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer(name="{ticket_number} {customer_name.__class__}")
    ticket = factory.ticket(customer)
    macro = make_macro(body_en="Hi {customer_name}! {customer_name.__class__} {0} {ticket_number!r}")
    result = macros.preview(admin.actor, ticket.id, macro.id)
    assert result.body == ("Hi {ticket_number} {customer_name.__class__}! "
                           "{customer_name.__class__} {0} {ticket_number!r}")


def test_send_replies_and_runs_every_action_in_one_change(factory, recorded_events):
    agent = factory.agent(name="Sam Agent")
    customer = factory.customer(name="Claire")
    order = factory.order(customer.customer)
    ticket = factory.ticket(customer, order_id=order.id)
    admin = factory.staff(roles.ADMIN)
    tags.add_tags(admin.actor, ticket.id, ["new"])
    macro = make_macro(set_status="on_hold", set_priority="high", add_tags="Where is my order, vip",
                       remove_tags="NEW", assign_to_me=True, internal_note="Asked the courier.")
    recorded_events.clear()
    result = macros.send(agent.actor, ticket.id, macro.id)
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.assigned_to_id == agent.user.id
    assert (ticket.status, ticket.priority) == ("on_hold", "high")
    assert tags.names_of(ticket.id) == ["vip", "Where is my order"]
    message = db.session.get(Message, result.message.id)
    assert message.sender_type == "admin" and message.body.startswith("Hello Claire, your order")
    assert "Sam Agent" in message.body
    note = db.session.scalar(select(InternalNote).where(InternalNote.ticket_id == ticket.id))
    assert note.note == "Asked the courier."
    names = [e.name for e in recorded_events]
    for expected in (events.ASSIGNED, events.MESSAGE_ADDED, events.STATUS_CHANGED,
                     events.PRIORITY_CHANGED, events.TAGS_CHANGED, events.NOTE_ADDED):
        assert expected in names, (expected, names)
    audit = db.session.scalar(select(TicketEvent.new_value).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "macro"))
    assert audit == "Where is my order"


def test_each_action_alone(factory):
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    for fields, check in (
        ({"set_status": "resolved"}, lambda t: t.status == "resolved"),
        ({"set_priority": "urgent"}, lambda t: t.priority == "urgent"),
        ({"add_tags": "refund"}, lambda t: tags.names_of(t.id) == ["refund"]),
        ({"remove_tags": "refund"}, lambda t: tags.names_of(t.id) == []),
        ({"assign_to_me": True}, lambda t: t.assigned_to_id == admin.user.id),
        ({"internal_note": "Checked."}, lambda t: db.session.scalar(
            select(InternalNote.note).where(InternalNote.ticket_id == t.id)) == "Checked."),
    ):
        ticket = factory.ticket(customer)
        if "remove_tags" in fields:
            tags.add_tags(admin.actor, ticket.id, ["Refund"])
        macro = make_macro(name=f"macro {sorted(fields)}", body_en="", body_ar=None, **fields)
        result = macros.send(admin.actor, ticket.id, macro.id)
        assert result.message is None  # no reply text: the actions only
        db.session.expire_all()
        assert check(db.session.get(Ticket, ticket.id)), fields


def test_failure_mid_way_writes_nothing(factory, recorded_events):
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    ticket = factory.ticket(customer)
    # Reply, status, priority and tags go through; the note, last, is refused (too long).
    macro = make_macro(body_en="We are on it", set_status="on_hold", set_priority="urgent",
                       add_tags="late", internal_note="x" * 6000)
    before = (count(Message), count(InternalNote), count(TicketEvent))
    recorded_events.clear()
    with pytest.raises(ValidationFailed):
        macros.send(admin.actor, ticket.id, macro.id)
    assert (count(Message), count(InternalNote), count(TicketEvent)) == before
    assert tags.names_of(ticket.id) == [] and recorded_events == []
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.status, ticket.priority, ticket.message_count) == ("open", "medium", 0)
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 0


def test_a_refused_transition_writes_nothing(factory):
    admin = factory.staff(roles.ADMIN)
    ticket = factory.ticket(factory.customer())
    service.update_ticket(admin.actor, ticket.id, status="resolved")
    macro = make_macro(body_en="", body_ar=None, set_status="on_hold", set_priority="low",
                       assign_to_me=True)
    with pytest.raises(InvalidTransition):  # resolved -> on_hold is no move of the lifecycle
        macros.send(admin.actor, ticket.id, macro.id)
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.status, ticket.priority, ticket.assigned_to_id) == ("resolved", "medium", None)


def test_assign_to_me_on_a_colleagues_ticket_is_refused_whole(factory):
    first, second = factory.agent(), factory.agent()
    ticket = factory.ticket(factory.customer())
    service.assign_self(first.actor, ticket.id)
    macro = make_macro(assign_to_me=True, body_en="Hi")
    with pytest.raises((AlreadyAssigned, Forbidden)):  # not theirs: not even visible
        macros.send(second.actor, ticket.id, macro.id)
    assert count(Message) == 0


def test_customers_and_inactive_macros(factory):
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    ticket = factory.ticket(customer)
    macro = make_macro()
    with pytest.raises(Forbidden):
        macros.preview(customer.actor, ticket.id, macro.id)
    macro.is_active = False
    db.session.commit()
    with pytest.raises(NotFound):
        macros.send(admin.actor, ticket.id, macro.id)


# --------------------------------------------------------------------------- API


def test_api_list_preview_and_send(client, desk):
    admin, customer, order, ticket = desk
    macro = make_macro(add_tags="wismo", set_status="on_hold")
    r = client.get("/api/macros", headers=admin.headers)
    assert r.status_code == 200
    listed = r.get_json()["data"]
    assert listed == [{"id": macro.id, "name": "Where is my order", "languages": ["en", "ar"],
                       "set_status": "on_hold", "set_priority": None, "add_tags": ["wismo"],
                       "remove_tags": [], "assign_to_me": False, "adds_internal_note": False}]
    url = f"/api/tickets/{ticket.id}/apply-macro"
    r = client.post(url, headers=admin.headers, json={"macro_id": macro.id, "mode": "preview"})
    assert r.status_code == 200, r.get_json()
    data = r.get_json()["data"]
    assert data["sendable"] is True and data["message_id"] is None and data["language"] == "en"
    assert order.order_number in data["body"]
    assert count(Message) == 0
    r = client.post(url, headers=admin.headers, json={"macro_id": macro.id, "mode": "send"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["message_id"] is not None
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "on_hold"
    assert tags.names_of(ticket.id) == ["wismo"]


def test_api_missing_variable_and_bad_input(client, factory):
    admin = factory.staff(roles.STORE_MANAGER)
    customer = factory.customer()
    ticket = factory.ticket(customer)
    macro = make_macro()
    url = f"/api/tickets/{ticket.id}/apply-macro"
    r = client.post(url, headers=admin.headers, json={"macro_id": macro.id})
    data = r.get_json()["data"]
    assert data["sendable"] is False and data["missing"] == ["order_number", "order_status"]
    r = client.post(url, headers=admin.headers, json={"macro_id": macro.id, "mode": "send"})
    assert r.status_code == 422 and r.get_json()["success"] is False
    for body in ({}, {"macro_id": "1"}, {"macro_id": macro.id, "mode": "go"},
                 {"macro_id": 2 ** 70}, {"macro_id": macro.id, "body": 5}, []):
        r = client.post(url, headers=admin.headers, json=body)
        assert r.status_code == 422, (body, r.get_json())
    r = client.post(url, headers=admin.headers, json={"macro_id": 99999})
    assert r.status_code == 404
    r = client.post(url, headers=customer.headers, json={"macro_id": macro.id})
    assert r.status_code == 403
    r = client.get("/api/macros", headers=customer.headers)
    assert r.status_code == 403
    assert count(Message) == 0
