"""The signature receivers check: HMAC-SHA256 of "{timestamp}.{body}" with the
endpoint's secret. The timestamp is signed too, so a receiver can refuse old
(replayed) deliveries; the README shows the check."""
from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Support-Signature"
TIMESTAMP_HEADER = "X-Support-Timestamp"
EVENT_HEADER = "X-Support-Event"
DELIVERY_HEADER = "X-Support-Delivery"


def signature(secret: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def headers(secret: str, timestamp: int, body: str, event: str, delivery_id: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
