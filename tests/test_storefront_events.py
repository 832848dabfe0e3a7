"""GET /storefront.js and POST /storefront/events: a browser's report is checked at the edge and stored once;
anything wrong with it is refused and stores nothing."""

from __future__ import annotations

import hashlib
import http.client
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import delete, select

from connector import create_app
from connector.campaigns import directory, reports
from connector.db import transaction
from connector.errors import MalformedPayload
from standins.live_server import LiveServer
from connector.models import Event, Store

from .conftest import SHOP

ORIGIN = f"https://{SHOP}"
PROOF = "4e1d7c9b2a6f83e0d5b4c1a7f9e2d306"
SCRIPT = Path(__file__).resolve().parents[1] / "connector" / "web" / "static" / "storefront.js"


def report(**fields) -> dict:
    """A purchase report as the web pixel sends it (the order id as Shopify's global id)."""
    at = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"v": 1, "store": SHOP, "kind": "purchase", "order_id": "gid://shopify/OrderIdentity/820982911946154508",
            "proof": PROOF, "touches": [{"ref": "bob", "click_id": None, "at": at}]}
    body.update(fields)
    return body


def post_report(client, body, *, origin: str | None = ORIGIN, address: str = "198.51.100.1"):
    """POST it as the scripts do: text/plain (no CORS preflight), from the store's page."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "text/plain;charset=UTF-8"}
    if origin is not None:
        headers["Origin"] = origin
    return client.post("/storefront/events", data=data, headers=headers, environ_base={"REMOTE_ADDR": address})


def stored(sessions) -> list[Event]:
    with sessions() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


# -- the script ------------------------------------------------------------------------------------


def test_the_script_is_served_as_cacheable_javascript(client):
    answer = client.get("/storefront.js")
    assert answer.status_code == 200
    assert answer.mimetype in ("application/javascript", "text/javascript")
    assert answer.data == SCRIPT.read_bytes()
    cache = {part.strip() for part in answer.headers["Cache-Control"].split(",")}
    assert "public" in cache and "no-store" not in cache
    assert int(next(p for p in cache if p.startswith("max-age=")).split("=")[1]) > 0
    # every store's pages load it from here
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


# -- accepted --------------------------------------------------------------------------------------


def test_a_purchase_report_from_the_stores_origin_is_stored_with_the_proof_only_hashed(client, sessions, store):
    body = report()
    answer = post_report(client, body)
    assert answer.status_code == 202
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN and "Origin" in answer.headers["Vary"]
    assert answer.json == {"status": "accepted"}

    [event] = stored(sessions)
    assert (event.topic, event.store_id, event.platform, event.status) == (
        "storefront/purchase", store.id, "shopify", "pending")
    kept = json.loads(event.body)
    assert kept["proof_sha256"] == hashlib.sha256(PROOF.encode()).hexdigest()
    assert PROOF.encode() not in event.body and PROOF not in event.delivery_id
    assert "proof" not in kept
    assert kept["order_id"] == "820982911946154508"  # the global id's number, as order webhooks name it
    assert [(t["ref"], t["click_id"]) for t in kept["touches"]] == [("bob", None)]
    assert datetime.fromisoformat(kept["touches"][0]["at"]) == datetime.fromisoformat(
        body["touches"][0]["at"].replace("Z", "+00:00"))


def test_the_same_report_twice_is_stored_once_and_answered_alike(client, sessions, store):
    first = post_report(client, report())
    again = post_report(client, report())
    assert (again.status_code, again.json) == (first.status_code, first.json) == (202, {"status": "accepted"})
    assert len(stored(sessions)) == 1
    # a report that differs (another order) is another event
    assert post_report(client, report(order_id="1002")).status_code == 202
    assert len(stored(sessions)) == 2


def test_a_signup_report_is_stored_under_its_own_topic(client, sessions, store):
    answer = post_report(client, report(kind="signup", order_id=None, proof=None, customer_id="gid://shopify/Customer/7001",
                                        email_sha256=hashlib.sha256(b"bob@example.com").hexdigest()))
    assert answer.status_code == 202
    [event] = stored(sessions)
    assert event.topic == "storefront/signup" and json.loads(event.body)["customer_id"] == "7001"


def test_shopifys_pixel_sandbox_origin_null_is_accepted(client, sessions, store):
    answer = post_report(client, report(), origin="null")
    assert answer.status_code == 202 and answer.headers["Access-Control-Allow-Origin"] == "null"
    assert len(stored(sessions)) == 1


def test_a_shopify_stores_own_storefront_domain_is_accepted(client, sessions, store):
    with transaction(sessions) as session:
        session.get(Store, store.id).storefront_url = "https://www.Scarves.example/en/"
    assert post_report(client, report(), origin="https://www.scarves.example").status_code == 202
    assert post_report(client, report(order_id="2"), origin="https://WWW.SCARVES.EXAMPLE").status_code == 202
    assert len(stored(sessions)) == 2


@pytest.fixture
def woo_store(sessions, settings):
    with transaction(sessions) as session:
        return directory.add_store(session, settings.secret_key, "woocommerce", "https://Shop.example/wp/",
                                   access_token="ck_x:cs_y", webhook_secret="s3cret")


def test_a_woocommerce_report_comes_from_the_store_urls_origin(client, sessions, woo_store):
    body = report(store="https://shop.example/wp", order_id="5123", proof="wc_order_q7FzK2mWn4xLp")
    answer = post_report(client, body, origin="https://shop.example")
    assert answer.status_code == 202
    [event] = stored(sessions)
    assert event.topic == "storefront/purchase" and event.platform == "woocommerce"
    assert b"wc_order_q7FzK2mWn4xLp" not in event.body
    # the sandbox origin is Shopify's only
    refused = post_report(client, report(store="https://shop.example/wp", order_id="5124"), origin="null")
    assert refused.status_code == 202 and "Access-Control-Allow-Origin" not in refused.headers
    assert len(stored(sessions)) == 1


def test_a_cors_preflight_is_answered_for_the_origin(client, store):
    answer = client.options("/storefront/events", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]


# -- refused: nothing stored ----------------------------------------------------------------------


def test_a_report_over_8_kib_is_refused_with_413(client, sessions, store):
    body = json.dumps(report()).encode()
    exactly = body[:-1] + b" " * (reports.MAX_REPORT_BYTES - len(body)) + b"}"
    assert len(exactly) == 8192
    assert post_report(client, exactly + b" ").status_code == 413
    assert post_report(client, b"x" * 100_000).status_code == 413
    assert stored(sessions) == []
    assert post_report(client, exactly).status_code == 202  # the limit itself is allowed


def test_a_chunked_report_over_8_kib_is_refused_too(settings, engine, sessions, store):
    # No Content-Length to check up front: the body itself is read only up to the limit.
    server = LiveServer().start(create_app(settings, engine=engine))
    try:
        connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=5)
        chunks = [b'{"v":1,"pad":"' + b"a" * 4000, b"a" * 5000 + b'"}']
        connection.request("POST", "/storefront/events", body=iter(chunks), encode_chunked=True,
                           headers={"Origin": ORIGIN, "Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
        assert connection.getresponse().status == 413
        connection.close()
    finally:
        server.stop()
    assert stored(sessions) == []


@pytest.mark.parametrize("raw", [b"", b"not json", b"{", b"\xff\xfe\x00garbage", b"[" * 8000, b"null", b"[]",
                                 b'"a string"', b"1" * 5000])
def test_a_report_that_is_not_a_json_object_is_a_400(client, sessions, store, raw):
    answer = post_report(client, raw)
    assert answer.status_code == 400 and answer.json["error"]["code"] == "malformed_report"
    assert stored(sessions) == []


LATE = "2026-01-01T00:00:00Z"
WRONG_SHAPES = {
    "no version": {"v": None},
    "another version": {"v": 2},
    "missing proof": {"proof": None},
    "empty proof": {"proof": ""},
    "missing order id": {"order_id": None},
    "order id not an id": {"order_id": "12/../34"},
    "proof not a string": {"proof": {"token": "x"}},
    "unknown kind": {"kind": "refund"},
    "no kind": {"kind": None},
    "missing store": {"store": None},
    "too many touches": {"touches": [{"ref": f"r{i}", "at": LATE} for i in range(reports.MAX_TOUCHES + 1)]},
    "touches not a list": {"touches": {"ref": "bob", "at": LATE}},
    "touch not an object": {"touches": ["bob"]},
    "bad ref": {"touches": [{"ref": "not a tracking id!", "at": LATE}]},
    "ref too long": {"touches": [{"ref": "a" * 101, "at": LATE}]},
    "no ref": {"touches": [{"click_id": "ck_0123456789abcdef", "at": LATE}]},
    "no time": {"touches": [{"ref": "bob"}]},
    "a time without zone": {"touches": [{"ref": "bob", "at": "2026-01-01T00:00:00"}]},
    "a time before year 1 in UTC": {"touches": [{"ref": "bob", "at": "0001-01-01T00:00:00+01:00"}]},
    "not a time": {"touches": [{"ref": "bob", "at": "yesterday"}]},
    "a lone surrogate in the proof": {"proof": "\ud800"},
    "a lone surrogate in the store": {"store": "https://shop.example/\udc00"},
    "signup without customer": {"kind": "signup", "order_id": None, "proof": None},
    "email hash not a hash": {"kind": "signup", "customer_id": None, "email_sha256": "bob@example.com"},
}


@pytest.mark.parametrize("fields", WRONG_SHAPES.values(), ids=WRONG_SHAPES.keys())
def test_a_report_of_the_wrong_shape_is_a_400(client, sessions, store, fields):
    body = json.dumps(report(**fields)).encode()  # json.dumps writes a lone surrogate as the escape \ud800
    answer = post_report(client, body)
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["code"] == "malformed_report"
    assert stored(sessions) == []


def _answer(response) -> tuple:
    return response.status_code, response.json, response.headers.get("Access-Control-Allow-Origin")


def test_an_unknown_store_gets_the_answer_a_held_one_would_and_nothing_is_kept(client, sessions, store):
    """Nobody can tell from the answers which stores the connector holds."""
    held = _answer(post_report(client, report(), origin=ORIGIN))
    again = _answer(post_report(client, report(), origin=ORIGIN))  # a duplicate: answered alike too
    held_refused = _answer(post_report(client, report(), origin="https://evil.example"))
    assert again == held
    with transaction(sessions) as session:
        session.execute(delete(Event))
    for name, own_origin in (("other-shop.myshopify.com", "https://other-shop.myshopify.com"),
                             ("https://shop.example", "https://shop.example")):
        assert _answer(post_report(client, report(store=name), origin=own_origin)) == (
            held[0], held[1], own_origin)
        assert _answer(post_report(client, report(store=name), origin="https://evil.example")) == held_refused
    assert _answer(post_report(client, report(store="not a store"), origin=ORIGIN)) == held_refused
    assert stored(sessions) == []


def test_a_store_that_is_gone_keeps_nothing(client, sessions, store):
    with transaction(sessions) as session:
        session.get(Store, store.id).status = "uninstalled"
    assert post_report(client, report()).status_code == 202
    assert stored(sessions) == []


@pytest.mark.parametrize("origin", ["https://evil.example", "https://test-shop.myshopify.com.evil.example",
                                    "http://test-shop.myshopify.com", "https://other-shop.myshopify.com"])
def test_a_report_from_another_origin_is_kept_nowhere_and_unreadable_there(client, sessions, store, origin):
    answer = post_report(client, report(), origin=origin)
    # The same 202 as a kept report (a refusal would tell which stores are held), without CORS headers: the
    # other page cannot even read it.
    assert answer.status_code == 202 and "Access-Control-Allow-Origin" not in answer.headers
    assert stored(sessions) == []


def test_a_report_without_an_origin_is_kept_nowhere(client, sessions, store):
    answer = post_report(client, report(), origin=None)
    assert answer.status_code == 202 and "Access-Control-Allow-Origin" not in answer.headers
    assert stored(sessions) == []


def test_reports_beyond_the_rate_limit_are_a_429(settings, engine, sessions, store):
    app = create_app(settings.with_overrides(report_rate_per_minute=3), engine=engine)
    client = app.test_client()
    for order_id in ("1", "2", "3"):
        assert post_report(client, report(order_id=order_id)).status_code == 202
    answer = post_report(client, report(order_id="4"))
    assert answer.status_code == 429 and answer.json["error"]["code"] == "rate_limited"
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN  # the page may see why
    assert sorted(json.loads(e.body)["order_id"] for e in stored(sessions)) == ["1", "2", "3"]
    # the limit is per address: another shopper is not held back
    assert post_report(client, report(order_id="5"), address="198.51.100.2").status_code == 202
    assert len(stored(sessions)) == 4


# -- parse_report, property-tested -------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
# Near misses of a valid report: every field the parser reads, each a valid value or any JSON value.
fields = {
    "v": st.just(1) | json_values,
    "kind": st.sampled_from(["purchase", "signup"]) | json_values,
    "store": st.just(SHOP) | json_values,
    "order_id": st.sampled_from(["1", "gid://shopify/OrderIdentity/42", "gid://shopify/Order/"]) | json_values,
    "proof": st.text(min_size=1, max_size=30) | json_values,
    "customer_id": st.sampled_from(["7", "gid://shopify/Customer/7"]) | json_values,
    "email_sha256": st.just("a" * 64) | json_values,
    "touches": st.lists(st.fixed_dictionaries({}, optional={
        "ref": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", fullmatch=True) | json_values,
        "click_id": st.from_regex(r"ck_[0-9a-f]{8,40}", fullmatch=True) | json_values,
        "at": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | st.text(max_size=40) | json_values,
    }) | json_values, max_size=12) | json_values,
}
near_reports = st.fixed_dictionaries({}, optional=fields)


def _parse_or_malformed(raw: bytes):
    try:
        parsed = reports.parse_report(raw, NOW)
    except MalformedPayload:
        return None
    # What the route does next with a parsed report must not fail either, and keeps no raw proof.
    kept = json.loads(parsed.canonical())
    assert "proof" not in kept
    assert kept["proof_sha256"] == (hashlib.sha256(parsed.proof.encode()).hexdigest() if parsed.proof else None)
    assert all(t.at <= NOW for t in parsed.touches)
    return parsed


@hypothesis_settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300))
@example(raw=b"[" * 8000)
@example(raw=b"{" * 8000)
@example(raw=b"\xef\xbb\xbf{}")
@example(raw=b'{"v":1,"kind":"purchase","store":"s","order_id":"1","proof":"p",'
             b'"touches":[{"ref":"a","at":"0001-01-01T00:00:00+01:00"}]}')
@example(raw=b'{"v":1,"kind":"purchase","store":"s","order_id":"1","proof":"\\ud800","touches":[]}')
def test_parse_report_raises_only_malformed_payload_for_any_bytes(raw):
    _parse_or_malformed(raw)


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.dictionaries(st.text(max_size=10), json_values, max_size=6) | near_reports)
@example(data={"v": 1, "kind": "purchase", "store": SHOP, "order_id": "1", "proof": "p",
               "touches": [{"ref": "a", "at": "9999-12-31T23:59:59-01:00"}]})
def test_parse_report_raises_only_malformed_payload_for_any_json_object(data):
    parsed = _parse_or_malformed(json.dumps(data).encode())
    if parsed is not None:
        assert parsed.kind in ("purchase", "signup") and len(parsed.touches) <= reports.MAX_TOUCHES
