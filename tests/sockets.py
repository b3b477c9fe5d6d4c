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
    """connect(person) -> a connected Listener authenticated with the person's token."""
    def _connect(person) -> Listener:
        token = person.headers["Authorization"].split(" ", 1)[1]
        listener = Listener(server.url, auth={"token": token})
        opened.append(listener)
        return listener.connect()
    return _connect
