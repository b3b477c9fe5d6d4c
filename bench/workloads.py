"""The five measured workloads, as the 002 document writes their paths and bodies.

Each workload turns (load thread, request number) into one HTTP request, so every
thread walks its own deterministic sequence of tickets and accounts."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from .seed import SeedInfo


@dataclass(frozen=True)
class Context:
    """What a request builder needs: the seeded ids and a bearer token per user id."""

    info: SeedInfo
    tokens: dict[int, str]

    def account(self, worker: int) -> int:
        users = self.info.account_user_ids
        return users[worker % len(users)]

    def admin_token(self) -> str:
        return self.tokens[self.info.admin_user_id]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    token: str
    body: bytes | None = None


Builder = Callable[[Context, int, int], Request]


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    expect: int  # the status every request must get
    writes: bool
    build: Builder


def _json(data: dict) -> bytes:
    return json.dumps(data).encode()


def _create(ctx: Context, worker: int, n: int) -> Request:
    user = ctx.account(worker)
    return Request("POST", "/api/support-tickets", ctx.tokens[user], _json({
        "subject": f"Bench ticket {worker}-{n}",
        "description": "The parcel arrived damaged and two items were missing from it.",
        "priority": ("low", "medium", "high", "urgent")[n % 4],
        "category": ("technical", "billing", "order", "product", "account", "other")[n % 6],
    }))


def _staff_list(ctx: Context, worker: int, n: int) -> Request:
    return Request("GET", "/api/support-tickets?status=open", ctx.admin_token())


def _post_message(ctx: Context, worker: int, n: int) -> Request:
    user = ctx.account(worker)
    owned = ctx.info.owned_ticket_ids[user]
    ticket_id = owned[n % len(owned)]
    return Request("POST", f"/api/support-tickets/{ticket_id}/messages", ctx.tokens[user],
                   _json({"message": f"Any news on this? (follow-up {n})"}))


def _detail(ctx: Context, worker: int, n: int) -> Request:
    # A spread of ids over the whole table (not just the hot end), the same per run.
    ticket_id = (worker * 7919 + n * 104_729) % ctx.info.tickets + 1
    return Request("GET", f"/api/support-tickets/{ticket_id}", ctx.admin_token())


def _navbar(ctx: Context, worker: int, n: int) -> Request:
    return Request("GET", "/api/support-tickets/navbar/count", ctx.admin_token())


WORKLOADS: dict[str, Workload] = {w.key: w for w in (
    Workload("W1", "create ticket (customer)", 201, True, _create),
    Workload("W2", "staff list, page 1, status=open", 200, False, _staff_list),
    Workload("W3", "post message (customer)", 201, True, _post_message),
    Workload("W4", "ticket detail (staff)", 200, False, _detail),
    Workload("W5", "navbar count (staff)", 200, False, _navbar),
)}
# Reads first, so both targets read the same seeded data before writes grow it.
ORDER = ("W2", "W4", "W5", "W1", "W3")
