"""A bulk operation's JSONL file: downloaded within the connector's outbound limits, then read back order by order.

**Download.** The file can be hundreds of megabytes, more than any one answer may be read into memory
(connector.outbound reads an answer whole, up to its cap). It is read in ranged pieces (`Range: bytes=a-b`, which
Shopify's storage answers 206), each an ordinary bounded call (a total deadline, PIECE_BYTES at most, no redirect,
no proxy, no cookie), into a temporary file on disk, never more than MAX_FILE_BYTES in all. Nothing of the shop's
credentials goes with it: the URL is signed by itself. Only https is fetched (a loopback address excepted: the
stand-in). A server that ignores the range and sends more than a piece is refused rather than read.

**Reading.** With groupObjects false, Shopify writes every node of a nested connection as a line of its own
carrying `__parentId`, after its parent but not necessarily next to it (PLATFORMS-2.md E; shopify-api-ruby
#729). The file is indexed once (where each order's line and each of its descendants' lines are: a few ints per
line, not the lines), then each order is put back together as the reconciliation node normalise_graphql reads:
its connections as `{"nodes": [...], "pageInfo": {"hasNextPage": false}}` (a bulk read is never cut). Which list a
child belongs in is its `__typename`. A line that is not a JSON object, names no known parent, or is over
MAX_LINE_BYTES is a PlatformError naming its line number: the file is not used at all.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import IO, Iterator
from urllib.parse import urlsplit

import requests

from connector import outbound
from connector.errors import PlatformError

#: the most a backfill downloads: about 300,000 orders of a few lines each
MAX_FILE_BYTES = 1024 * 1024 * 1024
#: one ranged read: the most one call reads into memory (a shop of 10,000 orders is one piece)
PIECE_BYTES = 32 * 1024 * 1024
#: one piece's total deadline (32 MiB at 280 KB/s); the file is never waited for as a whole
PIECE_SECONDS = 120.0
MAX_LINE_BYTES = 1024 * 1024
#: which list of its parent a child line goes in, by its __typename
CHILD_LISTS = {"LineItem": "lineItems", "RefundLineItem": "refundLineItems", "OrderAdjustment": "orderAdjustments"}
#: the connections each parent has, so one with no child line still reads as an empty list
PARENT_LISTS = {"Order": ("lineItems",), "Refund": ("refundLineItems", "orderAdjustments")}
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
GID_KIND = re.compile(r"gid://shopify/([A-Za-z]+)/")


def check_url(url: str) -> str:
    """The file's URL if the connector may fetch it: https, or http to a loopback address (the stand-in)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise PlatformError("Shopify's bulk file URL cannot be read") from None
    if parts.scheme == "https" and host:
        return url
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and loopback:
        return url
    raise PlatformError(f"Shopify's bulk file is not at an https URL ({parts.scheme}://{host}): not fetched")


def download(url: str, sink: IO[bytes], *, size: int | None = None, max_bytes: int = MAX_FILE_BYTES,
             piece: int = PIECE_BYTES) -> int:
    """Write the file at `url` into `sink` in ranged pieces; the number of calls made. PlatformError on any trouble."""
    check_url(url)
    if size is not None and size > max_bytes:
        raise PlatformError(f"Shopify's bulk file is {size} bytes; a backfill reads at most {max_bytes}")
    session = outbound.thread_session("shopify-bulk", max_bytes=piece, deadline=PIECE_SECONDS)
    start, calls = 0, 0
    while True:
        calls += 1
        try:
            answer = session.get(url, headers={"Range": f"bytes={start}-{start + piece - 1}"}, max_bytes=piece,
                                 deadline=PIECE_SECONDS)
        except requests.RequestException as exc:
            raise PlatformError(f"Shopify's bulk file could not be read at byte {start}: {exc}") from None
        if answer.status_code == 416 and start > 0:
            return calls  # asked past the end: the file ended exactly at the last piece
        if answer.status_code not in (200, 206):
            raise PlatformError(f"Shopify's bulk file answered {answer.status_code} at byte {start}")
        body = answer.content
        if start + len(body) > max_bytes:
            raise PlatformError(f"Shopify's bulk file is over {max_bytes} bytes, the most a backfill reads")
        sink.write(body)
        if answer.status_code == 200:
            return calls  # the whole file, in one answer no longer than a piece
        total = _total(answer.headers.get("Content-Range", ""), start, len(body))
        start += len(body)
        if not body or (total is not None and start >= total) or len(body) < piece:
            return calls


def _total(header: str, start: int, length: int) -> int | None:
    match = CONTENT_RANGE.fullmatch(header.strip())
    if match is None or int(match.group(1)) != start or (length and int(match.group(2)) != start + length - 1):
        raise PlatformError(f"Shopify's bulk file answered a range other than the one asked for ({header!r})")
    return None if match.group(3) == "*" else int(match.group(3))


def _load(line: bytes, number: int) -> dict:
    if len(line) > MAX_LINE_BYTES:
        raise PlatformError(f"line {number} of Shopify's bulk file is over {MAX_LINE_BYTES} bytes")
    try:
        value = json.loads(line)
    except ValueError:
        raise PlatformError(f"line {number} of Shopify's bulk file is not JSON") from None
    if not isinstance(value, dict):
        raise PlatformError(f"line {number} of Shopify's bulk file is not an object")
    return value


def _kind(value: dict) -> str | None:
    match = GID_KIND.match(str(value.get("id") or ""))
    return match.group(1) if match else value.get("__typename")


def index(file: IO[bytes]) -> tuple[list[int], dict[str, list[int]]]:
    """(the offset of each order's line, in file order; each order's descendants' offsets, by the order's id)."""
    file.seek(0)
    orders: list[int] = []
    children: dict[str, list[int]] = {}
    root_of: dict[str, str] = {}  # an order's, or an inline refund's, id → the order's id
    offset, number = 0, 0
    for line in file:
        number += 1
        here, offset = offset, offset + len(line)
        if not line.strip():
            continue
        value = _load(line, number)
        parent = value.get("__parentId")
        if parent is None:
            order_id = value.get("id")
            if not isinstance(order_id, str) or order_id in root_of:
                raise PlatformError(f"line {number} of Shopify's bulk file is an order without an id of its own")
            orders.append(here)
            children[order_id] = []
            root_of[order_id] = order_id
            for refund in value.get("refunds") or []:
                if isinstance(refund, dict) and isinstance(refund.get("id"), str):
                    root_of[refund["id"]] = order_id
            continue
        root = root_of.get(parent) if isinstance(parent, str) else None
        if root is None:
            raise PlatformError(f"line {number} of Shopify's bulk file names a parent not before it ({parent!r})")
        children[root].append(here)
    return orders, children


def _line_at(file: IO[bytes], offset: int) -> dict:
    file.seek(offset)
    return _load(file.readline(MAX_LINE_BYTES + 1), -1)


def _empty_lists(value: dict) -> None:
    for name in PARENT_LISTS.get(_kind(value) or "", ()):
        value[name] = {"nodes": [], "pageInfo": {"hasNextPage": False}}


def assemble(order: dict, descendants: list[dict]) -> dict:
    """The order with each descendant line put in its parent's list (by __typename), as one node."""
    _empty_lists(order)
    parents = {order["id"]: order}
    for refund in order.get("refunds") or []:
        if isinstance(refund, dict) and isinstance(refund.get("id"), str):
            _empty_lists(refund)
            parents[refund["id"]] = refund
    for child in descendants:
        parent = parents.get(child.pop("__parentId"))
        name = CHILD_LISTS.get(child.pop("__typename", None) or "")
        if parent is None or name is None or name not in parent:
            raise PlatformError(f"Shopify's bulk file has a line of an unknown list under {order['id']}")
        parent[name]["nodes"].append(child)
    return order


def orders(file: IO[bytes]) -> Iterator[dict]:
    """Every order of the file, put back together, in file order."""
    offsets, children = index(file)
    for offset in offsets:
        order = _line_at(file, offset)
        yield assemble(order, [_line_at(file, at) for at in children[order["id"]]])
