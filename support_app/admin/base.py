"""What every dashboard screen shares: the signed-in user's Actor, the ticket
visibility filter, and turning the service's refusals into flash messages."""
from __future__ import annotations

from typing import Any, Callable, Mapping, TypeVar

from flask import flash, g, request, url_for
from flask_appbuilder import ModelView
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext
from markupsafe import Markup, escape
from wtforms import DateTimeField, SelectField, widgets

from ..extensions import db
from ..models import SupportUser, Ticket
from ..security.current import actor_for_user
from ..tickets import policy
from ..tickets.actor import Actor
from ..tickets.errors import DomainError, ValidationFailed
from .labels import NONE, choices, labeller, yes_no

T = TypeVar("T")


def per_request(key: str, build: Callable[[], T]) -> T:
    """Cache a value for the current request only (the WSGI environ dies with it;
    `g` may outlive a request when an app context is already pushed)."""
    store = request.environ.setdefault("support.admin", {})
    if key not in store:
        store[key] = build()
    return store[key]


def current_actor() -> Actor:
    """The Actor of the signed-in FAB user, built once per request."""
    return per_request("actor", lambda: actor_for_user(db.session.get(SupportUser, g.user.id)))


def error_text(err: DomainError) -> str:
    if isinstance(err, ValidationFailed):
        return " ".join(problem for problems in err.errors.values() for problem in problems)
    return err.message


def attempt(call: Callable[..., T], *args: Any, label: str = "", **kwargs: Any) -> T | None:
    """Run one service call; a domain refusal becomes a flash message, never a 500."""
    try:
        return call(*args, **kwargs)
    except DomainError as err:
        db.session.rollback()
        flash(f"{label}: {error_text(err)}" if label else error_text(err), "danger")
        return None


class VisibleToActor(BaseFilter):
    """Base filter: only the rows whose ticket the signed-in user may see
    (`tickets.policy.visible_clause`), on list, show and related lists alike."""

    name = lazy_gettext("Visible to you")
    arg_name = "visible"

    def apply(self, query, value):  # type: ignore[override]
        return query.filter(policy.visible_clause(value()))


def ticket_link(ticket: Ticket | None) -> Markup:
    """A list cell linking to the ticket's page (FAB `formatters_columns`)."""
    if ticket is None:
        return Markup("")
    href = url_for("TicketView.show", pk=ticket.id)
    return Markup(f'<a class="desk-code" href="{escape(href)}">{escape(ticket.number)}</a>')


def isolated(value: Any) -> Markup:
    """A name (or "Name <email>") in its own bidi run: in an Arabic list a Latin name
    keeps its brackets in place, and the reverse (FAB `formatters_columns`)."""
    text = "" if value is None else value
    return Markup('<bdi class="desk-person" title="{}">{}</bdi>').format(text, text)


TIMESTAMP = "%Y-%m-%d %H:%M"


def timestamp(value: Any) -> Markup:
    """Date and time left to right even on an Arabic page (ISO order, digits)."""
    return Markup('<bdi dir="ltr" class="desk-when">{}</bdi>').format(
        value.strftime(TIMESTAMP)) if value else Markup("")


def day(value: Any) -> Markup:
    """A date column, in the timestamp's order."""
    return Markup('<bdi dir="ltr" class="desk-when">{}</bdi>').format(
        value.strftime("%Y-%m-%d")) if value else Markup(NONE)


def dated(value: Any) -> Markup:
    """A timestamp column; an empty one is a dash."""
    return timestamp(value) or Markup(NONE)


def plain(value: Any) -> Any:
    """Any other value as it is, text in its own direction run (a Latin subject on an
    Arabic page keeps its punctuation in place); nothing is a dash, never `None`."""
    if value is None or value == "":
        return NONE
    return Markup("<bdi>{}</bdi>").format(value) if isinstance(value, str) else value


class TimestampInput(widgets.TextInput):
    """A date filter's input in the timestamp's format, left to right. FAB's date-time
    picker prints the raw datetime (microseconds) and, added as a filter, calls a
    `datetimepicker` plugin FAB does not ship (a script error on every list)."""

    def __call__(self, field, **kwargs):  # type: ignore[override]
        return super().__call__(field, **{"class": "form-control", "dir": "ltr",
                                          "placeholder": "YYYY-MM-DD HH:MM", **kwargs})


class DeskModelView(ModelView):
    """Every dashboard screen shows values as people read them: yes/no marks, the one
    date format, a dash for nothing, translated labels for the code columns named in
    `code_labels`. A view's own `formatters_columns` win."""

    code_labels: Mapping[str, Mapping[str, Any]] = {}

    def _init_properties(self) -> None:
        super()._init_properties()
        shown = dict.fromkeys([*self.list_columns, *self.show_columns])
        readable = {column: self._reader(column) for column in shown}
        self.formatters_columns = {**readable, **self.formatters_columns}
        searched = {column: field for column in self.search_columns
                    if (field := self._search_field(column)) is not None}
        self.search_form_extra_fields = {**searched, **(self.search_form_extra_fields or {})}

    def _search_field(self, column: str) -> Any:
        """The search filter's input: a code column is a select of its translated
        labels submitting the codes; a timestamp reads in the one date format."""
        label = self.label_columns.get(column, column)
        if column in self.code_labels:
            return SelectField(label, choices=choices(self.code_labels[column]),
                               widget=widgets.Select(), render_kw={"class": "form-control"})
        if self.datamodel.is_datetime(column):
            return DateTimeField(label, format=TIMESTAMP, widget=TimestampInput(),
                                 default=self.datamodel.get_col_default(column))
        return None

    def _reader(self, column: str) -> Callable[[Any], Any]:
        if column in self.code_labels:
            return labeller(self.code_labels[column])
        if self.datamodel.is_boolean(column):
            return yes_no
        if self.datamodel.is_datetime(column):
            return dated
        if self.datamodel.is_date(column):
            return day
        return plain
