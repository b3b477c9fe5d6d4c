"""Static files (ours and Flask-AppBuilder's) under URLs that name their content, so
browsers keep them: every dashboard page links some twenty scripts and stylesheets,
which Flask otherwise serves `no-cache` (one revalidation request each, per page).

`url_for(<static endpoint>, filename=...)` gains `v=<content hash>`; a request that
carries the file's current hash is answered cacheable for a year. A changed file gets a
new URL, so nobody keeps a stale copy after an upgrade; an old or missing `v` keeps
Flask's default (revalidate every time)."""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from typing import Any

from flask import Flask, Response, request
from werkzeug.security import safe_join

YEAR = 365 * 24 * 3600


def install(app: Flask) -> None:
    """Version every static URL the app builds and cache what carries its version."""

    @app.url_defaults
    def _version_static_urls(endpoint: str, values: dict[str, Any]) -> None:
        path = _static_file(app, endpoint, values.get("filename"))
        if path is not None:
            values.setdefault("v", _version(path))

    @app.after_request
    def _cache_versioned_files(response: Response) -> Response:
        wanted = request.args.get("v")
        if wanted and response.status_code in (200, 304) and request.endpoint and request.view_args:
            path = _static_file(app, request.endpoint, request.view_args.get("filename"))
            if path is not None and wanted == _version(path):
                response.cache_control.no_cache = None
                response.cache_control.public = True
                response.cache_control.max_age = YEAR
                response.cache_control.immutable = True
        return response


def _static_file(app: Flask, endpoint: str, filename: object) -> str | None:
    """The file a static endpoint serves for `filename`, if it exists."""
    if not isinstance(filename, str) or not (endpoint == "static" or endpoint.endswith(".static")):
        return None
    scaffold = app if endpoint == "static" else app.blueprints.get(endpoint.rsplit(".", 1)[0])
    folder = scaffold.static_folder if scaffold is not None else None
    path = safe_join(folder, filename) if folder else None
    return path if path and os.path.isfile(path) else None


def _version(path: str) -> str:
    """The file's content hash, read again only when the file changes on disk."""
    stat = os.stat(path)
    return _content_hash(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1024)
def _content_hash(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.blake2b(handle.read(), digest_size=6).hexdigest()
