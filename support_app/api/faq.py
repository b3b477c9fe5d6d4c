"""Public FAQ of the agent desk (seed 003), in the reader's language when translated.

A translated entry is its own row (`language`, `translation_of_id` -> the source
entry). The reader's language is the request's locale (Accept-Language, see
`support_app.i18n`); a source entry without a published translation in that
language is shown as written.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import get_locale
from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import FAQ
from . import agent_desk_schemas as s
from .openapi import Blueprint

blp = Blueprint("faq", __name__, url_prefix="/api/support/faq",
                description="Agent desk (seed 003): public FAQ")

# Stored categories this document prints as Damaged/Lost/Late/Quality; the rest is Other.
NAMED = [stored for stored in s.CATEGORY_OUT if stored != "other"]


def reader_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else current_app.config["BABEL_DEFAULT_LOCALE"]


@blp.route("/", methods=["GET"])
@blp.doc(security=[])
@blp.arguments(s.DeskCategoryFilterSchema, location="query", error_status_code=400)
@blp.response(200, s.DeskFAQListResponse)
@blp.alt_response(400, schema=s.FIELD_ERRORS, description="Unknown category")
def list_faqs(args: dict[str, Any]) -> dict[str, Any]:
    """Published entries, optionally of one category, source order (position, id)."""
    language = reader_language()
    translation = aliased(FAQ)
    stmt = (
        select(FAQ, translation)
        .outerjoin(translation, and_(translation.translation_of_id == FAQ.id,
                                     translation.language == language,
                                     translation.is_published.is_(True)))
        .where(FAQ.translation_of_id.is_(None), FAQ.is_published.is_(True))
        .order_by(FAQ.position, FAQ.id, translation.id)
    )
    category = args["category"]
    if category == "Other":
        stmt = stmt.where(FAQ.category.not_in(NAMED))
    elif category:
        stmt = stmt.where(FAQ.category == s.CATEGORY_IN[category])
    entries: dict[int, dict[str, Any]] = {}
    for source, translated in db.session.execute(stmt):
        if source.id in entries:  # a second translation into the same language
            continue
        shown = translated if translated is not None and source.language != language else source
        entries[source.id] = {"id": shown.id, "question": shown.question,
                              "answer": shown.answer,
                              "category": s.category_label(source.category)}
    return {"faqs": list(entries.values())}
