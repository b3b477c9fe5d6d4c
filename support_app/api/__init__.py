"""REST surfaces: one module per seed document, plus auth, sync and notifications."""
from __future__ import annotations

from flask_smorest import Api


def register_apis(api: Api) -> None:
    """Register every API blueprint on the one OpenAPI spec."""
    from . import auth, contact, storefront, storefront_admin

    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    api.register_blueprint(auth.blp)
    for surface in (storefront, storefront_admin, contact):
        surface.register(api)
