"""Laravel conventions the PHP-born seed documents (002, 000) promise their clients:
validation messages such as "The subject field is required." and the paginator object
(current_page, data, first_page_url, ...). Marshmallow does the validating; this
module only gives its fields Laravel's wording and shapes a page like Laravel does.
"""
from __future__ import annotations

import math
from typing import Any, Sequence
from urllib.parse import urlencode

from flask import request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, pre_load, validate

from .ids import MAX_ID

# Python's str.isspace() set spelled out, so the documented pattern means the same in
# every regex dialect (ECMA's \s differs from Python's) and matches the `strip()` check.
SPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
REQUIRED_TEXT = rf"^[^\x00]*[^\x00{SPACE}][^\x00]*$"
OPTIONAL_TEXT = r"^[^\x00]*$"


def attribute(name: str) -> str:
    """Laravel prints `per_page` as "per page" in its messages."""
    return name.replace("_", " ")


class LaravelSchema(Schema):
    """Whole-body problems worded for people; unknown fields are refused, not dropped."""

    error_messages = {
        "type": _l("The request body must be a JSON object."),
        "unknown": _l("This field is not allowed."),
    }


class QuerySchema(LaravelSchema):
    """Query strings: an empty value (`?status=`) means "no filter", as in Laravel."""

    @pre_load
    def _drop_blank(self, data: Any, **_kwargs: Any) -> Any:
        if not hasattr(data, "keys"):
            return data
        return {key: data[key] for key in data.keys() if data[key] != ""}


class Text(fields.String):
    """A string as sent, never with NUL; all-whitespace counts as missing (a required
    field then fails "required", an optional one becomes null). The documented pattern
    says the same."""

    def __init__(self, name: str, *, required: bool = False, min_len: int | None = None,
                 max_len: int | None = None, **kwargs: Any) -> None:
        label = attribute(name)
        missing = _l("The %(attribute)s field is required.", attribute=label)
        checks = list(kwargs.pop("validate", []))
        if min_len:
            checks.append(validate.Length(min=min_len, error=_l(
                "The %(attribute)s must be at least %(min)s characters.",
                attribute=label, min=min_len)))
        if max_len:
            checks.append(validate.Length(max=max_len, error=_l(
                "The %(attribute)s may not be greater than %(max)s characters.",
                attribute=label, max=max_len)))
        self.blank_is_missing = missing if required else None
        self.nul_message = _l("The %(attribute)s may not contain NUL characters.",
                              attribute=label)
        pattern = REQUIRED_TEXT if required else OPTIONAL_TEXT
        metadata = {"pattern": pattern, **kwargs.pop("metadata", {})}
        super().__init__(
            required=required,
            allow_none=not required,
            validate=checks,
            metadata=metadata,
            error_messages={
                "required": missing,
                "null": missing,
                "invalid": _l("The %(attribute)s must be a string.", attribute=label),
            },
            **kwargs,
        )

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None,
                    **kwargs: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            if self.blank_is_missing is not None:
                raise ValidationError(str(self.blank_is_missing))
            return None
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL cannot store NUL
            raise ValidationError(str(self.nul_message))
        return super().deserialize(value, attr, data, **kwargs)


def choice(name: str, choices: Sequence[str], **kwargs: Any) -> fields.String:
    """An enum field: anything outside `choices` is "The selected X is invalid."."""
    invalid = _l("The selected %(attribute)s is invalid.", attribute=attribute(name))
    return fields.String(
        validate=validate.OneOf(choices, error=invalid),
        error_messages={"invalid": invalid, "null": invalid,
                        "required": _l("The %(attribute)s field is required.",
                                       attribute=attribute(name))},
        **kwargs,
    )


def integer(name: str, *, minimum: int = 1, maximum: int = MAX_ID, **kwargs: Any) -> fields.Integer:
    label = attribute(name)
    return fields.Integer(
        strict=kwargs.pop("strict", False),
        validate=validate.Range(min=minimum, max=maximum, error=_l(
            "The %(attribute)s must be between %(min)s and %(max)s.",
            attribute=label, min=minimum, max=maximum)),
        error_messages={"invalid": _l("The %(attribute)s must be an integer.", attribute=label),
                        "null": _l("The %(attribute)s must be an integer.", attribute=label),
                        "required": _l("The %(attribute)s field is required.", attribute=label)},
        **kwargs,
    )


def date(name: str, **kwargs: Any) -> fields.Date:
    invalid = _l("The %(attribute)s is not a valid date.", attribute=attribute(name))
    return fields.Date(error_messages={"invalid": invalid, "null": invalid}, **kwargs)


# --------------------------------------------------------------------------- paginator


class PaginatorSchema(Schema):
    """Laravel's LengthAwarePaginator::toArray(); `data` is set by each list."""

    current_page = fields.Integer(required=True)
    first_page_url = fields.String(required=True)
    from_ = fields.Integer(data_key="from", required=True, allow_none=True)
    last_page = fields.Integer(required=True)
    last_page_url = fields.String(required=True)
    next_page_url = fields.String(required=True, allow_none=True)
    path = fields.String(required=True)
    per_page = fields.Integer(required=True)
    prev_page_url = fields.String(required=True, allow_none=True)
    to = fields.Integer(required=True, allow_none=True)
    total = fields.Integer(required=True)


def page_url(path: str, page: int) -> str:
    """The request's own query string with `page` replaced, as Laravel's appends()."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    return f"{path}?{urlencode(args + [('page', page)])}"


def paginate(items: Sequence[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    """The paginator object for one page of `items` out of `total`."""
    path = request.base_url
    last_page = max(1, math.ceil(total / per_page))
    first = (page - 1) * per_page + 1
    return {
        "current_page": page,
        "data": items,
        "first_page_url": page_url(path, 1),
        "from_": first if items else None,
        "last_page": last_page,
        "last_page_url": page_url(path, last_page),
        "next_page_url": page_url(path, page + 1) if page < last_page else None,
        "path": path,
        "per_page": per_page,
        "prev_page_url": page_url(path, page - 1) if page > 1 else None,
        "to": first + len(items) - 1 if items else None,
        "total": total,
    }
