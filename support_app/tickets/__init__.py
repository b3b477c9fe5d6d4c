"""The ticket domain: lifecycle rules, access policy, the service that changes
tickets, read-side queries, domain events and typed errors."""
from . import errors, events, lifecycle, policy, queries, service
from .actor import Actor

__all__ = ["Actor", "errors", "events", "lifecycle", "policy", "queries", "service"]
