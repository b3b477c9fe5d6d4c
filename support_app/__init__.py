"""support_app: a customer-support desk for commerce platforms."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from .config import INSTANCE, ROOT, Config
from .i18n import translate_marshmallow_defaults

# Before any schema module creates its fields (they copy marshmallow's defaults).
translate_marshmallow_defaults()


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the one process: admin dashboard, REST API, Socket.IO, webhooks."""
    app = Flask(
        __name__,
        instance_path=str(INSTANCE),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "support_app" / "static"),
    )
    settings = config if config is not None else Config()
    app.config.update(settings.as_dict() if isinstance(settings, Config) else dict(settings))
    from .api.ids import install_converters
    from .api.json_body import RequestJSONProvider

    app.json = RequestJSONProvider(app)
    app.json.sort_keys = False  # bodies keep the field order the API documents print
    install_converters(app)
    _refuse_unsafe_production(app)

    from . import database
    from flask_appbuilder import AppBuilder
    from .extensions import csrf, db, limiter, migrate

    database.configure(app)
    db.init_app(app)
    database.install(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)

    with app.app_context():
        from .admin import register_admin
        from .i18n import install_locale_selector

        appbuilder = AppBuilder()
        appbuilder.init_app(app, db.session)
        install_locale_selector(app)
        register_admin(appbuilder)

    from . import assets

    assets.install(app)  # static URLs name their content: browsers keep them
    from .api.openapi import SupportApi

    api = SupportApi(app)
    app.extensions["smorest_api"] = api
    from .api import errors as api_errors
    from .api import register_apis

    register_apis(api)
    api_errors.install(app)
    from .api import survey

    app.register_blueprint(survey.page_blp)  # the survey links' HTML page
    from .api import file_links

    app.register_blueprint(file_links.page_blp)  # emailed file links (no sign-in)

    from .notify import register_notify
    from .realtime import register_realtime
    from .security import tokens
    from .webhooks import register_webhooks

    register_notify(app)
    from .attachments import register_attachments

    register_attachments(app)
    register_realtime(app)
    register_webhooks(app)
    from .scheduler import register_scheduler

    register_scheduler(app)
    tokens.install(app, db.session)
    _trust_proxies(app)

    from .cli import support_cli

    app.cli.add_command(support_cli)

    from .ops import register_ops

    register_ops(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, the client address (rate limits), scheme
    and host (Socket.IO's Origin check) come from their X-Forwarded-* headers. Wraps
    Socket.IO's middleware too, so both see the same request."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def _refuse_unsafe_production(app: Flask) -> None:
    import os

    if app.config.get("ENV_NAME") == "production" and not os.environ.get("SECRET_KEY"):
        raise RuntimeError("SUPPORT_ENV=production requires SECRET_KEY to be set")
