"""How Socket.IO packets are decoded: as request bodies are, bounded.

Python refuses to turn more than 4,300 digits into an int, so a packet carrying such a
number fails to decode and python-socketio drops it: the client waits for an ack that
never comes. Read as its digits instead, the number reaches the handler, whose id
check answers `INVALID_REQUEST` like any other id no row can have.
"""
from __future__ import annotations

import json
import sys
from typing import Any


def _bounded_int(digits: str) -> int | str:
    return int(digits) if len(digits.lstrip("-")) <= sys.get_int_max_str_digits() else digits


class PacketJSON:
    """The `json` module python-socketio encodes and decodes packets with."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_int", _bounded_int)
        return json.loads(text, *args, **kwargs)
