"""The Flask-AppBuilder dashboard: screens, actions and charts for the desk's staff.

Screen permissions per role are data (`permissions.py`, seeded with the roles);
every ticket change goes through `tickets.service` with the signed-in user's Actor.
"""
from __future__ import annotations

from flask import Flask, abort, current_app, request
from flask_appbuilder import AppBuilder
from flask_appbuilder.api import BaseApi
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l


def register_admin(appbuilder: AppBuilder) -> None:
    """Register every dashboard screen (called by create_app inside an app context)."""
    from . import permissions as perms
    from . import screen_args
    from .agents import AgentView
    from .base import timestamp
    from .commerce import BookingView, OrderView, RideView
    from .customers import CustomerView
    from .dashboard import DashboardView
    from .desk_tools import AutoTagRuleView, MacroView, TagView
    from .email_logs import EmailLogView
    from .faq import FAQView
    from .feedback import FeedbackView
    from .navbar import support_navbar
    from .labels import code_label
    from .redirects import after_login, return_after_language_switch
    from .reports import ReportsView
    from .sla import SlaCalendarView, SlaEscalationRuleView, SlaPolicyView
    from .tickets import TicketView
    from .webhooks import WebhookDeliveryView, WebhookEndpointView

    appbuilder.add_view(DashboardView, perms.DASHBOARD, label=_l("Dashboard"),
                        icon="fa-dashboard")
    appbuilder.add_view(ReportsView, perms.REPORTS, label=_l("Reports"), icon="fa-bar-chart")
    desk = {"category": perms.DESK, "category_label": _l("Desk"), "category_icon": "fa-life-ring"}
    appbuilder.add_view(TicketView, perms.TICKETS, label=_l("Tickets"), icon="fa-ticket", **desk)
    appbuilder.add_view(AgentView, perms.AGENTS, label=_l("Agents"), icon="fa-user-md", **desk)
    appbuilder.add_view(FAQView, perms.FAQS, label=_l("FAQs"), icon="fa-question-circle", **desk)
    appbuilder.add_view(EmailLogView, perms.EMAIL_LOGS, label=_l("Email logs"),
                        icon="fa-envelope", **desk)
    appbuilder.add_view(FeedbackView, perms.FEEDBACK, label=_l("Feedback"), icon="fa-star",
                        **desk)
    appbuilder.add_view(MacroView, perms.MACROS, label=_l("Macros"), icon="fa-magic", **desk)
    appbuilder.add_view(TagView, perms.TAGS, label=_l("Tags"), icon="fa-tags", **desk)
    appbuilder.add_view(AutoTagRuleView, perms.AUTO_TAG_RULES, label=_l("Auto-tag rules"),
                        icon="fa-filter", **desk)
    appbuilder.add_view(WebhookEndpointView, perms.WEBHOOKS, label=_l("Webhooks"),
                        icon="fa-plug", **desk)
    appbuilder.add_view(WebhookDeliveryView, perms.WEBHOOK_DELIVERIES,
                        label=_l("Webhook deliveries"), icon="fa-exchange", **desk)
    appbuilder.add_view(SlaCalendarView, perms.SLA_CALENDARS, label=_l("SLA calendars"),
                        icon="fa-calendar", **desk)
    appbuilder.add_view(SlaPolicyView, perms.SLA_POLICIES, label=_l("SLA policies"),
                        icon="fa-clock-o", **desk)
    appbuilder.add_view(SlaEscalationRuleView, perms.SLA_RULES,
                        label=_l("SLA escalation rules"), icon="fa-level-up", **desk)
    shop = {"category": perms.COMMERCE, "category_label": _l("Commerce"),
            "category_icon": "fa-shopping-cart"}
    appbuilder.add_view(CustomerView, perms.CUSTOMERS, label=_l("Customers"), icon="fa-users",
                        **shop)
    appbuilder.add_view(OrderView, perms.ORDERS, label=_l("Orders"), icon="fa-shopping-bag",
                        **shop)
    appbuilder.add_view(RideView, perms.RIDES, label=_l("Rides"), icon="fa-car", **shop)
    appbuilder.add_view(BookingView, perms.BOOKINGS, label=_l("Bookings"), icon="fa-cutlery",
                        **shop)

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.jinja_env.globals["support_navbar"] = support_navbar
    app.jinja_env.globals["timestamp"] = timestamp  # one date format for lists and pages
    app.jinja_env.globals["after_login"] = after_login
    app.jinja_env.globals["code_label"] = code_label
    return_after_language_switch(app, appbuilder)
    # Browsers ask for /favicon.ico whatever the page says; a static file, no view logic.
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: app.send_static_file("favicon.ico"))
    _protect_dashboard_posts(app, appbuilder)
    screen_args.install(app, appbuilder)


def _protect_dashboard_posts(app: Flask, appbuilder: AppBuilder) -> None:
    """CSRF on every dashboard POST, including FAB's action and delete endpoints, which
    rely on a global CSRF check (the app leaves WTF_CSRF_CHECK_DEFAULT off for its
    token APIs). FAB's own JSON APIs (BaseApi) stay exempt, as FAB declares them."""
    from ..extensions import csrf

    screens: set[str] = set()

    @app.before_request
    def _check_csrf() -> None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if not screens:  # every view is registered by the first request
            screens.update(view.blueprint.name for view in appbuilder.baseviews
                           if not isinstance(view, BaseApi) and view.blueprint is not None)
        if request.blueprint in screens:
            csrf.protect()
            _refuse_nul(appbuilder)


def _refuse_nul(appbuilder: AppBuilder) -> None:
    """A NUL character in a dashboard form field is a 400 before any screen reads it:
    PostgreSQL cannot store one, so a form that passed it on was a 500. The sign-in form
    keeps its own answer (a failed login)."""
    if request.blueprint == appbuilder.sm.auth_view.blueprint.name:
        return
    if any("\x00" in value for values in request.form.listvalues() for value in values):
        abort(400, description=_("A form field contains a NUL character."))
