"""Store URL normalisation and the safety check made before the connector calls a store.

No test touches real DNS: every check is given a fake resolver.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.woocommerce import adapter
from adapters.woocommerce.store_url import check_store_url, is_public, normalise_store_url
from connector.errors import UnsafeStoreUrl

PUBLIC_V4, PUBLIC_V6 = "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def resolver(*addresses: str):
    """A getaddrinfo stand-in answering with these addresses, recording what it was asked."""
    def resolve(host, port, *args, **kwargs):
        resolve.asked.append((host, port))
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port, 0, 0) if ":" in a else (a, port)) for a in addresses]
    resolve.asked = []
    return resolve


def echo(host, port, *args, **kwargs):
    """What getaddrinfo does with an IP literal: answers with it, no DNS involved."""
    host = host.strip("[]")
    return [(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]


def failing(host, port, *args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


# --- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize("given_url, expected", [
    ("shop.example", "https://shop.example"),
    ("https://Shop.Example/", "https://shop.example"),
    ("  shop.example/  ", "https://shop.example"),
    ("https://shop.example/wp/", "https://shop.example/wp"),
    ("shop.example/wp", "https://shop.example/wp"),
    ("HTTPS://SHOP.EXAMPLE/Store/", "https://shop.example/Store"),  # paths keep their case
    ("https://shop.example:443/", "https://shop.example"),
    ("http://shop.example:80", "http://shop.example"),
    ("https://shop.example:8443/wp", "https://shop.example:8443/wp"),
    ("http://shop.example:443", "http://shop.example:443"),
    ("http://127.0.0.1:8123/site-a/", "http://127.0.0.1:8123/site-a"),
    ("https://shop.example/?utm_source=x#top", "https://shop.example"),
    ("https://shop.example.", "https://shop.example"),
    ("https://bücher.example/", "https://xn--bcher-kva.example"),
    ("https://BÜCHER.example", "https://xn--bcher-kva.example"),
    ("https://[2001:DB8::1]:8443/", "https://[2001:db8::1]:8443"),
    ("https://shop.example/boutique-été", "https://shop.example/boutique-%C3%A9t%C3%A9"),
    ("shop.example:8080", "https://shop.example:8080"),
])
def test_normalise_store_url(given_url, expected):
    assert normalise_store_url(given_url) == expected
    assert adapter.normalise_store_key(given_url) == expected


@pytest.mark.parametrize("value", [
    "", "   ", "shop example", "https://shop .example", "https://shop.exa\tmple", "https://shop.example/a b",
    "ftp://shop.example", "javascript:alert(1)", "file:///etc/passwd", "https://", "https:///wp",
    "https://user:pw@shop.example", "https://user@shop.example", "https://@shop.example",
    "https://shop.example:99999", "https://shop.example:abc", "https://[::1", "https://[not-an-ip]/",
    "https://-shop.example", "https://shop-.example", "https://shop!.example", "https://shop.example/../admin",
    "https://2130706433", "https://0x7f.1", "https://127.1", "https://" + "a" * 64 + ".example",
    "https://shop.example/" + "p" * 300, None, 12,
])
def test_not_a_store_url(value):
    assert normalise_store_url(value) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_normalisation_is_idempotent_on_any_text(value):
    once = normalise_store_url(value)
    assert once is None or normalise_store_url(once) == once


host_labels = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["", "https://", "http://", "HTTPS://"]),
    labels=st.lists(host_labels, min_size=1, max_size=3),
    tld=st.sampled_from(["example", "test", "shop", "xn--p1ai"]),
    port=st.none() | st.integers(min_value=1, max_value=65535),
    segments=st.lists(st.from_regex(r"[a-zA-Z0-9_~-]{1,8}", fullmatch=True), max_size=3),
    slash=st.booleans(),
    query=st.sampled_from(["", "?a=1", "#x", "?ref=alice#top"]),
)
def test_normalisation_of_urls_is_idempotent_and_ignores_case_and_trailing_slash(scheme, labels, tld, port, segments,
                                                                                 slash, query):
    host = ".".join(labels + [tld])
    path = "".join("/" + s for s in segments)
    url = f"{scheme}{host}{'' if port is None else f':{port}'}{path}{'/' if slash else ''}{query}"
    once = normalise_store_url(url)
    assert once is not None
    assert normalise_store_url(once) == once
    assert normalise_store_url(url.replace(host, host.upper())) == once
    assert once.endswith(path) and not once.endswith("/")


# --- the safety check ----------------------------------------------------------------------------


def test_https_store_on_public_addresses_is_accepted():
    resolve = resolver(PUBLIC_V4, PUBLIC_V6)
    check_store_url("https://shop.example/wp", allow_private=False, resolve=resolve)
    assert resolve.asked == [("shop.example", 443)]


def test_the_store_port_is_resolved():
    resolve = resolver(PUBLIC_V4)
    check_store_url("https://shop.example:8443", allow_private=False, resolve=resolve)
    assert resolve.asked == [("shop.example", 8443)]


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.1.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fec0::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:a00:1::1", "2001:db8::1",
])
def test_ip_literal_that_is_not_public_is_refused(address):
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsafeStoreUrl, match="not a public address"):
        check_store_url(f"https://{literal}/", allow_private=False, resolve=echo)


def test_hostname_resolving_to_a_private_address_is_refused():
    with pytest.raises(UnsafeStoreUrl, match=r"shop\.example resolves to 10\.1\.2\.3"):
        check_store_url("https://shop.example", allow_private=False, resolve=resolver("10.1.2.3"))


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(UnsafeStoreUrl, match="169.254.169.254"):
        check_store_url("https://shop.example", allow_private=False, resolve=resolver(PUBLIC_V4, "169.254.169.254"))


def test_scoped_link_local_address_is_refused():
    with pytest.raises(UnsafeStoreUrl, match="fe80::1"):
        check_store_url("https://shop.example", allow_private=False, resolve=resolver("fe80::1%eth0"))


def test_plain_http_is_refused_unless_private_stores_are_allowed():
    with pytest.raises(UnsafeStoreUrl, match="https"):
        check_store_url("http://shop.example", allow_private=False, resolve=resolver(PUBLIC_V4))
    check_store_url("http://127.0.0.1:8123/site-a", allow_private=True, resolve=failing)  # not even resolved


def test_allow_private_skips_the_address_check():
    resolve = resolver("10.0.0.1")
    check_store_url("https://shop.internal", allow_private=True, resolve=resolve)
    assert resolve.asked == []


def test_name_that_does_not_resolve_is_refused():
    with pytest.raises(UnsafeStoreUrl, match="cannot resolve shop.example"):
        check_store_url("https://shop.example", allow_private=False, resolve=failing)
    with pytest.raises(UnsafeStoreUrl, match="cannot resolve"):
        check_store_url("https://shop.example", allow_private=False, resolve=resolver())


@pytest.mark.parametrize("url", ["", "ftp://shop.example", "https://user:pw@shop.example"])
@pytest.mark.parametrize("allow_private", [False, True])
def test_invalid_url_is_refused_either_way(url, allow_private):
    with pytest.raises(UnsafeStoreUrl, match="not a valid store URL"):
        check_store_url(url, allow_private=allow_private, resolve=resolver(PUBLIC_V4))


@pytest.mark.parametrize("address", [PUBLIC_V4, "8.8.8.8", PUBLIC_V6, "::ffff:93.184.215.14"])
def test_public_addresses(address):
    assert is_public(ipaddress.ip_address(address))
