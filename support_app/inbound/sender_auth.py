"""Did the From address really send this mail? Mailgun's verdicts, or our reply address.

Mailgun checks SPF and DKIM on receipt and adds its verdicts to the forwarded message
as headers (`X-Mailgun-Spf`, `X-Mailgun-Dkim-Check-Result`: `Pass`, `Fail`,
`SoftFail`, `Neutral`, `None`), listed in `message-headers` with the others. A pass
proves a domain, not the From header, so each counts only when aligned with the From
domain (relaxed, as DMARC does: the same domain or a parent of it): SPF for the
envelope sender's domain, DKIM for every signature's `d=`. A verdict header that
appears more than once (a sender can write their own) is no verdict.

The other proof is a reply to a ticket's signed reply address, `inbox+TKT-….{HMAC}@`,
which only our own mail to that ticket's customer reveals (`notify.mail`). The HMAC
covers the address we mailed, so it proves only that sender: the customer holding it
cannot write "From" a staff member or a co-participant through it.
"""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from flask import current_app

from ..notify.mail import REPLY_SIGNATURE_HEX, reply_signature
from .parse import InboundMail

SPF_HEADER = "X-Mailgun-Spf"
DKIM_HEADER = "X-Mailgun-Dkim-Check-Result"
SIGNED_REPLY_RE = re.compile(
    r"\+(TKT-[A-Z0-9]+)\.([0-9a-f]{%d})@" % REPLY_SIGNATURE_HEX, re.IGNORECASE)
DKIM_DOMAIN_RE = re.compile(r"(?:^|;)\s*d\s*=\s*([^;\s]+)", re.IGNORECASE)


@dataclass(frozen=True)
class SenderProof:
    """`domain`: the From domain authenticated the mail; `reply_ticket`: the number of
    the ticket whose signed reply address it was sent to."""

    domain: bool
    reply_ticket: str | None

    def covers(self, ticket_number: str) -> bool:
        """May this mail act as its sender on that ticket?"""
        return self.domain or self.reply_ticket == ticket_number


def _only(mail: InboundMail, name: str) -> str | None:
    values = [value for key, value in mail.headers if key.lower() == name.lower()]
    return values[0].strip() if len(values) == 1 else None


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def aligned(signer: str, from_domain: str) -> bool:
    """Relaxed alignment: the signer is the From domain or one of its parents."""
    signer = signer.strip().lower().rstrip(".")
    return bool(signer) and "." in signer and (
        from_domain == signer or from_domain.endswith("." + signer))


def _spf_pass(mail: InboundMail, from_domain: str) -> bool:
    verdict = (_only(mail, SPF_HEADER) or "").lower()
    return verdict == "pass" and aligned(_domain(mail.envelope_sender), from_domain)


def _dkim_pass(mail: InboundMail, from_domain: str) -> bool:
    verdict = (_only(mail, DKIM_HEADER) or "").lower()
    if verdict != "pass":
        return False
    signers = [match.group(1) for key, value in mail.headers
               if key.lower() == "dkim-signature"
               for match in [DKIM_DOMAIN_RE.search(value)] if match]
    return bool(signers) and all(aligned(signer, from_domain) for signer in signers)


def signed_reply_ticket(recipient: str, sender: str) -> str | None:
    """The ticket number of a signed reply address the mail was sent to, if genuine and
    signed for `sender` (the address we mailed it to)."""
    key = current_app.config["SECRET_KEY"]
    for number, signature in SIGNED_REPLY_RE.findall(recipient):
        number = number.upper()
        if sender and hmac.compare_digest(signature.lower(),
                                          reply_signature(number, sender, key)):
            return number
    return None


def proof(mail: InboundMail) -> SenderProof:
    from_domain = _domain(mail.from_address)
    domain = bool(from_domain) and (_spf_pass(mail, from_domain) or _dkim_pass(mail, from_domain))
    return SenderProof(domain=domain, reply_ticket=signed_reply_ticket(mail.recipient,
                                                                    mail.from_address))
