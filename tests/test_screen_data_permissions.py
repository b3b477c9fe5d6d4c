"""One rule per permission: the customer directory and the email logs are read through
the dashboard screen or the storefront admin API (000) under the same FAB permission
row. Fulfillment has neither; granting the screen's permission in Roles opens both
channels, revoking it closes both."""
from __future__ import annotations

import pytest

from support_app.admin import permissions as perms
from support_app.security import roles

from .admin_helpers import desk_client, login

CHANNELS = {
    perms.CUSTOMER_DIRECTORY: ("/customers/list/", "/api/admin/support/customers/search?q=Pat"),
    perms.EMAIL_LOG_READ: ("/email-logs/list/", "/api/admin/support/email-logs/{ticket}"),
}


@pytest.mark.parametrize("permission", list(CHANNELS), ids=["customers", "email logs"])
def test_screen_and_api_follow_one_permission(app, factory, permission):
    sm = app.appbuilder.sm
    staff = factory.staff(roles.FULFILLMENT)
    ticket = factory.ticket(factory.customer(name="Pat Customer"))
    screen, api = (url.format(ticket=ticket.id) for url in CHANNELS[permission])

    def statuses() -> tuple[int, int]:
        client = desk_client(app)
        login(client, staff.user.email)
        return client.get(screen).status_code, client.get(api).status_code

    screen_denied, api_denied = statuses()
    assert api_denied == 403 and screen_denied in (302, 403)  # FAB redirects or refuses
    role = sm.find_role(roles.FULFILLMENT)
    pv = sm.find_permission_view_menu(*permission)
    sm.add_permission_role(role, pv)
    try:
        assert statuses() == (200, 200)
    finally:
        sm.del_permission_role(role, pv)
    assert statuses()[1] == 403
