"""SECRET_KEY rotation: sessions signed with a key listed in SECRET_KEY_FALLBACKS
still load after the switch, so nobody on the dashboard is signed out at once."""
from __future__ import annotations

from support_app.config import Config


def test_a_session_signed_with_the_previous_key_survives_the_rotation(app, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "new-key-2")
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", "old-key-1,older-key-0")
    settings = Config()
    assert settings.SECRET_KEY_FALLBACKS == ["old-key-1", "older-key-0"]

    saved = {k: app.config[k] for k in ("SECRET_KEY", "SECRET_KEY_FALLBACKS")}
    try:
        app.config.update(SECRET_KEY="old-key-1", SECRET_KEY_FALLBACKS=[])
        cookie = app.session_interface.get_signing_serializer(app).dumps({"_user_id": "7"})
        app.config.update(SECRET_KEY=settings.SECRET_KEY, SECRET_KEY_FALLBACKS=[])
        assert app.session_interface.open_session(app, _request(app, cookie)).get("_user_id") is None
        app.config.update(SECRET_KEY_FALLBACKS=settings.SECRET_KEY_FALLBACKS)
        assert app.session_interface.open_session(app, _request(app, cookie))["_user_id"] == "7"
    finally:
        app.config.update(saved)


def _request(app, cookie: str):
    name = app.config["SESSION_COOKIE_NAME"]
    with app.test_request_context(headers={"Cookie": f"{name}={cookie}"}) as ctx:
        return ctx.request
