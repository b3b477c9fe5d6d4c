"""REST surfaces: one module per seed document, plus auth, sync and notifications."""
from __future__ import annotations

from flask_smorest import Api


def register_apis(api: Api) -> None:
    """Register every API blueprint on the one OpenAPI spec."""
    from .. import inbound
    from . import (
        agent_desk, attachments, auth, contact, desk_tools, email_confirmation, faq, mtxi,
        munch, notifications, sla, storefront, storefront_admin, support_tickets, sync,
        ticket_merge,
    )

    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    api.register_blueprint(auth.blp)
    email_confirmation.register(api)
    support_tickets.register(api)
    sync.register(api)
    inbound.register(api)
    agent_desk.register(api)
    api.register_blueprint(faq.blp)
    munch.register(api)
    mtxi.register(api)
    notifications.register(api)
    sla.register(api)
    attachments.register(api)
    ticket_merge.register(api)
    desk_tools.register(api)
    for surface in (storefront, storefront_admin, contact):
        surface.register(api)
