"""Typed domain errors. Each API surface maps them onto its own documented format."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

# One whole sentence per resource: translators translate sentences, never a sentence
# with an English noun slotted in ("Ride غير موجود").
NOT_FOUND_MESSAGES = {
    "ticket": _l("Ticket not found"), "message": _l("Message not found"),
    "order": _l("Order not found"), "ride": _l("Ride not found"),
    "booking": _l("Booking not found"), "customer": _l("Customer not found"),
    "agent": _l("Agent not found"), "notification": _l("Notification not found"),
    "macro": _l("Macro not found"),
}


class DomainError(Exception):
    """Base class; `code` is a stable machine name, `message` is already translated."""

    code = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """`resource` names what is missing (a key of NOT_FOUND_MESSAGES); `message`, when
    given, says more than that resource's sentence."""

    code = "not_found"

    def __init__(self, resource: str, message: str | None = None) -> None:
        super().__init__(str(message or NOT_FOUND_MESSAGES[resource]), resource=resource)
        self.resource = resource


class Forbidden(DomainError):
    code = "forbidden"


class ValidationFailed(DomainError):
    """Field-level problems: `errors` maps a field name to a list of messages."""

    code = "validation_failed"

    def __init__(self, errors: dict[str, list[str]], message: str = "Validation failed") -> None:
        super().__init__(message, errors=errors)
        self.errors = errors


class InvalidTransition(DomainError):
    code = "invalid_transition"


class AlreadyEscalated(DomainError):
    code = "already_escalated"


class CannotEscalate(DomainError):
    code = "cannot_escalate"


class AlreadyAssigned(DomainError):
    code = "already_assigned"


class Conflict(DomainError):
    """The request is well-formed but the current state refuses it (feedback twice, ...)."""

    code = "conflict"
