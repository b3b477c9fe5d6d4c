"""Mailgun forward() payloads for the inbound-email tests, signed like Mailgun signs them.

Fixtures under tests/fixtures/mailgun/ are real-looking route POSTs (Gmail, Outlook,
an out-of-office reply, a bounce); `$placeholders` are filled per test."""
from __future__ import annotations

import io
import json
import secrets
import string
import time
from pathlib import Path
from typing import Any

from support_app.inbound.signature import sign

KEY = "test-signing-key"  # TestConfig.MAILGUN_SIGNING_KEY
URL = "/api/webhooks/mailgun/inbound"
FIXTURES = Path(__file__).parent / "fixtures" / "mailgun"


def new_message_id(domain: str = "mail.gmail.com") -> str:
    return f"<CA+{secrets.token_hex(12)}@{domain}>"


def payload(fixture: str, *, headers: dict[str, str | None] | None = None,
            **values: str) -> dict[str, Any]:
    """A fixture with `$placeholders` filled; `headers` replaces (None drops) headers."""
    defaults = {"name": "Jane Doe", "address": "jane@example.org", "ticket": "TKT-0",
                "message_id": new_message_id(), "in_reply_to": "", "references": ""}
    text = string.Template((FIXTURES / f"{fixture}.json").read_text()).substitute(
        {**defaults, **values})
    fields: dict[str, Any] = json.loads(text)
    pairs = [[k, v] for k, v in fields["message-headers"] if v != ""]
    for header, value in (headers or {}).items():
        pairs = [[k, v] for k, v in pairs if k.lower() != header.lower()]
        if value is not None:
            pairs.append([header, value])
    fields["message-headers"] = json.dumps(pairs)
    return fields


def signed(fields: dict[str, Any], *, key: str = KEY, timestamp: int | None = None,
           token: str | None = None) -> dict[str, Any]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or secrets.token_hex(25)
    return {**fields, "timestamp": stamp, "token": token, "signature": sign(key, stamp, token)}


def with_files(fields: dict[str, Any], *files: tuple[str, bytes, str]) -> dict[str, Any]:
    """Multipart form as Mailgun sends it: attachment-1..N plus attachment-count."""
    data = dict(fields)
    for index, (filename, content, content_type) in enumerate(files, start=1):
        data[f"attachment-{index}"] = (io.BytesIO(content), filename, content_type)
    data["attachment-count"] = str(len(files))
    return data


def deliver(client, fields: dict[str, Any], *, multipart: bool = False, **sign_args: Any):
    """POST a freshly signed delivery (urlencoded unless files or multipart=True)."""
    data = signed(fields, **sign_args)
    has_files = any(isinstance(v, tuple) for v in data.values())
    content_type = "multipart/form-data" if (multipart or has_files) else None
    return client.post(URL, data=data, content_type=content_type)
