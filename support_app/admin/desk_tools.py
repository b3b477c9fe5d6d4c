"""Tags, auto-tag rules and macros as data (Admin and Store Manager manage them;
agents use tags and macros on the ticket page, `admin/tickets.py`)."""
from __future__ import annotations

from flask import request
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from wtforms import BooleanField, Field, Form, SelectField, ValidationError

from ..extensions import db
from ..i18n import PRIORITY_LABELS, STATUS_LABELS
from ..models import AutoTagRule, Macro, Tag
from ..tickets import macros, tags
from ..tickets.errors import ValidationFailed
from . import permissions as perms
from .base import DeskModelView, error_text
from .labels import choices

MATCH_LABELS = {"keywords": _l("Any of these keywords"), "pattern": _l("Pattern (regular expression)")}
FIELD_LABELS = {"subject": _l("Subject"), "first_message": _l("First message"),
                "both": _l("Subject or first message")}
NO_CHANGE = ""


def _editing_pk() -> int | None:
    pk = (request.view_args or {}).get("pk")
    return int(pk) if pk is not None and str(pk).isdigit() else None


def tag_name(form: Form, field: Field) -> None:
    """A clean name no other tag has in any case."""
    try:
        name = tags.clean_name(field.data or "")
    except ValidationFailed as err:
        raise ValidationError(error_text(err)) from None
    other = db.session.scalar(select(Tag.id).where(Tag.name_key == tags.key_of(name)))
    if other is not None and other != _editing_pk():
        raise ValidationError(_l("A tag with this name exists already."))
    field.data = name


def rule_expression(form: Form, field: Field) -> None:
    try:
        if form.match.data == "pattern":
            tags.check_pattern(field.data or "")
        else:
            tags.check_keywords(field.data or "")
    except ValidationFailed as err:
        raise ValidationError(error_text(err)) from None


def tag_list(form: Form, field: Field) -> None:
    try:
        tags.split_names(field.data)
    except ValidationFailed as err:
        raise ValidationError(error_text(err)) from None


def tag_names(value: list[Tag] | None) -> Markup:
    """A ticket's tags as labels (a list cell and the ticket page)."""
    return Markup(" ").join(Markup('<span class="label label-info desk-tag">{}</span>').format(
        tag.name) for tag in value or []) or Markup("—")


class TagView(DeskModelView):
    datamodel = SQLAInterface(Tag)
    class_permission_name = perms.TAGS
    route_base = "/tags"
    list_title = _l("Tags")
    show_title = _l("Ticket tag")
    add_title = _l("Add tag")
    edit_title = _l("Edit tag")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    base_order = ("name_key", "asc")
    list_columns = show_columns = ["name", "created_at"]
    add_columns = edit_columns = ["name"]
    search_columns = ["name"]
    validators_columns = {"name": [tag_name]}
    label_columns = {"name": _l("Name"), "created_at": _l("Created")}

    def pre_add(self, item: Tag) -> None:
        item.name_key = tags.key_of(item.name)

    pre_update = pre_add


def _rule_fields() -> dict[str, Field]:
    return {
        "match": SelectField(_l("Match"), choices=choices(MATCH_LABELS), default="keywords"),
        "field": SelectField(_l("Look in"), choices=choices(FIELD_LABELS), default="both"),
        "is_active": BooleanField(_l("Active"), default=True),
    }


class AutoTagRuleView(DeskModelView):
    datamodel = SQLAInterface(AutoTagRule)
    class_permission_name = perms.AUTO_TAG_RULES
    route_base = "/auto-tag-rules"
    list_title = _l("Auto-tag rules")
    show_title = _l("Auto-tag rule")
    add_title = _l("Add auto-tag rule")
    edit_title = _l("Edit auto-tag rule")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    base_order = ("name", "asc")
    list_columns = ["name", "match", "expression", "field", "tag", "is_active"]
    show_columns = ["name", "match", "expression", "field", "tag", "is_active", "created_at"]
    add_columns = edit_columns = ["name", "match", "expression", "field", "tag", "is_active"]
    add_form_extra_fields = _rule_fields()
    edit_form_extra_fields = _rule_fields()
    validators_columns = {"expression": [rule_expression]}
    code_labels = {"match": MATCH_LABELS, "field": FIELD_LABELS}
    label_columns = {"name": _l("Name"), "match": _l("Match"), "expression": _l("Keywords or pattern"),
                     "field": _l("Look in"), "tag": _l("Ticket tag"), "is_active": _l("Active"),
                     "created_at": _l("Created")}
    description_columns = {"expression": _l(
        "Keywords: separated by commas, matched in any case. Pattern: a simple regular "
        "expression (no nested repeats). A new ticket that matches gets the tag, whatever "
        "channel it came from.")}


def _macro_fields() -> dict[str, Field]:
    return {
        "set_status": SelectField(_l("Set status"),
                                  choices=[(NO_CHANGE, "—"), *choices(STATUS_LABELS)]),
        "set_priority": SelectField(_l("Set priority"),
                                    choices=[(NO_CHANGE, "—"), *choices(PRIORITY_LABELS)]),
        "assign_to_me": BooleanField(_l("Assign to the agent applying it")),
        "is_active": BooleanField(_l("Active"), default=True),
    }


VARIABLES_HELP = ", ".join("{%s}" % name for name in macros.VARIABLES)


class MacroView(DeskModelView):
    datamodel = SQLAInterface(Macro)
    class_permission_name = perms.MACROS
    route_base = "/macros"
    list_title = _l("Macros")
    show_title = _l("Macro")
    add_title = _l("Add macro")
    edit_title = _l("Edit macro")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    base_order = ("name", "asc")
    list_columns = ["name", "set_status", "set_priority", "add_tags", "remove_tags",
                    "assign_to_me", "is_active"]
    show_columns = ["name", "body_en", "body_es", "body_fr", "body_ar", "body_bn", "set_status",
                    "set_priority", "add_tags", "remove_tags", "assign_to_me", "internal_note",
                    "is_active", "updated_at"]
    add_columns = edit_columns = [
        "name", "body_en", "body_es", "body_fr", "body_ar", "body_bn", "set_status",
        "set_priority", "add_tags", "remove_tags", "assign_to_me", "internal_note", "is_active"]
    add_form_extra_fields = _macro_fields()
    edit_form_extra_fields = _macro_fields()
    validators_columns = {"add_tags": [tag_list], "remove_tags": [tag_list]}
    code_labels = {"set_status": STATUS_LABELS, "set_priority": PRIORITY_LABELS}
    label_columns = {
        "name": _l("Name"), "body_en": _l("Reply in English"), "body_es": _l("Reply in Spanish"),
        "body_fr": _l("Reply in French"), "body_ar": _l("Reply in Arabic"),
        "body_bn": _l("Reply in Bengali"), "set_status": _l("Set status"),
        "set_priority": _l("Set priority"), "add_tags": _l("Add tags"),
        "remove_tags": _l("Remove tags"), "assign_to_me": _l("Assign to the agent applying it"),
        "internal_note": _l("Internal note"), "is_active": _l("Active"),
        "updated_at": _l("Updated"),
    }
    description_columns = {
        "body_en": _l("Variables: %(names)s. The customer's language is used, else English.",
                      names=VARIABLES_HELP),
        "add_tags": _l("Tag names separated by commas."),
        "remove_tags": _l("Tag names separated by commas."),
    }

    def pre_add(self, item: Macro) -> None:
        """An empty choice or text is "no change", stored as nothing."""
        for column in ("set_status", "set_priority", "add_tags", "remove_tags",
                       "internal_note", *(f"body_{lang}" for lang in ("en", "es", "fr", "ar", "bn"))):
            if not (getattr(item, column) or "").strip():
                setattr(item, column, None)

    pre_update = pre_add
