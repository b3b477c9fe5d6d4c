"""The measured workloads: the 002 document's paths and bodies (W1-W5), the same
create by the long-history and the new account (W1H, W1N; issue 25), and our own
staff SLA filter (W6, `api/sla.py`).

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


def acting_users(info: SeedInfo) -> list[int]:
    """Every account a workload may act as (the runner mints a token for each)."""
    extra = [u for u in (info.long_history_user_id, info.no_history_user_id) if u]
    return [info.admin_user_id, *info.agent_user_ids, *info.account_user_ids, *extra]


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
    baseline: bool = True  # whether the bare baseline app answers it (else app only)


def _json(data: dict) -> bytes:
    return json.dumps(data).encode()


def _create(ctx: Context, worker: int, n: int) -> Request:
    return _create_as(ctx, ctx.account(worker), worker, n)


def _create_long_history(ctx: Context, worker: int, n: int) -> Request:
    """Every thread as the one account that already owns LONG_HISTORY tickets."""
    return _create_as(ctx, ctx.info.long_history_user_id, worker, n)


def _create_no_history(ctx: Context, worker: int, n: int) -> Request:
    """Every thread as the one account that owned no ticket when seeded."""
    return _create_as(ctx, ctx.info.no_history_user_id, worker, n)


def _create_as(ctx: Context, user: int, worker: int, n: int) -> Request:
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


def _sla_at_risk(ctx: Context, worker: int, n: int) -> Request:
    return Request("GET", "/api/tickets/sla?state=at_risk", ctx.admin_token())


WORKLOADS: dict[str, Workload] = {w.key: w for w in (
    Workload("W1", "create ticket (customer)", 201, True, _create),
    Workload("W2", "staff list, page 1, status=open", 200, False, _staff_list),
    Workload("W3", "post message (customer)", 201, True, _post_message),
    Workload("W4", "ticket detail (staff)", 200, False, _detail),
    Workload("W5", "navbar count (staff)", 200, False, _navbar),
    Workload("W6", "SLA filter, state=at_risk (staff)", 200, False, _sla_at_risk,
             baseline=False),
    Workload("W1H", "create ticket (long-history account)", 201, True, _create_long_history),
    Workload("W1N", "create ticket (account with no tickets)", 201, True, _create_no_history),
)}
# Reads first, so both targets read the same seeded data before writes grow it.
ORDER = ("W2", "W4", "W5", "W6", "W1", "W1H", "W1N", "W3")
