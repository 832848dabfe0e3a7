"""Shopify's bulk JSONL file (adapters/shopify/bulk_file.py): put back together whatever order its child lines come
in after their parents (hypothesis), refused whole when a line is not what it should be; downloaded in ranged
pieces within a cap, from https only, never following a redirect and never carrying the shop's token.
Outbound HTTP is faked with `responses`."""

from __future__ import annotations

import io
import json
import re

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.shopify import bulk_file
from connector.errors import PlatformError

URL = "https://storage.googleapis.com/shopify-tiers-assets-prod/bulk/file.jsonl?X-Goog-Signature=abc"


def _order(n: int, lines: int, refunds: int) -> tuple[dict, list[dict]]:
    """An order's own line and its children's, as Shopify writes them with groupObjects false."""
    order_id = f"gid://shopify/Order/{n}"
    refund_ids = [f"gid://shopify/Refund/{n}{r}" for r in range(refunds)]
    own = {"id": order_id, "legacyResourceId": str(n), "refunds": [{"id": rid, "legacyResourceId": rid[-3:]}
                                                                   for rid in refund_ids]}
    children = [{"__typename": "LineItem", "id": f"gid://shopify/LineItem/{n}{i}", "quantity": i + 1,
                 "__parentId": order_id} for i in range(lines)]
    for rid in refund_ids:
        children.append({"__typename": "RefundLineItem", "quantity": 1, "__parentId": rid})
        children.append({"__typename": "OrderAdjustment", "reason": "RESTOCK", "__parentId": rid})
    return own, children


orders_strategy = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)), min_size=0, max_size=8)


@settings(max_examples=60, deadline=None)
@given(shape=orders_strategy, data=st.data())
def test_children_anywhere_after_their_parent_are_put_back(shape, data):
    built = [_order(1000 + i, lines, refunds) for i, (lines, refunds) in enumerate(shape)]
    # Each order's line in order; each child somewhere after its parent, children of different orders interleaved.
    lines: list[dict] = []
    pending: list[dict] = []
    for own, children in built:
        lines.append(own)
        pending.extend(children)
        take = data.draw(st.integers(0, len(pending)))
        shuffled = data.draw(st.permutations(pending))
        lines.extend(shuffled[:take])
        pending = list(shuffled[take:])
    lines.extend(pending)
    file = io.BytesIO("".join(json.dumps(line) + "\n" for line in lines).encode())
    assembled = list(bulk_file.orders(file))
    assert [o["id"] for o in assembled] == [own["id"] for own, _ in built]
    for order, (own, children) in zip(assembled, built):
        items = order["lineItems"]
        assert items["pageInfo"] == {"hasNextPage": False}
        assert sorted(i["quantity"] for i in items["nodes"]) == sorted(c["quantity"] for c in children
                                                                       if c["__typename"] == "LineItem")
        assert all("__parentId" not in i and "__typename" not in i for i in items["nodes"])
        for refund in order["refunds"]:
            assert len(refund["refundLineItems"]["nodes"]) == 1 and len(refund["orderAdjustments"]["nodes"]) == 1


@pytest.mark.parametrize("text, problem", [
    ('{"id": "gid://shopify/Order/1"}\nnot json\n', "line 2 of Shopify's bulk file is not JSON"),
    ('[1, 2]\n', "not an object"),
    ('{"__typename": "LineItem", "__parentId": "gid://shopify/Order/9"}\n', "names a parent not before it"),
    ('{"id": "gid://shopify/Order/1"}\n{"id": "gid://shopify/Order/1"}\n', "without an id of its own"),
    ('{"id": "gid://shopify/Order/1"}\n{"__typename": "Mystery", "__parentId": "gid://shopify/Order/1"}\n',
     "unknown list"),
])
def test_a_file_that_is_not_what_shopify_writes_is_refused_whole(text, problem):
    with pytest.raises(PlatformError, match=re.escape(problem)):
        list(bulk_file.orders(io.BytesIO(text.encode())))


def test_a_line_over_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr(bulk_file, "MAX_LINE_BYTES", 100)
    with pytest.raises(PlatformError, match="over 100 bytes"):
        list(bulk_file.orders(io.BytesIO(b'{"id": "gid://shopify/Order/1", "x": "' + b"a" * 200 + b'"}\n')))


def _ranged(body: bytes):
    def answer(request):
        assert "X-Shopify-Access-Token" not in request.headers and "Authorization" not in request.headers
        start, end = map(int, re.fullmatch(r"bytes=(\d+)-(\d+)", request.headers["Range"]).groups())
        if start >= len(body):
            return 416, {}, b""
        piece = body[start:end + 1]
        return 206, {"Content-Range": f"bytes {start}-{start + len(piece) - 1}/{len(body)}"}, piece
    return answer


@responses.activate
def test_the_file_is_read_in_ranged_pieces_into_the_sink():
    body = b"".join(json.dumps({"id": f"gid://shopify/Order/{n}"}).encode() + b"\n" for n in range(50))
    responses.add_callback(responses.GET, URL.split("?")[0], callback=_ranged(body))
    sink = io.BytesIO()
    calls = bulk_file.download(URL, sink, size=len(body), piece=300)
    assert sink.getvalue() == body and calls == -(-len(body) // 300)
    assert len(list(bulk_file.orders(sink))) == 50


@responses.activate
def test_a_file_over_the_cap_is_not_read():
    with pytest.raises(PlatformError, match="a backfill reads at most 100"):
        bulk_file.download(URL, io.BytesIO(), size=101, max_bytes=100)
    responses.add_callback(responses.GET, URL.split("?")[0], callback=_ranged(b"x" * 250))
    with pytest.raises(PlatformError, match="over 200 bytes"):
        bulk_file.download(URL, io.BytesIO(), max_bytes=200, piece=100)


@responses.activate
def test_a_server_ignoring_the_range_with_more_than_a_piece_is_refused():
    responses.add(responses.GET, URL.split("?")[0], body=b"y" * 500, status=200)
    with pytest.raises(PlatformError, match="could not be read at byte 0"):
        bulk_file.download(URL, io.BytesIO(), piece=100)


@responses.activate
def test_a_redirect_is_not_followed():
    responses.add(responses.GET, URL.split("?")[0], status=302, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(PlatformError, match="answered 302"):
        bulk_file.download(URL, io.BytesIO())
    assert len(responses.calls) == 1


@pytest.mark.parametrize("url", ["http://storage.example/file.jsonl", "ftp://x/y", "https:///nohost", "file:///etc/passwd"])
def test_only_https_or_loopback_is_fetched(url):
    with pytest.raises(PlatformError, match="not fetched|cannot be read"):
        bulk_file.check_url(url)
    assert bulk_file.check_url("http://127.0.0.1:5000/bulk-files/x.jsonl")
