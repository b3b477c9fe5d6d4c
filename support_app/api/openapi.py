"""The one OpenAPI document every surface joins."""
from __future__ import annotations

import flask_smorest
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


class SupportApi(Api):
    ERROR_SCHEMA = AnyErrorSchema


class Blueprint(flask_smorest.Blueprint):
    """Every surface's blueprint: request bodies parsed with `json_body`'s checks."""

    ARGUMENTS_PARSER = RequestParser()
