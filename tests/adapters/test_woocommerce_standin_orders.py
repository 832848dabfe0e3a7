"""The WooCommerce stand-in's refunds, edits and Subscriptions (refunds endpoint, subscriptions endpoint, renewal
orders, the order.updated / order.created they deliver), and the adapter's `enrich` reading them through real HTTP
with the store's stored keys."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from woocommerce import API

from adapters.woocommerce import adapter
from connector.core.platform import LineItem, Needs, OrderEvent, Renewal
from connector.errors import PlatformError
from standins.woocommerce import samples

from .woocommerce_helpers import Receiver, add_woocommerce_store

SITE = "site-r"
TOPICS = ("order.created", "order.updated")


def api(standin, key: str, secret: str) -> API:
    return API(url=standin.site_url(SITE), consumer_key=key, consumer_secret=secret, version="wc/v3", timeout=10)


@pytest.fixture
def keys(standin):
    return standin.add_keys(SITE)


@pytest.fixture
def hooked(standin, receiver, keys):
    """The site's order webhooks deliver to the receiver, as the connector's would."""
    for topic in TOPICS:
        answer = api(standin, *keys).post("webhooks", {"name": f"Influencer Connector: {topic}", "topic": topic,
                                                       "delivery_url": f"{receiver.url}/webhooks/woocommerce",
                                                       "secret": "s3cr3t"})
        assert answer.status_code == 201, answer.text
    return receiver


def delivered(receiver: Receiver, topic: str) -> list[tuple[bytes, dict]]:
    return [(post.body, json.loads(post.body)) for post in receiver.posts("/webhooks/woocommerce")
            if post.headers.get("X-WC-Webhook-Topic") == topic]


def place(standin, order: dict | None = None, **fields) -> dict:
    standin.place_order(SITE, order or samples.order(order_id=fields.pop("order_id", 6001), **fields), deliver=False)
    return standin.order(SITE, (order or {}).get("id") or 6001)


# --- refunds -------------------------------------------------------------------------------------


def test_a_line_refund_is_served_by_the_refunds_endpoint_and_delivered_as_order_updated(standin, hooked, keys):
    order = place(standin)
    refund = standin.refund(SITE, 6001, {7002: 1}, reason="one pair too small")
    answer = api(standin, *keys).get("orders/6001/refunds")
    assert answer.status_code == 200 and answer.json() == [{**refund, "_links": answer.json()[0]["_links"]}]
    [line] = refund["line_items"]
    # 25.50 for two pairs: one back is 12.75, and its 20% tax 2.55 (5.10 / 2).
    assert (line["quantity"], line["total"], line["total_tax"], refund["amount"]) == (-1, "-12.75", "-2.55", "15.30")
    assert line["meta_data"][0]["key"] == "_refunded_item_id" and line["meta_data"][0]["value"] == "7002"
    [(body, updated)] = delivered(hooked, "order.updated")
    assert updated["refunds"] == [{"id": refund["id"], "reason": "one pair too small", "total": "-15.30"}]
    assert updated["line_items"] == order["line_items"]  # a refund leaves the lines as they were
    assert updated["date_modified_gmt"] > order["date_modified_gmt"]
    assert updated["status"] == "processing"


def test_the_stand_in_refunds_a_line_as_the_sample_shows_woocommerce_does(standin):
    standin.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []}, deliver=False)
    made = standin.refund(SITE, 5301, {8002: 1}, deliver=False)
    sample = samples.tax_inclusive_refunds()[1]
    ids = ("id", "meta_data")
    assert [{k: v for k, v in line.items() if k not in ids} for line in made["line_items"]] == \
        [{k: v for k, v in line.items() if k not in ids} for line in sample["line_items"]]
    assert made["line_items"][0]["meta_data"][0]["value"] == sample["line_items"][0]["meta_data"][0]["value"]
    assert (made["amount"], made["tax_lines"][0]["tax_total"]) == (sample["amount"], sample["tax_lines"][0]["tax_total"])
    assert set(made) | {"_links"} == set(sample)


def test_refunds_list_newest_first_in_pages_and_an_unknown_order_has_none(standin, keys):
    place(standin)
    first = standin.refund(SITE, 6001, amount="5.00", deliver=False)
    second = standin.refund(SITE, 6001, {7001: 1}, deliver=False)
    client = api(standin, *keys)
    assert [r["id"] for r in client.get("orders/6001/refunds").json()] == [second["id"], first["id"]]
    page = client.get("orders/6001/refunds", params={"per_page": 1, "page": 2})
    assert [r["id"] for r in page.json()] == [first["id"]] and page.headers["X-WP-TotalPages"] == "2"
    assert standin.order(SITE, 6001)["refunds"][0]["id"] == second["id"]
    assert first["line_items"] == [] and first["amount"] == "5.00"
    assert client.get("orders/424242/refunds").json() == []  # WooCommerce's list never loads the order


def test_refunds_need_keys_and_can_be_made_to_fail(standin, keys):
    place(standin)
    assert api(standin, "ck_nobody", "cs_nobody").get("orders/6001/refunds").status_code == 401
    standin.fail_next(SITE, "orders/6001/refunds", 429, retry_after=3)
    answer = api(standin, *keys).get("orders/6001/refunds")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "3"


def test_refunding_everything_marks_the_order_refunded_and_a_deleted_refund_comes_off(standin, hooked):
    place(standin)
    refund = standin.refund(SITE, 6001, amount="77.28")
    assert standin.order(SITE, 6001)["status"] == "refunded"
    standin.delete_refund(SITE, 6001, refund["id"])
    order = standin.order(SITE, 6001)
    assert order["refunds"] == [] and order["status"] == "processing"
    first, second = (body for _, body in delivered(hooked, "order.updated"))
    assert first["refunds"] and not second["refunds"] and second["date_modified_gmt"] > first["date_modified_gmt"]


def test_a_refund_of_more_units_than_the_line_has_is_refused(standin):
    place(standin)
    with pytest.raises(ValueError):
        standin.refund(SITE, 6001, {7002: 3})
    with pytest.raises(ValueError):
        standin.refund(SITE, 6001)


# --- edits ---------------------------------------------------------------------------------------


def test_an_edit_changes_the_lines_recalculates_and_is_delivered(standin, hooked):
    before = place(standin)
    standin.edit_order(SITE, 6001, {7001: {"quantity": 2}}, add=({"name": "Beanie", "total": "18.00"},))
    [(body, edited)] = delivered(hooked, "order.updated")
    scarf, socks, beanie = edited["line_items"]
    assert (scarf["quantity"], scarf["total"], scarf["total_tax"]) == (2, "68.00", "13.60")
    assert socks == before["line_items"][1]
    assert (beanie["total"], beanie["total_tax"]) == ("18.00", "3.60")
    # 68.00 + 25.50 + 18.00 = 111.50, tax 22.30, shipping 4.90 + 0.98
    assert (edited["cart_tax"], edited["total"]) == ("22.30", "139.68")
    assert edited["date_modified_gmt"] > before["date_modified_gmt"]
    event = adapter.normalise("order.updated", body)
    assert event.commission_base.amount == Decimal("111.50") and len(event.items) == 3


def test_every_update_moves_the_modification_time(standin):
    place(standin, date_modified_gmt="2099-01-01T00:00:00")  # even past a time ahead of the clock
    standin.update_order(SITE, 6001, {"customer_note": "a"}, deliver=False)
    standin.update_order(SITE, 6001, {"customer_note": "b"}, deliver=False)
    assert standin.order(SITE, 6001)["date_modified_gmt"] == "2099-01-01T00:00:02"
    standin.update_order(SITE, 6001, {"date_modified_gmt": "2026-11-30T00:00:00"}, deliver=False)
    assert standin.order(SITE, 6001)["date_modified_gmt"] == "2026-11-30T00:00:00"  # a test may still set one


def test_orders_carry_prices_include_tax(standin):
    order = samples.order(order_id=6002)
    del order["prices_include_tax"]
    standin.place_order(SITE, order, deliver=False)
    assert standin.order(SITE, 6002)["prices_include_tax"] is False
    standin.place_order(SITE, samples.tax_inclusive_order(), deliver=False)
    assert standin.order(SITE, 5301)["prices_include_tax"] is True


# --- Subscriptions -------------------------------------------------------------------------------


def test_a_subscription_is_served_and_its_renewal_is_delivered_as_a_renewal(standin, hooked, keys):
    place(standin)
    subscription = standin.add_subscription(SITE, 6001)
    served = api(standin, *keys).get(f"subscriptions/{subscription['id']}")
    assert served.status_code == 200
    assert (served.json()["parent_id"], served.json()["status"], served.json()["billing_period"]) == (6001, "active", "month")
    assert "refunds" not in served.json() and "transaction_id" not in served.json()
    renewal = standin.renew_subscription(SITE, subscription["id"])
    [(body, created)] = delivered(hooked, "order.created")
    assert created == renewal and created["created_via"] == "subscription" and created["parent_id"] == 0
    assert {"key": "_subscription_renewal", "value": str(subscription["id"])}.items() <= created["meta_data"][0].items()
    assert {line["id"] for line in created["line_items"]}.isdisjoint(line["id"] for line in subscription["line_items"])
    assert standin.order(SITE, created["id"]) == created


def test_subscriptions_answer_rest_no_route_when_the_plugin_is_off_and_invalid_id_when_gone(standin, keys):
    place(standin)
    subscription = standin.add_subscription(SITE, 6001)
    client = api(standin, *keys)
    standin.set_subscriptions_active(SITE, False)
    off = client.get(f"subscriptions/{subscription['id']}")
    assert (off.status_code, off.json()["code"]) == (404, "rest_no_route")
    standin.set_subscriptions_active(SITE, True)
    standin.remove_subscription(SITE, subscription["id"])
    gone = client.get(f"subscriptions/{subscription['id']}")
    assert (gone.status_code, gone.json()["code"]) == (404, "woocommerce_rest_shop_subscription_invalid_id")
    assert api(standin, "ck_nobody", "x").get("subscriptions/1").status_code == 401


# --- enrich, through the stand-in ----------------------------------------------------------------


@pytest.fixture
def store_id(sessions, woo_settings, standin, keys):
    return add_woocommerce_store(sessions, woo_settings, standin.site_url(SITE), ":".join(keys))


def normalised(body: bytes) -> OrderEvent:
    event = adapter.normalise("order.updated", body)
    assert isinstance(event, OrderEvent)
    return event


def test_enrich_makes_the_delivered_refunds_exact(sessions, woo_settings, standin, hooked, store_id):
    standin.place_order(SITE, samples.tax_inclusive_order() | {"refunds": []}, deliver=False)
    standin.refund(SITE, 5301, {8002: 1})
    standin.refund(SITE, 5301, amount="10.00", reason="Late delivery")
    body, _ = delivered(hooked, "order.updated")[-1]
    event = normalised(body)
    assert [r.items for r in event.refunds] == [(), ()]  # estimated from the order JSON alone
    exact = adapter.enrich(woo_settings, sessions, store_id, event, Needs(refunds=True))
    amount_alone, tote = exact.refunds
    assert tote.items == (LineItem("8002", "420", None, "TOTE-CNV", "Canvas tote", Decimal(1), Decimal("13.50")),)
    assert tote.commission_base.amount == Decimal("13.50")
    assert (amount_alone.items, amount_alone.commission_base.amount) == ((), Decimal("7.79"))
    assert isinstance(tote.occurred_at, datetime) and tote.occurred_at.tzinfo is not None
    assert standin.calls(f"orders/5301/refunds", site=SITE) == 1


def test_enrich_retries_an_outage_and_keeps_estimates_the_store_cannot_give(sessions, woo_settings, standin,
                                                                            hooked, store_id):
    place(standin)
    refund = standin.refund(SITE, 6001, {7002: 1})
    body, _ = delivered(hooked, "order.updated")[-1]
    event = normalised(body)
    standin.fail_next(SITE, "orders/6001/refunds", 503)
    with pytest.raises(PlatformError):
        adapter.enrich(woo_settings, sessions, store_id, event, Needs(refunds=True))
    standin.delete_refund(SITE, 6001, refund["id"], deliver=False)  # gone meanwhile: the endpoint lists none
    assert adapter.enrich(woo_settings, sessions, store_id, event, Needs(refunds=True)) == event


def test_enrich_finds_a_renewal_s_start_or_says_why_not(sessions, woo_settings, standin, hooked, store_id):
    place(standin)
    subscription = standin.add_subscription(SITE, 6001)
    standin.renew_subscription(SITE, subscription["id"])
    [(body, _)] = delivered(hooked, "order.created")
    event = adapter.normalise("order.created", body)
    needs = Needs(renewal_origin=True)
    found = adapter.enrich(woo_settings, sessions, store_id, event, needs).renewal
    assert found == Renewal("meta _subscription_renewal", str(subscription["id"]), origin_order_id="6001",
                           found_by="subscription")
    standin.set_subscriptions_active(SITE, False)
    off = adapter.enrich(woo_settings, sessions, store_id, event, needs).renewal
    assert off.origin_order_id is None and "not active" in off.lookup_error
    standin.set_subscriptions_active(SITE, True)
    standin.remove_subscription(SITE, subscription["id"])
    gone = adapter.enrich(woo_settings, sessions, store_id, event, needs).renewal
    assert gone.origin_order_id is None and "is gone" in gone.lookup_error
