"""Typed domain errors. Each API surface maps them onto its own documented format."""
from __future__ import annotations


class DomainError(Exception):
    """Base class; `code` is a stable machine name, `message` is already translated."""

    code = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """`resource` names what is missing: ticket, message, order, ride, booking, customer, agent."""

    code = "not_found"

    def __init__(self, resource: str, message: str) -> None:
        super().__init__(message, resource=resource)
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
