"""Mailgun's parsed-mail form (urlencoded or multipart) → one InboundMail value.

Only text is kept: `stripped-text` (Mailgun's reply without quoted history) when
present, else `body-plain`, else a tag-stripped rendering of `body-html`. HTML itself
is never stored, so it can never be rendered unsanitized."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from werkzeug.datastructures import MultiDict

MESSAGE_ID_RE = re.compile(r"<[^<>\s]+>")
AUTO_PRECEDENCE = {"bulk", "junk", "auto_reply", "list"}
DAEMON_LOCALPARTS = {"mailer-daemon", "postmaster"}
MAX_MESSAGE_ID_BYTES = 998  # email_logs.message_id, ticket_messages.email_message_id
MAX_ADDRESS = 320  # RFC 5321 (64 + "@" + 255); customers.email, email_logs.from_address


@dataclass
class InboundMail:
    from_address: str            # normalized (lower-case addr-spec), "" when unusable
    from_name: str
    recipient: str
    subject: str
    body: str                    # the text we store: stripped reply or plain body
    full_text: str               # body-plain, for the email log
    message_id: str              # "<...>"; synthesized when the mail has none
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    envelope_sender: str = ""

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), as Mailgun listed it."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def thread_ids(self) -> list[str]:
        """Message-Ids this mail answers, most specific first."""
        ordered = self.in_reply_to + list(reversed(self.references))
        return list(dict.fromkeys(ordered))


def normalize_address(value: str | None) -> str:
    """`"Bob" <Bob@Example.com>` → `bob@example.com`; "" when there is no address (an
    "@" with nothing before or after it is none: it would become a customer's email).
    A quoted local part (`"x"@y.org`, `"@x@y"`) is none either: parseaddr drops or keeps
    its quotes, so one mailbox would have two spellings, or an address two "@"."""
    _name, address = parseaddr(value or "")
    address = address.strip().lower()
    local, _at, domain = address.partition("@")
    usable = local and domain and not any(c in address for c in ' "') and "@" not in domain
    return address if usable else ""


def message_ids(value: str | None) -> list[str]:
    """Every `<id>` in a Message-Id / In-Reply-To / References header, in order."""
    return MESSAGE_ID_RE.findall(value or "")


def _without_nul(value: str) -> str:
    """NUL is no character of mail text, and PostgreSQL refuses it in every text column
    (the inbound log's too): dropped from every field the mail is read from."""
    return value.replace("\x00", "")


def _headers(form: MultiDict) -> list[tuple[str, str]]:
    try:
        raw = json.loads(form.get("message-headers") or "[]")
    except (ValueError, RecursionError):  # malformed, or nested past the parser's depth
        raw = []
    pairs = [
        (_without_nul(str(item[0])), _without_nul(str(item[1])))
        for item in raw if isinstance(item, (list, tuple)) and len(item) == 2
    ] if isinstance(raw, list) else []
    if not pairs:
        # Mailgun also posts each MIME header as its own field.
        pairs = [(name, form.get(name, "")) for name in
                 ("Message-Id", "In-Reply-To", "References", "Auto-Submitted",
                  "X-Autoreply", "Precedence") if form.get(name)]
    return pairs


class _TextOnly(HTMLParser):
    """Collects visible text; script and style contents are dropped."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line).strip()


def _stored_message_id(ids: list[str], form: MultiDict) -> str:
    """The mail's own Message-Id when it fits the unique columns it is stored in (998
    characters; PostgreSQL's index takes under 2704 bytes), else a stable one: one the
    columns refuse would fail every delivery of the mail, and it would be lost."""
    if not ids:
        return _synthetic_message_id(form)
    if len(ids[0].encode()) <= MAX_MESSAGE_ID_BYTES:
        return ids[0]
    return f"<{hashlib.sha256(ids[0].encode()).hexdigest()[:40]}@inbound.invalid>"


def _synthetic_message_id(form: MultiDict) -> str:
    """A stable id for a mail without Message-Id, so a redelivery is still a duplicate."""
    digest = hashlib.sha256()
    for name in ("from", "recipient", "subject", "Date", "body-plain"):
        digest.update((form.get(name) or "").encode() + b"\0")
    return f"<{digest.hexdigest()[:40]}@inbound.invalid>"


def parse(form: MultiDict) -> InboundMail:
    form = MultiDict([(key, _without_nul(value)) for key, value in form.items(multi=True)])
    headers = _headers(form)
    lookup = {key.lower(): value for key, value in reversed(headers)}
    from_field = form.get("from") or lookup.get("from") or form.get("sender") or ""
    name, _addr = parseaddr(from_field)
    address = normalize_address(from_field) or normalize_address(form.get("sender"))
    plain = (form.get("body-plain") or "").replace("\r\n", "\n")
    stripped = (form.get("stripped-text") or "").replace("\r\n", "\n").strip()
    body = stripped or plain.strip() or html_to_text(form.get("body-html") or "")
    ids = message_ids(lookup.get("message-id"))
    return InboundMail(
        from_address=address,
        from_name=name.strip() or address.split("@")[0],
        recipient=", ".join(a for _n, a in getaddresses([form.get("recipient") or ""]) if a),
        subject=" ".join((form.get("subject") or lookup.get("subject") or "").split()),
        body=body,
        full_text=plain or body,
        message_id=_stored_message_id(ids, form),
        in_reply_to=message_ids(lookup.get("in-reply-to")),
        references=message_ids(lookup.get("references")),
        headers=headers,
        envelope_sender=normalize_address(form.get("sender")),
    )


def auto_reply_reason(mail: InboundMail, own_addresses: set[str]) -> str | None:
    """Why this mail must not open or reopen a ticket (RFC 3834 and common practice)."""
    auto_submitted = (mail.header("Auto-Submitted") or "").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return f"Auto-Submitted: {auto_submitted}"
    if mail.header("X-Autoreply") is not None or mail.header("X-Autorespond") is not None:
        return "X-Autoreply"
    precedence = (mail.header("Precedence") or "").strip().lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for address in (mail.from_address, mail.envelope_sender):
        if address and address.split("@")[0] in DAEMON_LOCALPARTS:
            return f"bounce from {address}"
    content_type = (mail.header("Content-Type") or "").lower()
    if "multipart/report" in content_type:
        return "delivery report"
    if mail.from_address in own_addresses:
        return "sent from our own address"
    if not mail.from_address:
        return "no sender address"
    if len(mail.from_address) > MAX_ADDRESS:
        # No mailbox is that long (RFC 5321), and no customer's email column holds it.
        return "sender address too long"
    return None
