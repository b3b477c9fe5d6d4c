"""Public FAQ (seed 003): published entries, category filter, reader's language."""
from __future__ import annotations

import pytest

from support_app.extensions import db
from support_app.models import FAQ

FAQ_URL = "/api/support/faq/"


@pytest.fixture
def faqs(app_ctx):
    damaged = FAQ(question="What if my package arrived damaged?",
                  answer="Please create a support ticket immediately...", category="damaged",
                  position=1)
    late = FAQ(question="My delivery is late", answer="Wait three days.", category="late",
               position=2)
    billing = FAQ(question="Why was I charged twice?", answer="Refund in 5 days.",
                  category="billing", position=3)
    hidden = FAQ(question="Draft", answer="Not yet.", category="damaged", is_published=False)
    db.session.add_all([damaged, late, billing, hidden])
    db.session.flush()
    db.session.add_all([
        FAQ(question="¿Y si mi paquete llegó dañado?", answer="Cree un ticket de soporte.",
            category="damaged", language="es", translation_of_id=damaged.id),
        FAQ(question="Mon colis est en retard", answer="Brouillon.", category="late",
            language="fr", translation_of_id=late.id, is_published=False),
    ])
    db.session.commit()
    return {"damaged": damaged, "late": late, "billing": billing, "hidden": hidden}


def questions(response) -> list[str]:
    assert response.status_code == 200
    return [entry["question"] for entry in response.get_json()["faqs"]]


def test_public_list_of_published_source_entries(client, faqs):
    r = client.get(FAQ_URL)
    assert questions(r) == ["What if my package arrived damaged?", "My delivery is late",
                            "Why was I charged twice?"]
    first = r.get_json()["faqs"][0]
    assert first == {"id": str(faqs["damaged"].id), "question": "What if my package arrived damaged?",
                     "answer": "Please create a support ticket immediately...",
                     "category": "Damaged"}
    assert r.get_json()["faqs"][2]["category"] == "Other"


def test_category_filter_in_the_documents_spelling(client, faqs):
    assert questions(client.get(FAQ_URL + "?category=Damaged")) == [
        "What if my package arrived damaged?"]
    assert questions(client.get(FAQ_URL + "?category=Other")) == ["Why was I charged twice?"]
    assert questions(client.get(FAQ_URL + "?category=Lost")) == []
    r = client.get(FAQ_URL + "?category=damaged")
    assert r.status_code == 400 and isinstance(r.get_json()["category"], list)


def test_translation_in_the_readers_language_else_the_source(client, faqs):
    r = client.get(FAQ_URL, headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert questions(r) == ["¿Y si mi paquete llegó dañado?", "My delivery is late",
                            "Why was I charged twice?"]
    assert r.get_json()["faqs"][0]["category"] == "Damaged"
    # The French translation is unpublished: the source is shown.
    assert questions(client.get(FAQ_URL + "?category=Late",
                                headers={"Accept-Language": "fr"})) == ["My delivery is late"]
    assert questions(client.get(FAQ_URL + "?category=Damaged",
                                headers={"Accept-Language": "ar"})) == [
        "What if my package arrived damaged?"]


def test_no_slash_redirects_and_unknown_methods_answer_in_the_surface_format(client, faqs):
    assert client.get("/api/support/faq").status_code == 308
    r = client.post(FAQ_URL, json={})
    assert r.status_code == 405 and set(r.get_json()) == {"error"}
