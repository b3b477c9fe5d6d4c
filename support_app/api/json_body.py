"""What a JSON request body may hold, checked once where bodies are parsed.

Python's json module accepts input the rest of the stack cannot take: a lone UTF-16
surrogate ("\\ud800" is valid JSON but not encodable as UTF-8, so the database write
fails), nesting deep enough to exhaust the recursion limit, and integers longer than
Python's int_max_str_digits. Each is refused here as malformed JSON, so Flask's
`get_json` and webargs (Smorest) both answer their 400 in the surface's error format
before a handler runs, and nothing is written.
"""
from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

MAX_DEPTH = 32  # no documented body nests more than a few levels


def _refuse(reason: str, text: str | bytes) -> json.JSONDecodeError:
    doc = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return json.JSONDecodeError(reason, doc or " ", 0)


def _check(value: Any, text: str | bytes) -> None:
    """Walk the decoded value without recursion: depth and strings (keys included)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _refuse(f"nested deeper than {MAX_DEPTH} levels", text)
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _refuse("lone UTF-16 surrogate in a string", text) from None


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """json.loads, raising JSONDecodeError (a ValueError) for everything refused."""
    try:
        value = json.loads(text, **kwargs)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:  # too deep / int past int_max_str_digits
        raise _refuse(str(exc), text) from None
    _check(value, text)
    return value


class RequestJSONProvider(DefaultJSONProvider):
    """Flask's provider (request.get_json, FAB's JSON API) with the checks above."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)


class RequestParser(FlaskParser):
    """webargs' Flask parser (every Smorest `arguments`) with the checks above."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return core.missing
        return loads(req.get_data(cache=True))
