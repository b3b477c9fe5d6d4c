"""The ticket page in headless Chromium shows a mailed photo: its thumbnail loads (an
image the browser decoded), its name, size and download link, in English and in Arabic
(right to left)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from support_app.extensions import db
from support_app.models import Attachment
from support_app.security import roles
from tests.attachment_helpers import png_bytes
from tests.inbound_payloads import deliver, payload, with_files
from tests.test_i18n import tr

from .test_admin_browser import sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language, direction", [("en", "ltr"), ("ar", "rtl")])
def test_ticket_page_shows_a_mailed_photo(page, shot, app, factory, language, direction):
    admin = factory.staff(roles.ADMIN)
    admin.user.locale = language
    db.session.commit()
    photo = png_bytes((640, 480), (30, 120, 200))
    answer = deliver(app.test_client(), with_files(
        payload("new_request"), ("صندوق-مكسور.png" if language == "ar" else "damaged-parcel.png",
                                 photo, "image/png")))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    row = db.session.scalar(select(Attachment))
    assert row is not None and row.message_id is not None

    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    sign_in(page, admin.user.email)
    page.goto(f"/tickets/show/{row.ticket_id}")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("getComputedStyle(document.body).direction") == direction
    item = page.locator(f"#attachment-{row.id}")
    assert item.is_visible()
    assert row.filename in item.inner_text()
    unit = "KB" if language == "en" else tr(language, "%(num)s KB").replace("%(num)s", "").strip()
    assert unit in item.locator(".desk-file-size").inner_text()
    thumbnail = item.locator("img.desk-thumbnail")
    thumbnail.wait_for()
    width = page.wait_for_function(
        "img => img.complete && img.naturalWidth", arg=thumbnail.element_handle()).json_value()
    assert 0 < width <= 320
    download = item.locator("a.desk-file-download")
    assert download.get_attribute("href") == f"/api/attachments/{row.id}"
    assert (tr(language, "Download") if language != "en" else "Download") in download.inner_text()
    # The file itself, fetched as the browser would (the dashboard session).
    fetched = page.evaluate(
        "async url => { const r = await fetch(url); return [r.status, r.headers.get('x-content-type-options'), (await r.arrayBuffer()).byteLength]; }",
        f"/api/attachments/{row.id}")
    assert fetched == [200, "nosniff", len(photo)]
    shot(page, f"attachments_{language}_ticket_page")
    assert errors == []
