"""A real server on loopback and headless Chromium (Debian's package, driven by
Playwright; never `playwright install`). Screenshots land in tests/artifacts/."""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def desk_server(app):
    """The test app (HTTP + Socket.IO, threading mode) on a free loopback port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is required in CI for browser tests")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(request, chromium, desk_server):
    # A test parametrized by `language` browses with that Accept-Language (the sign-in
    # page, before any user's choice, is then in that language too).
    params = getattr(request.node, "callspec", None)
    locale = params.params.get("language", "en-US") if params else "en-US"
    context = chromium.new_context(base_url=desk_server, viewport={"width": 1366, "height": 900},
                                   locale=locale)
    page = context.new_page()
    external: list[str] = []

    def watch(request) -> None:
        if not request.url.startswith((desk_server, "data:", "blob:")) and request.url.startswith(("http", "ws")):
            if not request.url.startswith(desk_server.replace("http", "ws")):
                external.append(request.url)

    page.on("request", watch)
    yield page
    context.close()
    assert external == [], f"the page fetched external resources: {external}"


@pytest.fixture
def shot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
