"""The 002 paginator when the total is an exact multiple of `per_page`: the last page
is full and nothing comes after it (issue 28: every existing case had a remainder,
so `total // per_page + 1` passed them all)."""
from __future__ import annotations

BASE = "http://localhost/api/support-tickets"


def _page(client, person, query: str) -> dict:
    response = client.get(f"/api/support-tickets?{query}", headers=person.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["data"]


def test_exact_multiple_of_per_page_ends_on_a_full_page(client, factory):
    john = factory.customer()
    for n in range(4):
        factory.ticket(john, subject=f"Ticket {n}")

    last = _page(client, john, "per_page=2&page=2")
    assert (last["total"], last["last_page"], last["from"], last["to"]) == (4, 2, 3, 4)
    assert last["last_page_url"] == f"{BASE}?per_page=2&page=2"
    assert last["next_page_url"] is None
    assert last["prev_page_url"] == f"{BASE}?per_page=2&page=1"
    assert len(last["data"]) == 2

    whole = _page(client, john, "per_page=4")
    assert (whole["last_page"], whole["next_page_url"], whole["to"]) == (1, None, 4)
    single = _page(client, john, "per_page=1&page=4")
    assert (single["last_page"], single["from"], single["next_page_url"]) == (4, 4, None)
