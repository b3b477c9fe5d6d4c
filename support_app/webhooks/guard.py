"""SSRF guard: a webhook URL may only reach public http(s) addresses.

Checked when an admin saves the URL and again before every delivery (DNS may have
changed since), on every address the host resolves to; the delivery then connects to
an address that passed, so a second, different DNS answer is never used.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import gettext as _

SCHEMES = {"http": 80, "https": 443}


class RefusedURL(ValueError):
    """The URL is not one the desk will call (its message is shown to the admin)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: str  # the checked IP address to connect to
    path: str     # path and query, as sent


def _forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Anything but a global unicast address: besides loopback, private, link-local
    and the like, the shared address space 100.64.0.0/10 (carrier NAT, and a cloud
    metadata service: Alibaba's 100.100.100.200), and an IPv6 address that carries
    such an IPv4 one (::ffff:127.0.0.1, 6to4's 2002:7f00:1::, Teredo's client), and the
    deprecated site-local fec0::/10, which ipaddress counts as neither private nor
    reserved."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return True
        teredo = ip.teredo
        carried = (ip.ipv4_mapped, ip.sixtofour, teredo[1] if teredo else None)
        if any(v4 is not None and _forbidden(v4) for v4 in carried):
            return True
    return (not ip.is_global or ip.is_loopback or ip.is_private or ip.is_link_local
            or ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: str, allow_private: bool = False) -> Target:
    """Parse and resolve `url`; refuse a non-http(s) URL, an unresolvable host, or a
    host with any address that is not global unicast (`_forbidden`) unless
    `allow_private`."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        raise RefusedURL(_("The URL is not valid.")) from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise RefusedURL(_("Only http:// and https:// URLs are allowed."))
    port = port or SCHEMES[parts.scheme]
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RefusedURL(_("The host name does not resolve.")) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise RefusedURL(_("The host name does not resolve."))
    if not allow_private and any(_forbidden(ipaddress.ip_address(a.split("%")[0]))
                                 for a in addresses):
        raise RefusedURL(_("The URL points to a private, loopback or reserved address."))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, addresses[0], path)
