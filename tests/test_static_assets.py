"""Static files under URLs that name their content: cached for a year when the URL
carries the file's current hash, revalidated otherwise (support_app/assets.py)."""
from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlparse

from flask import url_for

from support_app import assets
from support_app.security import roles
from tests.admin_helpers import login

STATIC_LINK = re.compile(r'(?:src|href)="(/static/[^"]+)"')
IMMUTABLE = "public, max-age=31536000, immutable"


def _dashboard_assets(app, factory) -> tuple[object, list[str]]:
    admin = factory.staff(roles.ADMIN)
    client = app.test_client()
    login(client, admin.user.email)
    html = client.get("/tickets/list/").get_data(as_text=True)
    return client, [link.replace("&amp;", "&") for link in STATIC_LINK.findall(html)]


def test_every_asset_of_a_dashboard_page_is_linked_by_its_content_and_kept(app, factory):
    client, links = _dashboard_assets(app, factory)
    assert len(links) >= 15, links  # FAB's scripts and styles and ours
    assert any(link.startswith("/static/appbuilder/") for link in links)
    assert any(link.startswith("/static/admin/") for link in links)
    for link in links:
        version = parse_qs(urlparse(link).query).get("v")
        assert version and re.fullmatch(r"[0-9a-f]{12}", version[0]), link
        response = client.get(link)
        assert response.status_code == 200, link
        assert response.headers["Cache-Control"] == IMMUTABLE, link


def test_an_unversioned_or_stale_url_is_revalidated(app, factory):
    client, links = _dashboard_assets(app, factory)
    link = next(link for link in links if link.startswith("/static/admin/desk.css"))
    bare = urlparse(link).path
    for url in (bare, f"{bare}?v=000000000000"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-cache", url
    current = client.get(link)
    again = client.get(link, headers={"If-None-Match": current.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Cache-Control"] == IMMUTABLE


def test_a_missing_file_gets_no_version_and_no_cache_headers(app):
    with app.test_request_context():
        assert url_for("static", filename="admin/no-such.css") == "/static/admin/no-such.css"
        assert url_for("static", filename="../config.py") == "/static/../config.py"
    response = app.test_client().get("/static/admin/no-such.css?v=000000000000")
    assert response.status_code == 404
    assert "immutable" not in response.headers.get("Cache-Control", "")


def test_the_version_follows_the_files_content(tmp_path):
    path = tmp_path / "badge.js"
    path.write_text("console.log('one');")
    first = assets._version(str(path))
    assert assets._version(str(path)) == first
    path.write_text("console.log('two');")  # same size, new content, a later time
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = assets._version(str(path))
    assert second != first and re.fullmatch(r"[0-9a-f]{12}", second)
