"""Who is acting: built by the channel (token, session, webhook), read by the domain."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..security import roles


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    customer_id: int | None
    permissions: frozenset[str] = field(default_factory=frozenset)
    is_approved_agent: bool = False
    name: str = ""
    locale: str = "en"
    is_system: bool = False

    def can(self, permission: str) -> bool:
        return self.is_system or permission in self.permissions

    @property
    def is_staff(self) -> bool:
        """Staff reply as `admin` in the 002 thread and see what their permissions allow."""
        return self.is_system or bool(self.permissions & roles.STAFF_PERMISSIONS)

    @property
    def lifecycle_role(self) -> str:
        return "staff" if self.is_staff else "customer"

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        """Background jobs and the email webhook acting on the desk's own authority."""
        return cls(user_id=None, customer_id=None, name=name, is_system=True)

    @classmethod
    def guest(cls, customer_id: int, name: str = "", locale: str = "en") -> "Actor":
        """A requester without an account (contact form, inbound email)."""
        return cls(
            user_id=None,
            customer_id=customer_id,
            permissions=frozenset({roles.CREATE, roles.REPLY}),
            name=name,
            locale=locale,
        )
