"""A real SMTP server on loopback (aiosmtpd) for the mail tests: `smtp` starts one and
points the session app at it, `mail_config` restores the app's mail settings after."""
from __future__ import annotations

import email
from email import policy

import pytest
from aiosmtpd.controller import Controller

from .live import free_port


class Sink:
    """aiosmtpd handler keeping every message; `refuse` makes it reject recipients."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []
        self.refuse: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


@pytest.fixture
def mail_config(app):
    """Restore the session app's mail settings after a test changes them."""
    keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_MAX_ATTEMPTS", "MAIL_RETRY_BASE_SECONDS",
            "MAIL_POLL_SECONDS", "MAIL_BACKGROUND", "MAIL_DEFAULT_SENDER", "MAIL_TIMEOUT")
    saved = {k: app.config[k] for k in keys if k in app.config}
    app.config.update(MAIL_DEFAULT_SENDER="help@shop.example", MAIL_RETRY_BASE_SECONDS=0,
                      MAIL_TIMEOUT=5)
    yield app.config
    for key in keys:
        app.config.pop(key, None)
    app.config.update(saved)


@pytest.fixture
def smtp(mail_config):
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    mail_config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    yield sink
    controller.stop()
