"""Order edits at the stand-in Shopify (standins/shopify/edits.py) read by the adapter: the orders/updated an edit
sends and the reconciliation of the edited order give the same items and base (PLATFORMS-2.md H).

orders/edited is not subscribed: it carries the edit's line ids and deltas but no amounts, and orders/updated,
which carries the whole order, fires on every edit too; the stand-in sends orders/updated only.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from adapters.shopify import normalise as rest
from adapters.shopify import normalise_graphql as gql
from adapters.shopify.remote import TOPICS, reconcile
from connector.campaigns import directory
from connector.core.platform import Money
from connector.db import transaction
from standins.shopify import samples
from standins.shopify.store import StandinShopify

from ..conftest import SHOPIFY_SECRET
from .test_shopify_order_context import API_KEY, STANDIN_SHOP, grant
from .test_shopify_renewals import ReceivedBodies

SOCKS = 15873421223126
START = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def shopify(clock):
    with StandinShopify(API_KEY, SHOPIFY_SECRET, clock=clock) as standin:
        yield standin


@pytest.fixture
def updates(shopify):
    """The bodies of the orders/updated the stand-in sends."""
    from .test_shopify_standin import Receiver

    found = Receiver()
    shopify.add_subscription(STANDIN_SHOP, "ORDERS_UPDATED", found.url())
    yield ReceivedBodies(found)
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def reconciled(settings, sessions, shopify):
    with transaction(sessions) as session:
        store_id = directory.add_store(session, settings.secret_key, "shopify", STANDIN_SHOP,
                                       access_token=grant(shopify, "read_orders")).id
    shop_settings = settings.with_overrides(shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url)

    def read(order_id: int):
        found = [gql.normalise(d.topic, d.body) for d in reconcile(
            shop_settings, sessions, store_id, datetime(2000, 1, 1, tzinfo=timezone.utc), sleep=lambda _s: None)]
        return next(e for e in found if e.order_id == str(order_id))
    return read


def same_both_ways(raw: bytes, reconciled_event):
    by_webhook = rest.normalise("orders/updated", raw)
    assert reconciled_event.items == by_webhook.items
    assert (reconciled_event.commission_base, reconciled_event.presentment_base, reconciled_event.updated_at) == (
        by_webhook.commission_base, by_webhook.presentment_base, by_webhook.updated_at)
    return by_webhook


def test_removing_units_sends_orders_updated_with_the_order_as_it_stands(shopify, clock, updates, reconciled):
    order = samples.order(shop=STANDIN_SHOP)
    shopify.place_order(STANDIN_SHOP, order, deliver=False)
    clock.now += 3600
    shopify.edit_order(STANDIN_SHOP, order["id"], quantities={SOCKS: 1})
    (raw,) = [updates[0]]
    body = json.loads(raw)
    assert body["line_items"][1]["quantity"] == 2 and body["line_items"][1]["current_quantity"] == 1
    event = same_both_ways(raw, reconciled(order["id"]))
    assert event.commission_base == Money(Decimal("46.75"), "EUR")
    assert event.updated_at == datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)


def test_a_line_added_by_an_edit_comes_with_the_next_update(shopify, clock, updates, reconciled):
    order = samples.order(shop=STANDIN_SHOP)
    shopify.place_order(STANDIN_SHOP, order, deliver=False)
    beanie = samples.line_item(15873421255894, "Beanie", "20.00", sku="BN-01", product_id=8934522005718, tax="4.00")
    shopify.edit_order(STANDIN_SHOP, order["id"], quantities={15873421190358: 0}, add=(beanie,))
    event = same_both_ways(updates[0], reconciled(order["id"]))
    assert [(i.title, i.quantity, i.amount) for i in event.items] == [
        ("Wool Scarf", Decimal(0), Decimal("0.00")), ("Merino Socks", Decimal(2), Decimal("25.50")),
        ("Beanie", Decimal(1), Decimal("20.00"))]


def test_an_edit_after_a_refund_keeps_the_refunded_units_in_the_base(shopify, updates, reconciled):
    order = samples.order(shop=STANDIN_SHOP, financial_status="partially_refunded")
    order["line_items"][1].update(quantity=3, current_quantity=2)
    order["refunds"] = [samples.refund(order_id=order["id"])]
    shopify.place_order(STANDIN_SHOP, order, deliver=False)
    shopify.edit_order(STANDIN_SHOP, order["id"], quantities={SOCKS: 1})  # one of the two left removed
    event = same_both_ways(updates[0], reconciled(order["id"]))
    # 3 × 15.00 less 4.50 for 2 units of 3 (one removed, one refunded and counted back): 27.00.
    assert event.items[1].quantity == Decimal(2) and event.items[1].amount == Decimal("27.00")
    assert [r.commission_base.amount for r in event.refunds] == [Decimal("12.75")]


def test_a_tax_inclusive_order_edited(shopify, updates, reconciled):
    order = samples.order_vat(shop=STANDIN_SHOP)
    shopify.place_order(STANDIN_SHOP, order, deliver=False)
    shopify.edit_order(STANDIN_SHOP, order["id"], quantities={16002311491722: 1})
    event = same_both_ways(updates[0], reconciled(order["id"]))
    assert event.taxes_included and event.commission_base == Money(Decimal("54.00"), "GBP")


@pytest.mark.parametrize("change, message", [
    ({"quantities": {SOCKS: 3}}, "adds a product as a new line"),
    ({"quantities": {SOCKS: -1}}, "removes units"),
    ({"quantities": {1: 0}}, "has no line 1"),
    ({"add": (samples.line_item(SOCKS, "Socks again", "1.00"),)}, "already has a line"),
])
def test_edits_the_standin_does_not_play_are_refused(shopify, change, message):
    order = samples.order(shop=STANDIN_SHOP)
    shopify.place_order(STANDIN_SHOP, order, deliver=False)
    with pytest.raises(ValueError, match=message):
        shopify.edit_order(STANDIN_SHOP, order["id"], **change)


def test_orders_edited_is_not_subscribed():
    """It brings no amounts (PLATFORMS-2.md H); orders/updated carries every edit's result."""
    assert "ORDERS_UPDATED" in TOPICS and "ORDERS_EDITED" not in TOPICS


def test_the_webhook_and_its_reconciliation_differ_only_where_graphql_is_not_asked(shopify, updates, reconciled):
    order = samples.order(shop=STANDIN_SHOP)
    shopify.place_order(STANDIN_SHOP, order, deliver=False)
    shopify.edit_order(STANDIN_SHOP, order["id"], quantities={SOCKS: 1})
    by_webhook = rest.order_event("reconcile/order", json.loads(updates[0], parse_float=Decimal))
    by_graphql = reconciled(order["id"])
    assert by_graphql == replace(by_webhook, proof=None, landing_url=by_graphql.landing_url)
