"""The arguments of every dashboard screen, checked before FAB reads them.

A record's `<pk>` past what the id columns hold is a 404 (FAB hands it to the
database, and SQLite cannot bind a number past 2^63). For lists, FAB takes `_oc_<View>` (order column), `psize_<View>` (page size) and `page_<View>`
from the query string as they come (flask_appbuilder.urltools): an unknown column is
a 500 from SQLAlchemy, a negative page size a query without LIMIT (every row), a
word an int() ValueError; a filter value past 2^63 on an integer column (the
escalation level) or a relation's id an OverflowError from the driver. One check for
every screen (the lists and the related lists on show/edit pages), matching arguments
as FAB does: anything outside what the view offers is a 400, so a page either renders
with bounded rows or is refused.
"""
from __future__ import annotations

import re

from flask import Flask, abort, request
from flask_appbuilder import AppBuilder
from flask_appbuilder.api import BaseApi

from ..api.ids import parse_id

MAX_PAGE_SIZE = 100  # FAB's page-size menu offers 25..100
MAX_PAGE = 1_000_000
_NUMBERS = {re.compile("psize_(.*)"): (1, MAX_PAGE_SIZE), re.compile("page_(.*)"): (0, MAX_PAGE)}
_ORDER = re.compile("_oc_(.*)")
_FILTER = re.compile(r"_flt_\d_(.*)")
_INT64 = 2 ** 63


def _in_bounds(raw: str, low: int, high: int) -> bool:
    return raw.isascii() and raw.isdigit() and len(raw) <= len(str(high)) \
        and low <= int(raw) <= high


def _out_of_range_integer(raw: str) -> bool:
    digits = raw.strip().lstrip("+-")
    return digits.isascii() and digits.isdigit() and not -_INT64 <= int(raw.strip()) < _INT64


def _numeric_columns(view) -> set[str]:
    model = getattr(view, "datamodel", None)
    if model is None:
        return set()
    return {c for c in getattr(view, "search_columns", None) or ()
            if model.is_integer(c) or model.is_relation(c)}


def install(app: Flask, appbuilder: AppBuilder) -> None:
    """Refuse out-of-range ids and list arguments on the dashboard's screens."""
    screens: set[str] = set()
    order_columns: dict[str, set[str]] = {}
    numeric: dict[str, set[str]] = {}  # blueprint -> its integer and relation filter columns

    @app.before_request
    def _check_screen_args() -> None:
        if not screens:  # every view is registered by the first request
            for view in appbuilder.baseviews:
                if not isinstance(view, BaseApi) and view.blueprint is not None:
                    screens.add(view.blueprint.name)
                    order_columns[type(view).__name__] = set(getattr(view, "order_columns", None) or ())
                    numeric[view.blueprint.name] = _numeric_columns(view)
        if request.blueprint not in screens:
            return
        pk = (request.view_args or {}).get("pk")
        if isinstance(pk, str) and pk.lstrip("-").isdigit() and parse_id(pk) is None:
            abort(404)
        for arg, raw in request.args.items(multi=True):
            for pattern, (low, high) in _NUMBERS.items():
                if pattern.findall(arg) and not _in_bounds(raw, low, high):
                    abort(400)
            column = _FILTER.findall(arg)
            if column and column[0] in numeric.get(request.blueprint, ()) \
                    and _out_of_range_integer(raw):
                abort(400)  # a filter on an integer column (or a relation's id) binds it as is
            view = _ORDER.findall(arg)
            if view and view[0] in order_columns and raw not in order_columns[view[0]]:
                abort(400)
