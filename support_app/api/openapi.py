"""The one OpenAPI document every surface joins."""
from __future__ import annotations

from typing import Any

import flask_smorest
from apispec import BasePlugin
from flask_smorest import Api
from marshmallow import INCLUDE, Schema, fields

from .json_body import RequestParser


class AnyErrorSchema(Schema):
    """What an error body may hold on any surface; each operation also documents its
    own surface's precise error schema. Used for Smorest's default/422 responses."""

    class Meta:
        unknown = INCLUDE

    success = fields.Boolean()
    status = fields.String()
    code = fields.String()
    message = fields.String()
    error = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.Raw())


# The tag each surface has in /api/docs: a blueprint's name is also its endpoints'
# prefix (`url_for("mtxi.create")`), so the human name is given here, not there.
TAGS = {
    "auth": "Accounts (sign up, sign in)",
    "email_confirmation_api": "Accounts (email confirmation)",
    "SLA": "SLA (staff)",
    "agent_desk": "Agent desk (003)",
    "faq": "FAQ (003)",
    "munch": "Munch food orders (001)",
    "mtxi": "Mtxi rides, orders and bookings (004)",
    "mailgun_inbound": "Inbound email (Mailgun)",
    "attachments": "Attachments",
}


class HumanTags(BasePlugin):
    """apispec plugin: every operation's tag as `TAGS` names it."""

    def operation_helper(self, path=None, operations=None, **kwargs):  # type: ignore[override]
        for operation in (operations or {}).values():
            if isinstance(operation, dict) and "tags" in operation:
                operation["tags"] = [TAGS.get(tag, tag) for tag in operation["tags"]]


class SupportApi(Api):
    ERROR_SCHEMA = AnyErrorSchema

    def init_app(self, app, *args, **kwargs):  # type: ignore[override]
        super().init_app(app, *args, **kwargs)
        plugin = HumanTags()
        plugin.init_spec(self.spec)
        self.spec.plugins.append(plugin)

    def register_blueprint(self, blp, *, parameters=None, **options):  # type: ignore[override]
        """Smorest's registration; its tag list entry named as `TAGS` says."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        blp.register_views_in_doc(self, self._app, self.spec, name=name, parameters=parameters)
        self.spec.tag({"name": TAGS.get(name, name), "description": blp.description})


class Blueprint(flask_smorest.Blueprint):
    """Every surface's blueprint: request bodies parsed with `json_body`'s checks."""

    ARGUMENTS_PARSER = RequestParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """Smorest's, with a schema class made an instance once, here: webargs builds a
        new instance of a class for every request (a sixth of parsing a body)."""
        return super().arguments(schema() if isinstance(schema, type) else schema,
                                 *args, **kwargs)

    def alt_response(self, status_code: Any, *args: Any, **kwargs: Any) -> Any:
        """Smorest's, as documentation only: smorest wraps the view in one more layer
        per alternative response, each calling `current_app.ensure_sync` on every
        request (seven on a reply); here the view keeps its call and gains the doc."""
        document = super().alt_response(status_code, *args, **kwargs)

        def decorator(view: Any) -> Any:
            view._apidoc = document(view)._apidoc  # a copy of the view's doc, plus this one
            return view

        return decorator
