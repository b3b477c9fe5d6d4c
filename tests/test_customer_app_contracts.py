"""Munch (001) and mtxi (004) answer what their documents say, where they used to differ:
004's description has no 10-1000 rule, non-numeric ticket ids get the documented code,
and every 401 says `Unauthorized` as the tables do."""
from __future__ import annotations

import pytest


MUNCH = "/api/customer/munch/support"
MTXI = "/api/customer/mtxi/support"


def error(response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["status"] == "error" and body["code"] == code, body
    if message is not None:
        assert body["message"] == message


@pytest.mark.parametrize("length", [1001, 5000])
def test_mtxi_accepts_a_description_up_to_the_products_limit(client, factory, length):
    alice = factory.customer()
    ride = factory.ride(alice.customer)
    response = client.post(f"{MTXI}/", headers=alice.headers, json={
        "serviceType": "ride", "rideId": ride.id, "issueType": "OTHER", "description": "x" * length})
    assert response.status_code == 200, response.get_json()
    ticket_id = response.get_json()["data"]["ticketId"]
    tracked = client.get(f"{MTXI}/{ticket_id}", headers=alice.headers).get_json()
    assert len(tracked["data"]["description"]) == length


def test_mtxi_refuses_a_description_over_the_products_limit(client, factory):
    alice = factory.customer()
    ride = factory.ride(alice.customer)
    response = client.post(f"{MTXI}/", headers=alice.headers, json={
        "serviceType": "ride", "rideId": ride.id, "issueType": "OTHER", "description": "x" * 5001})
    error(response, 400, "INVALID_TICKET")


@pytest.mark.parametrize("ticket_id", ["not-a-number", "1.5", "0x10", "escalate", "9" * 40])
def test_mtxi_non_numeric_ticket_id_is_400_invalid_ticket_id(client, factory, ticket_id):
    alice = factory.customer()
    response = client.get(f"{MTXI}/{ticket_id}", headers=alice.headers)
    error(response, 400, "INVALID_TICKET", "Invalid ticket ID")


@pytest.mark.parametrize("ticket_id", ["abc", "1.5", "9" * 40])
def test_munch_non_numeric_ticket_id_is_a_documented_code(client, factory, ticket_id):
    alice = factory.customer()
    response = client.get(f"{MUNCH}/ticket/{ticket_id}/status", headers=alice.headers)
    error(response, 404, "TICKET_NOT_FOUND", "Ticket not found")


def test_non_numeric_ids_are_checked_after_authentication(client):
    error(client.get(f"{MUNCH}/ticket/abc/status"), 401, "UNAUTHORIZED")
    error(client.get(f"{MTXI}/not-a-number"), 401, "UNAUTHORIZED")


def test_the_spec_still_documents_integer_ticket_ids(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in (MUNCH + "/ticket/{ticket_id}/status", MTXI + "/{ticket_id}"):
        (parameter,) = [p for p in paths[path]["parameters"] if p["name"] == "ticket_id"]
        assert parameter["schema"]["type"] == "integer"


@pytest.mark.parametrize("base,method,path", [
    (MUNCH, "get", "/ticket/1/status"), (MUNCH, "put", "/ticket/escalate"),
    (MUNCH, "post", "/ticket"), (MTXI, "get", "/1"), (MTXI, "post", "/escalate"),
])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_every_401_says_unauthorized(client, base, method, path, headers):
    response = getattr(client, method)(base + path, json={}, headers=headers)
    error(response, 401, "UNAUTHORIZED", "Unauthorized")


def test_an_inactive_users_token_is_401_unauthorized(client, factory):
    from support_app.extensions import db

    alice = factory.customer()
    alice.user.active = False
    db.session.commit()
    error(client.get(f"{MUNCH}/ticket/1/status", headers=alice.headers), 401, "UNAUTHORIZED",
          "Unauthorized")


def test_the_401_message_is_translated(client):
    response = client.get(f"{MUNCH}/ticket/1/status", headers={"Accept-Language": "es"})
    error(response, 401, "UNAUTHORIZED")
    assert response.get_json()["message"] != "Unauthorized"
