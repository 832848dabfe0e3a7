"""Shopify webhook verification on raw bytes, header reading, and shop domain checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers

from adapters.shopify.verify import (
    HMAC_HEADER,
    SHOP_HEADER,
    TOPIC_HEADER,
    WEBHOOK_ID_HEADER,
    normalise_shop_domain,
    read_headers,
    sign,
    verify,
)
from connector.errors import BadSignature, MissingHeader, NoSecret

# Shopify's documented example (shopify.dev, "Verify webhooks"; also the shopify-api-js test vector).
DOC_BODY, DOC_SECRET, DOC_HMAC = b'{"foo": "bar"}', "test_secret_key", "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="

HEADERS = {
    HMAC_HEADER: DOC_HMAC,
    TOPIC_HEADER: "orders/create",
    SHOP_HEADER: "wool-and-co.myshopify.com",
    WEBHOOK_ID_HEADER: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
    "X-Shopify-API-Version": "2026-07",
}


# --- signatures ----------------------------------------------------------------------------------


def test_shopify_documented_vector():
    assert sign(DOC_BODY, DOC_SECRET) == DOC_HMAC
    assert verify(DOC_BODY, DOC_HMAC, [DOC_SECRET]) is None


def test_current_and_previous_secrets_are_both_accepted():
    """During a rotation Shopify may sign with either; both verify, whichever order they come in."""
    verify(DOC_BODY, sign(DOC_BODY, "new-secret"), ["new-secret", DOC_SECRET])
    verify(DOC_BODY, DOC_HMAC, ["new-secret", DOC_SECRET])


def test_wrong_secret_is_a_bad_signature():
    with pytest.raises(BadSignature):
        verify(DOC_BODY, DOC_HMAC, ["another_secret"])


@pytest.mark.parametrize("signature", ["", "not base64 at all", DOC_HMAC.lower(), DOC_HMAC[:-1], "é" + DOC_HMAC])
def test_malformed_signature_is_a_bad_signature(signature):
    with pytest.raises(BadSignature):
        verify(DOC_BODY, signature, [DOC_SECRET])


def test_no_secret_configured():
    with pytest.raises(NoSecret) as caught:
        verify(DOC_BODY, DOC_HMAC, [])
    assert caught.value.reason == "no_secret"


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=2048), secret=st.text(min_size=1, max_size=64))
def test_any_body_signed_with_sign_verifies(body, secret):
    verify(body, sign(body, secret), [secret])


@settings(max_examples=200, deadline=None)
@given(data=st.data(), body=st.binary(min_size=1, max_size=2048), secret=st.text(min_size=1, max_size=64))
def test_flipping_any_byte_of_the_body_is_a_bad_signature(data, body, secret):
    signature = sign(body, secret)
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1:]
    with pytest.raises(BadSignature):
        verify(tampered, signature, [secret])


# --- headers -------------------------------------------------------------------------------------


def test_read_headers():
    delivery = read_headers(HEADERS)
    assert delivery.store_key == "wool-and-co.myshopify.com"
    assert delivery.topic == "orders/create"
    assert delivery.delivery_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert delivery.signature == DOC_HMAC


def test_topic_is_lower_cased_and_event_id_is_optional():
    headers = {k: v for k, v in HEADERS.items() if k != "X-Shopify-Event-Id"}
    delivery = read_headers({**headers, TOPIC_HEADER: "ORDERS/Paid"})
    assert delivery.topic == "orders/paid"


@pytest.mark.parametrize("missing", [HMAC_HEADER, TOPIC_HEADER, SHOP_HEADER, WEBHOOK_ID_HEADER])
def test_missing_header_is_named(missing):
    for headers in ({k: v for k, v in HEADERS.items() if k != missing}, {**HEADERS, missing: "   "}):
        with pytest.raises(MissingHeader) as caught:
            read_headers(headers)
        assert caught.value.header == missing
        assert missing in str(caught.value)
        assert caught.value.reason == "missing_header"


def test_lower_case_unprefixed_headers_are_accepted():
    """Shopify's newer event deliveries send `shopify-*` headers, lower-case and without `X-`."""
    headers = {k.lower()[2:]: v for k, v in HEADERS.items()}
    assert "shopify-topic" in headers
    delivery = read_headers(headers)
    assert (delivery.topic, delivery.store_key, delivery.signature) == (
        "orders/create",
        "wool-and-co.myshopify.com",
        DOC_HMAC,
    )


def test_request_headers_are_read_case_insensitively():
    """The edge passes werkzeug's Headers; lower-case `x-shopify-*` names must work through it."""
    delivery = read_headers(Headers([(k.lower(), v) for k, v in HEADERS.items()]))
    assert delivery.delivery_id == HEADERS[WEBHOOK_ID_HEADER]


# --- shop domains --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Shop-1.myshopify.com", "shop-1.myshopify.com"),
        ("  wool-and-co.myshopify.com ", "wool-and-co.myshopify.com"),
        ("evil.com", None),
        ("shop.myshopify.com.evil.com", None),
        ("", None),
        ("   ", None),
        ("myshopify.com", None),
        (".myshopify.com", None),
        ("-shop.myshopify.com", None),
        ("shop.myshopify.com/admin", None),
        ("https://shop.myshopify.com", None),
        ("shop.evil.myshopify.com", None),
        ("shop.myshopify.com\nX-Injected: 1", None),
    ],
)
def test_normalise_shop_domain(value, expected):
    assert normalise_shop_domain(value) == expected


def test_the_trigger_time_is_read_to_the_microsecond_and_never_refuses_a_webhook():
    from datetime import datetime, timezone

    from adapters.shopify.verify import triggered_at

    assert triggered_at("2026-11-23T14:02:59.877041743Z") == datetime(2026, 11, 23, 14, 2, 59, 877041, timezone.utc)
    assert triggered_at("2026-11-23T15:02:59+01:00") == datetime(2026, 11, 23, 14, 2, 59, tzinfo=timezone.utc)
    for junk in (None, "", "yesterday", "2026-13-45T99:99:99Z", "2026-11-23T14:02:59"):
        assert triggered_at(junk) is None
    delivery = read_headers({**HEADERS, "X-Shopify-Triggered-At": "2026-11-23T14:02:59Z"})
    assert delivery.triggered_at == datetime(2026, 11, 23, 14, 2, 59, tzinfo=timezone.utc)
