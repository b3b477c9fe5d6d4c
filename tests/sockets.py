"""Socket.IO fixtures for test modules that talk to a live server: import `server`,
`opened` and `connect` into the module (the server lives for the module)."""
from __future__ import annotations

import pytest

from .live import Listener, LiveServer, listeners


@pytest.fixture(scope="module")
def server(app):
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def opened():
    yield from listeners()


@pytest.fixture
def connect(server, opened):
    """connect(person, **Listener options) -> a connected Listener, authenticated with
    the person's token unless `auth` is given."""
    def _connect(person=None, **kwargs) -> Listener:
        auth = kwargs.pop("auth", None)
        if person is not None and auth is None:
            auth = {"token": person.headers["Authorization"].split(" ", 1)[1]}
        listener = Listener(server.url, auth=auth, **kwargs)
        opened.append(listener)
        return listener.connect()
    return _connect
