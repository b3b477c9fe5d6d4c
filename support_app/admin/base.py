"""What every dashboard screen shares: the signed-in user's Actor, the ticket
visibility filter, and turning the service's refusals into flash messages."""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from flask import flash, g, request, url_for
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import lazy_gettext
from markupsafe import Markup, escape

from ..extensions import db
from ..models import SupportUser, Ticket
from ..security.current import actor_for_user
from ..tickets import policy
from ..tickets.actor import Actor
from ..tickets.errors import DomainError, ValidationFailed

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
    return Markup(f'<a href="{escape(href)}">{escape(ticket.number)}</a>')


def isolated(value: Any) -> Markup:
    """A name (or "Name <email>") in its own bidi run: in an Arabic list a Latin name
    keeps its brackets in place, and the reverse (FAB `formatters_columns`)."""
    return Markup("<bdi>{}</bdi>").format("" if value is None else value)


def timestamp(value: Any) -> Markup:
    """Date and time left to right even on an Arabic page (ISO order, digits)."""
    return Markup('<bdi dir="ltr">{}</bdi>').format(value.strftime("%Y-%m-%d %H:%M")) \
        if value else Markup("")
