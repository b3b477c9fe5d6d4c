"""Small real files for attachment tests (valid PNG and PDF bytes)."""
from __future__ import annotations

import io

from PIL import Image

from support_app.attachments import store
from support_app.tickets.actor import Actor


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


PNG = png_bytes()
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'


URL = "/api/attachments"


def post_file(client, person, name, data, field="file"):
    """POST /api/attachments as `person` (a factory person with bearer headers)."""
    return client.post(URL, headers=person.headers, data={field: (io.BytesIO(data), name)})


def uploaded(client, person, name="photo.png", data=PNG) -> dict:
    response = post_file(client, person, name, data)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]


def upload_file(actor: Actor, name: str = "photo.png", data: bytes = PNG):
    """An upload of `actor`, as POST /api/attachments would keep it."""
    return store.upload(actor, name, io.BytesIO(data))
