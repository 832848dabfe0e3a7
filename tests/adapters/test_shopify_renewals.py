"""What marks a Shopify order as a subscription's renewal or first order (adapters/shopify/renewals.py), by webhook
and by reconciliation, and the stand-in's contracts and renewal orders that play them end to end.

Markers (PLATFORMS-2.md G1, G2): `source_name` subscription_contract / subscription_contract_checkout_one (set by
Shopify's billing; undocumented), the Recharge and Skio tags `Subscription Recurring Order` / `Subscription First
Order`, and, by GraphQL only, a line's selling plan (order webhooks carry none).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from adapters.shopify import normalise as rest
from adapters.shopify import normalise_graphql as gql
from adapters.shopify import renewals
from adapters.shopify.remote import reconcile
from connector.campaigns import directory
from connector.core.platform import Renewal
from connector.db import transaction
from standins.shopify import samples
from standins.shopify.order_node import to_graphql_node
from standins.shopify.store import StandinShopify

from ..conftest import SHOPIFY_SECRET
from .test_shopify_order_context import API_KEY, grant

STANDIN_SHOP = "context-shop.myshopify.com"


def webhook(order: dict):
    return rest.normalise("orders/paid", samples.encode(order))


def node(order: dict, plans: dict | None = None):
    return gql.order_event(json.loads(json.dumps(to_graphql_node(order, selling_plans=plans), default=str)))


@pytest.mark.parametrize("source_name, tags, marker", [
    ("subscription_contract", "", "source_name subscription_contract"),
    ("subscription_contract_checkout_one", "Subscription", "source_name subscription_contract_checkout_one"),
    (" subscription_contract ", "", "source_name subscription_contract"),
    ("web", "Subscription, Subscription Recurring Order", "tag Subscription Recurring Order"),
    ("web", "subscription recurring order", "tag Subscription Recurring Order"),
    ("subscription_contract", "Subscription Recurring Order", "source_name subscription_contract"),
])
def test_a_renewal_is_marked_by_its_source_or_its_tag(source_name, tags, marker):
    order = samples.order()
    order.update(source_name=source_name, tags=tags)
    for event in (webhook(order), node(order)):
        assert event.renewal == Renewal(marker)
        assert not event.starts_subscription


@pytest.mark.parametrize("source_name, tags", [
    ("web", ""), ("pos", "VIP"), ("subscription", ""), (None, None), (7, ["Subscription Recurring Order"]),
    ("web", "Subscription Recurring Orders"), ("web", "Subscription"),
])
def test_other_orders_are_no_renewals(source_name, tags):
    order = samples.order()
    order.update(source_name=source_name, tags=tags)
    assert webhook(order).renewal is None and node(order).renewal is None


def test_a_first_order_is_marked_by_its_tag_by_both_routes():
    order = samples.order()
    order["tags"] = "Subscription, Subscription First Order"
    assert webhook(order).starts_subscription and node(order).starts_subscription


def test_a_selling_plan_line_marks_a_first_order_by_graphql_only():
    """Order webhooks carry no selling plan (community.shopify.dev thread 23920); LineItem.sellingPlan does."""
    order = samples.order()
    plans = {"15873421223126": {"sellingPlanId": "gid://shopify/SellingPlan/1"}}
    assert node(order, plans).starts_subscription and not webhook(order).starts_subscription
    order["source_name"] = "subscription_contract"
    assert not node(order, plans).starts_subscription  # a renewal's lines carry their plan too


def test_tags_as_each_api_writes_them():
    assert renewals.rest_tags(" a, b ,,c ") == ("a", "b", "c") and renewals.rest_tags(["a"]) == ()
    assert renewals.graphql_tags(["a", " ", 3, "b "]) == ("a", "b") and renewals.graphql_tags("a, b") == ()


# --- the stand-in's contracts and renewals, through the adapter -----------------------------------


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        yield standin


@pytest.fixture
def reconciled(settings, sessions, shopify):
    """The adapter's reconciliation of the stand-in shop: its normalised events by order id."""
    with transaction(sessions) as session:
        store_id = directory.add_store(session, settings.secret_key, "shopify", STANDIN_SHOP,
                                       access_token=grant(shopify, "read_orders")).id
    shop_settings = settings.with_overrides(shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url)

    def read() -> dict:
        since = datetime(2000, 1, 1, tzinfo=timezone.utc)
        return {d.order_id: gql.normalise(d.topic, d.body)
                for d in reconcile(shop_settings, sessions, store_id, since, sleep=lambda _s: None)}
    return read


def test_a_subscription_and_its_renewal_at_the_standin(shopify, reconciled):
    first = samples.order(shop=STANDIN_SHOP, order_id=7100)
    number = shopify.start_subscription(STANDIN_SHOP, first, topics=())
    shopify.renew(STANDIN_SHOP, number, 7200, topics=())
    shopify.renew(STANDIN_SHOP, number, 7300, source_name="subscription_contract_checkout_one",
                  tags="Subscription, Subscription Recurring Order", topics=())
    events = reconciled()
    assert events["7100"].starts_subscription and events["7100"].renewal is None
    assert events["7200"].renewal == Renewal("source_name subscription_contract") and not events["7200"].starts_subscription
    assert events["7300"].renewal.marker == "source_name subscription_contract_checkout_one"
    # A renewal repeats the contract's lines with new ids, without the first order's code.
    renewal = events["7200"]
    assert [i.title for i in renewal.items] == ["Wool Scarf", "Merino Socks"]
    assert {i.line_id for i in renewal.items}.isdisjoint({i.line_id for i in events["7100"].items})
    assert renewal.commission_base.amount == Decimal("70.00") and renewal.discount_codes == ()
    assert renewal.landing_url is None and renewal.proof is None


def test_the_standin_sends_a_renewals_webhook_as_shopify_does(shopify, receiver_uri):
    uri, received = receiver_uri
    shopify.add_subscription(STANDIN_SHOP, "ORDERS_CREATE", uri)
    number = shopify.start_subscription(STANDIN_SHOP, samples.order(shop=STANDIN_SHOP, order_id=7100))
    assert len(received) == 1  # orders/create of the first order (orders/paid goes nowhere)
    shopify.renew(STANDIN_SHOP, number, 7200)
    body = json.loads(received[-1])
    assert body["source_name"] == "subscription_contract" and body["checkout_token"] is None
    event = rest.normalise("orders/create", received[-1])
    assert event.renewal == Renewal("source_name subscription_contract") and event.order_id == "7200"
    assert event.proof is None and body["order_status_url"].startswith(f"https://{STANDIN_SHOP}/")


@pytest.fixture
def receiver_uri():
    from .test_shopify_standin import Receiver

    found = Receiver()
    yield found.url(), ReceivedBodies(found)
    found.server.shutdown()
    found.server.server_close()


class ReceivedBodies:
    """The bodies a Receiver got, oldest first."""

    def __init__(self, receiver):
        self.receiver = receiver

    def __len__(self) -> int:
        return len(self.receiver.received)

    def __getitem__(self, index: int) -> bytes:
        return self.receiver.received[index][2]
