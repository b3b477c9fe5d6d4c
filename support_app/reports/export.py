"""CSV as spreadsheet programs open it: UTF-8 with a byte-order mark (Excel reads
Arabic and Bengali right), the csv module's quoting, and no formulas: a cell that
starts with = + - @, a tab or a carriage return gets a leading apostrophe, so a
subject like `=HYPERLINK(...)` stays text; so does one that starts so after spaces or
in full-width forms (`＝`), which some spreadsheet programs read as the same. Streamed: one line at a time from an
iterator of rows, so memory stays flat whatever the row count."""
from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from typing import Any, Iterable, Iterator

from flask import Response, stream_with_context

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A value as a CSV cell: text that could start a formula is neutralised; numbers
    stay numbers (a negative number is data, not a formula); dates in ISO order."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    # NFKC folds full-width signs (＝ ＋ － ＠) into ASCII and the ideographic space.
    probe = unicodedata.normalize("NFKC", text[:64]).lstrip(" \u00a0")
    risky = text.startswith(FORMULA_STARTS) or probe.startswith(FORMULA_STARTS)
    return "'" + text if risky else text


def lines(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The BOM and header, then one CSV line per row (CRLF, as RFC 4180 writes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[Any]) -> str:
        writer.writerow([cell(v) for v in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield BOM + line(header)
    for row in rows:
        yield line(row)


def csv_response(filename: str, header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Response:
    """A streamed download; the request context stays open while rows are read."""
    body = stream_with_context(_encoded(lines(header, rows)))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _encoded(chunks: Iterator[str], size: int = 64 * 1024) -> Iterator[bytes]:
    """Lines gathered into chunks of about `size` bytes (fewer, larger writes)."""
    pending: list[bytes] = []
    held = 0
    for chunk in chunks:
        data = chunk.encode("utf-8")
        pending.append(data)
        held += len(data)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)
