"""Bad input the JSON-body walk of `test_bad_input` cannot reach: ids past what the
id columns hold in every path of the URL map (API and dashboard), a 10,000-digit
ticket id on the Socket.IO `subscribe`, and the dashboard's list arguments (order
column, page size, page) on every screen. Each gets a 4xx (or, for a list, a page of
bounded rows), never a 500, and nothing is written.
"""
from __future__ import annotations

import json
import re

import pytest
import websocket
from flask_appbuilder import ModelView
from flask_appbuilder.api import BaseApi

from support_app.admin.screen_args import MAX_PAGE_SIZE
from support_app.security import roles

from .admin_helpers import desk_client, login
from .live import TIMEOUT, Listener
from .test_authorization_matrix import MATRIX
from .test_bad_input import _client_for, _row_counts, world  # noqa: F401  (fixture)

HUGE_IDS = {"2^63": str(2**63), "5,000 digits": "9" * 5000, "2^31": str(2**31)}
PARAM = re.compile(r"<[^>]+>")


def _first_allowed(call, expected) -> str:
    if call.public:
        return "anonymous"
    return next(r for r in ("owner", "admin", "assigned_agent") if expected[r] not in {401, 403})


ID_RULES = [(m, r, c, _first_allowed(c, e)) for (m, r), (c, e) in MATRIX.items()
            if PARAM.search(r) and "external_id" not in r]


@pytest.mark.parametrize("method,rule,call,role", ID_RULES, ids=[f"{m} {r}" for m, r, _, _ in ID_RULES])
def test_api_ids_past_the_column_range_are_a_4xx(app, world, method, rule, call, role):  # noqa: F811
    before = _row_counts()
    problems = []
    for label, big in HUGE_IDS.items():
        client, headers = _client_for(app, world, role, call)
        kwargs = {"headers": headers}
        if call.json is not None:
            kwargs["json"] = call.json(world)
        response = client.open(PARAM.sub(big, rule), method=method, **kwargs)
        if not 400 <= response.status_code < 500:
            problems.append(f"{label}: {response.status_code} {response.get_data(as_text=True)[:160]}")
        elif response.is_json is False:
            problems.append(f"{label}: {response.status_code} not in the surface's JSON format")
    assert problems == []
    assert _row_counts() == before


def _screens(app):
    """Every dashboard rule taking an id (FAB's `<pk>` and ours), GET only."""
    apis = {view.blueprint.name for view in app.appbuilder.baseviews if isinstance(view, BaseApi)}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static/")) or rule.endpoint.split(".")[0] in apis:
            continue
        if "GET" in rule.methods and any(name in ("pk", "id") for name in rule.arguments):
            yield rule.rule


def test_dashboard_ids_past_the_column_range_are_a_4xx(app, factory):
    admin = factory.staff(roles.ADMIN)
    client = desk_client(app)
    login(client, admin.user.email)
    problems = []
    for rule in _screens(app):
        for label, big in HUGE_IDS.items():
            path = re.sub(r"<(?:[^>]*:)?(pk|id)>", big, rule)
            path = PARAM.sub("x", path)
            status = client.get(path).status_code
            if status >= 500:
                problems.append(f"{path[:80]} ({label}): {status}")
    assert problems == []


# --------------------------------------------------------------------------- dashboard lists

def _list_views(app):
    """Every dashboard ModelView (ours and FAB's security screens)."""
    return [view for view in app.appbuilder.baseviews if isinstance(view, ModelView)]


BAD_LIST_ARGS = {
    "unknown order column": "_oc_{view}=nonexistent&_od_{view}=asc",
    "negative page size": "psize_{view}=-1",
    "huge page size": "psize_{view}=100000",
    "zero page size": "psize_{view}=0",
    "word page size": "psize_{view}=all",
    "negative page": "page_{view}=-1",
    "huge page": "page_{view}=" + "9" * 30,
    "word page": "page_{view}=x",
}


def test_dashboard_lists_refuse_or_bound_bad_list_arguments(app, factory):
    admin = factory.staff(roles.ADMIN)
    customer = factory.customer()
    for _ in range(MAX_PAGE_SIZE + 5):  # more tickets than any page may show
        factory.ticket(customer)
    client = desk_client(app)
    login(client, admin.user.email)
    problems = []
    views = _list_views(app)
    assert {"TicketView", "CustomerView", "EmailLogView", "OrderView"} <= {type(v).__name__ for v in views}
    for view in views:
        name = type(view).__name__
        base = f"/{view.route_base.strip('/')}/list/"
        assert client.get(base).status_code == 200, name
        for label, args in BAD_LIST_ARGS.items():
            response = client.get(f"{base}?{args.format(view=name)}")
            if response.status_code >= 500 or response.status_code not in (200, 400):
                problems.append(f"{name} {label}: {response.status_code}")
    # The ticket list with the bad page size shows no more rows than a page may hold.
    rows = client.get("/tickets/list/?psize_TicketView=-1").get_data(as_text=True).count("/tickets/show/")
    assert rows <= MAX_PAGE_SIZE
    # A legitimate order and page size still work.
    assert client.get("/tickets/list/?_oc_TicketView=number&_od_TicketView=desc"
                      "&psize_TicketView=25&page_TicketView=1").status_code == 200
    assert problems == []


# --------------------------------------------------------------------------- Socket.IO

def test_subscribe_with_a_10000_digit_ticket_id_is_acked_invalid(server, opened, factory):
    owner = factory.customer()
    ticket = factory.ticket(owner)
    token = owner.headers["Authorization"].split(" ", 1)[1]
    listener = Listener(server.url, auth={"token": token})
    opened.append(listener)
    listener.connect()
    for raw in ("9" * 10000, str(2**63), "-1", 1.5):
        answer = listener.call("subscribe", {"ticketId": raw})
        assert answer["ok"] is False and answer["code"] == "INVALID_REQUEST", raw
        assert listener.call("unsubscribe", {"ticketId": raw})["code"] == "INVALID_REQUEST"
    assert listener.call("subscribe", {"ticketId": ticket.id})["ok"] is True


def test_subscribe_with_a_10000_digit_json_number_is_acked_invalid(server, factory):
    """The number as a raw packet sends it (no Python client can: it would not encode
    it), over a plain websocket speaking Engine.IO 4 / Socket.IO 5. The websocket is
    websocket-client's, as python-socketio's own: simple-websocket's client can leave a
    frame that came with the handshake unread until the next one arrives."""
    owner = factory.customer()
    token = owner.headers["Authorization"].split(" ", 1)[1]
    ws = websocket.create_connection(
        server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
        timeout=TIMEOUT)

    def receive(prefix: str) -> str:
        """The next packet starting with `prefix`, answering pings on the way."""
        while True:
            try:
                packet = ws.recv()
            except websocket.WebSocketTimeoutException:
                raise AssertionError(f"no {prefix!r} packet within {TIMEOUT} s") from None
            if packet == "2":
                ws.send("3")
            elif packet.startswith(prefix):
                return packet

    try:
        receive("0")                                              # Engine.IO open
        ws.send("40" + json.dumps({"token": token}))              # Socket.IO connect
        receive("40")
        ws.send('421["subscribe",{"ticketId":' + "9" * 10000 + "}]")
        ack = json.loads(receive("431")[3:])[0]
        assert ack["ok"] is False and ack["code"] == "INVALID_REQUEST"
    finally:
        ws.close()
