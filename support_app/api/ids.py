"""Ids a client sends, bounded by the columns they are looked up in.

Primary keys are `integer` columns (32-bit on PostgreSQL); SQLite cannot even bind a
number past 2^63 and raises OverflowError, PostgreSQL a DataError on insert. So an id
outside 1..MAX_ID is refused where it is parsed: in a path it does not match the route
(a 404 in the surface's format, as for a word), in a body it fails validation.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Flask
from marshmallow import validate
from werkzeug.routing import IntegerConverter, ValidationError

from ..i18n import RANGE_BETWEEN

MAX_ID = 2**31 - 1
ID_RANGE = validate.Range(min=1, max=MAX_ID, error=RANGE_BETWEEN)
_DIGITS = re.compile(rf"[0-9]{{1,{len(str(MAX_ID))}}}")


def parse_id(raw: Any) -> int | None:
    """A database id from a path segment or JSON value ("12" or 12), else None; the
    length is checked before int() (a 10,000-digit string would raise ValueError)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and _DIGITS.fullmatch(raw):
        raw = int(raw)
    return raw if isinstance(raw, int) and 0 < raw <= MAX_ID else None


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` on every route: bounded by MAX_ID unless the rule says otherwise, and
    a digit string too long for int() (Python's int_max_str_digits) is a non-match,
    not a ValueError."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)

    def to_python(self, value: str) -> Any:
        if self.max is not None and len(value.lstrip("-")) > len(str(self.max)):
            raise ValidationError()
        return super().to_python(value)


def install_converters(app: Flask) -> None:
    """Before any route is added: rules bind their converters when they are added."""
    app.url_map.converters["int"] = BoundedIntegerConverter
