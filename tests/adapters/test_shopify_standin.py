"""The Shopify stand-in behaves as PLATFORMS.md A1–A3 and A6 say Shopify does.

Time is a fake clock handed to the stand-in, so expiry is tested without sleeping. Signatures are
checked against the docs' own vectors and with the connector's webhook verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import graphql
import pytest
import requests

from adapters.shopify import normalise, normalise_graphql
from standins.shopify import samples
from standins.shopify.store import StandinShopify, query_hmac, webhook_signature
from standins.shopify.documents import fields
from standins.shopify.order_node import page_sizes, to_graphql_node
from adapters.shopify.verify import read_headers, verify
from connector.errors import BadSignature, MalformedPayload

API_KEY = "standin-api-key"
API_SECRET = "standin-api-secret-0123456789abcdef"  # 32+ bytes: PyJWT warns about shorter HMAC keys
SHOP = "wool-and-co.myshopify.com"
OTHER_SHOP = "other-shop.myshopify.com"
REDIRECT = "https://connector.example/shopify/callback"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
OFFLINE = "urn:shopify:params:oauth:token-type:offline-access-token"
DOCUMENTS = Path(__file__).resolve().parents[2] / "adapters" / "shopify" / "graphql"
START = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self, now: float = START):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shopify(clock):
    with StandinShopify(API_KEY, API_SECRET, token_lifetime=3600, refresh_token_lifetime=86400, clock=clock) as standin:
        yield standin


def url(standin: StandinShopify, path: str, shop: str = SHOP) -> str:
    return standin.admin_url.format(shop=shop) + path


def token_request(standin: StandinShopify, shop: str = SHOP, *, form: bool = False, **fields_) -> requests.Response:
    body = {"client_id": API_KEY, "client_secret": API_SECRET, **fields_}
    target = url(standin, "/admin/oauth/access_token", shop)
    return requests.post(target, data=body, timeout=5) if form else requests.post(target, json=body, timeout=5)


def authorize(standin: StandinShopify, shop: str = SHOP, **params) -> requests.Response:
    query = {"client_id": API_KEY, "scope": "read_orders,write_discounts", "redirect_uri": REDIRECT,
             "state": "nonce-123", **params}
    return requests.get(url(standin, "/admin/oauth/authorize", shop), params=query, allow_redirects=False, timeout=5)


def code_for(standin: StandinShopify, shop: str = SHOP) -> str:
    return dict(parse_qsl(urlsplit(authorize(standin, shop).headers["Location"]).query))["code"]


def grant(standin: StandinShopify, shop: str = SHOP, expiring: str = "1") -> dict:
    answer = token_request(standin, shop, code=code_for(standin, shop), expiring=expiring)
    assert answer.status_code == 200, answer.text
    return answer.json()


def gql(standin: StandinShopify, token: str, query: str, variables: dict | None = None,
        shop: str = SHOP) -> requests.Response:
    return requests.post(url(standin, "/admin/api/2026-10/graphql.json", shop),
                         json={"query": query, "variables": variables or {}},
                         headers={"X-Shopify-Access-Token": token}, timeout=5)


def document(name: str) -> str:
    return (DOCUMENTS / f"{name}.graphql").read_text()


# --- signatures against the docs' vectors ---------------------------------------------------------


def test_query_hmac_matches_the_docs_vectors():
    params = {"code": "0907a61c0c8d55e99db179b68161bc00", "shop": "some-shop.myshopify.com", "timestamp": "1337178173"}
    assert query_hmac(params, "hush") == "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
    params["state"] = "0.6784241404160823"
    assert query_hmac({**params, "hmac": "ignored"}, "hush") == \
        "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"


def test_webhook_signature_matches_the_docs_vector():
    assert webhook_signature(b'{"foo": "bar"}', "test_secret_key") == "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="


# --- OAuth ----------------------------------------------------------------------------------------


def test_authorize_redirects_to_the_callback_with_a_signed_query(shopify, clock):
    answer = authorize(shopify)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    params = dict(parse_qsl(location.query))
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert (params["shop"], params["state"], params["timestamp"]) == (SHOP, "nonce-123", str(int(clock.now)))
    host = params["host"]
    assert base64.b64decode(host + "=" * (-len(host) % 4)).decode() == f"{SHOP}/admin"
    # The docs' rule, written out here rather than through the stand-in's helper.
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    assert params["hmac"] == hmac.new(API_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert shopify.calls[-1].kind == "authorize" and shopify.calls[-1].shop == SHOP


def test_a_query_on_the_redirect_uri_is_kept_and_signed(shopify):
    location = authorize(shopify, redirect_uri=REDIRECT + "?from=admin").headers["Location"]
    params = dict(parse_qsl(urlsplit(location).query))
    assert params["from"] == "admin"
    assert params["hmac"] == query_hmac(params, API_SECRET)


def test_authorize_refuses_another_apps_client_id(shopify):
    answer = authorize(shopify, client_id="someone-else")
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_a_name_that_is_not_a_shop_domain_is_not_found(shopify):
    assert authorize(shopify, shop="evil.example.com").status_code == 404


@pytest.mark.parametrize("form, expiring", [(False, "1"), (False, 1), (True, "1")],
                         ids=["json string", "json integer", "form"])
def test_code_grant_with_expiring_tokens(shopify, form, expiring):
    answer = token_request(shopify, form=form, code=code_for(shopify), expiring=expiring)
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == ["access_token", "scope", "expires_in", "refresh_token", "refresh_token_expires_in"]
    assert body["access_token"].startswith("shpat_") and body["refresh_token"].startswith("shprt_")
    assert (body["scope"], body["expires_in"], body["refresh_token_expires_in"]) == ("read_orders,write_discounts", 3600, 86400)
    assert shopify.access_tokens(SHOP) == [body["access_token"]]
    assert shopify.calls[-1].detail == "authorization_code"


@pytest.mark.parametrize("expiring", [None, "0", 0])
def test_code_grant_without_expiring_gives_a_lasting_token(shopify, clock, expiring):
    fields_ = {} if expiring is None else {"expiring": expiring}
    body = token_request(shopify, code=code_for(shopify), **fields_).json()
    assert set(body) == {"access_token", "scope"}
    clock.now += 10 * 365 * 86400
    assert gql(shopify, body["access_token"], document("webhook_subscriptions")).status_code == 200


def test_a_code_is_single_use(shopify):
    code = code_for(shopify)
    assert token_request(shopify, code=code).status_code == 200
    again = token_request(shopify, code=code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert token_request(shopify, code="never-issued").status_code == 400


def test_a_code_belongs_to_its_shop(shopify):
    code = code_for(shopify, OTHER_SHOP)
    assert token_request(shopify, SHOP, code=code).status_code == 400
    assert token_request(shopify, OTHER_SHOP, code=code).status_code == 200


def test_wrong_client_credentials_are_refused_without_spending_the_code(shopify):
    code = code_for(shopify)
    answer = token_request(shopify, code=code, client_secret="wrong")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client"
    assert token_request(shopify, code=code, client_id="wrong").json()["error"] == "invalid_client"
    assert token_request(shopify, code=code).status_code == 200


def refresh(standin: StandinShopify, token: str) -> requests.Response:
    return token_request(standin, grant_type="refresh_token", refresh_token=token)


def test_refresh_rotates_and_the_previous_token_lasts_until_its_successor_is_used(shopify):
    first = grant(shopify)
    second = refresh(shopify, first["refresh_token"]).json()
    assert second["refresh_token"] not in (None, first["refresh_token"])
    assert second["access_token"] != first["access_token"] and second["expires_in"] == 3600
    assert gql(shopify, second["access_token"], document("webhook_subscriptions")).status_code == 200
    assert set(shopify.refresh_tokens(SHOP)) == {first["refresh_token"], second["refresh_token"]}

    third = refresh(shopify, second["refresh_token"]).json()
    assert set(shopify.refresh_tokens(SHOP)) == {second["refresh_token"], third["refresh_token"]}
    stale = refresh(shopify, first["refresh_token"])
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    assert refresh(shopify, "shprt_unknown").status_code == 400
    assert [c.detail for c in shopify.calls if c.kind == "token"] == [
        "authorization_code", "refresh_token", "refresh_token", "refresh_token", "refresh_token"]
    assert [c.token for c in shopify.calls if c.detail == "refresh_token"][:2] == [first["refresh_token"],
                                                                                 second["refresh_token"]]


def test_refresh_token_expires(shopify, clock):
    token = grant(shopify)["refresh_token"]
    clock.now += 86400
    assert refresh(shopify, token).status_code == 400


def test_refuse_refresh_revokes_until_switched_back(shopify):
    token = grant(shopify)["refresh_token"]
    shopify.refuse_refresh(SHOP)
    answer = refresh(shopify, token)
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": "refresh token revoked"}
    shopify.refuse_refresh(SHOP, refuse=False)
    assert refresh(shopify, token).status_code == 200


def exchange(standin: StandinShopify, subject_token: str, shop: str = SHOP, **extra) -> requests.Response:
    fields_ = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token, "expiring": "1",
               "subject_token_type": "urn:ietf:params:oauth:token-type:id_token", "requested_token_type": OFFLINE}
    return token_request(standin, shop, **{**fields_, **extra})


def test_token_exchange_of_a_good_session_token(shopify):
    answer = exchange(shopify, shopify.session_token(SHOP))
    assert answer.status_code == 200
    body = answer.json()
    assert body["expires_in"] == 3600 and body["refresh_token"].startswith("shprt_")
    assert gql(shopify, body["access_token"], document("webhook_subscriptions")).status_code == 200
    assert shopify.calls[-2].detail == TOKEN_EXCHANGE


BAD_SESSION_TOKENS = {
    "expired": lambda s, clock: s.session_token(SHOP, now=clock.now - 3600),
    "not yet valid": lambda s, clock: s.session_token(SHOP, now=clock.now + 3600),
    "foreign secret": lambda s, clock: s.session_token(SHOP, secret="another-apps-secret-0123456789abcdef"),
    "foreign audience": lambda s, clock: s.session_token(SHOP, audience="another-app"),
    "alg none": lambda s, clock: s.session_token(SHOP, algorithm="none"),
    "issuer of another shop": lambda s, clock: s.session_token(SHOP, issuer_shop=OTHER_SHOP),
    "destination of another shop": lambda s, clock: s.session_token(SHOP, dest_shop=OTHER_SHOP),
    "minted for another shop": lambda s, clock: s.session_token(OTHER_SHOP),
    "not a JWT": lambda s, clock: "not-a-jwt",
}


@pytest.mark.parametrize("make", BAD_SESSION_TOKENS.values(), ids=BAD_SESSION_TOKENS.keys())
def test_token_exchange_refuses_a_bad_session_token(shopify, clock, make):
    answer = exchange(shopify, make(shopify, clock))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_subject_token"
    assert shopify.access_tokens(SHOP) == []


def test_token_exchange_for_an_online_token_is_refused(shopify):
    answer = exchange(shopify, shopify.session_token(SHOP),
                      requested_token_type="urn:shopify:params:oauth:token-type:online-access-token")
    assert answer.status_code == 400 and shopify.access_tokens(SHOP) == []


# --- GraphQL: authentication ----------------------------------------------------------------------


def test_graphql_refuses_unknown_and_expired_tokens(shopify, clock):
    token = grant(shopify)["access_token"]
    assert gql(shopify, token, document("webhook_subscriptions")).status_code == 200
    clock.now += 3600
    answer = gql(shopify, token, document("webhook_subscriptions"))
    assert answer.status_code == 401
    assert answer.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    assert gql(shopify, "shpat_unknown", document("webhook_subscriptions")).status_code == 401
    assert shopify.calls[-1].kind == "graphql" and shopify.calls[-1].token == "shpat_unknown"
    assert shopify.calls[-1].detail == "webhookSubscriptions"


def test_a_token_of_one_shop_does_not_open_another(shopify):
    token = grant(shopify)["access_token"]
    assert gql(shopify, token, document("webhook_subscriptions"), shop=OTHER_SHOP).status_code == 401


def test_set_token_lifetime_applies_to_tokens_issued_afterwards(shopify, clock):
    long_lived = grant(shopify)["access_token"]
    shopify.set_token_lifetime(1)
    short = grant(shopify)
    assert short["expires_in"] == 1
    clock.now += 1
    assert gql(shopify, short["access_token"], document("webhook_subscriptions")).status_code == 401
    assert gql(shopify, long_lived, document("webhook_subscriptions")).status_code == 200
    renewed = refresh(shopify, short["refresh_token"]).json()["access_token"]
    assert gql(shopify, renewed, document("webhook_subscriptions")).status_code == 200


def test_revoke_tokens_is_an_uninstall(shopify):
    issued = grant(shopify)
    shopify.revoke_tokens(SHOP)
    assert gql(shopify, issued["access_token"], document("webhook_subscriptions")).status_code == 401
    assert refresh(shopify, issued["refresh_token"]).status_code == 400


# --- GraphQL: webhook subscriptions --------------------------------------------------------------


@pytest.fixture
def token(shopify) -> str:
    return grant(shopify)["access_token"]


def create(standin, token, topic, uri, shop=SHOP) -> dict:
    answer = gql(standin, token, document("webhook_subscription_create"),
                 {"topic": topic, "subscription": {"uri": uri, "format": "JSON"}}, shop=shop)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["webhookSubscriptionCreate"]


def listed(standin, token, shop=SHOP) -> list[dict]:
    return gql(standin, token, document("webhook_subscriptions"), shop=shop).json()["data"]["webhookSubscriptions"]["nodes"]


def test_subscription_create_list_and_update(shopify, token):
    created = create(shopify, token, "ORDERS_CREATE", "https://connector.example/webhooks/shopify")
    assert created["userErrors"] == []
    subscription = created["webhookSubscription"]
    assert set(subscription) == {"id", "topic", "uri"}  # exactly what the document selects
    assert subscription["id"].startswith("gid://shopify/WebhookSubscription/")
    assert listed(shopify, token) == [{**subscription, "format": "JSON"}]

    answer = gql(shopify, token, document("webhook_subscription_update"),
                 {"id": subscription["id"], "subscription": {"uri": "https://moved.example/webhooks/shopify"}})
    updated = answer.json()["data"]["webhookSubscriptionUpdate"]
    assert updated == {"webhookSubscription": {**subscription, "uri": "https://moved.example/webhooks/shopify"},
                       "userErrors": []}
    assert [s["uri"] for s in shopify.subscriptions(SHOP)] == ["https://moved.example/webhooks/shopify"]


def test_subscriptions_are_per_shop(shopify, token):
    create(shopify, token, "ORDERS_PAID", "https://connector.example/webhooks/shopify")
    other = grant(shopify, OTHER_SHOP)["access_token"]
    assert listed(shopify, other, shop=OTHER_SHOP) == []
    assert len(listed(shopify, token)) == 1


def test_a_second_subscription_for_the_same_topic_and_address_is_a_user_error(shopify, token):
    create(shopify, token, "ORDERS_PAID", "https://connector.example/webhooks/shopify")
    again = create(shopify, token, "ORDERS_PAID", "https://connector.example/webhooks/shopify")
    assert again == {"webhookSubscription": None, "userErrors": [
        {"field": ["webhookSubscription", "callbackUrl"], "message": "Address for this topic has already been taken"}]}
    assert create(shopify, token, "ORDERS_CREATE", "https://connector.example/webhooks/shopify")["userErrors"] == []
    assert len(shopify.subscriptions(SHOP)) == 2


def test_an_invalid_topic_or_unknown_id_is_a_user_error(shopify, token):
    assert create(shopify, token, "ORDERS_CREATED", "https://x.example/hook")["userErrors"][0]["field"] == ["topic"]
    answer = gql(shopify, token, document("webhook_subscription_update"),
                 {"id": "gid://shopify/WebhookSubscription/999", "subscription": {"uri": "https://x.example/hook"}})
    assert answer.json()["data"]["webhookSubscriptionUpdate"]["userErrors"][0]["field"] == ["id"]
    assert shopify.subscriptions(SHOP) == []


def test_subscriptions_page_with_cursors(shopify, token):
    for topic in ("ORDERS_CREATE", "ORDERS_PAID", "ORDERS_UPDATED"):
        create(shopify, token, topic, "https://connector.example/webhooks/shopify")
    query = "query($after: String) { webhookSubscriptions(first: 2, after: $after) { " \
            "nodes { topic } pageInfo { hasNextPage endCursor } } }"
    first = gql(shopify, token, query).json()["data"]["webhookSubscriptions"]
    assert [n["topic"] for n in first["nodes"]] == ["ORDERS_CREATE", "ORDERS_PAID"] and first["pageInfo"]["hasNextPage"]
    second = gql(shopify, token, query, {"after": first["pageInfo"]["endCursor"]}).json()["data"]["webhookSubscriptions"]
    assert [n["topic"] for n in second["nodes"]] == ["ORDERS_UPDATED"] and not second["pageInfo"]["hasNextPage"]


# --- GraphQL: orders ------------------------------------------------------------------------------


def orders_since(standin, token, query: str, after: str | None = None) -> dict:
    answer = gql(standin, token, document("orders_updated_since"), {"query": query, "after": after})
    assert answer.status_code == 200, answer.text
    return answer.json()


def place_at(standin, clock, seconds: int, order_id: int) -> None:
    clock.now = START + seconds
    standin.place_order(SHOP, samples.order(order_id=order_id, name=f"#{order_id}"), deliver=False)


def test_orders_query_filters_and_sorts_by_updated_at(shopify, clock, token):
    place_at(shopify, clock, 0, 1003)
    place_at(shopify, clock, 60, 1001)
    place_at(shopify, clock, 120, 1002)
    place_at(shopify, clock, 180, 1001)  # updated again: now the latest
    nodes = orders_since(shopify, token, "updated_at:>='2026-11-23T10:01:00Z'")["data"]["orders"]["nodes"]
    assert [n["legacyResourceId"] for n in nodes] == ["1002", "1001"]
    strictly = orders_since(shopify, token, "updated_at:>'2026-11-23T10:02:00Z'")["data"]["orders"]["nodes"]
    assert [n["legacyResourceId"] for n in strictly] == ["1001"]
    # Two orders a page (the document's size): the third is on the next.
    first = orders_since(shopify, token, "updated_at:>='2026-11-23T09:00:00Z'")["data"]["orders"]
    assert len(first["nodes"]) == 2 and first["pageInfo"]["hasNextPage"]
    rest = orders_since(shopify, token, "updated_at:>='2026-11-23T09:00:00Z'", first["pageInfo"]["endCursor"])
    assert [n["legacyResourceId"] for n in rest["data"]["orders"]["nodes"]] == ["1001"]


def test_an_unsupported_search_is_an_error_not_ignored(shopify, clock, token):
    place_at(shopify, clock, 0, 1001)
    body = orders_since(shopify, token, "financial_status:paid")
    assert body["errors"] and body["data"]["orders"] is None


def test_orders_page_with_cursors(shopify, clock, token):
    for index in range(3):
        place_at(shopify, clock, index, 2000 + index)
    query = "query($after: String) { orders(first: 2, after: $after, sortKey: UPDATED_AT) { " \
            "nodes { legacyResourceId } pageInfo { hasNextPage endCursor } } }"
    first = gql(shopify, token, query).json()["data"]["orders"]
    second = gql(shopify, token, query, {"after": first["pageInfo"]["endCursor"]}).json()["data"]["orders"]
    assert [n["legacyResourceId"] for n in first["nodes"] + second["nodes"]] == ["2000", "2001", "2002"]
    assert first["pageInfo"]["hasNextPage"] and not second["pageInfo"]["hasNextPage"]
    bad = gql(shopify, token, query, {"after": "bm90LWEtY3Vyc29y"}).json()
    assert bad["errors"]


def test_order_nodes_have_exactly_the_documents_shape_and_normalise_like_the_webhook(shopify, clock, token):
    order = samples.order()
    order["refunds"] = [samples.refund()]
    shopify.place_order(SHOP, order, deliver=False)
    (node,) = orders_since(shopify, token, "updated_at:>='2026-11-23T00:00:00Z'")["data"]["orders"]["nodes"]
    selection = _selection("orders_updated_since", "orders", "nodes")
    assert _shape_problems(node, selection) == []
    assert node["legacyResourceId"] == "820982911946154508" and node["updatedAt"] == "2026-11-23T10:00:00+00:00"
    by_graphql = normalise_graphql.normalise("reconcile/order", json.dumps(node).encode())
    stored = {**order, "updated_at": node["updatedAt"]}
    by_webhook = normalise.order_event("reconcile/order", json.loads(samples.encode(stored), parse_float=Decimal))
    # Refund amounts are read in shop money only: by GraphQL a refund has no presentment base.
    assert by_graphql.refunds == tuple(replace(r, presentment_base=None) for r in by_webhook.refunds)
    assert (by_graphql.commission_base, by_graphql.presentment_base) == (by_webhook.commission_base,
                                                                         by_webhook.presentment_base)
    assert by_graphql.landing_url == f"https://{SHOP}{order['landing_site']}"


def test_the_converter_fills_every_field_the_reconciliation_document_selects():
    order = samples.order()
    order["refunds"] = [samples.refund()]
    order["refunds"][0]["order_adjustments"] = [{"kind": "refund_discrepancy", "amount": "-1.00",
                                                 "amount_set": {"shop_money": {"amount": "-1.00", "currency_code": "EUR"},
                                                                "presentment_money": {"amount": "-1.10", "currency_code": "USD"}}}]
    assert _shape_problems(to_graphql_node(order), _selection("orders_updated_since", "orders", "nodes")) == []


def test_lists_longer_than_the_document_reads_answer_one_page_and_the_order_is_refused(shopify, clock, token):
    """Shopify answers `refunds(first: 5)` with five and a connection with its first page: so does the stand-in."""
    order = samples.order()
    sizes = page_sizes("orders_updated_since")
    order["line_items"] *= sizes["lineItems"] // 2 + 1
    order["refunds"] = [samples.refund(refund_id=900 + n) for n in range(sizes["refunds"] + 2)]
    order["refunds"][0]["refund_line_items"] *= sizes["refundLineItems"] + 2
    shopify.place_order(SHOP, order, deliver=False)
    body = orders_since(shopify, token, "updated_at:>='2026-11-23T00:00:00Z'")
    (node,) = body["data"]["orders"]["nodes"]
    assert _shape_problems(node, _selection("orders_updated_since", "orders", "nodes")) == []
    assert len(node["refunds"]) == sizes["refunds"]
    lines = node["lineItems"]
    assert len(lines["nodes"]) == sizes["lineItems"] and lines["pageInfo"]["hasNextPage"]
    lines = node["refunds"][0]["refundLineItems"]
    assert len(lines["nodes"]) == sizes["refundLineItems"] and lines["pageInfo"]["hasNextPage"]
    assert not node["refunds"][1]["refundLineItems"]["pageInfo"]["hasNextPage"]
    with pytest.raises(MalformedPayload, match="webhooks are authoritative"):
        normalise_graphql.normalise("reconcile/order", json.dumps(node).encode())


def test_the_reconciliation_query_asks_for_at_most_1000_points(shopify, clock, token):
    place_at(shopify, clock, 0, 1001)
    cost = orders_since(shopify, token, "updated_at:>='2026-11-23T00:00:00Z'")["extensions"]["cost"]
    assert 0 < cost["actualQueryCost"] <= cost["requestedQueryCost"] <= 1000


def _selection(name: str, *path: str) -> graphql.SelectionSetNode:
    (operation,) = graphql.parse(document(name)).definitions
    selection = operation.selection_set
    for step in path:
        selection = next(f for f in fields(selection, {}) if f.name.value == step).selection_set
    return selection


def _shape_problems(value, selection, where="") -> list[str]:
    """Keys the selection asks for that the value lacks, or has beyond it."""
    if isinstance(value, list):
        return [p for item in value for p in _shape_problems(item, selection, where + "[]")]
    if value is None:
        return []
    asked = {f.name.value: f for f in fields(selection, {})}
    problems = [f"{where}.{k} missing" for k in asked if k not in value]
    problems += [f"{where}.{k} not asked" for k in value if k not in asked]
    for key, field in asked.items():
        if field.selection_set is not None and key in value:
            problems += _shape_problems(value[key], field.selection_set, f"{where}.{key}")
    return problems


# --- GraphQL: cost and throttling -----------------------------------------------------------------


def test_every_answer_carries_the_cost_extension(shopify, token):
    cost = gql(shopify, token, document("webhook_subscriptions")).json()["extensions"]["cost"]
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and cost["throttleStatus"]["restoreRate"] == 100.0
    assert 0 < cost["actualQueryCost"] <= cost["requestedQueryCost"]
    assert cost["throttleStatus"]["currentlyAvailable"] == 2000.0 - cost["actualQueryCost"]


def test_throttle_next_answers_throttled_then_recovers(shopify, token):
    shopify.throttle_next(SHOP, 2)
    for _ in range(2):
        answer = gql(shopify, token, document("webhook_subscriptions"))
        assert answer.status_code == 200
        body = answer.json()
        assert body["errors"] == [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}] and "data" not in body
        cost = body["extensions"]["cost"]
        assert cost["throttleStatus"]["currentlyAvailable"] < cost["requestedQueryCost"]
    assert "webhookSubscriptions" in gql(shopify, token, document("webhook_subscriptions")).json()["data"]
    assert [c.detail for c in shopify.calls if c.kind == "graphql"] == ["webhookSubscriptions"] * 3


def test_unknown_root_field_and_syntax_errors_are_graphql_errors(shopify, token):
    unknown = gql(shopify, token, "{ products(first: 1) { nodes { id } } }")
    assert unknown.status_code == 200 and unknown.json()["errors"]
    broken = gql(shopify, token, "query { orders(first: 5 { nodes { id } } }")
    assert broken.status_code == 200 and broken.json()["errors"]


# --- webhooks -------------------------------------------------------------------------------------


class Receiver:
    """A small local endpoint that keeps what it is sent and answers 200."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_POST(self):  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                received.append((self.path, dict(self.headers.items()), raw))
                reply = b'{"ok": true}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str = "/webhooks/shopify") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def test_place_order_delivers_signed_webhooks_to_each_subscription(shopify, token, receiver):
    for topic in ("ORDERS_CREATE", "ORDERS_PAID", "REFUNDS_CREATE"):
        create(shopify, token, topic, receiver.url())
    order = samples.order()
    answers = shopify.place_order(SHOP, order)
    assert answers == [(200, {"ok": True}), (200, {"ok": True})]
    assert [h["X-Shopify-Topic"] for _, h, _ in receiver.received] == ["orders/create", "orders/paid"]
    for path, headers, raw in receiver.received:
        verify(raw, headers["X-Shopify-Hmac-Sha256"], [API_SECRET])
        with pytest.raises(BadSignature):
            verify(raw, headers["X-Shopify-Hmac-Sha256"], ["another-secret"])
        seen = read_headers(headers)
        assert (seen.store_key, path) == (SHOP, "/webhooks/shopify")
        assert headers["Content-Type"] == "application/json" and headers["X-Shopify-API-Version"]
        assert headers["X-Shopify-Triggered-At"].startswith("2026-11-23T10:00:00")
        assert json.loads(raw)["id"] == 820982911946154508  # exact: no float on the way
    assert len({h["X-Shopify-Webhook-Id"] for _, h, _ in receiver.received}) == 2
    assert len({h["X-Shopify-Event-Id"] for _, h, _ in receiver.received}) == 2
    assert orders_since(shopify, token, "updated_at:>='2026-11-23T10:00:00Z'")["data"]["orders"]["nodes"]


def test_every_subscription_of_a_topic_gets_the_event_with_one_event_id(shopify, token, receiver):
    create(shopify, token, "ORDERS_PAID", receiver.url("/a"))
    create(shopify, token, "ORDERS_PAID", receiver.url("/b"))
    assert len(shopify.place_order(SHOP, samples.order(), topics=("orders/paid",))) == 2
    assert sorted(path for path, _, _ in receiver.received) == ["/a", "/b"]
    assert len({h["X-Shopify-Event-Id"] for _, h, _ in receiver.received}) == 1
    assert len({h["X-Shopify-Webhook-Id"] for _, h, _ in receiver.received}) == 2


def test_place_order_without_delivery_sends_nothing(shopify, token, receiver):
    create(shopify, token, "ORDERS_CREATE", receiver.url())
    assert shopify.place_order(SHOP, samples.order(), deliver=False) == []
    assert receiver.received == []


def test_send_webhook_to_an_explicit_address_for_compliance_topics(shopify, receiver):
    body = {"shop_id": 954889, "shop_domain": SHOP}
    assert shopify.send_webhook(SHOP, "shop/redact", body, uri=receiver.url("/privacy")) == [(200, {"ok": True})]
    ((path, headers, raw),) = receiver.received
    assert (path, headers["X-Shopify-Topic"], json.loads(raw)) == ("/privacy", "shop/redact", body)
    verify(raw, headers["X-Shopify-Hmac-Sha256"], [API_SECRET])


def test_an_unreachable_receiver_is_reported_without_a_status(shopify, receiver):
    address = receiver.url()
    receiver.server.shutdown()
    receiver.server.server_close()
    assert shopify.send_webhook(SHOP, "app/uninstalled", {"id": 1}, uri=address) == [(None, None)]


# --- GraphQL: code discounts ------------------------------------------------------------------------

PIXEL_SCOPE = "read_orders,write_discounts,write_pixels,read_customer_events"


def token_with(standin: StandinShopify, scope: str, shop: str = SHOP) -> str:
    location = authorize(standin, shop, scope=scope).headers["Location"]
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    return token_request(standin, shop, code=code).json()["access_token"]


def basic(code: str, title: str = "Influencer Connector · spring-26 · 15% off") -> dict:
    return {"discount": {"title": title, "code": code, "startsAt": "2026-11-23T10:00:00Z", "context": {"all": "ALL"},
                         "customerGets": {"value": {"percentage": 0.15}, "items": {"all": True}}}}


def make_discount(standin, token, code: str) -> dict:
    answer = gql(standin, token, document("discount_code_basic_create"), basic(code))
    return answer.json()["data"]["discountCodeBasicCreate"]


def bulk_add(standin, token, discount_id: str, codes: list[str]) -> requests.Response:
    return gql(standin, token, document("discount_redeem_code_bulk_add"),
               {"discountId": discount_id, "codes": [{"code": c} for c in codes]})


def test_a_discount_is_made_with_its_first_code_and_codes_are_unique_across_the_shop(shopify, token):
    made = make_discount(shopify, token, "ALICE15")
    assert made["userErrors"] == []
    node = made["codeDiscountNode"]
    assert node["id"].startswith("gid://shopify/DiscountCodeNode/")
    assert node["codeDiscount"]["title"] == "Influencer Connector · spring-26 · 15% off"
    (first,) = node["codeDiscount"]["codes"]["nodes"]
    assert first["code"] == "ALICE15" and first["id"].startswith("gid://shopify/DiscountRedeemCode/")
    assert shopify.codes(SHOP)["alice15"] == {"id": first["id"], "code": "ALICE15", "discount_id": node["id"],
                                              "active": True}

    shopify.add_foreign_code(SHOP, "SUMMER")
    again = make_discount(shopify, token, "alice15")
    assert again["codeDiscountNode"] is None
    (refused,) = again["userErrors"]
    assert (refused["code"], refused["field"]) == ("TAKEN", ["basicCodeDiscount", "code"])
    assert make_discount(shopify, token, "Summer")["userErrors"][0]["code"] == "TAKEN"
    assert len(shopify.discounts(SHOP)) == 2


def test_bulk_creation_finishes_after_the_first_poll_and_reports_each_code(shopify, token):
    discount = make_discount(shopify, token, "ALICE15")["codeDiscountNode"]["id"]
    shopify.add_foreign_code(SHOP, "TAKEN1")
    answer = bulk_add(shopify, token, discount, ["BOB15", "taken1", "CAROL10", "bob15"]).json()
    creation = answer["data"]["discountRedeemCodeBulkAdd"]["bulkCreation"]
    assert creation["done"] is False and creation["codesCount"] == 4
    assert "bob15" not in shopify.codes(SHOP)  # made in the background, not yet

    def status() -> dict:
        return gql(shopify, token, document("discount_redeem_code_bulk_creations"),
                   {"ids": [creation["id"]]}).json()["data"]["nodes"][0]

    assert status()["done"] is False
    assert status() == {"id": creation["id"], "done": True, "codesCount": 4, "importedCount": 2, "failedCount": 2}
    read = gql(shopify, token, document("discount_redeem_code_bulk_creation_codes"), {"id": creation["id"]}).json()
    nodes = read["data"]["discountRedeemCodeBulkCreation"]["codes"]["nodes"]
    assert [(n["code"], bool(n["discountRedeemCode"]), [e["code"] for e in n["errors"]]) for n in nodes] == [
        ("BOB15", True, []), ("taken1", False, ["TAKEN"]), ("CAROL10", True, []), ("bob15", False, ["TAKEN"])]
    assert sorted(shopify.codes(SHOP)) == ["alice15", "bob15", "carol10", "taken1"]


def test_more_than_250_codes_is_a_graphql_error_and_an_unknown_discount_a_user_error(shopify, token):
    discount = make_discount(shopify, token, "ALICE15")["codeDiscountNode"]["id"]
    over = bulk_add(shopify, token, discount, [f"C{n}" for n in range(251)]).json()
    assert over["data"]["discountRedeemCodeBulkAdd"] is None
    (error,) = over["errors"]
    assert error["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED" and "250" in error["message"]
    most = bulk_add(shopify, token, discount, [f"C{n}" for n in range(250)]).json()
    assert most["data"]["discountRedeemCodeBulkAdd"]["bulkCreation"]
    unknown = bulk_add(shopify, token, "gid://shopify/DiscountCodeNode/404", ["X1"]).json()
    assert unknown["data"]["discountRedeemCodeBulkAdd"]["userErrors"][0]["field"] == ["discountId"]


def test_lookup_by_code_is_case_insensitive_and_null_for_no_code(shopify, token):
    made = make_discount(shopify, token, "ALICE15")["codeDiscountNode"]
    foreign = shopify.add_foreign_code(SHOP, "SUMMER", title="Summer sale")
    variables = {f"c{n}": "alice15" for n in range(25)} | {"c1": "summer", "c2": "nobody"}
    data = gql(shopify, token, document("code_discount_nodes_by_code"), variables).json()["data"]
    assert data["c0"]["id"] == made["id"]
    assert data["c0"]["codeDiscount"]["codes"]["nodes"] == made["codeDiscount"]["codes"]["nodes"]
    assert (data["c1"]["id"], data["c1"]["codeDiscount"]["title"]) == (foreign, "Summer sale")
    assert data["c2"] is None


def test_bulk_delete_removes_codes_from_the_discount_which_stays(shopify, token):
    made = make_discount(shopify, token, "ALICE15")["codeDiscountNode"]
    first = made["codeDiscount"]["codes"]["nodes"][0]["id"]
    answer = gql(shopify, token, document("discount_code_redeem_code_bulk_delete"),
                 {"discountId": made["id"], "ids": [first, "gid://shopify/DiscountRedeemCode/999"]}).json()
    payload = answer["data"]["discountCodeRedeemCodeBulkDelete"]
    assert payload["userErrors"] == [] and payload["job"]["id"].startswith("gid://shopify/Job/")
    assert shopify.codes(SHOP) == {} and list(shopify.discounts(SHOP)) == [made["id"]]
    assert make_discount(shopify, token, "alice15")["userErrors"] == []  # the code is free again


def test_discount_fields_need_the_discount_scopes(shopify):
    token_ = token_with(shopify, "read_orders")
    answer = gql(shopify, token_, document("discount_code_basic_create"), basic("ALICE15")).json()
    assert answer["data"]["discountCodeBasicCreate"] is None
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "ACCESS_DENIED" and "write_discounts" in error["message"]
    assert shopify.codes(SHOP) == {}


def test_graphql_counts_by_root_field(shopify, token):
    make_discount(shopify, token, "A1")
    make_discount(shopify, token, "A2")
    gql(shopify, token, document("webhook_subscriptions"))
    assert shopify.graphql_counts(SHOP) == {"discountCodeBasicCreate": 2, "webhookSubscriptions": 1}
    assert shopify.graphql_counts(OTHER_SHOP) == {}


# --- GraphQL: the shop and its web pixel ------------------------------------------------------------


def test_shop_details_answer_the_primary_domain_and_currency(shopify, token):
    shop_gid = f"gid://shopify/Shop/{samples.shop_number(SHOP)}"
    assert gql(shopify, token, document("shop_details")).json()["data"] == {
        "shop": {"id": shop_gid, "currencyCode": "EUR", "primaryDomain": {"url": f"https://{SHOP}"}}}
    shopify.set_shop_details(SHOP, url="https://wool.example", currency="GBP")
    assert gql(shopify, token, document("shop_details")).json()["data"]["shop"] == {
        "id": shop_gid, "currencyCode": "GBP", "primaryDomain": {"url": "https://wool.example"}}


def test_one_web_pixel_per_app_with_settings_checked_against_the_extension(shopify):
    token_ = token_with(shopify, PIXEL_SCOPE)
    missing = gql(shopify, token_, document("web_pixel")).json()
    assert missing["data"]["webPixel"] is None and "No web pixel" in missing["errors"][0]["message"]

    settings = {"endpoint": "https://connector.example", "store": SHOP, "windowDays": "30"}
    created = gql(shopify, token_, document("web_pixel_create"),
                  {"webPixel": {"settings": json.dumps(settings)}}).json()["data"]["webPixelCreate"]
    assert created["userErrors"] == [] and json.loads(created["webPixel"]["settings"]) == settings
    assert shopify.pixel(SHOP) == {"id": created["webPixel"]["id"], "settings": settings}
    read = gql(shopify, token_, document("web_pixel")).json()["data"]["webPixel"]
    assert read == created["webPixel"]

    second = gql(shopify, token_, document("web_pixel_create"), {"webPixel": {"settings": json.dumps(settings)}}).json()
    assert second["data"]["webPixelCreate"]["userErrors"][0]["code"] == "TAKEN"
    undeclared = gql(shopify, token_, document("web_pixel_update"), {
        "id": read["id"], "webPixel": {"settings": json.dumps({**settings, "accountID": "1"})}}).json()
    assert undeclared["data"]["webPixelUpdate"]["userErrors"][0]["code"] == "INVALID_SETTINGS"
    blank = gql(shopify, token_, document("web_pixel_update"), {
        "id": read["id"], "webPixel": {"settings": json.dumps({**settings, "endpoint": ""})}}).json()
    assert blank["data"]["webPixelUpdate"]["userErrors"][0]["code"] == "INVALID_SETTINGS"
    moved = gql(shopify, token_, document("web_pixel_update"), {
        "id": read["id"], "webPixel": {"settings": json.dumps({**settings, "windowDays": "7"})}}).json()
    assert moved["data"]["webPixelUpdate"]["userErrors"] == []
    assert shopify.pixel(SHOP)["settings"]["windowDays"] == "7"


def test_the_web_pixel_needs_write_pixels(shopify, token):
    answer = gql(shopify, token, document("web_pixel_create"), {"webPixel": {"settings": "{}"}}).json()
    assert answer["data"]["webPixelCreate"] is None and answer["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert shopify.pixel(SHOP) is None


def test_place_order_gives_the_order_a_checkout_token_unless_it_has_one(shopify, token):
    shopify.place_order(SHOP, samples.order(order_id=1001), deliver=False)
    assert re.fullmatch(r"[0-9a-f]{32}", shopify.checkout_token(SHOP, 1001))
    shopify.place_order(SHOP, {**samples.order(order_id=1002), "checkout_token": "given"}, deliver=False)
    assert shopify.checkout_token(SHOP, 1002) == "given" and shopify.checkout_token(SHOP, 5) is None
