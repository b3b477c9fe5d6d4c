"""Roles and their permissions as data, seeded idempotently by `flask support init`.

API code checks permission names (never role names), so an admin can re-grant a
permission in the Roles screen without a deploy. Every API permission lives on the
`Support` view-menu; screen permissions are FAB's own (can_list on TicketView, ...).
"""
from __future__ import annotations

SUPPORT_VIEW = "Support"

# Seed documents' names (001/004) first, then ours.
CREATE = "create_support_ticket"
TRACK = "track_support_ticket"
ESCALATE = "escalate_support_ticket"
CLOSE = "close_support_ticket"
REPLY = "reply_support_ticket"
VIEW_ALL = "view_all_support_tickets"      # staff: every ticket
MANAGE = "manage_support_tickets"          # staff: status, priority, notes on any ticket
WORK = "work_support_tickets"              # agents: assigned tickets + unassigned pool
REASSIGN = "reassign_support_tickets"
APPROVE_AGENTS = "approve_support_agents"
SUPPORT_ADMIN = "support_admin"            # the storefront admin API (000)
SYNC_COMMERCE = "sync_commerce_data"
CANCEL_ANY_ORDER = "cancel_any_order"

API_PERMISSIONS = (
    CREATE, TRACK, ESCALATE, CLOSE, REPLY, VIEW_ALL, MANAGE, WORK, REASSIGN,
    APPROVE_AGENTS, SUPPORT_ADMIN, SYNC_COMMERCE, CANCEL_ANY_ORDER,
)
STAFF_PERMISSIONS = frozenset({VIEW_ALL, MANAGE, WORK})

ADMIN = "Admin"
STORE_MANAGER = "Store Manager"
FULFILLMENT = "Fulfillment"
SUPPORT_AGENT = "Support Agent"
CUSTOMER = "Customer"

_STAFF_DESK = (REPLY, VIEW_ALL, MANAGE, SUPPORT_ADMIN, CANCEL_ANY_ORDER)

# role -> API permissions. Admin also receives every screen permission (FAB's admin role).
ROLE_API_PERMISSIONS: dict[str, tuple[str, ...]] = {
    ADMIN: API_PERMISSIONS,
    STORE_MANAGER: _STAFF_DESK,
    FULFILLMENT: _STAFF_DESK,
    SUPPORT_AGENT: (REPLY, WORK),
    CUSTOMER: (CREATE, TRACK, ESCALATE, CLOSE, REPLY),
}


def screen_permissions() -> dict[str, list[tuple[str, str]]]:
    """role -> (permission, view) pairs for the dashboard screens, kept next to the
    screens in `support_app/admin/permissions.py` (imported late: it imports us)."""
    from ..admin.permissions import ROLE_SCREEN_PERMISSIONS

    return ROLE_SCREEN_PERMISSIONS


ALL_ROLES = (ADMIN, STORE_MANAGER, FULFILLMENT, SUPPORT_AGENT, CUSTOMER)


def seed_roles(sm) -> None:
    """Create every role and grant its permissions; running it twice changes nothing."""
    for role_name in ALL_ROLES:
        role = sm.find_role(role_name) or sm.add_role(role_name)
        wanted = [(p, SUPPORT_VIEW) for p in ROLE_API_PERMISSIONS[role_name]]
        wanted += screen_permissions().get(role_name, [])
        for perm_name, view_name in wanted:
            pv = sm.add_permission_view_menu(perm_name, view_name)
            if pv is not None and pv not in role.permissions:
                sm.add_permission_role(role, pv)
    # Every API permission exists even if no role holds it yet.
    for perm_name in API_PERMISSIONS:
        sm.add_permission_view_menu(perm_name, SUPPORT_VIEW)
