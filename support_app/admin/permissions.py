"""Which dashboard screens each role reaches, as FAB (permission, view-menu) pairs.

`security.roles.seed_roles` grants these rows (so `flask support init` and
`bootstrap.sync_permissions` seed them); they stay editable in the Roles screen.
Admin is FAB's admin role: it receives every screen permission automatically.
View-menu names are the views' `class_permission_name` and the menu entries' names.
"""
from __future__ import annotations

from ..security import roles

# View-menu names (views set class_permission_name to these).
TICKETS = "Tickets"
AGENTS = "Agents"
FAQS = "FAQs"
EMAIL_LOGS = "Email logs"
FEEDBACK = "Feedback"
CUSTOMERS = "Customers"
ORDERS = "Orders"
RIDES = "Rides"
BOOKINGS = "Bookings"
DASHBOARD = "Dashboard"
REPORTS = "Reports"  # Admin and Store Manager: the figures and their CSV
WEBHOOKS = "Webhooks"  # Admin only
WEBHOOK_DELIVERIES = "Webhook deliveries"
TAGS = "Tags"
AUTO_TAG_RULES = "Auto-tag rules"
MACROS = "Macros"
SLA_CALENDARS = "SLA calendars"
SLA_POLICIES = "SLA policies"
SLA_RULES = "SLA escalation rules"
# Menu categories.
DESK = "Desk"
COMMERCE = "Commerce"

# Ticket screen permissions beyond list/show (method_permission_name targets).
REPLY = "reply"          # reply form: a message in the customer-visible thread
NOTE = "note"            # internal note form
WORK = "work"            # assign to me, change status, escalate, resolve, close
REASSIGN = "reassign"    # move tickets between agents
# (tags and macros on the ticket page use WORK and REPLY: a macro's reply is a reply)
OPEN = "open"            # open a ticket on behalf of a customer
SURVEYS = "surveys"      # a customer's satisfaction-survey opt-out (Customers screen)


# The storefront admin API (000) reads the customer directory and the email logs only
# with the permission of the screen that shows them: one rule per permission, held by
# both channels, editable in the Roles screen. (Fulfillment has neither: it works
# tickets and orders, and sees a ticket's customer on the ticket.)
CUSTOMER_DIRECTORY = ("can_list", CUSTOMERS)
EMAIL_LOG_READ = ("can_list", EMAIL_LOGS)


def _can(view: str, *names: str) -> list[tuple[str, str]]:
    return [(f"can_{name}", view) for name in names]


def _menus(*names: str) -> list[tuple[str, str]]:
    return [("menu_access", name) for name in names]


# Every signed-in staff member may see and edit their own profile and password.
_OWN_ACCOUNT = [
    ("can_userinfo", "UserDBModelView"),
    ("userinfoedit", "UserDBModelView"),
    ("can_this_form_get", "UserInfoEditView"),
    ("can_this_form_post", "UserInfoEditView"),
    ("can_this_form_get", "ResetMyPasswordView"),
    ("can_this_form_post", "ResetMyPasswordView"),
]
_READ = ("list", "show")

ROLE_SCREEN_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    roles.STORE_MANAGER: [
        *_can(TICKETS, *_READ, REPLY, NOTE, WORK, OPEN),
        *_can(CUSTOMERS, *_READ, SURVEYS),
        *_can(ORDERS, *_READ, "cancel"),
        *_can(RIDES, *_READ),
        *_can(BOOKINGS, *_READ),
        *_can(FAQS, *_READ, "add", "edit", "delete"),
        *_can(EMAIL_LOGS, *_READ),
        *_can(FEEDBACK, *_READ),
        *_can(DASHBOARD, "show"),
        *_can(REPORTS, "show"),
        *_can(TAGS, *_READ, "add", "edit", "delete"),
        *_can(AUTO_TAG_RULES, *_READ, "add", "edit", "delete"),
        *_can(MACROS, *_READ, "add", "edit", "delete"),
        *_can(SLA_CALENDARS, *_READ, "add", "edit", "delete"),
        *_can(SLA_POLICIES, *_READ, "add", "edit", "delete"),
        *_can(SLA_RULES, *_READ, "add", "edit", "delete"),
        *_menus(DESK, TICKETS, FAQS, EMAIL_LOGS, FEEDBACK, TAGS, AUTO_TAG_RULES, MACROS,
                COMMERCE, CUSTOMERS, ORDERS, RIDES, BOOKINGS, DASHBOARD, REPORTS,
                SLA_CALENDARS, SLA_POLICIES, SLA_RULES),
        *_OWN_ACCOUNT,
    ],
    roles.FULFILLMENT: [
        *_can(TICKETS, *_READ, REPLY, NOTE, WORK, OPEN),
        *_can(ORDERS, *_READ, "cancel"),
        *_menus(DESK, TICKETS, COMMERCE, ORDERS),
        *_OWN_ACCOUNT,
    ],
    roles.SUPPORT_AGENT: [
        *_can(TICKETS, *_READ, REPLY, NOTE, WORK),
        *_menus(DESK, TICKETS),
        *_OWN_ACCOUNT,
    ],
    roles.CUSTOMER: [],
}
