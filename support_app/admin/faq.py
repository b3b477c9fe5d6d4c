"""FAQ entries: full CRUD with category, language and the published flag."""
from __future__ import annotations

from flask import current_app
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField

from ..models import FAQ
from . import permissions as perms
from .base import DeskModelView
from .labels import CATEGORY_LABELS, choices, language_name


def _languages() -> list[tuple[str, str]]:
    return [(code, meta["name"]) for code, meta in current_app.config["LANGUAGES"].items()]


class FAQView(DeskModelView):
    datamodel = SQLAInterface(FAQ)
    class_permission_name = perms.FAQS
    route_base = "/faqs"
    list_title = _l("FAQs")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    base_order = ("position", "asc")
    list_columns = ["question", "category", "language", "is_published", "position", "updated_at"]
    show_columns = ["question", "answer", "category", "language", "translation_of",
                    "is_published", "position", "created_at", "updated_at"]
    add_columns = edit_columns = ["question", "answer", "category", "language", "translation_of",
                                  "is_published", "position"]
    search_columns = ["question", "answer", "category", "language", "is_published"]
    label_columns = {"question": _l("Question"), "answer": _l("Answer"),
                     "category": _l("Category"), "language": _l("Language"),
                     "translation_of": _l("Translation of"), "is_published": _l("Published"),
                     "position": _l("Position"), "created_at": _l("Created"),
                     "updated_at": _l("Updated")}
    code_labels = {"category": CATEGORY_LABELS}
    formatters_columns = {"language": language_name}
    add_form_extra_fields = edit_form_extra_fields = {
        "category": SelectField(_l("Category"), choices=choices(CATEGORY_LABELS),
                                widget=Select2Widget()),
        "language": SelectField(_l("Language"), choices=_languages, widget=Select2Widget()),
        # A plain checkbox: FAB would mark the NOT NULL column required, i.e. always true.
        "is_published": BooleanField(_l("Published"), default=True),
    }
