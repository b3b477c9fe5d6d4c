"""The SSRF guard of outgoing webhooks and the signature headers, value by value: which
address classes `_forbidden` refuses (and the IPv6 forms carrying an IPv4 one), what
`check_url` asks the resolver, the Target it returns (default ports, path and query,
the first address, a zone id kept), each refusal's exact message, and the exact
signature and headers a delivery carries.

(Written to close gaps the mutation run of `webhooks-signing` found; the resolver is
faked by replacing socket.getaddrinfo, so nothing here touches the network.)"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import operator
import socket

import pytest

from support_app.webhooks import guard, signing

NOT_VALID = "The URL is not valid."
ONLY_HTTP = "Only http:// and https:// URLs are allowed."
NO_RESOLVE = "The host name does not resolve."
PRIVATE = "The URL points to a private, loopback or reserved address."


class Resolver:
    """socket.getaddrinfo's stand-in: answers from a table (a list of addresses, or an
    exception to raise), records each question, and an unknown name is EAI_NONAME."""

    def __init__(self, answers: dict):
        self.answers = answers
        self.calls: list[tuple] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        operator.index(type)  # like the real one: type=None is a TypeError
        self.calls.append((host, port, type))
        answer = self.answers.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if isinstance(answer, BaseException):
            raise answer
        infos = []
        for address in answer:
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 0, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0)))
        return infos


@pytest.fixture
def dns(monkeypatch):
    def install(answers: dict) -> Resolver:
        resolver = Resolver(answers)
        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        return resolver
    return install


def refusal(url, allow_private=False) -> str:
    with pytest.raises(guard.RefusedURL) as caught:
        guard.check_url(url, allow_private=allow_private)
    return str(caught.value)


# _forbidden ---------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1",
    "169.254.169.254", "0.0.0.0", "240.0.0.1", "255.255.255.255", "198.18.0.1",
    # shared address space (carrier NAT, Alibaba Cloud's metadata service): not private
    # to ipaddress, only not global
    "100.64.0.1", "100.100.100.200", "100.127.255.254",
    # multicast: ipaddress counts 224.0.0.0/4 and ff0e::/16 as global
    "224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1",
    # reserved IPv6 outside the private list: NAT64 of loopback and of the metadata
    # address, IPv4-compatible loopback, 4000::/3
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "::7f00:1", "4000::1",
    # IPv4-mapped
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:100.64.0.1", "::ffff:169.254.169.254",
    # 6to4 (2002::/16, global to ipaddress on Python 3.11) carrying loopback, the
    # metadata address, shared space, multicast
    "2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:6440:1::", "2002:e000:1::",
    # Teredo whose client is 127.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",
    # deprecated site-local fec0::/10: neither private nor reserved to ipaddress
    "fec0::1", "feff::1",
])
def test_forbidden_refuses_every_address_that_is_not_global_unicast(address):
    assert guard._forbidden(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize("address", [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.1", "223.255.255.254",
    "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "2001:4860:4860::8888",
])
def test_forbidden_lets_a_global_unicast_address_through(address):
    assert guard._forbidden(ipaddress.ip_address(address)) is False


# check_url: what it returns ------------------------------------------------------------

def test_a_public_url_gives_its_scheme_host_port_address_and_path(app_ctx, dns):
    resolver = dns({"hooks.example.com": ["93.184.216.34"]})
    target = guard.check_url("https://hooks.example.com/in/desk?a=1&b=2")
    assert target == guard.Target("https", "hooks.example.com", 443, "93.184.216.34",
                                  "/in/desk?a=1&b=2")
    # asked once, for the port the delivery connects to, TCP only
    assert resolver.calls == [("hooks.example.com", 443, socket.SOCK_STREAM)]


@pytest.mark.parametrize("url, scheme, port", [
    ("http://hooks.example.com", "http", 80),
    ("https://hooks.example.com", "https", 443),
    ("http://hooks.example.com:8080/", "http", 8080),
    ("https://hooks.example.com:8443/", "https", 8443),
])
def test_the_port_is_the_urls_or_the_schemes_default(app_ctx, dns, url, scheme, port):
    resolver = dns({"hooks.example.com": ["93.184.216.34"]})
    target = guard.check_url(url)
    assert (target.scheme, target.port) == (scheme, port)
    assert resolver.calls == [("hooks.example.com", port, socket.SOCK_STREAM)]


@pytest.mark.parametrize("url, path", [
    ("https://hooks.example.com", "/"),
    ("https://hooks.example.com/", "/"),
    ("https://hooks.example.com?x=1", "/?x=1"),
    ("https://hooks.example.com/in", "/in"),
    ("https://hooks.example.com/in?", "/in"),
    ("https://hooks.example.com/in/deep?x=1&y=%20z", "/in/deep?x=1&y=%20z"),
    ("https://hooks.example.com/in#fragment", "/in"),
])
def test_the_path_sent_is_the_path_and_query(app_ctx, dns, url, path):
    dns({"hooks.example.com": ["93.184.216.34"]})
    assert guard.check_url(url).path == path


def test_the_url_is_stripped_and_the_host_lowercased(app_ctx, dns):
    dns({"hooks.example.com": ["93.184.216.34"]})
    target = guard.check_url("  https://Hooks.Example.COM/in  ")
    assert (target.host, target.path) == ("hooks.example.com", "/in")


def test_the_first_address_answered_is_the_one_connected_to(app_ctx, dns):
    dns({"v6first.example.com": ["2606:4700:4700::1111", "1.1.1.1", "2606:4700:4700::1111"],
         "v4first.example.com": ["1.1.1.1", "1.0.0.1"]})
    assert guard.check_url("https://v6first.example.com/").address == "2606:4700:4700::1111"
    assert guard.check_url("https://v4first.example.com/").address == "1.1.1.1"


def test_a_literal_ip_url_passes_through_the_resolver(app_ctx):
    target = guard.check_url("https://93.184.216.34:8443/in?x=1")
    assert target == guard.Target("https", "93.184.216.34", 8443, "93.184.216.34", "/in?x=1")


# check_url: refusals -------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://hooks.example.com:99999/",   # port out of range
    "http://hooks.example.com:abc/",     # port not a number
    "http://[::1/",                      # unclosed IPv6 literal
])
def test_an_unparsable_url_is_not_valid(app_ctx, dns, url):
    resolver = dns({})
    assert refusal(url) == NOT_VALID
    assert refusal(url, allow_private=True) == NOT_VALID
    assert resolver.calls == []


@pytest.mark.parametrize("url", [
    "ftp://hooks.example.com/", "gopher://hooks.example.com/", "file:///etc/passwd",
    "hooks.example.com/in", "http:///in", "https://", "", "   ", None,
])
def test_only_http_and_https_urls_with_a_host_are_allowed(app_ctx, dns, url):
    resolver = dns({"hooks.example.com": ["93.184.216.34"]})
    assert refusal(url) == ONLY_HTTP
    assert refusal(url, allow_private=True) == ONLY_HTTP
    assert resolver.calls == []


@pytest.mark.parametrize("answer", [
    socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
    UnicodeError("label empty or too long"),
    [],  # an empty answer
])
def test_a_host_that_does_not_resolve_is_refused(app_ctx, dns, answer):
    dns({"hooks.example.com": answer})
    assert refusal("https://hooks.example.com/") == NO_RESOLVE
    assert refusal("https://hooks.example.com/", allow_private=True) == NO_RESOLVE


def test_a_host_name_idna_cannot_encode_does_not_resolve(app_ctx):
    # The real resolver: a 64-character label fails to encode before any query.
    assert refusal(f"https://{'a' * 64}.example.com/") == NO_RESOLVE


def test_a_private_address_is_refused_by_default(app_ctx, dns):
    dns({"intranet": ["10.0.0.5"]})
    with pytest.raises(guard.RefusedURL) as caught:
        guard.check_url("http://intranet/hook")
    assert str(caught.value) == PRIVATE


def test_allow_private_lets_a_private_address_through(app_ctx, dns):
    dns({"intranet": ["10.0.0.5"], "localhost": ["::1", "127.0.0.1"]})
    assert guard.check_url("http://intranet/hook", allow_private=True) == guard.Target(
        "http", "intranet", 80, "10.0.0.5", "/hook")
    assert guard.check_url("http://localhost:8080", allow_private=True) == guard.Target(
        "http", "localhost", 8080, "::1", "/")


def test_one_forbidden_address_among_public_ones_refuses_the_url(app_ctx, dns):
    dns({"rebind.example.com": ["93.184.216.34", "1.1.1.1", "169.254.169.254"],
         "mixed6.example.com": ["2606:4700:4700::1111", "::ffff:127.0.0.1"]})
    assert refusal("https://rebind.example.com/") == PRIVATE
    assert refusal("https://mixed6.example.com/") == PRIVATE


def test_an_address_with_a_zone_id_is_judged_without_it_and_kept_for_the_connection(app_ctx, dns):
    dns({"linklocal.example.com": ["fe80::1%eth0"],
         "public6.example.com": ["2606:4700:4700::1111"]})
    assert refusal("https://linklocal.example.com/") == PRIVATE
    target = guard.check_url("https://linklocal.example.com/", allow_private=True)
    assert target.address == "fe80::1%eth0"
    assert guard.check_url("https://public6.example.com/").address == "2606:4700:4700::1111"


@pytest.mark.parametrize("address", ["127.0.0.1", "100.100.100.200", "224.0.0.1", "64:ff9b::7f00:1",
                                     "2002:7f00:1::", "fec0::1"])
def test_each_forbidden_class_is_refused_with_the_private_message(app_ctx, dns, address):
    dns({"hooks.example.com": [address]})
    assert refusal("https://hooks.example.com/") == PRIVATE
    assert guard.check_url("https://hooks.example.com/", allow_private=True).address == address


# signing -------------------------------------------------------------------------------

SECRET, TIMESTAMP, BODY = "whsec_test", 1700000000, '{"event":"ticket.created","id":7}'
EXPECTED = "sha256=" + hmac.new(b"whsec_test", b'1700000000.{"event":"ticket.created","id":7}',
                                hashlib.sha256).hexdigest()


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    assert signing.signature(SECRET, TIMESTAMP, BODY) == EXPECTED
    assert signing.signature(SECRET, TIMESTAMP, "") == "sha256=" + hmac.new(
        b"whsec_test", b"1700000000.", hashlib.sha256).hexdigest()
    # each part counts
    assert signing.signature("other", TIMESTAMP, BODY) != EXPECTED
    assert signing.signature(SECRET, TIMESTAMP + 1, BODY) != EXPECTED
    assert signing.signature(SECRET, TIMESTAMP, BODY + " ") != EXPECTED


def test_the_headers_carry_type_event_delivery_timestamp_and_signature():
    assert signing.headers(SECRET, TIMESTAMP, BODY, "ticket.created", 42) == {
        "Content-Type": "application/json",
        "X-Support-Event": "ticket.created",
        "X-Support-Delivery": "42",
        "X-Support-Timestamp": "1700000000",
        "X-Support-Signature": EXPECTED,
    }
