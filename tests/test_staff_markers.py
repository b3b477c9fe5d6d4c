"""Staff see why a ticket is held (`unverified_sender`) wherever they read tickets: 000
admin, 002 staff answers, 003 agent and admin views. A customer's answer never has it."""
from __future__ import annotations

from support_app.security import roles
from support_app.tickets import Actor, service, verification

KEY = "unverified_sender"


def held_and_own(factory):
    """A registered customer's own ticket, and a contact-form ticket for their address
    (held for staff: the form proves nothing about who typed the address)."""
    owner = factory.customer()
    own = factory.ticket(owner)
    held = service.open_ticket(Actor.system("contact form"), customer_id=owner.customer.id,
                               subject="Held", description="Typed by anyone at all.",
                               channel="contact_form",
                               unverified_reason=verification.CONTACT_FORM).ticket
    return owner, own, held


def by_id(rows: list[dict], key: str = "id") -> dict[str, dict]:
    return {str(row[key]): row for row in rows}


def test_staff_read_the_marker_on_002_and_003(client, factory):
    _owner, own, held = held_and_own(factory)
    admin = factory.staff(roles.ADMIN)
    agent = factory.agent()

    rows = by_id(client.get("/api/support-tickets", headers=admin.headers).get_json()["data"]["data"])
    assert rows[str(held.id)][KEY] == "contact_form" and rows[str(own.id)][KEY] is None
    detail = client.get(f"/api/support-tickets/{held.id}", headers=admin.headers).get_json()
    assert detail["data"][KEY] == "contact_form"

    desk = client.get(f"/api/support/tickets/{held.id}/", headers=admin.headers).get_json()
    assert desk["ticket"][KEY] == "contact_form"
    listed = by_id(client.get("/api/admin/support/tickets/", headers=admin.headers)
                   .get_json()["tickets"])
    assert listed[str(held.id)][KEY] == "contact_form" and listed[str(own.id)][KEY] is None
    pool = by_id(client.get("/api/agent/tickets/", headers=agent.headers).get_json()["tickets"])
    assert pool[str(held.id)][KEY] == "contact_form" and pool[str(own.id)][KEY] is None


def test_customers_never_get_the_marker(client, factory):
    owner, own, held = held_and_own(factory)
    answers = [
        client.get("/api/support-tickets", headers=owner.headers),
        client.get(f"/api/support-tickets/{own.id}", headers=owner.headers),
        client.get("/api/support/tickets/", headers=owner.headers),
        client.get(f"/api/support/tickets/{own.id}/", headers=owner.headers),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.get_json()
        assert KEY not in answer.get_data(as_text=True), answer.request.path
    assert own.number in answers[0].get_data(as_text=True)
    for path in (f"/api/support-tickets/{held.id}", f"/api/support/tickets/{held.id}/"):
        assert client.get(path, headers=owner.headers).status_code in (403, 404)


def test_the_marker_is_documented_as_staff_only(client, app_ctx):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    documented = [name for name, schema in schemas.items()
                  if KEY in schema.get("properties", {})]
    assert len(documented) >= 4, documented
    for name in documented:
        assert "Staff only" in schemas[name]["properties"][KEY]["description"]
