"""Shopify's app/uninstalled and compliance webhooks → neutral lifecycle events, on the documented samples."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.shopify.compliance import LIFECYCLE_TOPICS, normalise_lifecycle
from connector.errors import MalformedPayload
from connector.core.platform import AppUninstalled, CustomerDataRequest, CustomerRedact, StoreRedact

BIG = 2**53 + 1  # not representable as a float: a float on the way would change it

# The samples of Shopify's privacy-law compliance docs (PLATFORMS.md A3).
DATA_REQUEST = {
    "shop_id": 954889,
    "shop_domain": "test-shop.myshopify.com",
    "orders_requested": [299938, 280263, 220458],
    "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
    "data_request": {"id": 9999},
}
CUSTOMER_REDACT = {
    "shop_id": 954889,
    "shop_domain": "test-shop.myshopify.com",
    "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
    "orders_to_redact": [299938, 280263, 220458],
}
SHOP_REDACT = {"shop_id": 954889, "shop_domain": "test-shop.myshopify.com"}
SHOP = {"id": 548380009, "name": "John Smith Test Store", "email": "j.smith@example.com", "domain": None,
        "myshopify_domain": None, "currency": "USD", "plan_name": "enterprise"}
SAMPLES = {
    "customers/data_request": DATA_REQUEST,
    "customers/redact": CUSTOMER_REDACT,
    "shop/redact": SHOP_REDACT,
    "app/uninstalled": SHOP,
}
EXPECTED = {
    "customers/data_request": CustomerDataRequest,
    "customers/redact": CustomerRedact,
    "shop/redact": StoreRedact,
    "app/uninstalled": AppUninstalled,
}


def encode(body) -> bytes:
    return json.dumps(body).encode()


def test_the_documented_samples():
    assert normalise_lifecycle("customers/data_request", encode(DATA_REQUEST)) == CustomerDataRequest(
        request_id="9999", customer_id="191167", email="john@example.com", order_ids=("299938", "280263", "220458"))
    assert normalise_lifecycle("customers/redact", encode(CUSTOMER_REDACT)) == CustomerRedact(
        customer_id="191167", email="john@example.com", order_ids=("299938", "280263", "220458"))
    assert normalise_lifecycle("shop/redact", encode(SHOP_REDACT)) == StoreRedact()
    assert normalise_lifecycle("app/uninstalled", encode(SHOP)) == AppUninstalled()


def test_the_topics_are_the_four_lifecycle_topics_and_others_give_nothing():
    assert LIFECYCLE_TOPICS == frozenset(SAMPLES)
    assert normalise_lifecycle("orders/create", encode(SHOP)) is None


def test_ids_beyond_two_to_the_53_keep_every_digit():
    body = {**DATA_REQUEST, "customer": {"id": BIG, "email": None}, "orders_requested": [BIG + 2, str(BIG + 4)],
            "data_request": {"id": BIG + 6}}
    event = normalise_lifecycle("customers/data_request", encode(body))
    assert (event.customer_id, event.order_ids, event.request_id) == (
        str(BIG), (str(BIG + 2), str(BIG + 4)), str(BIG + 6))


def test_absent_optional_parts():
    only_email = {"customer": {"email": "  John@Example.com "}}
    assert normalise_lifecycle("customers/data_request", encode(only_email)) == CustomerDataRequest(
        request_id=None, customer_id=None, email="John@Example.com", order_ids=())
    only_orders = {"customer": {"id": None, "email": None, "phone": None}, "orders_to_redact": [1]}
    assert normalise_lifecycle("customers/redact", encode(only_orders)) == CustomerRedact(
        customer_id=None, email=None, order_ids=("1",))


@pytest.mark.parametrize("topic, body", [
    ("customers/data_request", b"not json"),
    ("customers/redact", b"[1, 2]"),
    ("shop/redact", b"\xff\xfe"),
    ("customers/data_request", encode({**DATA_REQUEST, "customer": None})),
    ("customers/redact", encode({**CUSTOMER_REDACT, "customer": {"id": 1.5e20}})),  # a float id
    ("customers/redact", encode({**CUSTOMER_REDACT, "customer": {"id": True}})),
    ("customers/redact", encode({**CUSTOMER_REDACT, "orders_to_redact": "299938"})),
    ("customers/redact", encode({**CUSTOMER_REDACT, "orders_to_redact": [-1]})),
    ("customers/data_request", encode({**DATA_REQUEST, "data_request": {"id": "abc"}})),
    ("customers/data_request", encode({**DATA_REQUEST, "customer": {"email": ["x"]}})),
    # Nothing to find the customer by: flagged for an operator rather than answered with nothing.
    ("customers/redact", encode({"customer": {"phone": "555"}, "orders_to_redact": []})),
    # A replay of a delivery whose body was erased.
    ("customers/redact", b'{"redacted": true, "reason": "customers/redact"}'),
])
def test_malformed_payloads(topic, body):
    with pytest.raises(MalformedPayload):
        normalise_lifecycle(topic, body)


def test_an_uninstall_needs_nothing_from_its_body():
    assert normalise_lifecycle("app/uninstalled", b"") == AppUninstalled()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    (), ("shop_id",), ("customer",), ("customer", "id"), ("customer", "email"), ("customer", "phone"),
    ("orders_requested",), ("orders_to_redact",), ("data_request",), ("data_request", "id"),
]


def _replace(body: dict, path: tuple[str, ...], value):
    if not path:
        return value
    copy = dict(body)
    inner = copy.get(path[0])
    copy[path[0]] = _replace(inner if isinstance(inner, dict) else {}, path[1:], value) if len(path) > 1 else value
    return copy


@given(topic=st.sampled_from(sorted(SAMPLES)), path=st.sampled_from(FIELDS), value=json_values)
def test_any_json_in_any_field_gives_the_event_or_malformed_payload(topic, path, value):
    body = encode(_replace(SAMPLES[topic], path, value))
    try:
        event = normalise_lifecycle(topic, body)
    except MalformedPayload:
        return
    assert isinstance(event, EXPECTED[topic])
    for text in [getattr(event, "customer_id", None), getattr(event, "request_id", None),
                 *getattr(event, "order_ids", ())]:
        assert text is None or (text.isdigit() and len(text) <= 64)


@given(topic=st.sampled_from(sorted(SAMPLES)), body=st.binary(max_size=64))
def test_any_bytes_give_the_event_or_malformed_payload(topic, body):
    try:
        event = normalise_lifecycle(topic, body)
    except MalformedPayload:
        return
    assert isinstance(event, EXPECTED[topic])
