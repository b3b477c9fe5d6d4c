"""Ids a client sends, bounded by the columns they are looked up in.

Primary keys are `integer` columns (32-bit on PostgreSQL); SQLite cannot even bind a
number past 2^63 and raises OverflowError, PostgreSQL a DataError on insert. So an id
outside what the columns hold never reaches a query: in a path, the `int` converter
turns it into NO_ID (a row id never has), so every route answers its own documented
"not found"; in a body it fails validation (ID_RANGE).
"""
from __future__ import annotations

import re
from typing import Any

from flask import Flask
from marshmallow import validate
from werkzeug.routing import IntegerConverter

from ..i18n import RANGE_BETWEEN

MAX_ID = 2**31 - 1
NO_ID = 0  # autoincrement ids start at 1 on SQLite and PostgreSQL
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
    """`<int:...>` on every route: a number no id column can hold, however many digits
    (int() refuses past Python's int_max_str_digits), reads as NO_ID."""

    def to_python(self, value: str) -> Any:
        if len(value.lstrip("-")) > len(str(MAX_ID)):
            return NO_ID
        number = super().to_python(value)
        return number if abs(number) <= MAX_ID else NO_ID


def install_converters(app: Flask) -> None:
    """Before any route is added: rules bind their converters when they are added."""
    app.url_map.converters["int"] = BoundedIntegerConverter
