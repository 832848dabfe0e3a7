"""The conversion body: exactly the contract's shape, decimal-string amounts, UTC `Z` times, sortable ids."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.payload import (
    PURCHASE,
    REFUND,
    conversion_body,
    format_amount,
    format_time,
    new_conversion_id,
)
from connector.core.platform import Money

# The keys of the contract's example body and its later additions (items, renewal_of), plus the `presentment`
# extension.
CONTRACT_DATA_KEYS = {
    "conversion_id", "platform", "store", "order_id", "order_name", "occurred_at", "amount", "currency",
    "tracking_id", "campaign_id", "method", "promo_code", "click_id", "credits", "customer", "reverses", "test",
    "items", "renewal_of", "backfill",
}
UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DECIMAL_STRING = re.compile(r"^-?\d+\.\d{2,}$")
PARIS = timezone(timedelta(hours=1))


def body(**overrides) -> dict:
    fields = dict(
        type=PURCHASE,
        conversion_id="cv_0194f3a2b1c0d2e3f4a5b6c7d8e9",
        created_at=datetime(2026, 11, 22, 15, 3, 7, tzinfo=PARIS),
        platform="shopify",
        store="example.myshopify.com",
        order_id="820982911946154508",
        order_name="#1001",
        occurred_at=datetime(2026, 11, 22, 15, 2, 59, 750000, tzinfo=PARIS),
        amount=Money(Decimal("59.5"), "EUR"),
        presentment=Money(Decimal("65.45"), "USD"),
        tracking_id="alice",
        campaign_id="spring-26",
        method="promo_code",
        promo_code="ALICE15",
        click_id=None,
        credits=[("alice", Decimal("1.0000"))],
        customer_email_sha256="ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976",
        first_order=True,
        reverses=None,
        test=False,
    )
    fields.update(overrides)
    return json.loads(conversion_body(**fields))


def test_body_has_exactly_the_contract_keys_plus_presentment():
    document = body()
    assert set(document) == {"type", "timestamp", "data"}
    assert set(document["data"]) == CONTRACT_DATA_KEYS | {"presentment"}
    assert set(document["data"]["customer"]) == {"email_sha256", "first_order"}
    assert [set(credit) for credit in document["data"]["credits"]] == [{"tracking_id", "share"}]


def test_body_values_match_the_contract_example():
    data = body()["data"]
    assert data["amount"] == "59.50" and data["currency"] == "EUR"
    assert data["presentment"] == {"amount": "65.45", "currency": "USD"}
    assert data["order_id"] == "820982911946154508"
    assert data["credits"] == [{"tracking_id": "alice", "share": "1"}]
    assert (data["click_id"], data["reverses"], data["test"]) == (None, None, False)


def test_body_without_presentment_says_null():
    assert body(presentment=None)["data"]["presentment"] is None


def test_shared_credits_are_decimal_strings():
    credits = [("alice", Decimal("0.3334")), ("bob", Decimal("0.3333")), ("carol", Decimal("0.3333"))]
    shares = [c["share"] for c in body(credits=credits)["data"]["credits"]]
    assert shares == ["0.3334", "0.3333", "0.3333"]
    assert sum(Decimal(s) for s in shares) == 1


def test_refund_body_names_the_purchase_it_reverses():
    document = body(type=REFUND, amount=Money(Decimal("12.75"), "EUR"), reverses="cv_0194f3a2b1c0aaaa")
    assert document["type"] == REFUND
    assert (document["data"]["amount"], document["data"]["reverses"]) == ("12.75", "cv_0194f3a2b1c0aaaa")


def test_timestamps_are_utc_and_end_in_z():
    document = body()
    assert document["timestamp"] == "2026-11-22T14:03:07Z"
    assert document["data"]["occurred_at"] == "2026-11-22T14:02:59Z"
    assert UTC_Z.match(format_time(datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=-7)))))
    assert format_time(datetime(2026, 3, 29, 23, 30, tzinfo=timezone(timedelta(hours=-7)))) == "2026-03-30T06:30:00Z"


@pytest.mark.parametrize(
    "amount, text",
    [
        ("59.5", "59.50"),
        ("59.50", "59.50"),
        ("12.345", "12.345"),
        ("0", "0.00"),
        ("0.00", "0.00"),
        ("-0", "0.00"),
        ("1E+2", "100.00"),
        ("100", "100.00"),
        ("-5", "-5.00"),
        ("0.000001", "0.000001"),
        ("1234567.891", "1234567.891"),
    ],
)
def test_amounts_are_plain_decimal_strings(amount, text):
    assert format_amount(Decimal(amount)) == text


def test_amount_in_the_body_is_a_string_not_a_number():
    raw = conversion_body(**{**_fields_for_raw(), "amount": Money(Decimal("1E+2"), "EUR")})
    assert '"amount":"100.00"' in raw
    assert "E+" not in raw and "e+" not in raw


def _fields_for_raw() -> dict:
    return dict(
        type=PURCHASE, conversion_id=new_conversion_id(), created_at=datetime.now(timezone.utc), platform="shopify",
        store="s.myshopify.com", order_id="1", order_name=None, occurred_at=datetime.now(timezone.utc),
        amount=Money(Decimal("1"), "EUR"), presentment=None, tracking_id=None, campaign_id=None, method=None,
        promo_code=None, click_id=None, credits=[], customer_email_sha256=None, first_order=None, reverses=None,
        test=True,
    )


def test_conversion_ids_are_unique_and_well_formed():
    ids = [new_conversion_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"cv_[0-9a-f]{28}", i) for i in ids)


def test_conversion_ids_sort_by_creation_time():
    ids = []
    for _ in range(5):
        ids.append(new_conversion_id())
        time.sleep(0.003)
    assert sorted(ids) == ids


_decimals_up_to_six_places = st.one_of(
    st.decimals(places=6, allow_nan=False, allow_infinity=False, min_value=-10**12, max_value=10**12),
    st.builds(
        lambda sign, coefficient, exponent: Decimal((sign, tuple(int(d) for d in str(coefficient)), exponent)),
        st.integers(0, 1),
        st.integers(0, 10**15),
        st.integers(-6, 5),
    ),
)


@settings(max_examples=200, deadline=None)
@given(_decimals_up_to_six_places)
def test_format_amount_parses_back_to_the_same_decimal(amount):
    text = format_amount(amount)
    assert Decimal(text) == amount
    assert DECIMAL_STRING.match(text), text


@pytest.mark.parametrize("amount", ["1E+26", "123456789012345678901234567890"])
def test_format_amount_handles_very_large_amounts(amount):
    assert Decimal(format_amount(Decimal(amount))) == Decimal(amount)
