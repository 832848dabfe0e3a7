"""Attacks with bytes the platform really signed, over real HTTP, against the real app and worker.

The attacker has a free development store with the app installed (so Shopify signs things for them with
the app's one secret) and a browser. The victim is another merchant's store. Each test performs the
attack and then checks that nothing changed: the store is still active with its credentials, no event
was stored, no conversion was made or sent.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from standins.shopify import samples
from standins.shopify.store import StandinShopify, query_hmac, webhook_signature
from connector import create_app, crypto
from connector.campaigns import directory
from connector.db import transaction
from standins.live_server import LiveServer
from connector.models import Conversion, Event, Influencer, Store
from connector.worker import Worker

from ..conftest import BACKEND_SECRET, SHOPIFY_SECRET
from .conftest import deploy_app, set_up_stores

API_KEY = "attack-api-key"
VICTIM = "victim-boutique.myshopify.com"
ATTACKER = "attacker-dev.myshopify.com"


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        yield standin


@pytest.fixture
def live(settings, engine, shopify, backend, sessions):
    server = LiveServer()
    live_settings = settings.with_overrides(
        public_url=server.url, shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url,
        tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET,
    )
    server.start(create_app(live_settings, engine=engine))
    deploy_app(shopify, live_settings)
    for shop in (VICTIM, ATTACKER):
        assert _install(server.url, shop).status_code == 200
    set_up_stores(live_settings, sessions)
    with transaction(sessions) as session:
        directory.add_influencer(session, directory.find_store(session, VICTIM), "alice", code="ALICE15",
                                 campaign_id="spring-26")
    yield server, live_settings
    server.stop()


def _signed_query(shop: str, **params) -> dict:
    params = {"shop": shop, "timestamp": str(int(time.time())), **params}
    return {**params, "hmac": query_hmac(params, SHOPIFY_SECRET)}


def _install(url: str, shop: str) -> requests.Response:
    return requests.get(f"{url}/shopify/install?{urlencode(_signed_query(shop))}", timeout=20)


def _drain(settings, sessions) -> None:
    Worker(settings, sessions, worker_id="attack").run(burst=True)


def _post(url: str, body: bytes, *, topic: str, shop: str, signature: str | None = None) -> requests.Response:
    headers = samples.headers(body, shop=shop, topic=topic, secret=SHOPIFY_SECRET, signature=signature)
    return requests.post(f"{url}/webhooks/shopify", data=body, headers=headers, timeout=10)


def _victim(sessions) -> Store:
    with sessions() as session:
        return session.scalars(select(Store).where(Store.domain == VICTIM)).one()


def _count(sessions, model, *conditions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*conditions))


def _victim_untouched(sessions, settings, token_before: str) -> None:
    store = _victim(sessions)
    assert store.status == "active" and store.uninstalled_at is None
    assert crypto.decrypt(settings.secret_keys, store.id, store.access_token_encrypted) == token_before
    assert _count(sessions, Influencer, Influencer.store_id == store.id) == 1


def _nothing_stored_or_changed(settings, sessions, token_before: str) -> None:
    """After the worker has run: no event was kept, and the victim store is as it was."""
    _drain(settings, sessions)
    assert _count(sessions, Event) == 0
    _victim_untouched(sessions, settings, token_before)


def _refused(answer: requests.Response, outcome: str) -> None:
    assert (answer.status_code, answer.json()) == (401, {"outcome": outcome})


def _victim_token(sessions, settings) -> str:
    store = _victim(sessions)
    return crypto.decrypt(settings.secret_keys, store.id, store.access_token_encrypted)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# -- 1. other messages Shopify signs with the app secret ------------------------------------------


def test_the_attackers_own_oauth_callback_cannot_uninstall_another_store(live, shopify, sessions, backend):
    """The callback query Shopify signs (hex) for the attacker's shop, sent as a webhook body (base64)."""
    server, settings = live
    token = _victim_token(sessions, settings)
    # The attacker's browser starts an install of their own shop and stops at Shopify's redirect.
    start = requests.get(f"{server.url}/shopify/install?{urlencode(_signed_query(ATTACKER))}", timeout=10,
                         allow_redirects=False)
    grant = requests.get(start.headers["Location"], timeout=10, allow_redirects=False)
    params = dict(parse_qsl(urlsplit(grant.headers["Location"]).query))
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac").encode()
    signature = _b64(bytes.fromhex(params["hmac"]))
    assert signature == webhook_signature(message, SHOPIFY_SECRET)  # it verifies like a webhook would

    for topic in ("app/uninstalled", "shop/redact", "orders/cancelled"):
        _refused(_post(server.url, message, topic=topic, shop=VICTIM, signature=signature), "not_topic_body")
    _nothing_stored_or_changed(settings, sessions, token)


def test_the_attackers_session_token_cannot_uninstall_another_store(live, shopify, sessions):
    """A session token is HS256 over `header.payload` with the same secret: those bytes verify too."""
    server, settings = live
    token = _victim_token(sessions, settings)
    jwt = shopify.session_token(ATTACKER)
    header, payload, mac = jwt.split(".")
    signature = _b64(base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4)))
    _refused(_post(server.url, f"{header}.{payload}".encode(), topic="app/uninstalled", shop=VICTIM,
                   signature=signature), "not_topic_body")
    _nothing_stored_or_changed(settings, sessions, token)


def test_the_attackers_own_uninstall_webhook_cannot_uninstall_another_store(live, shopify, sessions):
    server, settings = live
    token = _victim_token(sessions, settings)
    body = samples.encode(samples.uninstalled(ATTACKER))  # what Shopify sends when the attacker uninstalls
    _refused(_post(server.url, body, topic="app/uninstalled", shop=VICTIM), "wrong_shop")
    _nothing_stored_or_changed(settings, sessions, token)


def test_an_order_from_the_attackers_store_cannot_be_credited_in_another(live, shopify, sessions, backend):
    """An order placed in the attacker's store with the victim influencer's code, re-sent under the victim."""
    server, settings = live
    order = samples.order(shop=ATTACKER, order_id=930000000000000001, name="#1", codes=("ALICE15",))
    answer = _post(server.url, samples.encode(order), topic="orders/paid", shop=VICTIM)
    assert answer.status_code == 401 and answer.json()["outcome"] == "wrong_shop"
    _drain(settings, sessions)
    assert _count(sessions, Event) == 0 and _count(sessions, Conversion) == 0 and backend.delivered() == []


def test_an_unknown_store_gets_the_same_refusal_as_a_known_one(live, shopify, sessions):
    server, _settings = live
    order = samples.encode(samples.order(shop=ATTACKER, codes=("ALICE15",)))
    answers = [_post(server.url, order, topic="orders/paid", shop=shop) for shop in (VICTIM, "nobody.myshopify.com")]
    assert [(a.status_code, a.json()) for a in answers] == [(401, {"outcome": "wrong_shop"})] * 2


def test_an_uninstall_the_app_can_still_call_the_shop_is_kept_rejected(live, shopify, sessions):
    """Bytes that pass every check of the edge (here signed by the test itself, standing in for any signed
    bytes nobody foresaw): the worker asks Shopify, the store's token still works, nothing is dropped."""
    server, settings = live
    token = _victim_token(sessions, settings)
    body = samples.encode(samples.uninstalled(VICTIM))
    assert _post(server.url, body, topic="app/uninstalled", shop=VICTIM).status_code == 200
    _drain(settings, sessions)
    with sessions() as session:
        [event] = session.scalars(select(Event).where(Event.topic == "app/uninstalled")).all()
    assert event.status == "rejected" and "still installed" in event.error
    _victim_untouched(sessions, settings, token)

    shopify.uninstall(VICTIM)  # the merchant really uninstalls: Shopify revokes the tokens, then tells us
    _drain(settings, sessions)
    store = _victim(sessions)
    assert store.status == "uninstalled" and store.access_token_encrypted is None


# -- 2. topic and shop headers bound to the body --------------------------------------------------


def test_a_paid_orders_body_re_sent_as_a_cancellation_cancels_nothing(live, shopify, sessions, backend):
    server, settings = live
    order = samples.order(order_id=930000000000000002, name="#2", codes=("ALICE15",), cart_ref="")
    shopify.place_order(VICTIM, order, topics=("orders/paid",))
    _drain(settings, sessions)
    assert [r.body["type"] for r in backend.delivered()] == ["conversion.purchase"]
    # The captured, genuine delivery: same bytes, a new webhook id, another topic.
    genuine = samples.encode(samples.of_shop({**order, "checkout_token": shopify.checkout_token(VICTIM, order["id"])},
                                             VICTIM))
    assert _post(server.url, genuine, topic="orders/cancelled", shop=VICTIM).status_code == 200
    _drain(settings, sessions)
    assert [r.body["type"] for r in backend.delivered()] == ["conversion.purchase"]
    assert _count(sessions, Conversion) == 1


def test_a_shop_redact_for_one_store_cannot_erase_another(live, shopify, sessions):
    server, settings = live
    token = _victim_token(sessions, settings)
    attackers = samples.encode(samples.shop_redact(ATTACKER))
    _refused(_post(server.url, attackers, topic="shop/redact", shop=VICTIM), "wrong_shop")
    _nothing_stored_or_changed(settings, sessions, token)


def test_a_customer_erasure_cannot_pass_for_erasing_the_whole_shop(live, shopify, sessions):
    server, settings = live
    token = _victim_token(sessions, settings)
    customer_redact = {"shop_id": samples.shop_number(VICTIM), "shop_domain": VICTIM,
                       "customer": {"id": 1, "email": "a@example.com", "phone": None}, "orders_to_redact": []}
    _refused(_post(server.url, samples.encode(customer_redact), topic="shop/redact", shop=VICTIM), "not_topic_body")
    _nothing_stored_or_changed(settings, sessions, token)


def test_a_shop_id_that_is_not_the_stores_is_refused_even_with_its_domain(live, shopify, sessions):
    server, settings = live
    token = _victim_token(sessions, settings)
    body = samples.encode({"shop_id": samples.shop_number(ATTACKER), "shop_domain": VICTIM})
    answer = _post(server.url, body, topic="shop/redact", shop=VICTIM)
    assert answer.status_code == 401 and answer.json()["outcome"] == "wrong_shop"
    _victim_untouched(sessions, settings, token)
    assert json.loads(body)["shop_domain"] == VICTIM


def test_a_custom_apps_store_is_uninstalled_when_shopify_refuses_its_token(live, shopify, sessions):
    """A token that never expires has no refresh token: Shopify refusing it is the confirmation."""
    server, settings = live
    custom = "custom-app-store.myshopify.com"
    with transaction(sessions) as session:
        directory.add_store(session, settings.secret_key, "shopify", custom, access_token="shpat_custom")
    shopify.grant_token(custom, "shpat_custom")
    body = samples.encode(samples.uninstalled(custom))
    assert _post(server.url, body, topic="app/uninstalled", shop=custom).status_code == 200
    _drain(settings, sessions)
    with sessions() as session:
        assert session.scalars(select(Store.status).where(Store.domain == custom)).one() == "active"  # token works
    shopify.revoke_tokens(custom)
    samples_again = samples.encode({**samples.uninstalled(custom), "updated_at": "later"})
    assert _post(server.url, samples_again, topic="app/uninstalled", shop=custom).status_code == 200
    _drain(settings, sessions)
    with sessions() as session:
        store = session.scalars(select(Store).where(Store.domain == custom)).one()
    assert store.status == "uninstalled" and store.access_token_encrypted is None
