"""What `enrich` reads from a WooCommerce store, against mocked HTTP (responses): the refunds endpoint and the
Subscriptions one, what each answer becomes (exact refunds, a renewal's start) and what stays when it cannot be read.

The order is the tax-inclusive sample (PROVENANCE.md): base 72.00 of a 92.40 total; refund 8110 gives back one
tote (13.50 without tax, estimated 12.62 from the order JSON), refund 8120 is 10.00 alone (estimated 7.79).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.woocommerce import adapter, answers, order_context
from adapters.woocommerce.rest_api import NotFound, WooCommerceClient, may_pass
from connector.core import storable
from connector.core.platform import LineItem, Money, Needs, OrderEvent, Renewal
from connector.errors import PlatformAuthError, PlatformError
from standins.woocommerce import samples

STORE = "https://shop.example"
API = f"{STORE}/wp-json/wc/v3"
REFUNDS = f"{API}/orders/5301/refunds"
CK, CS = "ck_0123456789abcdef0123456789abcdef01234567", "cs_0123456789abcdef0123456789abcdef01234567"
TOTE = LineItem(line_id="8002", product_id="420", variant_id=None, sku="TOTE-CNV", title="Canvas tote",
                quantity=Decimal(1), amount=Decimal("13.50"))


@pytest.fixture
def client() -> WooCommerceClient:
    return WooCommerceClient(STORE, CK, CS)


def the(client: WooCommerceClient):
    return lambda: client


def event() -> OrderEvent:
    made = adapter.normalise("order.updated", samples.encode(samples.tax_inclusive_order()))
    assert isinstance(made, OrderEvent)
    return made


def estimates() -> dict[str, Decimal]:
    return {refund.refund_id: refund.commission_base.amount for refund in event().refunds}


def error(status: int, code: str) -> dict:
    return {"status": status, "json": {"code": code, "message": "x", "data": {"status": status}}}


# --- the REST calls ------------------------------------------------------------------------------


@responses.activate
def test_order_refunds_reads_one_page_of_100(client):
    responses.get(REFUNDS, json=samples.tax_inclusive_refunds())
    assert [refund["id"] for refund in client.order_refunds("5301")] == [8120, 8110]
    [call] = responses.calls
    assert parse_qs(urlsplit(call.request.url).query)["per_page"] == ["100"]
    assert call.request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_order_refunds_reads_every_page(client):
    many = [{"id": 10_000 + n} for n in range(130)]
    responses.get(REFUNDS, match=[responses.matchers.query_param_matcher({"per_page": "100", "page": "1"})],
                  json=many[:100])
    responses.get(REFUNDS, match=[responses.matchers.query_param_matcher({"per_page": "100", "page": "2"})],
                  json=many[100:])
    assert [refund["id"] for refund in client.order_refunds("5301")] == [r["id"] for r in many]
    assert len(responses.calls) == 2


@responses.activate
def test_an_order_without_refunds_answers_an_empty_list(client):
    responses.get(REFUNDS, json=[])
    assert client.order_refunds("5301") == []


@responses.activate
@pytest.mark.parametrize("code", ["woocommerce_rest_invalid_order_id", "rest_no_route"])
def test_a_404_is_not_found_with_its_code(client, code):
    responses.get(REFUNDS, **error(404, code))
    with pytest.raises(NotFound) as caught:
        client.order_refunds("5301")
    assert caught.value.code == code and not may_pass(caught.value)


@responses.activate
def test_refused_keys_are_an_auth_error(client):
    responses.get(REFUNDS, **error(401, "woocommerce_rest_cannot_view"))
    with pytest.raises(PlatformAuthError):
        client.order_refunds("5301")


@responses.activate
@pytest.mark.parametrize("status", [429, 503])
def test_throttling_and_outages_may_pass(client, status):
    responses.get(REFUNDS, status=status, headers={"Retry-After": "20"}, json={"code": "busy"})
    with pytest.raises(PlatformError) as caught:
        client.order_refunds("5301")
    assert may_pass(caught.value) and "Retry-After 20" in str(caught.value)
    assert len(responses.calls) == 1  # not retried in the call: the worker tries the event again later


@responses.activate
@pytest.mark.parametrize("body", ["<html>maintenance</html>", '{"id": 8110}', "[1, 2]"])
def test_an_answer_that_is_not_a_list_of_refunds_is_a_platform_error_that_will_not_pass(client, body):
    responses.get(REFUNDS, body=body, content_type="application/json")
    with pytest.raises(PlatformError) as caught:
        client.order_refunds("5301")
    assert not may_pass(caught.value)


@responses.activate
@pytest.mark.parametrize("order_id", ["", "abc", "12/../webhooks", "٣"])
def test_an_id_that_is_no_id_is_refused_before_any_call(client, order_id):
    with pytest.raises(PlatformError):
        client.order_refunds(order_id)
    with pytest.raises(PlatformError):
        client.subscription(order_id)
    assert len(responses.calls) == 0


@responses.activate
def test_subscription_reads_one_object(client):
    responses.get(f"{API}/subscriptions/9001", json={"id": 9001, "parent_id": 5123, "status": "active"})
    assert client.subscription("9001")["parent_id"] == 5123


@responses.activate
@pytest.mark.parametrize("body", ["[]", "<html></html>"])
def test_a_subscription_answer_that_is_not_an_object_is_a_platform_error(client, body):
    responses.get(f"{API}/subscriptions/9001", body=body)
    with pytest.raises(PlatformError) as caught:
        client.subscription("9001")
    assert not may_pass(caught.value)


@responses.activate
def test_a_transient_failure_of_any_call_may_pass_once_the_client_gives_up(client):
    """The client's own give-up keeps the failure transient, so callers (and the webhook check) can tell."""
    responses.get(f"{API}/webhooks", status=503)
    with pytest.raises(PlatformError) as caught:
        client.check_keys()
    assert may_pass(caught.value)


# --- exact refunds -------------------------------------------------------------------------------


@responses.activate
def test_refunds_are_made_exact_line_by_line(client):
    responses.get(REFUNDS, json=samples.tax_inclusive_refunds())
    amount_alone, tote = order_context.exact_refunds(the(client), event()).refunds
    assert (tote.refund_id, tote.commission_base, tote.items) == ("8110", Money(Decimal("13.50"), "GBP"), (TOTE,))
    assert tote.occurred_at == datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
    assert tote.included_tax == {}  # WooCommerce's refund line totals are without tax already
    # The amount refunded alone keeps its estimate, with no lines, dated as the store dates it.
    assert (amount_alone.refund_id, amount_alone.commission_base.amount, amount_alone.items) == ("8120", Decimal("7.79"), ())
    assert amount_alone.occurred_at == datetime(2026, 11, 26, 8, 30, tzinfo=timezone.utc)
    assert estimates() == {"8120": Decimal("7.79"), "8110": Decimal("12.62")}


@responses.activate
@pytest.mark.parametrize("answer", [
    error(404, "woocommerce_rest_invalid_order_id"), error(404, "rest_no_route"),
    {"status": 400, "json": {"code": "rest_invalid_param"}}, {"status": 301, "headers": {"Location": "https://x.example/"}},
    {"body": "not json"}, {"json": {"refunds": []}},
], ids=["invalid order", "no route", "400", "redirect", "not JSON", "not a list"])
def test_refunds_that_cannot_be_read_stay_as_estimated(client, answer, caplog):
    responses.get(REFUNDS, **answer)
    before = event()
    assert order_context.exact_refunds(the(client), before) == before
    assert "kept as estimated" in caplog.text


@responses.activate
@pytest.mark.parametrize("answer", [error(401, "woocommerce_rest_authentication_error"),
                                    error(403, "woocommerce_rest_cannot_view")], ids=["401", "403"])
def test_refused_keys_are_raised_so_the_refund_waits_for_the_merchant_rather_than_an_estimate(client, answer):
    responses.get(REFUNDS, **answer)
    with pytest.raises(PlatformAuthError):
        order_context.exact_refunds(the(client), event())
    responses.get(SUBSCRIPTION, **answer)
    with pytest.raises(PlatformAuthError):
        order_context.renewal_origin(the(client), RENEWAL)


@responses.activate
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_an_outage_or_throttling_is_raised_so_the_event_is_tried_again(client, status):
    responses.get(REFUNDS, status=status)
    with pytest.raises(PlatformError) as caught:
        order_context.exact_refunds(the(client), event())
    assert may_pass(caught.value)


@responses.activate
def test_a_listed_refund_the_store_no_longer_has_is_dropped_with_a_note(client, caplog):
    caplog.set_level("INFO", "connector.woocommerce")
    responses.get(REFUNDS, json=samples.tax_inclusive_refunds()[1:])  # 8120 deleted meanwhile
    [tote] = order_context.exact_refunds(the(client), event()).refunds
    assert tote.refund_id == "8110" and tote.items == (TOTE,)
    assert "refund 8120 is no longer in the store (deleted): dropped" in caplog.text


@responses.activate
@pytest.mark.parametrize("answer", [[], [{"id": 777, "amount": "1.00", "line_items": []}]])
def test_an_answer_with_none_of_the_listed_refunds_proves_nothing(client, answer):
    """[] is also WooCommerce's answer for an order deleted for good: the estimates stay."""
    responses.get(REFUNDS, json=answer)
    before = event()
    assert order_context.exact_refunds(the(client), before).refunds == before.refunds


@responses.activate
def test_a_refund_made_since_the_delivery_is_left_to_its_own_delivery(client):
    newer = copy.deepcopy(samples.tax_inclusive_refunds()[1])
    newer["id"] = 8130
    responses.get(REFUNDS, json=[newer, *samples.tax_inclusive_refunds()])
    assert [r.refund_id for r in order_context.exact_refunds(the(client), event()).refunds] == ["8120", "8110"]


def _refund_8110(change) -> list[dict]:
    answer = samples.tax_inclusive_refunds()
    change(answer[1])
    return answer


UNREADABLE_REFUNDS = {
    "date missing": lambda r: r.pop("date_created_gmt"),
    "date not a time": lambda r: r.update(date_created_gmt="last tuesday"),
    "line total not an amount": lambda r: r["line_items"][0].update(total="-13,50"),
    "line total positive": lambda r: r["line_items"][0].update(total="13.50"),
    "line quantity positive": lambda r: r["line_items"][0].update(quantity=1),
    "lines an object": lambda r: r.update(line_items={"0": {}}),
    "refunded item id garbled": lambda r: r["line_items"][0]["meta_data"][0].update(value="tote"),
    "line meta not a list": lambda r: r["line_items"][0].update(meta_data="8002"),
    "name the database cannot hold": lambda r: r["line_items"][0].update(name="tote \ud800"),
    "shipping lines a string": lambda r: r.update(line_items=[], shipping_lines="5.00"),
}


@responses.activate
@pytest.mark.parametrize("change", UNREADABLE_REFUNDS.values(), ids=UNREADABLE_REFUNDS.keys())
def test_a_refund_that_cannot_be_read_keeps_its_estimate_and_the_others_are_exact(client, change, caplog):
    caplog.set_level("INFO", "connector.woocommerce")
    responses.get(REFUNDS, json=_refund_8110(change))
    amount_alone, tote = order_context.exact_refunds(the(client), event()).refunds
    assert tote == next(r for r in event().refunds if r.refund_id == "8110")
    assert amount_alone.occurred_at == datetime(2026, 11, 26, 8, 30, tzinfo=timezone.utc)  # read from the store
    assert "refund 8110 kept as estimated" in caplog.text


@responses.activate
def test_a_refund_of_shipping_alone_takes_back_nothing_of_the_base(client):
    def shipping_only(refund):
        refund.update(line_items=[], amount="6.00", shipping_lines=[
            {"id": 8114, "method_title": "Tracked 48", "method_id": "flat_rate", "instance_id": "3",
             "total": "-5.00", "total_tax": "-1.00", "taxes": [], "meta_data": []}])
    responses.get(REFUNDS, json=_refund_8110(shipping_only))
    _, shipping = order_context.exact_refunds(the(client), event()).refunds
    assert (shipping.commission_base.amount, shipping.items) == (Decimal(0), ())


@responses.activate
def test_lines_restocked_without_money_leave_an_amount_alone(client):
    def restock_only(refund):
        refund["line_items"][0].update(total="0.00", subtotal="0.00", total_tax="0.00")
    responses.get(REFUNDS, json=_refund_8110(restock_only))
    _, refund = order_context.exact_refunds(the(client), event()).refunds
    assert (refund.commission_base.amount, refund.items) == (Decimal("12.62"), ())  # the estimate of its 16.20


@responses.activate
def test_lines_restocked_without_money_are_left_out_of_a_line_refund(client):
    def with_restock(refund):
        restocked = copy.deepcopy(refund["line_items"][0])
        restocked.update(total="0.00", quantity=-1)
        restocked["meta_data"][0]["value"] = "8001"
        refund["line_items"].append(restocked)
    responses.get(REFUNDS, json=_refund_8110(with_restock))
    _, refund = order_context.exact_refunds(the(client), event()).refunds
    assert refund.items == (TOTE,) and refund.commission_base.amount == Decimal("13.50")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["-13.50", "8110", "8002", "_refunded_item_id", "2026-11-25T10:00:00", "0.00"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["id", "total", "quantity", "line_items", "meta_data", "key", "value",
                                       "date_created_gmt", "shipping_lines", "total_tax"]), children, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(sorted(samples.tax_inclusive_refunds()[1])), json_values, max_size=4),
       line_changes=st.dictionaries(st.sampled_from(sorted(samples.tax_inclusive_refunds()[1]["line_items"][0])),
                                    json_values, max_size=3))
def test_any_refund_object_gives_an_exact_refund_or_keeps_the_estimate(changes, line_changes):
    answer = samples.tax_inclusive_refunds()
    answer[1]["line_items"][0].update(line_changes)
    answer[1].update(changes)
    answer = json.loads(json.dumps(answer))
    refunds, notes = answers.exact_refunds(event(), answer)
    assert isinstance(notes, tuple)
    for refund in refunds:
        assert refund.commission_base.amount >= 0 and refund.commission_base.currency == "GBP"
        if refund.items:
            assert sum(item.amount for item in refund.items) == refund.commission_base.amount
            assert all(item.amount > 0 and item.quantity >= 0 for item in refund.items)


# --- a renewal's start ---------------------------------------------------------------------------

RENEWAL = Renewal(marker="meta _subscription_renewal", subscription_id="9001")
SUBSCRIPTION = f"{API}/subscriptions/9001"


@responses.activate
def test_the_start_of_a_renewal_is_its_subscription_s_parent(client):
    responses.get(SUBSCRIPTION, json={"id": 9001, "parent_id": 5123, "status": "active", "billing_period": "month"})
    assert order_context.renewal_origin(the(client), RENEWAL) == Renewal(
        marker="meta _subscription_renewal", subscription_id="9001", origin_order_id="5123", found_by="subscription")


@responses.activate
@pytest.mark.parametrize("answer, says", [
    (error(404, "rest_no_route"), "WooCommerce Subscriptions is not active"),
    (error(404, "woocommerce_rest_shop_subscription_invalid_id"), "subscription 9001 is gone"),
    (error(404, "something_else"), "not found (something_else)"),
    ({"json": {"id": 9001, "parent_id": 0}}, "no start order (parent_id 0"),
    ({"json": {"id": 9001, "parent_id": "first"}}, "unreadable parent_id"),
    ({"json": {"id": 9002, "parent_id": 5123}}, "another object"),
    ({"json": [{"id": 9001}]}, "not an object"),
    ({"body": "<html>"}, "without JSON"),
], ids=["no Subscriptions", "gone", "other 404", "made by hand", "odd parent", "other id", "a list",
        "not JSON"])
def test_what_keeps_the_start_from_being_read_is_the_lookup_error(client, answer, says):
    responses.get(SUBSCRIPTION, **answer)
    found = order_context.renewal_origin(the(client), RENEWAL)
    assert found.origin_order_id is None and says in found.lookup_error
    assert (found.marker, found.subscription_id) == (RENEWAL.marker, RENEWAL.subscription_id)


@responses.activate
@pytest.mark.parametrize("status", [429, 503])
def test_an_outage_reading_the_subscription_is_raised(client, status):
    responses.get(SUBSCRIPTION, status=status)
    with pytest.raises(PlatformError) as caught:
        order_context.renewal_origin(the(client), RENEWAL)
    assert may_pass(caught.value)


def test_a_renewal_without_a_subscription_id_is_not_looked_up():
    def never():
        raise AssertionError("no call may be made")
    found = order_context.renewal_origin(never, Renewal(marker="created_via subscription"))
    assert found.origin_order_id is None and "names no subscription" in found.lookup_error


def test_enrich_asks_nothing_when_nothing_is_needed_or_there_is_nothing_to_read():
    """No credentials are read (sessions None would fail) when the needs ask for nothing the event has."""
    plain = event()
    no_refunds = adapter.normalise("order.updated", samples.encode(samples.order()))
    known = adapter.normalise("order.updated", samples.encode(samples.order()))
    for target, needs in ((plain, Needs()), (no_refunds, Needs(refunds=True)), (known, Needs(renewal_origin=True)),
                          (plain, Needs(journey=True))):
        assert order_context.enrich(None, None, 1, target, needs) is target


@responses.activate
def test_an_error_quoting_the_store_holds_only_text_the_database_can_store(client):
    responses.get(SUBSCRIPTION, status=404, body='{"code": "odd\\u0000\\ud800code"}', content_type="application/json")
    found = order_context.renewal_origin(the(client), RENEWAL)
    assert storable.checked(found) is found and "oddcode" not in found.lookup_error and "odd?code" in found.lookup_error
