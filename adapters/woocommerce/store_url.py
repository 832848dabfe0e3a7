"""WooCommerce store URLs: one canonical form to keep stores under, and the check made before calling one.

A WooCommerce store is identified by its home URL (`X-WC-Webhook-Source` is `home_url('/')`), which may
sit under a path (`https://shop.example/wp`). The merchant types it at install, so it arrives in every
shape; `normalise_store_url` turns all of them into one string. The connector then calls that URL
(REST keys, webhooks), so `check_store_url` refuses anything that would make the connector call into
its own network: plain http, or a host that resolves to a loopback, private, link-local (cloud
metadata at 169.254.169.254) or otherwise non-public address. Only a stand-in store on this machine
(settings.woocommerce_allow_private) skips that.

The check resolves the name once, before the calls; it does not pin the address the HTTP client then
connects to, so a DNS answer that changes in between (rebinding) is not caught here. Calls are made
without following redirects (rest_api), so a redirect cannot lead around the check.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Callable
from urllib.parse import quote, urlsplit

from connector import outbound
from connector.errors import UnsafeStoreUrl

DEFAULT_PORTS = {"https": 443, "http": 80}
SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")
LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
MAX_URL = 255  # the width of stores.domain
# Characters a path may keep as they are; anything else (non-ASCII, quotes, ...) is percent-encoded.
PATH_SAFE = "/%:@!$&'()*+,;=-._~"
# Shared address space (carrier-grade NAT): not "private" to ipaddress, not public either.
SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def normalise_store_url(value: str) -> str | None:
    """`Shop.Example/wp/` → `https://shop.example/wp`; None when it is not a usable store URL.

    https is assumed without a scheme; scheme and host are lower-cased (non-ASCII hosts IDNA-encoded),
    the default port, query, fragment and trailing slash are dropped. URLs with credentials are refused.
    """
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    if not SCHEME.match(value):
        value = "https://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # a bad port or a broken [IPv6] literal
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or "@" in parts.netloc or not parts.hostname:
        return None
    host = _host(parts.hostname, bracketed="[" in parts.netloc)
    if host is None:
        return None
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _path(parts.path)
    if path is None:
        return None
    url = f"{scheme}://{netloc}{path}"
    return url if len(url) <= MAX_URL else None


def _host(hostname: str, *, bracketed: bool) -> str | None:
    if bracketed:
        try:
            return f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            return None
    hostname = hostname.rstrip(".")
    try:
        return str(ipaddress.IPv4Address(hostname))
    except ValueError:
        pass
    try:
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = host.split(".")
    if len(host) > 253 or not all(LABEL.fullmatch(label) for label in labels):
        return None
    # A numeric last label is no domain name; resolvers would read `2130706433` or `0x7f.1` as addresses.
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        return None
    return host


def _path(path: str) -> str | None:
    segments = path.split("/")
    if any(segment in (".", "..") for segment in segments):
        return None
    return quote(path, safe=PATH_SAFE).rstrip("/")


def check_store_url(url: str, *, allow_private: bool, resolve: Callable[..., list] | None = None) -> None:
    """Raise UnsafeStoreUrl unless the connector may call this store URL.

    It must be https and every address its host resolves to must be public; `allow_private` (a stand-in
    store on this machine) lifts both rules. `resolve` is a stand-in for `socket.getaddrinfo`; by default
    the name is resolved under a deadline (connector.outbound.resolve), so a slow resolver holds nobody.
    """
    resolve = resolve or outbound.resolve
    canonical = normalise_store_url(url)
    if canonical is None:
        raise UnsafeStoreUrl(f"{url!r} is not a valid store URL")
    if allow_private:
        return
    parts = urlsplit(canonical)
    if parts.scheme != "https":
        raise UnsafeStoreUrl(f"{canonical} does not use https: the REST keys would travel in the clear")
    host = parts.hostname or ""
    try:
        answers = resolve(host, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise UnsafeStoreUrl(f"cannot resolve {host}: {exc}") from None
    if not answers:
        raise UnsafeStoreUrl(f"cannot resolve {host}: no address")
    for *_ignored, sockaddr in answers:
        address = str(sockaddr[0]).split("%", 1)[0]  # an IPv6 scope id (fe80::1%eth0) is not part of the address
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise UnsafeStoreUrl(f"{host} resolved to something that is not an address: {address!r}") from None
        if not is_public(parsed):
            raise UnsafeStoreUrl(f"{host} resolves to {parsed}, which is not a public address")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for an address on the public internet; IPv4 carried inside IPv6 is judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address.is_site_local:
            return False
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED_SPACE:
        return False
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
