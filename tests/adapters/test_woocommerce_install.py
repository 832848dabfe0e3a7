"""WooCommerce installs through the app's routes: refusals are clear, store nothing and call nobody.

The store's REST API is faked with `responses`; the database is real.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import delete, func, select

from standins.woocommerce import samples
from connector import create_app, crypto
from connector.campaigns import directory
from connector.installs import state as install_state
from connector.db import transaction
from connector.models import Event, Store

STORE_URL = "https://shop.example"


def public_resolver(host, *_args, **_kwargs):
    """DNS for the tests: shop.example is public, everything else resolves to what its name says."""
    address = "93.184.215.14" if host == "shop.example" else host
    return [(2, 1, 6, "", (address, 443))]


@pytest.fixture
def woo_client(settings, engine, monkeypatch):
    monkeypatch.setattr("adapters.woocommerce.store_url.socket.getaddrinfo", public_resolver)
    app = create_app(settings.with_overrides(public_url="https://connector.example"), engine=engine)
    app.config["TESTING"] = True
    return app.test_client()


def _count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _user_id(client) -> str:
    answer = client.get(f"/woocommerce/install?store_url={STORE_URL}/")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{STORE_URL}/wc-auth/v1/authorize"
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query["scope"] == "read_write" and query["app_name"]
    assert query["callback_url"] == "https://connector.example/woocommerce/callback"
    assert query["return_url"] == "https://connector.example/woocommerce/return"
    return query["user_id"]


def _keys(user_id: str) -> dict:
    return {"key_id": 7, "user_id": user_id, "consumer_key": "ck_" + "a" * 40, "consumer_secret": "cs_" + "b" * 40,
            "key_permissions": "read_write"}


@responses.activate
@pytest.mark.parametrize("store_url", ["http://127.0.0.1", "https://127.0.0.1:8443/shop", "https://10.0.0.1",
                                       "https://169.254.169.254/latest", "https://[::1]", "http://shop.example",
                                       "", "not a url", "ftp://shop.example"])
def test_install_refuses_private_plain_http_or_malformed_store_urls(woo_client, sessions, store_url):
    answer = woo_client.get("/woocommerce/install", query_string={"store_url": store_url})
    assert answer.status_code == 400 and b"could not go on" in answer.data
    assert len(responses.calls) == 0 and _count(sessions, Store) == 0


@responses.activate
def test_callback_with_a_forged_or_replayed_user_id_stores_nothing_and_calls_nobody(woo_client, sessions, settings):
    forged = install_state.issue("another-deployments-secret-key-0123456789", "woocommerce", STORE_URL)
    for user_id in ("1", forged, "x" * 50):
        answer = woo_client.post("/woocommerce/callback", json=_keys(user_id))
        assert answer.status_code == 400 and answer.json["outcome"] == "bad_state"
    shopify_state = install_state.issue(settings.secret_key, "shopify", STORE_URL)  # valid, but for Shopify
    assert woo_client.post("/woocommerce/callback", json=_keys(shopify_state)).status_code == 400
    assert woo_client.post("/woocommerce/callback", data=b"not json").status_code == 400
    assert len(responses.calls) == 0 and _count(sessions, Store) == 0


@responses.activate
def test_callback_keeps_the_keys_encrypted_and_creates_the_webhooks_once(woo_client, sessions, settings):
    created = []

    def create(request):
        created.append(json.loads(request.body))
        return 201, {}, json.dumps({"id": len(created), **created[-1]})

    responses.add(responses.GET, f"{STORE_URL}/wp-json/wc/v3/webhooks", json=[])
    responses.add_callback(responses.POST, f"{STORE_URL}/wp-json/wc/v3/webhooks", callback=create)
    user_id = _user_id(woo_client)
    keys = _keys(user_id)
    # A body with the wrong permissions does not burn the user_id.
    assert woo_client.post("/woocommerce/callback", json={**keys, "key_permissions": "read"}).status_code == 400
    answer = woo_client.post("/woocommerce/callback", json=keys)
    assert answer.status_code == 200, answer.json
    assert sorted(h["topic"] for h in created) == ["customer.created", "order.created", "order.deleted",
                                                   "order.updated"]
    assert {h["delivery_url"] for h in created} == {"https://connector.example/webhooks/woocommerce"}
    secret = created[0]["secret"]
    assert len({h["secret"] for h in created}) == 1 and len(secret) >= 32
    with sessions() as session:
        store = session.scalars(select(Store)).one()
        assert store.domain == STORE_URL and store.status == "active" and not store.setup_pending
        assert keys["consumer_secret"].encode() not in store.access_token_encrypted
        assert crypto.decrypt(settings.secret_key, store.id, store.access_token_encrypted) == \
            f"{keys['consumer_key']}:{keys['consumer_secret']}"
        assert crypto.decrypt(settings.secret_key, store.id, store.webhook_secret_encrypted) == secret
    replay = woo_client.post("/woocommerce/callback", json=keys)
    assert replay.status_code == 400 and replay.json["outcome"] == "replayed_state"


@responses.activate
def test_keys_the_store_refuses_replace_nothing(woo_client, sessions, settings):
    """Anyone can get a user_id for a URL; posting junk keys with it must not touch an installed store."""
    _woo_store(sessions, settings)
    responses.add(responses.GET, f"{STORE_URL}/wp-json/wc/v3/webhooks", status=401,
                  json={"code": "woocommerce_rest_authentication_error", "message": "Consumer key is invalid."})
    answer = woo_client.post("/woocommerce/callback", json=_keys(_user_id(woo_client)))
    assert answer.status_code == 400 and answer.json["outcome"] == "keys_refused"
    assert "Consumer key" not in answer.get_data(as_text=True)  # the store's words stay in the log
    with sessions() as session:
        store = session.scalars(select(Store)).one()
        assert store.status == "active"
        assert crypto.decrypt(settings.secret_key, store.id, store.access_token_encrypted) == "ck_x:cs_y"


@responses.activate
def test_the_return_page_says_nothing_about_the_store_beyond_installed(woo_client, sessions, settings):
    responses.add(responses.GET, f"{STORE_URL}/wp-json/wc/v3/webhooks", json=[])
    responses.add(responses.POST, f"{STORE_URL}/wp-json/wc/v3/webhooks", status=500, json={"code": "internal details"})
    user_id = _user_id(woo_client)
    assert woo_client.post("/woocommerce/callback", json=_keys(user_id)).status_code == 200
    page = woo_client.get(f"/woocommerce/return?success=1&user_id={user_id}")
    assert page.status_code == 200 and b"connected" in page.data and b"internal details" not in page.data


@responses.activate
def test_the_return_page_never_tells_an_outsider_a_store_is_installed(woo_client, sessions, settings):
    """Anyone can get a user_id for any store URL, and post junk keys with it: the page stays the same."""
    _woo_store(sessions, settings)  # the store is installed
    fresh = _user_id(woo_client)
    responses.add(responses.GET, f"{STORE_URL}/wp-json/wc/v3/webhooks", status=401, json={"code": "nope"})
    burnt = _user_id(woo_client)
    assert woo_client.post("/woocommerce/callback", json=_keys(burnt)).status_code == 400
    pages = [woo_client.get(f"/woocommerce/return?success=1&user_id={user_id}") for user_id in (fresh, burnt)]
    with transaction(sessions) as session:
        session.execute(delete(Store))
    not_installed = woo_client.get(f"/woocommerce/return?success=1&user_id={_user_id(woo_client)}")
    assert [(p.status_code, p.data) for p in pages] == [(not_installed.status_code, not_installed.data)] * 2


def _woo_store(sessions, settings, secret="s3cret-s3cret-s3cret-s3cret") -> None:
    with transaction(sessions) as session:
        directory.add_store(session, settings.secret_key, "woocommerce", STORE_URL, access_token="ck_x:cs_y",
                            webhook_secret=secret)


@responses.activate
def test_webhooks_are_verified_with_the_stores_own_secret(woo_client, sessions, settings):
    _woo_store(sessions, settings)
    body = samples.encode(samples.order(order_id=77, codes=("DANA20",)))
    good = samples.headers(body, source=f"{STORE_URL}/", topic="order.created", secret="s3cret-s3cret-s3cret-s3cret")
    assert woo_client.post("/webhooks/woocommerce", data=body, headers=good).status_code == 200
    wrong = samples.headers(body, source=f"{STORE_URL}/", topic="order.created", secret="another-secret")
    assert woo_client.post("/webhooks/woocommerce", data=body, headers=wrong).status_code == 401
    unknown = samples.headers(body, source="https://unknown.example/", topic="order.created",
                              secret="s3cret-s3cret-s3cret-s3cret")
    assert woo_client.post("/webhooks/woocommerce", data=body, headers=unknown).status_code == 401
    missing = {k: v for k, v in good.items() if k != "X-WC-Webhook-Signature"}
    answer = woo_client.post("/webhooks/woocommerce", data=body, headers=missing)
    assert answer.status_code == 400 and answer.json["header"] == "X-WC-Webhook-Signature"
    assert _count(sessions, Event) == 1 and len(responses.calls) == 0


def test_the_creation_ping_is_answered_200_and_stores_nothing(woo_client, sessions, settings):
    _woo_store(sessions, settings)
    answer = woo_client.post("/webhooks/woocommerce", data=samples.ping(12),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and answer.json["outcome"] == "ping"
    assert _count(sessions, Event) == 0
