"""SLA screens (Admin, Store Manager): calendars, policies and escalation rules as
data. Saving goes through the ORM, where `tickets/sla.py` refuses an unusable
calendar or policy before it is written; the per-process policy cache is dropped
on commit."""
from __future__ import annotations

import json
from typing import Any

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import BooleanField, IntegerField, SelectField, TextAreaField, ValidationError
from wtforms.validators import NumberRange, Optional

from ..i18n import PRIORITY_LABELS, SLA_STATE_LABELS, SLA_TARGET_LABELS
from ..extensions import db
from ..models import SlaCalendar, SlaEscalationRule, SlaPolicy
from ..tickets import sla
from ..tickets.errors import ValidationFailed
from . import permissions as perms
from .base import DeskModelView, error_text
from .labels import CATEGORY_LABELS, CHANNEL_LABELS, NONE, SERVICE_LABELS, choices

ANY = _l("Any")
RULE_STATES = {state: SLA_STATE_LABELS[state] for state in ("at_risk", "breached")}
_CRUD = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]

_LABELS = {
    "name": _l("Name"), "position": _l("Position"), "active": _l("Active"),
    "priority": _l("Priority"), "category": _l("Category"), "channel": _l("Channel"),
    "service_type": _l("Service type"), "calendar": _l("Calendar"),
    "first_response_minutes": _l("First response (business minutes)"),
    "next_response_minutes": _l("Next response (business minutes)"),
    "resolution_minutes": _l("Resolution (business minutes)"),
    "at_risk_percent": _l("At risk after this percent of the target"),
    "time_zone": _l("Time zone"), "hours": _l("Opening hours"), "holidays": _l("Holidays"),
    "is_default": _l("Default calendar"), "on_state": _l("When a target is"),
    "target": _l("Target"), "raise_priority": _l("Raise the priority"),
    "escalate": _l("Escalate"), "reassign": _l("Reassign to the next agent"),
    "notify_managers": _l("Notify the managers"), "created_at": _l("Created"),
}


def _checked(values: dict[str, Any]) -> Any:
    def check(form: Any, field: Any) -> None:
        if field.data not in (None, "") and field.data not in values:
            raise ValidationError(str(_l("Not a valid choice.")))
    return check


def _optional(label: Any, labels: dict[str, Any]) -> SelectField:
    """A code select whose first option, Any, stores nothing."""
    return SelectField(label, choices=[("", ANY), *choices(labels)],
                       filters=[lambda value: value or None], validate_choice=False,
                       validators=[_checked(labels)])


def _any(labels: dict[str, Any]):
    """A list cell: the label, or Any for a rule that matches every value."""
    return lambda code: str(ANY) if code in (None, "") else str(labels.get(code, code))


class JSONField(TextAreaField):
    """A JSON column edited as text (calendar hours and holidays)."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return json.dumps(self.data, ensure_ascii=False) if self.data is not None else ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        text = (valuelist[0] or "").strip()
        try:
            self.data = json.loads(text) if text else None
        except ValueError:
            self.data = None
            raise ValueError(str(_l("Not valid JSON."))) from None


def as_json(value: Any) -> Markup:
    return Markup('<code dir="ltr">{}</code>').format(json.dumps(value, ensure_ascii=False)) \
        if value else Markup(NONE)


class _Checked(DeskModelView):
    """Refuses in the form what the ORM check would refuse at flush (FAB flashes it)."""

    def pre_add(self, item: Any) -> None:
        errors = sla.errors_of(item)
        if errors:
            db.session.rollback()  # nothing of it stays in the session
            raise ValueError(error_text(ValidationFailed(errors)))

    pre_update = pre_add


class SlaCalendarView(_Checked):
    datamodel = SQLAInterface(SlaCalendar)
    class_permission_name = perms.SLA_CALENDARS
    route_base = "/sla-calendars"
    list_title = _l("SLA calendars")
    show_title = _l("SLA calendar")
    add_title = _l("Add SLA calendar")
    edit_title = _l("Edit SLA calendar")
    base_permissions = _CRUD
    list_columns = ["name", "time_zone", "is_default", "hours"]
    show_columns = ["name", "time_zone", "is_default", "hours", "holidays", "created_at"]
    add_columns = edit_columns = ["name", "time_zone", "is_default", "hours", "holidays"]
    add_form_extra_fields = edit_form_extra_fields = {
        "hours": JSONField(_l("Opening hours"), description=_l(
            'Per weekday, ranges of opening time: {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}')),
        "holidays": JSONField(_l("Holidays"), default=list, description=_l(
            'Closed days: [{"date": "2026-12-25", "yearly": true}]')),
        "is_default": BooleanField(_l("Default calendar")),
    }
    search_columns = ["name", "time_zone"]
    formatters_columns = {"hours": as_json, "holidays": as_json}
    label_columns = _LABELS

    def pre_add(self, item: SlaCalendar) -> None:
        item.holidays = item.holidays or []
        super().pre_add(item)

    pre_update = pre_add


class SlaPolicyView(_Checked):
    datamodel = SQLAInterface(SlaPolicy)
    class_permission_name = perms.SLA_POLICIES
    route_base = "/sla-policies"
    list_title = _l("SLA policies")
    show_title = _l("SLA policy")
    add_title = _l("Add SLA policy")
    edit_title = _l("Edit SLA policy")
    base_permissions = _CRUD
    base_order = ("position", "asc")
    list_columns = ["position", "name", "active", "priority", "category", "channel",
                    "service_type", "calendar", "first_response_minutes",
                    "next_response_minutes", "resolution_minutes", "at_risk_percent"]
    show_columns = [*list_columns, "created_at"]
    add_columns = edit_columns = ["name", "position", "active", "priority", "category",
                                  "channel", "service_type", "calendar",
                                  "first_response_minutes", "next_response_minutes",
                                  "resolution_minutes", "at_risk_percent"]
    _minutes = {"validators": [Optional(), NumberRange(min=1, max=10_000_000)]}
    add_form_extra_fields = edit_form_extra_fields = {
        "priority": _optional(_l("Priority"), PRIORITY_LABELS),
        "category": _optional(_l("Category"), CATEGORY_LABELS),
        "channel": _optional(_l("Channel"), CHANNEL_LABELS),
        "service_type": _optional(_l("Service type"), SERVICE_LABELS),
        "active": BooleanField(_l("Active"), default=True),
        "position": IntegerField(_l("Position"), default=100,
                                 validators=[NumberRange(min=0, max=1_000_000)]),
        "first_response_minutes": IntegerField(_LABELS["first_response_minutes"], **_minutes),
        "next_response_minutes": IntegerField(_LABELS["next_response_minutes"], **_minutes),
        "resolution_minutes": IntegerField(_LABELS["resolution_minutes"], **_minutes),
        "at_risk_percent": IntegerField(_LABELS["at_risk_percent"], default=80,
                                        validators=[NumberRange(min=1, max=99)]),
    }
    description_columns = {"active": _l(
        "Off: given to no more tickets; tickets already on it keep their targets.")}
    search_columns = ["name", "priority", "category", "channel", "service_type"]
    code_labels = {"priority": PRIORITY_LABELS, "category": CATEGORY_LABELS,
                   "channel": CHANNEL_LABELS, "service_type": SERVICE_LABELS}
    formatters_columns = {"priority": _any(PRIORITY_LABELS), "category": _any(CATEGORY_LABELS),
                          "channel": _any(CHANNEL_LABELS), "service_type": _any(SERVICE_LABELS)}
    label_columns = _LABELS


class SlaEscalationRuleView(DeskModelView):
    datamodel = SQLAInterface(SlaEscalationRule)
    class_permission_name = perms.SLA_RULES
    route_base = "/sla-rules"
    list_title = _l("SLA escalation rules")
    show_title = _l("SLA escalation rule")
    add_title = _l("Add SLA escalation rule")
    edit_title = _l("Edit SLA escalation rule")
    base_permissions = _CRUD
    base_order = ("position", "asc")
    list_columns = ["position", "name", "active", "on_state", "target", "priority", "category",
                    "raise_priority", "escalate", "reassign", "notify_managers"]
    show_columns = [*list_columns, "created_at"]
    add_columns = edit_columns = ["name", "position", "active", "on_state", "target",
                                  "priority", "category", "raise_priority", "escalate",
                                  "reassign", "notify_managers"]
    add_form_extra_fields = edit_form_extra_fields = {
        "on_state": SelectField(_l("When a target is"), choices=choices(RULE_STATES),
                                default="breached"),
        "target": _optional(_l("Target"), SLA_TARGET_LABELS),
        "priority": _optional(_l("Priority"), PRIORITY_LABELS),
        "category": _optional(_l("Category"), CATEGORY_LABELS),
        "active": BooleanField(_l("Active"), default=True),
        "position": IntegerField(_l("Position"), default=100,
                                 validators=[NumberRange(min=0, max=1_000_000)]),
        "raise_priority": BooleanField(_l("Raise the priority")),
        "escalate": BooleanField(_l("Escalate"), description=_l(
            "One support level up; the priority goes one step up too.")),
        "reassign": BooleanField(_l("Reassign to the next agent"), description=_l(
            "To the next approved agent in turn after the current assignee.")),
        "notify_managers": BooleanField(_l("Notify the managers"), description=_l(
            "Admins and store managers get the alert too.")),
    }
    search_columns = ["name", "on_state", "target", "priority", "category"]
    code_labels = {"on_state": RULE_STATES, "target": SLA_TARGET_LABELS,
                   "priority": PRIORITY_LABELS, "category": CATEGORY_LABELS}
    formatters_columns = {"target": _any(SLA_TARGET_LABELS), "priority": _any(PRIORITY_LABELS),
                          "category": _any(CATEGORY_LABELS)}
    label_columns = _LABELS
