"""Inbound email: Mailgun's signed webhook turns mail into tickets and replies."""
from .webhook import register

__all__ = ["register"]
