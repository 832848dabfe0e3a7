"""A signed Shopify body must be what its topic carries, for the shop its header names (adapters/shopify/binding.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from standins.shopify import samples
from adapters.shopify.binding import check, order_names_shop
from connector.errors import NotTopicBody, VerificationError, WrongShop
from connector.core.platform import StoreView

SHOP = "wool-and-co.myshopify.com"
OTHER = "someone-else.myshopify.com"
STORE = StoreView(id=1, domain=SHOP, webhook_secret=None, shop_id=str(samples.shop_number(SHOP)),
                  storefront_host="wool.example")


def _customer_request(shop: str, **extra) -> dict:
    return {"shop_id": samples.shop_number(shop), "shop_domain": shop, "customer": {"id": 1, "email": "a@b.example"},
            **extra}


GENUINE = {
    "orders/create": lambda shop: samples.order(shop=shop),
    "orders/paid": lambda shop: samples.order(shop=shop),
    "orders/updated": lambda shop: samples.order(shop=shop),
    "orders/cancelled": lambda shop: samples.order(shop=shop, cancelled_at="2026-11-23T09:00:00+01:00"),
    "app/uninstalled": samples.uninstalled,
    "shop/redact": samples.shop_redact,
    "customers/redact": lambda shop: _customer_request(shop, orders_to_redact=[1]),
    "customers/data_request": lambda shop: _customer_request(shop, orders_requested=[1], data_request={"id": 9}),
}


def _bytes(body) -> bytes:
    return samples.encode(body)


@pytest.mark.parametrize("topic", sorted(GENUINE))
def test_each_topics_own_body_passes_for_its_shop(topic):
    check(topic, _bytes(GENUINE[topic](SHOP)), SHOP, STORE)
    check(topic, _bytes(GENUINE[topic](SHOP)), SHOP, None)  # a store the connector does not hold (yet)


@pytest.mark.parametrize("topic", sorted(GENUINE))
def test_another_shops_body_is_refused_under_this_shops_header(topic):
    with pytest.raises(WrongShop):
        check(topic, _bytes(GENUINE[topic](OTHER)), SHOP, STORE)


def test_refunds_and_customers_carry_their_own_resource():
    check("refunds/create", _bytes(samples.refund()), SHOP, STORE)
    check("customers/create", _bytes(samples.customer()), SHOP, STORE)
    with pytest.raises(NotTopicBody):
        check("customers/create", _bytes(samples.order(shop=SHOP)), SHOP, STORE)  # an order is no sign-up
    with pytest.raises(NotTopicBody):
        check("refunds/create", _bytes(samples.order(shop=SHOP)), SHOP, STORE)
    with pytest.raises(NotTopicBody):
        check("orders/paid", _bytes(samples.refund()), SHOP, STORE)


@pytest.mark.parametrize("source, target", [("customers/redact", "shop/redact"),
                                            ("customers/data_request", "shop/redact"),
                                            ("customers/redact", "customers/data_request"),
                                            ("customers/data_request", "customers/redact"),
                                            ("shop/redact", "customers/redact")])
def test_a_privacy_body_cannot_pass_for_another_privacy_topic(source, target):
    with pytest.raises(NotTopicBody):
        check(target, _bytes(GENUINE[source](SHOP)), SHOP, STORE)


def test_a_known_shop_id_must_agree():
    with pytest.raises(WrongShop):
        check("shop/redact", _bytes({"shop_id": 1, "shop_domain": SHOP}), SHOP, STORE)
    with pytest.raises(WrongShop):
        check("app/uninstalled", _bytes({**samples.uninstalled(SHOP), "id": 1}), SHOP, STORE)
    check("shop/redact", _bytes({"shop_id": 1, "shop_domain": SHOP}), SHOP, None)  # nothing known to disagree with


def test_the_uninstalled_shops_domain_may_name_it_when_it_has_no_domain_of_its_own():
    check("app/uninstalled", _bytes({**samples.uninstalled(SHOP), "myshopify_domain": None}), SHOP, STORE)
    with pytest.raises(WrongShop):
        check("app/uninstalled", _bytes({**samples.uninstalled(SHOP), "myshopify_domain": None,
                                          "domain": "wool.example"}), SHOP, STORE)


@pytest.mark.parametrize("url, ok", [
    ("https://wool-and-co.myshopify.com/1/orders/t/authenticate?key=k", True),  # the shop's own domain
    (f"https://wool.example/{samples.shop_number(SHOP)}/orders/t/authenticate?key=k", True),  # its storefront
    (f"https://shop.example/{samples.shop_number(SHOP)}/orders/t", True),  # its id, on a domain we did not know
    (f"https://shopify.com/{samples.shop_number(SHOP)}/account/orders/1", True),  # new customer accounts
    ("https://someone-else.myshopify.com/1/orders/t/authenticate", False),
    (f"https://someone-else.myshopify.com/{samples.shop_number(OTHER)}/orders/t", False),
    ("https://wool-and-co.myshopify.com.evil.example/1/orders/t", False),
    ("", False), (None, False), (12, False), ("http://[bad", False),
])
def test_an_orders_status_url_names_its_shop(url, ok):
    assert order_names_shop(url, SHOP, STORE) is ok


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=300), topic=st.sampled_from(sorted(GENUINE) + ["refunds/create", "customers/create"]))
def test_any_bytes_are_refused_cleanly_or_pass(body, topic):
    try:
        check(topic, body, SHOP, STORE)
    except VerificationError as exc:
        assert exc.reason in ("wrong_shop", "not_topic_body")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                                           max_size=3), max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(value=json_values, topic=st.sampled_from(sorted(GENUINE)))
def test_no_json_value_but_the_topics_own_passes(value, topic):
    """Whatever JSON a body holds, it passes only when it names this shop the way its topic does."""
    try:
        check(topic, json.dumps(value).encode(), SHOP, STORE)
    except (WrongShop, NotTopicBody):
        return
    assert isinstance(value, dict)
    named = {value.get("shop_domain"), value.get("myshopify_domain"), value.get("domain")}
    assert SHOP in {n.strip().lower() for n in named if isinstance(n, str)} or "admin_graphql_api_id" in value
