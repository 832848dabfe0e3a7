"""WooCommerce webhook signatures on raw bytes, header reading (case-insensitive), and the creation ping."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers

from adapters.woocommerce import adapter
from standins.woocommerce import samples
from adapters.woocommerce.verify import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    SOURCE_HEADER,
    TOPIC_HEADER,
    read_headers,
    sign,
    verify,
)
from connector.errors import BadSignature, MissingHeader
from connector.core.platform import StoreView
from connector.settings import Settings

# WooCommerce core's webhook unit test (crud.php, PLATFORMS.md B3): body "secret", empty key.
CORE_BODY, CORE_KEY, CORE_SIGNATURE = b"secret", "", "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs="
SECRET = "4f1c0e9a7b2d4c3e8a5f9b2d1e0c7a64b3d2c1e0f9a8b7c6"
BODY = samples.encode(samples.order())
WC_DELIVERY_ID = "a0c4b1f8e3d2c1b0a9f8e7d6c5b4a392"


def wc_headers(body: bytes = BODY, **overrides) -> dict[str, str]:
    values = {"source": "https://shop.example/", "topic": "order.created", "secret": SECRET,
              "delivery_id": WC_DELIVERY_ID, **overrides}
    return samples.headers(body, **values)


# --- signatures ----------------------------------------------------------------------------------


def test_woocommerce_core_vector():
    assert sign(CORE_BODY, CORE_KEY) == CORE_SIGNATURE


def test_core_vector_verifies_with_the_empty_secret_listed():
    verify(CORE_BODY, CORE_SIGNATURE, [CORE_KEY])


def test_signature_of_a_sample_delivery_verifies():
    verify(BODY, wc_headers()[SIGNATURE_HEADER], [SECRET])


def test_any_listed_secret_verifies():
    verify(BODY, sign(BODY, SECRET), ["other-secret", SECRET])


def test_wrong_secret_is_a_bad_signature():
    with pytest.raises(BadSignature):
        verify(BODY, sign(BODY, SECRET), ["other-secret"])


def test_one_changed_byte_is_a_bad_signature():
    with pytest.raises(BadSignature):
        verify(BODY.replace(b"34.00", b"94.00"), sign(BODY, SECRET), [SECRET])


@pytest.mark.parametrize("signature", ["", "not base64", CORE_SIGNATURE.lower(), CORE_SIGNATURE[:-1], "é" + CORE_SIGNATURE])
def test_malformed_signature_is_a_bad_signature(signature):
    with pytest.raises(BadSignature):
        verify(CORE_BODY, signature, [CORE_KEY])


def test_an_unknown_store_gets_the_answer_of_a_bad_signature():
    """No secret means no store has this source; saying so would tell an outsider which stores exist."""
    with pytest.raises(BadSignature, match="no store has this X-WC-Webhook-Source"):
        verify(BODY, sign(BODY, SECRET), [])


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=2000), secret=st.text(max_size=64), other=st.text(max_size=64), flip=st.integers(min_value=0))
def test_signature_property(body, secret, other, flip):
    """A body verifies under its own secret only, and not once any byte of it changes."""
    signature = sign(body, secret)
    verify(body, signature, [secret])
    # HMAC pads short keys with zero bytes, so "a" and "a\x00" are the same key: only truly other keys fail.
    if other.encode().rstrip(b"\x00") != secret.encode().rstrip(b"\x00"):
        with pytest.raises(BadSignature):
            verify(body, signature, [other])
    if body:
        index = flip % len(body)
        changed = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1:]
        with pytest.raises(BadSignature):
            verify(changed, signature, [secret])


# --- headers -------------------------------------------------------------------------------------


def test_headers_are_read_and_the_delivery_id_carries_the_body_hash():
    delivery = read_headers(wc_headers(), BODY)
    assert delivery.store_key == "https://shop.example/"
    assert delivery.topic == "order.created"
    assert delivery.signature == sign(BODY, SECRET)
    assert delivery.delivery_id == f"{WC_DELIVERY_ID}.{hashlib.sha256(BODY).hexdigest()[:16]}"


def test_same_woocommerce_delivery_id_with_another_body_is_another_delivery():
    """WooCommerce's id is wp_hash(webhook id . time()): two events in one second share it."""
    other = samples.encode(samples.order(status="completed"))
    first, second = read_headers(wc_headers(BODY), BODY), read_headers(wc_headers(other), other)
    assert first.delivery_id != second.delivery_id
    assert read_headers(wc_headers(BODY), BODY).delivery_id == first.delivery_id  # a resend is a duplicate


@pytest.mark.parametrize("style", ["werkzeug", "lower", "upper"])
def test_header_names_are_case_insensitive(style):
    raw = wc_headers()
    if style == "werkzeug":
        headers = Headers(list(raw.items()))
    elif style == "lower":
        headers = {name.lower(): value for name, value in raw.items()}
    else:
        headers = {name.upper(): value for name, value in raw.items()}
    delivery = read_headers(headers, BODY)
    assert (delivery.store_key, delivery.topic) == ("https://shop.example/", "order.created")


def test_topic_is_lower_cased():
    assert read_headers(wc_headers(topic="Order.Updated"), BODY).topic == "order.updated"


@pytest.mark.parametrize("missing", [SIGNATURE_HEADER, TOPIC_HEADER, SOURCE_HEADER, DELIVERY_ID_HEADER])
def test_missing_header_is_named(missing):
    headers = wc_headers()
    del headers[missing]
    with pytest.raises(MissingHeader) as caught:
        read_headers(headers, BODY)
    assert caught.value.header == missing


def test_blank_header_counts_as_missing():
    headers = wc_headers()
    headers[SOURCE_HEADER] = "   "
    with pytest.raises(MissingHeader) as caught:
        read_headers(headers, BODY)
    assert caught.value.header == SOURCE_HEADER


# --- the creation ping ---------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {},
    {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)"},
])
def test_creation_ping_is_recognised(headers):
    assert read_headers(headers, samples.ping(17)) is None


@pytest.mark.parametrize("body, headers", [
    (b"webhook_id=17", {SIGNATURE_HEADER: "x"}),  # signed: not a ping
    (b"webhook_id=17", {DELIVERY_ID_HEADER: "abc"}),
    (b"webhook_id=abc", {}),
    (b"webhook_id=17&more=1", {}),
    (b"webhook_id=", {}),
    (b"", {}),
    (b'{"id": 17}', {}),
])
def test_anything_else_without_headers_is_not_a_ping(body, headers):
    with pytest.raises(MissingHeader):
        read_headers(headers, body)


# --- the adapter's secrets -----------------------------------------------------------------------


def test_store_secret_is_the_only_secret():
    store = StoreView(id=1, domain="https://shop.example", webhook_secret=SECRET)
    assert tuple(adapter.webhook_secrets(Settings(), store)) == (SECRET,)


@pytest.mark.parametrize("store", [None, StoreView(id=1, domain="https://shop.example", webhook_secret=None),
                                   StoreView(id=1, domain="https://shop.example", webhook_secret="")])
def test_no_store_or_no_secret_gives_no_secrets(store):
    assert tuple(adapter.webhook_secrets(Settings(shopify_api_secrets=("shopify",)), store)) == ()
