"""WooCommerce order payloads → neutral events, on the template in adapters/woocommerce/samples.

The template order (PROVENANCE.md): two lines, 40.00 + 2 × 15.00 EUR, the 15% coupon alice15 taken off
each line's total (34.00 + 25.50), 20% tax on top, shipping 4.90; order total 77.28.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.woocommerce import adapter
from standins.woocommerce import samples
from adapters.woocommerce.normalise import HANDLED_TOPICS, ORDER_TOPICS, normalise, refunded_base
from connector.errors import MalformedPayload
from connector.core.platform import CustomerCreated, Money, OrderDeleted, OrderEvent

BASE = Money(Decimal("59.50"), "EUR")


def order_event(body: dict | None = None, topic: str = "order.created") -> OrderEvent:
    event = normalise(topic, samples.encode(samples.order() if body is None else body))
    assert isinstance(event, OrderEvent)
    return event


# --- orders --------------------------------------------------------------------------------------


def test_commission_base_is_the_line_totals():
    """Lines after the coupon, tax out: 34.00 + 25.50; shipping, its tax and the cart tax are out."""
    event = order_event()
    assert event.commission_base == BASE
    assert event.presentment_base is None
    assert isinstance(event.commission_base.amount, Decimal)


def test_shipping_fees_and_taxes_do_not_move_the_base():
    body = samples.order()
    body.update(shipping_total="99.00", shipping_tax="19.80", total_tax="50.00", total="500.00")
    body["fee_lines"] = [{"id": 1, "name": "Gift wrap", "total": "5.00", "total_tax": "1.00"}]
    body["shipping_lines"][0]["total"] = "99.00"
    assert order_event(body).commission_base == BASE


def test_prices_entered_with_tax_still_give_line_totals_without_tax():
    body = samples.order()
    body["prices_include_tax"] = True  # WooCommerce's line `total` is without tax either way
    assert order_event(body).commission_base == BASE


def test_json_numbers_are_read_as_exact_decimals():
    body = samples.order()
    body["line_items"][0]["total"] = Decimal("0.1")
    body["line_items"][1]["total"] = Decimal("0.2")
    raw = samples.encode(body)
    assert b'"total":0.1,' in raw  # a JSON number, not a string
    event = normalise("order.created", raw)
    assert event.commission_base.amount == Decimal("0.3")


def test_order_fields_are_carried_over():
    event = order_event()
    assert (event.order_id, event.order_name, event.topic) == ("5123", "#5123", "order.created")
    assert event.occurred_at == datetime(2026, 11, 22, 14, 2, 59, tzinfo=timezone.utc)
    assert (event.financial_status, event.paid, event.cancelled, event.cancelled_at) == ("processing", True, False, None)
    assert event.test is False
    assert (event.customer.id, event.customer.email, event.customer.first_order) == ("42", "claire.martin@example.com", None)
    assert event.discount_codes == ("alice15",)
    assert dict(event.cart_attributes) == {}
    assert event.landing_url == ("https://shop.example/product/merino-scarf/?ref=alice&utm_source=instagram"
                                 "&utm_medium=social&utm_campaign=spring-26")
    assert event.landing_ref is None
    assert event.refunds == ()


def test_traffic_is_the_attribution_meta_without_prefix_landing_user_agent_or_none():
    assert dict(order_event().traffic) == {
        "source_type": "utm",
        "referrer": "https://l.instagram.com/",
        "utm_campaign": "spring-26",
        "utm_source": "instagram",
        "utm_medium": "social",
        "session_start_time": "2026-11-22 13:51:10",
        "session_pages": "4",
        "session_count": "1",
        "device_type": "Mobile",
    }


def test_cart_attributes_come_from_ref_and_click_id_meta():
    event = order_event(samples.order(cart_ref="bob", click_id="c_9f2e"))
    assert dict(event.cart_attributes) == {"_ref": "bob", "_click_id": "c_9f2e"}


def test_numeric_meta_values_become_text_and_objects_are_skipped():
    body = samples.order()
    body["meta_data"] += [{"id": 1, "key": "_ref", "value": 1234}, {"id": 2, "key": "_click_id", "value": {"a": 1}}]
    assert dict(order_event(body).cart_attributes) == {"_ref": "1234"}


def test_landing_url_meta_removed_gives_none():
    assert order_event(samples.order(landing_url="")).landing_url is None


@pytest.mark.parametrize(
    "status, paid, cancelled",
    [
        ("pending", False, False),
        ("processing", True, False),
        ("on-hold", False, False),
        ("completed", True, False),
        ("refunded", True, False),
        ("cancelled", False, True),
        ("failed", False, False),
        ("checkout-draft", False, False),
    ],
)
def test_paid_and_cancelled_for_each_status(status, paid, cancelled):
    event = order_event(samples.order(status=status))
    assert (event.financial_status, event.paid, event.cancelled) == (status, paid, cancelled)


def test_cancelled_order_is_cancelled_when_last_modified():
    event = order_event(samples.order(status="cancelled", date_modified_gmt="2026-11-23T08:00:00"))
    assert event.cancelled_at == datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def test_guest_checkout_has_no_customer_id():
    body = samples.order(customer_id=0)
    assert order_event(body).customer.id is None
    del body["billing"]["email"]
    assert order_event(body).customer.email is None


def test_coupon_codes_are_deduplicated_case_insensitively_first_spelling_kept():
    assert order_event(samples.order(codes=("ALICE15", "alice15", " Bob10", "bob10"))).discount_codes == ("ALICE15", " Bob10")
    assert order_event(samples.order(codes=())).discount_codes == ()


def test_order_restored_is_an_order_event():
    assert order_event(topic="order.restored").topic == "order.restored"


def test_dates_with_an_offset_are_converted_to_utc():
    body = samples.order(date_created_gmt="2026-11-22T15:02:59+01:00")
    assert order_event(body).occurred_at == datetime(2026, 11, 22, 14, 2, 59, tzinfo=timezone.utc)


# --- refunds -------------------------------------------------------------------------------------


def test_refund_base_is_estimated_in_proportion():
    """10.00 of 77.28 refunded: 10.00 × 59.50 / 77.28 = 7.6993… → 7.70."""
    event = order_event(samples.order(status="processing", refunds=((731, "10.00"),), date_modified_gmt="2026-11-29T09:14:03"),
                        topic="order.updated")
    [refund] = event.refunds
    assert (refund.refund_id, refund.order_id) == ("731", "5123")
    assert refund.commission_base == Money(Decimal("7.70"), "EUR")
    assert refund.occurred_at == datetime(2026, 11, 29, 9, 14, 3, tzinfo=timezone.utc)
    assert refund.presentment_base is None


def test_full_refund_takes_back_the_whole_base():
    event = order_event(samples.order(status="refunded", refunds=((731, "77.28"),)), topic="order.updated")
    assert event.paid
    assert [r.commission_base for r in event.refunds] == [BASE]


def test_several_refunds_each_get_their_share():
    event = order_event(samples.order(refunds=((731, "10.00"), (735, "20.00"))), topic="order.updated")
    assert [(r.refund_id, r.commission_base.amount) for r in event.refunds] == [("731", Decimal("7.70")), ("735", Decimal("15.40"))]


@pytest.mark.parametrize(
    "refund, base, total, expected",
    [
        ("-10.00", "59.50", "77.28", "7.70"),
        ("10.00", "59.50", "77.28", "7.70"),  # the sign does not matter
        ("-5.00", "20.00", "10.00", "5.00"),  # never more than the refund itself
        ("-3.00", "0.00", "0.00", "3.00"),  # a zero order total: the refund as it is
        ("-3.00", "59.50", "-1.00", "3.00"),
        ("-0.01", "59.50", "77.28", "0.01"),  # 0.0077 rounds half-up to a cent
        ("-0.005", "1.00", "1.00", "0.01"),
        ("-10.00", "0.00", "10.00", "0.00"),  # shipping-only order: nothing of the base was refunded
        ("-99999999999999.99", "99999999999999.99", "0.01", "99999999999999.99"),
    ],
)
def test_refunded_base(refund, base, total, expected):
    assert refunded_base(Decimal(refund), Decimal(base), Decimal(total)) == Decimal(expected)


# --- deleted and other topics --------------------------------------------------------------------


def test_order_deleted_names_the_order_and_is_dated_when_read():
    before = datetime.now(timezone.utc)
    event = normalise("order.deleted", samples.encode(samples.deleted(5123)))
    assert isinstance(event, OrderDeleted)
    assert event.order_id == "5123"
    assert before <= event.occurred_at <= datetime.now(timezone.utc)
    assert event.occurred_at.tzinfo is not None


def test_other_topics_have_nothing_to_do():
    assert normalise("product.updated", samples.encode(samples.order())) is None
    assert normalise("customer.updated", b"not even json") is None


def test_adapter_topics():
    assert adapter.handled_topics == HANDLED_TOPICS == {
        "order.created", "order.updated", "order.deleted", "order.restored", "customer.created"}
    assert isinstance(adapter.normalise("order.created", samples.encode(samples.order())), OrderEvent)
    assert isinstance(adapter.normalise("customer.created", samples.encode(samples.customer())), CustomerCreated)


# --- the order key (proof for browser reports) ---------------------------------------------------


def test_order_key_is_the_proof():
    assert order_event().proof == "wc_order_q7FzK2mWn4xLp"
    assert order_event(samples.order(order_key="wc_order_Zx81")).proof == "wc_order_Zx81"
    assert order_event(samples.order(order_key="")).proof is None  # the key removed


@pytest.mark.parametrize("key", ["", "   ", None, 42, ["wc_order_x"], "x" * 256])
def test_a_missing_or_odd_order_key_is_no_proof_and_no_failure(key):
    body = samples.order()
    body["order_key"] = key
    assert order_event(body).proof is None


# --- customer.created ----------------------------------------------------------------------------


def test_customer_created_is_a_possible_lead():
    event = normalise("customer.created", samples.encode(samples.customer()))
    assert event == CustomerCreated(customer_id="88", email="claire.martin@example.com",
                                    occurred_at=datetime(2026, 11, 22, 13, 58, 12, tzinfo=timezone.utc))


def test_customer_without_an_account_email_takes_the_billing_one_or_none():
    body = samples.customer(customer_id=89)
    body["email"] = ""
    assert normalise("customer.created", samples.encode(body)).email == "claire.martin@example.com"
    body["billing"]["email"] = ""
    assert normalise("customer.created", samples.encode(body)).email is None


def _customer_set(field, value):
    def change(body):
        body[field] = value
    return change


@pytest.mark.parametrize("change", [
    _customer_set("id", None), _customer_set("id", 0), _customer_set("id", "abc"), _customer_set("id", True),
    _customer_set("date_created_gmt", None), _customer_set("date_created_gmt", "yesterday"),
    _customer_set("email", 42), _customer_set("email", "a" * 400 + "@example.com"),
], ids=["no id", "id 0", "id abc", "id true", "no date", "bad date", "email number", "email too long"])
def test_malformed_customer_raises_malformed_payload(change):
    body = samples.customer()
    change(body)
    with pytest.raises(MalformedPayload):
        normalise("customer.created", samples.encode(body))


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1]", b"null"])
def test_customer_body_that_is_not_a_json_object_raises_malformed_payload(raw):
    with pytest.raises(MalformedPayload):
        normalise("customer.created", raw)


# --- samples encoding ----------------------------------------------------------------------------


def test_samples_are_encoded_like_php():
    raw = samples.encode(samples.order())
    assert b"https:\\/\\/shop.example\\/" in raw and b"https://" not in raw
    assert b'"currency_symbol":"\\u20ac"' in raw
    assert raw.startswith(b'{"id":5123,"parent_id":0,"status":"processing",')  # compact, like wp_json_encode
    assert json.loads(raw) == json.loads(json.dumps(samples.order()))


# --- malformed payloads --------------------------------------------------------------------------


def _set(key, value):
    def change(body):
        body[key] = value
    return change


def _without(key):
    def change(body):
        del body[key]
    return change


def _line(key, value):
    def change(body):
        body["line_items"][0][key] = value
    return change


MALFORMED_ORDERS = {
    "id missing": _without("id"),
    "id abc": _set("id", "abc"),
    "id zero": _set("id", 0),
    "id negative": _set("id", -5),
    "id true": _set("id", True),
    "id huge": _set("id", int("9" * 70)),
    "id non-ASCII digits": _set("id", "١٢٣"),
    "currency missing": _without("currency"),
    "currency lower-case": _set("currency", "eur"),
    "line_items missing": _without("line_items"),
    "line_items an object": _set("line_items", {"0": {}}),
    "a line not an object": _set("line_items", ["scarf"]),
    "line total missing": lambda body: body["line_items"][0].pop("total"),
    "line total forty": _line("total", "forty"),
    "line total NaN": _line("total", "NaN"),
    "line total exponent": _line("total", "1E+5"),
    "line total huge": _line("total", "100000000000000.00"),
    "line total a list": _line("total", ["34.00"]),
    "quantity a string": _line("quantity", "2"),
    "quantity negative": _line("quantity", -1),
    "quantity huge": _line("quantity", 10**10),
    "quantity true": _line("quantity", True),
    "date_created_gmt missing": _without("date_created_gmt"),
    "date_created_gmt not a time": _set("date_created_gmt", "yesterday"),
    "date_created_gmt out of range": _set("date_created_gmt", "0001-01-01T00:00:00+01:00"),
    "date_modified_gmt not a time": _set("date_modified_gmt", 12),
    "status missing": _without("status"),
    "status a number": _set("status", 5),
    "coupon_lines a string": _set("coupon_lines", "alice15"),
    "coupon line not an object": _set("coupon_lines", ["alice15"]),
    "coupon line without code": _set("coupon_lines", [{"id": 1, "discount": "1.00"}]),
    "meta_data an object": _set("meta_data", {"_ref": "bob"}),
    "refunds an object": _set("refunds", {"id": 1}),
    "refund without id": _set("refunds", [{"total": "-10.00"}]),
    "refund total not an amount": _set("refunds", [{"id": 1, "total": "ten"}]),
    "order total missing with refunds": lambda body: body.update(refunds=[{"id": 1, "total": "-1.00"}], total=None),
    "number too long": _set("number", "1" * 200),
    "number an object": _set("number", {"n": 1}),
    "customer_id abc": _set("customer_id", "abc"),
    "customer_id negative": _set("customer_id", -3),
}


@pytest.mark.parametrize("change", MALFORMED_ORDERS.values(), ids=MALFORMED_ORDERS.keys())
def test_malformed_order_raises_malformed_payload(change):
    body = samples.order()
    change(body)
    with pytest.raises(MalformedPayload):
        normalise("order.updated", samples.encode(body))


@pytest.mark.parametrize("raw", [b"", b"not json", b"\xff\xfe{}", b"[1, 2]", b'"order"', b"null", b"{", b"webhook_id=1"])
@pytest.mark.parametrize("topic", ["order.created", "order.deleted"])
def test_body_that_is_not_a_json_object_raises_malformed_payload(raw, topic):
    with pytest.raises(MalformedPayload):
        normalise(topic, raw)


@pytest.mark.parametrize("body", [{}, {"id": "abc"}, {"id": 0}, {"id": None}, {"id": [5]}])
def test_deleted_without_a_good_id_raises_malformed_payload(body):
    with pytest.raises(MalformedPayload):
        normalise("order.deleted", json.dumps(body).encode())


def test_deeply_nested_json_raises_malformed_payload():
    with pytest.raises(MalformedPayload):
        normalise("order.created", b"[" * 100_000)


# --- property: authentic junk never crashes the worker -------------------------------------------

TEMPLATE_KEYS = sorted(samples.order())
# Names the normaliser reads, so generated objects sometimes look like the real thing.
FIELD_NAMES = ["id", "key", "value", "code", "total", "quantity", "email", "reason", "_ref", "_click_id",
               "_wc_order_attribution_session_entry", "_wc_order_attribution_utm_source"]
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.decimals(allow_nan=False, places=4) \
    | st.sampled_from(["10.00", "-10.00", "0", "2026-11-22T14:02:59", "(none)", "1E+5"])
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
NESTED = ["line_items", "meta_data", "coupon_lines", "refunds", "billing"]


def _encode(body: dict) -> bytes:
    # Decimals as JSON numbers (exact text), as a PHP store would write them.
    return json.dumps(body, default=lambda d: float(d) if d.is_finite() else str(d)).encode()


def _check(topic: str, raw: bytes) -> None:
    json.loads(raw)  # still valid JSON
    try:
        event = normalise(topic, raw)
    except MalformedPayload:
        return
    expected = {"order.deleted": OrderDeleted, "customer.created": CustomerCreated}.get(topic, OrderEvent)
    assert isinstance(event, expected)
    if isinstance(event, OrderEvent):
        assert isinstance(event.commission_base.amount, Decimal)
        assert all(isinstance(r.commission_base.amount, Decimal) for r in event.refunds)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    topic=st.sampled_from(sorted(HANDLED_TOPICS)),
    changes=st.dictionaries(st.sampled_from(TEMPLATE_KEYS) | st.text(max_size=10), json_values, min_size=1, max_size=5),
)
def test_arbitrary_json_in_the_order_gives_an_event_or_malformed_payload(topic, changes):
    _check(topic, _encode({**samples.order(refunds=((731, "10.00"),)), **changes}))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    topic=st.sampled_from(sorted(ORDER_TOPICS)),
    where=st.sampled_from(NESTED),
    changes=st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), json_values, min_size=1, max_size=4),
    extra=json_values,
)
def test_arbitrary_json_inside_the_lists_gives_an_event_or_malformed_payload(topic, where, changes, extra):
    body = samples.order(refunds=((731, "10.00"),), cart_ref="bob")
    if where == "billing":
        body["billing"].update(changes)
    else:
        body[where] = [{**body[where][0], **changes} if body[where] else changes, extra]
    _check(topic, _encode(body))


@settings(max_examples=100, deadline=None)
@given(value=json_values)
def test_arbitrary_deleted_body_gives_order_deleted_or_malformed_payload(value):
    _check("order.deleted", _encode({"id": value}))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(sorted(samples.customer())) | st.text(max_size=10), json_values,
                               min_size=1, max_size=5))
def test_arbitrary_json_in_the_customer_gives_an_event_or_malformed_payload(changes):
    _check("customer.created", _encode({**samples.customer(), **changes}))


def test_refund_time_defaults_to_creation_when_never_modified():
    body = samples.order(refunds=((731, "10.00"),))
    body["date_modified_gmt"] = None
    [refund] = order_event(body, topic="order.updated").refunds
    assert refund.occurred_at == datetime(2026, 11, 22, 14, 2, 59, tzinfo=timezone.utc)
