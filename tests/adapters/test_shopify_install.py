"""Shopify installs through the app's routes: every refusal is clear, stores nothing and calls nobody.

Shopify's token endpoint and GraphQL API are faked with `responses`; the database is real.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import responses
from sqlalchemy import func, select

from adapters.shopify import shopify_lib
from connector import crypto
from connector.models import Store, UsedNonce

from ..conftest import SHOPIFY_SECRET
from ..helpers import API_KEY
from ..helpers import session_token as _session_token

SHOP = "fresh-shop.myshopify.com"
ADMIN = f"https://{SHOP}"
TOKEN_URL = f"{ADMIN}/admin/oauth/access_token"
GRAPHQL_URL = f"{ADMIN}/admin/api/2026-10/graphql.json"


def session_token(*, shop=SHOP, **claims) -> str:
    return _session_token(shop=shop, **claims)


def query_hmac(params: dict, secret: str = SHOPIFY_SECRET) -> str:
    """Shopify's documented rule: every param but hmac, sorted, `k=v` joined with `&`, hex HMAC-SHA256."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed(params: dict, secret: str = SHOPIFY_SECRET) -> dict:
    params = {"timestamp": str(int(time.time())), **params}
    return {**params, "hmac": query_hmac(params, secret)}


def _stores(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Store))


def test_the_docs_vector_matches_shopifys_query_hmac():
    params = {"code": "0907a61c0c8d55e99db179b68161bc00", "shop": "some-shop.myshopify.com", "timestamp": "1337178173"}
    expected = "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
    assert query_hmac(params, "hush") == expected
    assert shopify_lib.query_hmac_valid({**params, "hmac": expected}, ["hush"])
    assert not shopify_lib.query_hmac_valid({**params, "hmac": expected}, ["other"])
    assert shopify_lib.query_hmac_valid({**params, "hmac": expected}, ["other", "hush"])  # a rotated secret


@pytest.mark.parametrize("shop", ["evil.com", "x.myshopify.com.evil.com", "x.myshopify.com:443",
                                  "x.myshopify.com/admin", "https://x.myshopify.com", " x.myshopify.com",
                                  "x", "-x.myshopify.com", "x_y.myshopify.com", ""])
def test_anything_but_a_myshopify_domain_is_refused(shop):
    assert shopify_lib.shop_domain(shop) is None


@responses.activate
@pytest.mark.parametrize("shop", ["evil.com", "x.myshopify.com.evil.com", "x.myshopify.com:8443",
                                  "x.myshopify.com/path"])
def test_install_with_a_foreign_shop_is_400_and_nothing_is_sent(shop_client, sessions, shop):
    answer = shop_client.get("/shopify/install?" + urlencode(signed({"shop": shop})))
    assert answer.status_code == 400 and b"myshopify.com" in answer.data
    assert len(responses.calls) == 0 and _stores(sessions) == 0


def test_install_redirects_to_the_grant_with_a_state_bound_to_the_shop(shop_client, shop_settings):
    answer = shop_client.get("/shopify/install?" + urlencode(signed({"shop": SHOP})))
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert (target.scheme, target.netloc, target.path) == ("https", SHOP, "/admin/oauth/authorize")
    assert query["client_id"] == API_KEY
    assert query["scope"] == ",".join(shop_settings.shopify_scopes)
    assert query["redirect_uri"] == "https://connector.example/shopify/callback"
    assert query["state"]


@responses.activate
def test_install_with_a_wrong_or_stale_hmac_is_refused(shop_client):
    forged = signed({"shop": SHOP}, secret="not-the-app-secret")
    assert shop_client.get("/shopify/install?" + urlencode(forged)).status_code == 400
    old = {"shop": SHOP, "timestamp": str(int(time.time()) - 3600)}
    stale = shop_client.get("/shopify/install?" + urlencode({**old, "hmac": query_hmac(old)}))
    assert stale.status_code == 400 and b"too old" in stale.data
    assert len(responses.calls) == 0


def _grant_token(expires_in=3600):
    return {"access_token": "shpat_secret_token_1",
            "scope": "read_orders,read_customers,write_discounts,write_pixels,read_customer_events",
            "expires_in": expires_in, "refresh_token": "shprt_secret_refresh_1", "refresh_token_expires_in": 7776000}


def _fake_graphql(subscriptions: list):
    """Shopify's GraphQL for the registration documents: list, create."""

    def answer(request):
        body = json.loads(request.body)
        if "webhookSubscriptionCreate" in body["query"]:
            node = {"id": f"gid://shopify/WebhookSubscription/{len(subscriptions) + 1}",
                    "topic": body["variables"]["topic"], "uri": body["variables"]["subscription"]["uri"]}
            subscriptions.append(node)
            data = {"webhookSubscriptionCreate": {"webhookSubscription": node, "userErrors": []}}
        else:
            data = {"webhookSubscriptions": {"nodes": list(subscriptions),
                                             "pageInfo": {"hasNextPage": False, "endCursor": None}}}
        return 200, {}, json.dumps({"data": data})

    return answer


def _start(shop_client) -> str:
    location = shop_client.get("/shopify/install?" + urlencode(signed({"shop": SHOP}))).headers["Location"]
    return parse_qs(urlsplit(location).query)["state"][0]


@responses.activate
def test_callback_exchanges_the_code_for_an_expiring_token_queues_setup_and_keeps_it_encrypted(
        shop_client, sessions, shop_settings):
    subscriptions: list = []
    responses.add(responses.POST, TOKEN_URL, json=_grant_token())
    responses.add_callback(responses.POST, GRAPHQL_URL, callback=_fake_graphql(subscriptions))
    state = _start(shop_client)
    answer = shop_client.get("/shopify/callback?" + urlencode(signed({"shop": SHOP, "code": "c0de", "state": state})))
    # On into the admin, which opens the app embedded; nothing but the token request in the callback itself
    assert answer.status_code == 302 and answer.headers["Location"] == f"{ADMIN}/admin/apps/{API_KEY}"
    assert len(responses.calls) == 1
    token_request = json.loads(responses.calls[0].request.body)
    assert token_request == {"client_id": API_KEY, "client_secret": SHOPIFY_SECRET, "code": "c0de", "expiring": "1"}
    assert subscriptions == []
    with sessions() as session:
        store = session.scalars(select(Store)).one()
        assert store.domain == SHOP and store.status == "active" and store.setup_pending
        assert store.maintenance_lease_until is None  # the worker takes it up at once
        assert store.access_token_expires_at is not None and store.refresh_token_expires_at is not None
        assert b"shpat_secret_token_1" not in store.access_token_encrypted
        assert crypto.decrypt(shop_settings.secret_key, store.id, store.access_token_encrypted) == "shpat_secret_token_1"
        assert crypto.decrypt(shop_settings.secret_key, store.id, store.refresh_token_encrypted) == "shprt_secret_refresh_1"
    # The same state again (a replay) is refused before anything is sent.
    calls = len(responses.calls)
    replay = shop_client.get("/shopify/callback?" + urlencode(signed({"shop": SHOP, "code": "c0de", "state": state})))
    assert replay.status_code == 400 and b"used already" in replay.data
    assert len(responses.calls) == calls


@responses.activate
def test_callback_refuses_a_state_for_another_shop_an_expired_or_forged_state(shop_client, sessions, shop_settings,
                                                                              monkeypatch):
    state = _start(shop_client)
    other = shop_client.get("/shopify/callback?" + urlencode(
        signed({"shop": "other-shop.myshopify.com", "code": "c", "state": state})))
    assert other.status_code == 400 and b"another shop" in other.data
    forged = shop_client.get("/shopify/callback?" + urlencode(signed({"shop": SHOP, "code": "c", "state": "x.y.z"})))
    assert forged.status_code == 400 and b"not one this connector issued" in forged.data
    # An expired state: issued 11 minutes ago (itsdangerous reads the signing time from the clock).
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 660)
    old_state = _start(shop_client)
    monkeypatch.setattr(time, "time", real_time)
    expired = shop_client.get("/shopify/callback?" + urlencode(signed({"shop": SHOP, "code": "c", "state": old_state})))
    assert expired.status_code == 400 and b"expired" in expired.data
    assert len(responses.calls) == 0 and _stores(sessions) == 0


@responses.activate
def test_missing_scopes_refuse_the_install(shop_client, sessions):
    responses.add(responses.POST, TOKEN_URL, json={**_grant_token(), "scope": "read_orders"})
    state = _start(shop_client)
    answer = shop_client.get("/shopify/callback?" + urlencode(signed({"shop": SHOP, "code": "c", "state": state})))
    assert answer.status_code == 403 and b"read_customers" in answer.data and b"write_discounts" in answer.data
    assert _stores(sessions) == 0


@responses.activate
def test_embedded_app_load_exchanges_the_session_token_once(shop_client, sessions):
    subscriptions: list = []
    responses.add(responses.POST, TOKEN_URL, json=_grant_token())
    responses.add_callback(responses.POST, GRAPHQL_URL, callback=_fake_graphql(subscriptions))
    token = session_token()
    answer = shop_client.get(f"/shopify/app?shop={SHOP}&id_token={token}")
    assert answer.status_code == 200 and b'<meta name="shopify-api-key" content="test-api-key">' in answer.data
    # Framed by that shop's admin only.
    assert answer.headers["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"
    exchange = json.loads(responses.calls[0].request.body)
    assert exchange["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert exchange["subject_token"] == token and exchange["expiring"] == "1"
    assert exchange["requested_token_type"] == "urn:shopify:params:oauth:token-type:offline-access-token"
    assert len(responses.calls) == 1 and subscriptions == []  # setup is the worker's
    calls = len(responses.calls)
    again = shop_client.get(f"/shopify/app?shop={SHOP}&id_token={session_token()}")
    assert again.status_code == 200 and len(responses.calls) == calls  # installed: no second exchange
    assert _stores(sessions) == 1


@responses.activate
@pytest.mark.parametrize("token", [
    pytest.param(lambda: session_token(lifetime=-60), id="expired"),
    pytest.param(lambda: session_token(secret="another-apps-secret-0123456789abcdef"), id="other-secret"),
    pytest.param(lambda: session_token(algorithm="none"), id="alg-none"),
    pytest.param(lambda: session_token(audience="another-app"), id="other-audience"),
    pytest.param(lambda: session_token(dest_shop="other-shop.myshopify.com"), id="issuer-dest-differ"),
    pytest.param(lambda: session_token(shop="evil.com", dest_shop="evil.com"), id="not-a-shop"),
    pytest.param(lambda: session_token(drop=("nbf",)), id="no-not-before"),
    pytest.param(lambda: session_token(not_before=120), id="not-valid-yet"),
    pytest.param(lambda: "not.a.jwt", id="garbage"),
])
def test_bad_session_tokens_are_refused_without_any_request(shop_client, sessions, token):
    answer = shop_client.get(f"/shopify/app?id_token={token()}")
    assert answer.status_code == 400 and b"session token" in answer.data
    # shown in the admin's frame (not a blank one), and the token in the address is never sent on as a Referer
    assert answer.headers["Content-Security-Policy"] == "frame-ancestors https://admin.shopify.com;"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert len(responses.calls) == 0 and _stores(sessions) == 0


def test_a_session_token_for_one_shop_cannot_open_another(shop_client, sessions):
    answer = shop_client.get(f"/shopify/app?shop=other-shop.myshopify.com&id_token={session_token()}")
    assert answer.status_code == 400 and _stores(sessions) == 0


def test_install_is_503_when_shopify_is_not_configured(client):
    answer = client.get("/shopify/install?" + urlencode(signed({"shop": SHOP})))
    assert answer.status_code == 503 and b"SHOPIFY_API_KEY" in answer.data


def test_used_states_are_kept_only_as_long_as_they_matter(shop_client, sessions):
    """Nonces are the only record of a used state; pruning forgets old ones, never recent ones."""
    from datetime import datetime, timedelta, timezone

    from connector.installs import state as install_state
    from connector.db import transaction

    now = datetime.now(timezone.utc)
    with transaction(sessions) as session:
        session.add_all([UsedNonce(nonce="old", purpose="shopify", used_at=now - timedelta(days=2)),
                         UsedNonce(nonce="new", purpose="shopify", used_at=now - timedelta(minutes=5))])
    with transaction(sessions) as session:
        install_state.prune(session, now)
    with sessions() as session:
        assert session.scalars(select(UsedNonce.nonce)).all() == ["new"]
