"""Macros: a canned reply per language with `{variables}` and actions on the ticket.

Preview renders the reply in the customer's language with the ticket's values; a
variable without a value (or one the desk does not know) becomes a visible
placeholder `[[name]]`, and a reply still holding one is refused until edited.
Sending runs the reply and every action as ONE service transaction: the steps are
the service's own functions (`service._transaction` nests), so a refusal mid-way
(a status the lifecycle forbids, a ticket another agent took) writes nothing.

Variables are substituted in a single pass by name from a fixed table: never Jinja,
never `str.format` (no attribute or index access), and a value that itself contains
`{...}` is not expanded again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..i18n import app_name
from ..models import CHANNELS, MACRO_LANGUAGES, Macro, Message, SupportUser, Ticket
from . import lifecycle, policy, service, tags
from .actor import Actor
from .errors import Forbidden, NotFound, ValidationFailed

VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,39})\}")
PLACEHOLDER = re.compile(r"\[\[([A-Za-z_][A-Za-z0-9_]{0,39})\]\]")


def _service_status(ref: Any) -> str | None:
    from ..admin.labels import SERVICE_STATUS_LABELS  # the labels people read
    if ref is None or not ref.status:
        return None
    return str(SERVICE_STATUS_LABELS.get(ref.status, ref.status))


# name -> how to read it from (ticket, the applying agent's account); None = no value.
VARIABLES: dict[str, Callable[[Ticket, SupportUser | None], Any]] = {
    "customer_name": lambda t, u: t.customer.name,
    "ticket_number": lambda t, u: t.number,
    "ticket_subject": lambda t, u: t.subject,
    "order_number": lambda t, u: t.order.order_number if t.order else None,
    "order_status": lambda t, u: _service_status(t.order),
    "ride_number": lambda t, u: t.ride.external_id if t.ride else None,
    "ride_status": lambda t, u: _service_status(t.ride),
    "booking_number": lambda t, u: t.booking.external_id if t.booking else None,
    "booking_status": lambda t, u: _service_status(t.booking),
    "agent_name": lambda t, u: u.name if u is not None else None,
    "desk_name": lambda t, u: app_name(),
}


@dataclass
class Rendered:
    macro: Macro
    language: str
    body: str
    missing: list[str] = field(default_factory=list)
    message: Message | None = None


def placeholder(name: str) -> str:
    return f"[[{name}]]"


def fill(template: str, values: dict[str, Any]) -> tuple[str, list[str]]:
    """One pass over `{name}`: a known name with a value is replaced by it, anything
    else by its placeholder; returns the text and the names left unfilled."""
    missing: list[str] = []

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        value = values.get(name)
        if value is None or str(value).strip() == "":
            if name not in missing:
                missing.append(name)
            return placeholder(name)
        return str(value)

    return VARIABLE.sub(sub, template), missing


def unfilled(body: str) -> list[str]:
    return list(dict.fromkeys(PLACEHOLDER.findall(body)))


def language_for(macro: Macro, ticket: Ticket) -> str:
    locale = (ticket.customer.locale or "en").split("_")[0].split("-")[0]
    if locale in MACRO_LANGUAGES and (macro.body(locale) or "").strip():
        return locale
    return "en"


def render(macro: Macro, ticket: Ticket, actor: Actor) -> Rendered:
    """The macro's reply for this ticket in its customer's language."""
    language = language_for(macro, ticket)
    user = db.session.get(SupportUser, actor.user_id) if actor.user_id else None
    with force_locale(language):
        values = {name: read(ticket, user) for name, read in VARIABLES.items()}
    body, missing = fill(macro.body(language) or "", values)
    return Rendered(macro, language, body, missing)


def active_macros() -> list[Macro]:
    return list(db.session.scalars(select(Macro).where(Macro.is_active.is_(True))
                                   .order_by(Macro.name)))


def _macro(macro_id: Any) -> Macro:
    macro = db.session.get(Macro, macro_id) if isinstance(macro_id, int) else None
    if macro is None or not macro.is_active:
        raise NotFound("macro")
    return macro


def _staff_ticket(actor: Actor, ticket_id: int, *, lock: bool = False) -> Ticket:
    if not actor.is_staff:
        raise Forbidden(_("Only support staff may use macros"))
    return service.get_ticket(actor, ticket_id, lock=lock)


def preview(actor: Actor, ticket_id: int, macro_id: int) -> Rendered:
    """Nothing is written: what sending would reply, and the variables without value."""
    ticket = _staff_ticket(actor, ticket_id)
    return render(_macro(macro_id), ticket, actor)


def send(actor: Actor, ticket_id: int, macro_id: int, *, body: str | None = None,
         origin: str = "api") -> Rendered:
    """Reply (the rendered text, or `body` as the agent edited it) and run the macro's
    actions, all or nothing."""
    if body is not None and not isinstance(body, str):
        raise ValidationFailed({"body": [_("The body must be a string.")]})
    channel = origin if origin in CHANNELS else "api"
    with service._transaction():
        ticket = _staff_ticket(actor, ticket_id, lock=True)
        macro = _macro(macro_id)
        result = render(macro, ticket, actor)
        if body is not None:
            result.body = body
        result.missing = unfilled(result.body)
        if result.missing:
            raise ValidationFailed({"body": [_(
                "Fill in or remove the placeholders first: %(names)s",
                names=", ".join(placeholder(name) for name in result.missing))]})
        if macro.assign_to_me and ticket.assigned_to_id != actor.user_id:
            service.assign_self(actor, ticket.id, origin=origin)
        if not policy.can_work(actor, ticket):
            raise Forbidden(_("You are not allowed to change this ticket"))
        if result.body.strip():
            result.message = service.add_message(actor, ticket.id, result.body,
                                                 channel=channel, origin=origin)
        status = macro.set_status if macro.set_status in lifecycle.STATUSES else None
        if status == ticket.status:
            status = None
        if status or macro.set_priority:
            service.update_ticket(actor, ticket.id, status=status,
                                  priority=macro.set_priority or None, origin=origin)
        if macro.add_tags:
            tags.attach(ticket, actor, tags.ensure_tags(tags.split_names(macro.add_tags)),
                        origin)
        if macro.remove_tags:
            tags.detach(ticket, actor, tags.split_names(macro.remove_tags), origin)
        if macro.internal_note and macro.internal_note.strip():
            service.add_note(actor, ticket.id, macro.internal_note, origin=origin)
        service._audit(ticket, actor, "macro", None, macro.name)
    return result
