"""The edge, POST /webhooks/shopify: verify on raw bytes, store once, answer; every bad input has its answer."""

from __future__ import annotations

import base64

import pytest

from standins.shopify import samples

from .conftest import OLD_SHOPIFY_SECRET, SHOP, SHOPIFY_SECRET
from .helpers import events, post_shopify


def test_authentic_delivery_is_stored_raw_and_answered_200(client, sessions, store):
    raw = samples.encode(samples.order(shop=SHOP)) + b"\n"  # bytes exactly as sent, trailing newline included
    answer = post_shopify(client, "orders/create", None, raw=raw, webhook_id="delivery-1")
    assert answer.status_code == 200
    assert answer.json["outcome"] == "stored"
    [event] = events(sessions)
    assert (event.topic, event.delivery_id, event.status, event.store_id) == ("orders/create", "delivery-1", "pending", store.id)
    assert event.body == raw


def test_a_repeated_delivery_answers_200_and_changes_nothing(client, sessions, store):
    first = post_shopify(client, "orders/create", samples.order(), webhook_id="same-id")
    again = post_shopify(client, "orders/create", samples.order(name="#changed"), webhook_id="same-id")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json["outcome"] == "duplicate"
    [event] = events(sessions)
    assert b"#changed" not in event.body


def test_the_previous_secret_still_verifies_during_rotation(client, sessions, store):
    answer = post_shopify(client, "orders/paid", samples.order(), secret=OLD_SHOPIFY_SECRET)
    assert answer.status_code == 200
    assert len(events(sessions)) == 1


def test_a_forged_delivery_is_refused_401_and_stored_nowhere(client, sessions, store):
    answer = post_shopify(client, "orders/paid", samples.order(), secret="not-the-app-secret")
    assert answer.status_code == 401
    assert answer.json["outcome"] == "bad_signature"
    assert events(sessions) == []


def test_a_body_changed_after_signing_is_refused(client, sessions, store):
    body = samples.encode(samples.order())
    headers = samples.headers(body, shop=store.domain, topic="orders/paid", secret=SHOPIFY_SECRET)
    tampered = body.replace(b'"59.50"', b'"95.50"')
    assert tampered != body
    answer = client.post("/webhooks/shopify", data=tampered, headers=headers)
    assert answer.status_code == 401
    assert events(sessions) == []


def test_a_signature_that_is_not_base64_is_refused(client, sessions, store):
    answer = post_shopify(client, "orders/paid", samples.order(), signature="%%% not base64 %%%")
    assert answer.status_code == 401
    assert events(sessions) == []


@pytest.mark.parametrize(
    "missing",
    ["X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"],
)
def test_a_missing_required_header_answers_400_naming_it(client, sessions, store, missing):
    answer = post_shopify(client, "orders/paid", samples.order(), drop=(missing,))
    assert answer.status_code == 400
    assert answer.json == {"outcome": "missing_header", "header": missing}
    assert events(sessions) == []


def test_an_authentic_delivery_for_an_unknown_shop_answers_200_and_stores_nothing(client, sessions, store):
    answer = post_shopify(client, "orders/paid", samples.order(), shop="someone-else.myshopify.com")
    assert answer.status_code == 200
    assert answer.json["outcome"] == "ignored"
    assert events(sessions) == []


def test_a_shop_header_that_is_not_a_shop_domain_names_no_shop_the_body_can_be(client, sessions, store):
    answer = post_shopify(client, "orders/paid", samples.order(), shop="evil.example.com")
    assert answer.status_code == 401
    assert answer.json["outcome"] == "wrong_shop"
    assert events(sessions) == []


def test_the_shop_domain_header_matches_case_insensitively(client, sessions, store):
    answer = post_shopify(client, "orders/paid", samples.order(), shop=store.domain.upper())
    assert answer.json["outcome"] == "stored"


def test_an_unused_topic_answers_200_and_stores_nothing(client, sessions, store):
    answer = post_shopify(client, "products/update", {"id": 1, "title": "Scarf"})
    assert answer.status_code == 200
    assert answer.json["outcome"] == "ignored"
    assert events(sessions) == []


def test_signed_bytes_under_an_unused_topic_say_nothing_of_which_shops_are_held(client, sessions, store):
    """Any bytes Shopify signed pass the signature; an unused topic has no shape to check. The answer for a
    shop the connector holds and for one it does not must be the same."""
    raw = b"code=abc&shop=attacker-dev.myshopify.com&state=s&timestamp=1"
    answers = [post_shopify(client, "products/create", None, raw=raw, shop=shop)
               for shop in (store.domain, "nobody-here.myshopify.com")]
    assert [(a.status_code, a.json) for a in answers] == [(200, {"outcome": "ignored"})] * 2
    assert events(sessions) == []


def test_a_body_over_the_limit_answers_413_and_stores_nothing(settings, engine, sessions, store):
    from connector import create_app

    app = create_app(settings.with_overrides(max_webhook_bytes=4096), engine=engine)
    big = samples.order()
    big["note"] = "x" * 5000
    answer = post_shopify(app.test_client(), "orders/paid", big)
    assert answer.status_code == 413
    assert answer.json["outcome"] == "too_large"
    assert events(sessions) == []


def test_signed_bytes_that_are_not_json_are_refused_and_stored_nowhere(client, sessions, store):
    """Shopify signs other things with the app secret (OAuth queries, session tokens): never a webhook."""
    answer = post_shopify(client, "orders/paid", None, raw=b'{"id": 1, "line_items": [')
    assert answer.status_code == 401
    assert answer.json["outcome"] == "not_topic_body"
    assert events(sessions) == []


def test_no_configured_secret_refuses_every_delivery(settings, engine, sessions, store):
    from connector import create_app

    app = create_app(settings.with_overrides(shopify_api_secrets=()), engine=engine)
    answer = post_shopify(app.test_client(), "orders/paid", samples.order())
    assert answer.status_code == 401
    assert answer.json["outcome"] == "no_secret"
    assert events(sessions) == []


def test_an_unknown_platform_is_404(client, store):
    assert client.post("/webhooks/magento", data=b"{}").status_code == 404


def test_health_answers_when_the_database_does(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json["database"] == "up"


def test_health_is_503_when_the_database_does_not_answer(settings):
    from connector import create_app

    app = create_app(settings.with_overrides(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503


def test_the_signature_is_checked_over_the_exact_bytes(client, sessions, store):
    """Re-serialising the JSON would change the bytes; the edge must verify what was sent."""
    raw = (b'{"id":820982911946154508,  "admin_graphql_api_id":"gid://shopify/Order/820982911946154508",'
           b' "order_status_url":"https://test-shop.myshopify.com/1/orders/t/authenticate?key=k","name":"#1001"}')
    signature = base64.b64encode(__import__("hmac").new(SHOPIFY_SECRET.encode(), raw, "sha256").digest()).decode()
    answer = post_shopify(client, "orders/paid", None, raw=raw, signature=signature)
    assert answer.status_code == 200


def test_a_delivery_id_too_long_to_keep_is_refused_400(client, sessions, store):
    answer = post_shopify(client, "orders/paid", samples.order(), webhook_id="x" * 256)
    assert answer.status_code == 400
    assert answer.json["outcome"] == "bad_header"
    assert events(sessions) == []


def test_a_database_that_does_not_answer_gets_503_so_shopify_retries(settings, sessions, store):
    """Nothing stored means nothing acknowledged: 503 with Retry-After, never a 500."""
    from connector import create_app
    from connector.db import make_engine

    live = create_app(settings)
    answer = post_shopify(live.test_client(), "orders/paid", samples.order())
    assert answer.status_code == 200  # the store is now in the app's cache
    # The same app, its database gone: the cached store is found, the insert cannot be made.
    live.extensions["connector"].engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pre_ping=False)
    answer = post_shopify(live.test_client(), "orders/paid", samples.order())
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert len(events(sessions)) == 1
    # ...and a store lookup that cannot reach the database is a 503 too.
    dead = create_app(settings, engine=make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pre_ping=False))
    assert post_shopify(dead.test_client(), "orders/paid", samples.order()).status_code == 503


def test_a_delivery_id_with_control_characters_is_refused_400(client, sessions, store):
    answer = post_shopify(client, "orders/paid", samples.order(), webhook_id="abc\x00def")
    assert answer.status_code == 400
    assert events(sessions) == []


@pytest.mark.only_database("postgresql")
def test_a_connection_killed_under_the_edge_is_a_503_once_then_deliveries_are_stored(app, client, sessions, store,
                                                                                     database_url):
    """As after a PostgreSQL restart: the pooled connection is dead; 503 (Shopify retries), never a 500."""
    from sqlalchemy import create_engine, text

    engine = app.extensions["connector"].engine
    assert post_shopify(client, "orders/paid", samples.order(order_id=1)).status_code == 200
    with engine.connect() as connection:  # the one pooled connection: find its server process
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
        connection.rollback()
    admin = create_engine(database_url)
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()
    statuses = [post_shopify(client, "orders/paid", samples.order(order_id=n)).status_code for n in (2, 3)]
    # SQLAlchemy usually notices the dead connection when it is checked out and reconnects (200);
    # when the statement itself hits it, the edge answers 503 and the pool drops it.
    assert statuses in ([503, 200], [200, 200])
    assert len(events(sessions)) == 1 + statuses.count(200)


def test_a_store_secret_that_no_longer_decrypts_is_a_503_not_a_500(settings, engine, sessions, store):
    """CONNECTOR_SECRET_KEY changed under stored credentials: refuse to acknowledge, so nothing is lost."""
    from connector import create_app, crypto
    from connector.db import transaction

    with transaction(sessions) as session:
        session.merge(store).webhook_secret_encrypted = crypto.encrypt("another key", store.id, "secret")
    app = create_app(settings, engine=engine)
    answer = post_shopify(app.test_client(), "orders/paid", samples.order())
    assert answer.status_code == 503
    assert events(sessions) == []
