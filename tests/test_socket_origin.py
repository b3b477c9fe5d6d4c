"""Cross-site WebSocket hijacking: a page on another origin must not open a socket with
a staff member's dashboard cookie; bearer-token apps connect from any origin.

Real python-socketio clients against a real server; the websocket handshake carries
the `Origin` a browser would send."""
from __future__ import annotations

import pytest

from support_app.security import roles

from .live import Listener

FOREIGN = "http://evil.example"


def staff_cookie(app, person) -> str:
    """The dashboard session cookie of a signed-in staff member."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(person.id)
        session["_fresh"] = True
    return f"session={client.get_cookie('session').value}"


def socket_from(server, opened, origin: str | None, **kwargs) -> Listener:
    listener = Listener(server.url, **kwargs)
    if origin is not None:  # what a browser page on `origin` sends
        listener.client.eio.websocket_extra_options = {"origin": origin}
    opened.append(listener)
    return listener


def connects(listener: Listener) -> bool:
    try:
        listener.try_connect()
    except AssertionError:  # "connection was accepted"
        return True
    return False


def test_a_foreign_page_with_a_staff_cookie_is_refused(server, opened, factory, app):
    cookie = staff_cookie(app, factory.staff(roles.ADMIN))
    hijack = socket_from(server, opened, FOREIGN, headers={"Cookie": cookie})
    assert not connects(hijack)
    assert not isinstance(hijack.refusal, dict)  # refused at the handshake (400), not by connect
    own_page = socket_from(server, opened, server.url, headers={"Cookie": cookie})
    assert connects(own_page)


def test_an_allowed_app_origin_may_use_the_cookie(server, opened, factory, app):
    cookie = staff_cookie(app, factory.staff(roles.ADMIN))
    app.config["SOCKETIO_ALLOWED_ORIGINS"] = ["https://app.example"]
    try:
        assert connects(socket_from(server, opened, "https://app.example", headers={"Cookie": cookie}))
        assert not connects(socket_from(server, opened, FOREIGN, headers={"Cookie": cookie}))
    finally:
        app.config["SOCKETIO_ALLOWED_ORIGINS"] = []


def test_bearer_token_apps_connect_from_any_or_no_origin(server, opened, factory):
    token = factory.customer().headers["Authorization"].split(" ", 1)[1]
    assert connects(socket_from(server, opened, FOREIGN, auth={"token": token}))
    assert connects(socket_from(server, opened, None, auth={"token": token}))


def test_a_foreign_page_gets_no_cors_grant_for_polling_with_the_cookie(server, factory, app):
    """Long-polling: the handshake with the cookie from a foreign page is a 400 and
    names no Access-Control-Allow-Origin, so the page reads nothing."""
    import urllib.error
    import urllib.request

    cookie = staff_cookie(app, factory.staff(roles.ADMIN))
    request = urllib.request.Request(f"{server.url}/socket.io/?EIO=4&transport=polling",
                                     headers={"Origin": FOREIGN, "Cookie": cookie})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert refused.value.headers.get("Access-Control-Allow-Origin") is None
