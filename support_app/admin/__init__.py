"""The Flask-AppBuilder dashboard: screens, actions and charts for the desk's staff."""
from __future__ import annotations

from flask_appbuilder import AppBuilder


def register_admin(appbuilder: AppBuilder) -> None:
    """Register every dashboard screen (called by create_app inside an app context)."""
