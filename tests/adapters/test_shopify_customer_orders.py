"""A Shopify renewal's start order found among the customer's orders when its contract cannot be read
(adapters/shopify/customer_orders.py, order_context.graphql's history part).

The connector is no subscription app: LineItem.contract is another app's, null or refused, for every native
subscription (Shopify Subscriptions, Recharge on Shopify Checkout, Loop, Skio). The first part fakes Shopify with
`responses`, one scripted answer per shape; the second renews another app's contract at the stand-in Shopify,
which answers the search from its orders. The database is real.
"""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from adapters.shopify import adapter
from adapters.shopify.admin_api import DOCUMENTS
from adapters.shopify.order_context import enrich
from connector.campaigns import directory
from connector.core.platform import Needs, OrderEvent, Renewal
from connector.db import transaction
from connector.errors import PlatformError
from standins.shopify import samples
from standins.shopify.shop_data import order_filter
from standins.shopify.store import StandinShopify

from ..conftest import SHOP, SHOPIFY_SECRET
from ..helpers import bodies, drain, post_shopify

from .test_shopify_order_context import (API_KEY, ORDER_ID, ORIGIN, RENEWAL, STANDIN_SHOP, Fake, contract, denied,
                                         event, grant, lines, run, shopify)

__all__ = ["run", "shopify"]  # fixtures, used by name

CUSTOMER = "7064055069302"  # the sample order's customer
SCARF, SOCKS = "47205163221206", "47205163450582"  # the sample order's variants
#: what the connector searches for the sample renewal, placed 2026-11-22T15:02:59+01:00
SEARCH = (f"customer_id:{CUSTOMER} created_at:<'2026-11-22T14:02:59Z' -source_name:subscription_contract "
          "-source_name:subscription_contract_checkout_one tag_not:'Subscription Recurring Order'")
NO_CONTRACT_SCOPE = "the app has no read_own_subscription_contracts scope"


def line(variant: str | None = SCARF, plan: int | None = None) -> dict:
    return {"variant": None if variant is None else {"id": f"gid://shopify/ProductVariant/{variant}"},
            "sellingPlan": None if plan is None else {"sellingPlanId": f"gid://shopify/SellingPlan/{plan}"}}


def placed(order_id: str, at: str, *order_lines: dict, source: str = "web", tags: tuple[str, ...] = ()) -> dict:
    """One of the customer's orders as customerOrders answers it."""
    return {"legacyResourceId": order_id, "createdAt": at, "sourceName": source, "tags": list(tags),
            "lineItems": {"nodes": list(order_lines or (line(),))}}


def history(*orders: dict, own: tuple[dict, ...] = (line(SCARF), line(SOCKS)), more: bool = False,
            errors: list | None = None, connection: object = ...) -> dict:
    """The history part's answer: the renewal's own lines, then the customer's orders newest first."""
    body = {"data": {"order": {"legacyResourceId": ORDER_ID, "renewalLines": {"nodes": list(own)}},
                     "customerOrders": {"nodes": list(orders), "pageInfo": {"hasNextPage": more}}
                     if connection is ... else connection}}
    if errors:
        body["errors"] = errors
    return body


@pytest.fixture
def no_contract_scope(sessions, store):
    """The store as an install leaves it: its granted scopes on record, the contract scope not among them."""
    with transaction(sessions) as session:
        session.get(type(store), store.id).scopes = "read_customers,read_orders,write_discounts"


def renewal_of(customer_id: str | None = CUSTOMER) -> OrderEvent:
    found = event(RENEWAL)
    return OrderEvent(**{**found.__dict__, "customer": type(found.customer)(customer_id, found.customer.email)})


# --- the start, chosen -----------------------------------------------------------------------------


@responses.activate
def test_the_start_is_the_order_with_the_renewals_selling_plan(run, no_contract_scope, caplog):
    """A customer with two subscriptions: the later start sells the same scarf, the earlier one the same plan."""
    fake = Fake(history(placed("5003", "2026-11-01T09:00:00Z", line(SCARF, plan=222)),
                        placed("5001", "2026-09-01T09:00:00Z", line("1", plan=111)),
                        own=(line(SCARF, plan=111),)))
    with caplog.at_level(logging.INFO, logger="connector.shopify.renewals"):
        renewal = run(event(RENEWAL), ORIGIN).renewal
    assert renewal == Renewal(RENEWAL.marker, None, "5001", None, "customer_orders")
    (sent,) = fake.seen  # one call: the contract is not asked of a store known not to have its scope
    assert sent["variables"] == {"id": f"gid://shopify/Order/{ORDER_ID}", "journey": False, "renewal": False,
                                 "history": True, "customerOrders": SEARCH}
    assert "start 5001 found by the customer's orders (its selling plan is the renewal's" in caplog.text


@responses.activate
def test_without_a_plan_to_match_the_start_is_the_one_with_the_renewals_variant(run, no_contract_scope):
    Fake(history(placed("5003", "2026-11-01T09:00:00Z", line("1", plan=222)),
                 placed("5002", "2026-10-01T09:00:00Z", line("2"), line(SOCKS, plan=111)),
                 own=(line(SCARF), line(SOCKS))))
    assert run(event(RENEWAL), ORIGIN).renewal.origin_order_id == "5002"


@responses.activate
def test_of_several_starts_the_latest_before_the_renewal_that_is_no_renewal_itself(run, no_contract_scope):
    """None matches the renewal's lines; recurring orders, one-time orders and later orders are passed over."""
    Fake(history(
        placed(ORDER_ID, "2026-11-22T14:00:00Z", line("9", plan=1)),  # the renewal, created before it was processed
        placed("5009", "2026-11-25T09:00:00Z", line("9", plan=1)),  # after it: Shopify did not apply the filter
        placed("5008", "2026-11-20T09:00:00Z", line("9", plan=1), source="subscription_contract_checkout_one"),
        placed("5007", "2026-11-19T09:00:00Z", line("9", plan=1), tags=("Subscription Recurring Order",)),
        placed("5006", "2026-11-18T09:00:00Z", line("9")),  # a one-time purchase
        placed("5005", "2026-11-17T09:00:00+01:00", line("9", plan=2)),
        placed("5004", "2026-11-17T09:30:00+01:00", line("9"), tags=("Subscription First Order",)),
        placed("5003", "2026-10-01T09:00:00Z", line("9", plan=3)),
        own=()))
    assert run(event(RENEWAL), ORIGIN).renewal.origin_order_id == "5004"  # Recharge's tag says it started one


@responses.activate
def test_the_contract_is_asked_first_where_it_may_be_readable_then_the_customers_orders(run):
    """The store's scopes are not on record (a custom app's token): another app's contract is null."""
    fake = Fake({"data": {"order": {"legacyResourceId": ORDER_ID, "lineItems": lines(None, None)}}},
                history(placed("5001", "2026-09-01T09:00:00Z", line(SCARF, plan=111))))
    enriched = run(event(RENEWAL), Needs(journey=True, renewal_origin=True))
    assert enriched.renewal == Renewal(RENEWAL.marker, None, "5001", None, "customer_orders")
    assert [(s["variables"]["journey"], s["variables"]["renewal"], s["variables"]["history"]) for s in fake.seen] == [
        (True, True, False), (False, False, True)]


@responses.activate
def test_a_contract_without_an_origin_keeps_its_id_beside_the_start_found(run):
    Fake({"data": {"order": {"legacyResourceId": ORDER_ID, "lineItems": lines(contract(origin=None))}}},
         history(placed("5001", "2026-09-01T09:00:00Z", line(SCARF, plan=111))))
    assert run(event(RENEWAL), ORIGIN).renewal == Renewal(RENEWAL.marker, "555", "5001", None, "customer_orders")


# --- no start, and why -----------------------------------------------------------------------------


@pytest.mark.parametrize("scopes, more, expected, absent", [
    ("read_orders", False, "; without read_all_orders Shopify shows only the last 60 days", "only the latest"),
    ("read_orders,read_all_orders", True, "; only the latest 10 were read, 5 lines each", "60 days"),
])
@responses.activate
def test_no_start_among_the_customers_orders_says_both_reasons(run, sessions, store, scopes, more, expected, absent):
    with transaction(sessions) as session:
        session.get(type(store), store.id).scopes = scopes
    Fake(history(placed("5006", "2026-11-18T09:00:00Z", line(SCARF)),
                 placed("5005", "2026-11-10T09:00:00Z", line(SCARF, plan=1), source="subscription_contract"),
                 more=more))
    renewal = run(event(RENEWAL), ORIGIN).renewal
    assert renewal.origin_order_id is None and renewal.lookup_error.startswith(NO_CONTRACT_SCOPE)
    assert "; none of the customer's 2 latest earlier orders that Shopify shows" in renewal.lookup_error
    assert expected in renewal.lookup_error and absent not in renewal.lookup_error


@pytest.mark.parametrize("customer_id", [None, "guest-7"])
@responses.activate
def test_a_renewal_without_a_customer_id_is_not_searched(run, no_contract_scope, customer_id):
    fake = Fake(history())
    renewal = run(renewal_of(customer_id), ORIGIN).renewal
    assert renewal.lookup_error == (f"{NO_CONTRACT_SCOPE}, which Shopify's LineItem.contract needs; the order names "
                                    "no customer whose earlier orders could be searched for the start")
    assert fake.seen == []  # nothing left to ask


@responses.activate
def test_a_renewal_without_a_customer_after_an_unreadable_contract_is_not_searched(run):
    fake = Fake({"data": {"order": {"legacyResourceId": ORDER_ID, "lineItems": lines(None)}}})
    renewal = run(renewal_of(None), ORIGIN).renewal
    assert "another app's contracts are hidden from it); the order names no customer" in renewal.lookup_error
    assert len(fake.seen) == 1


@responses.activate
def test_refused_customer_orders_are_a_lookup_error_and_the_journey_stands(run, no_contract_scope):
    reply = history(connection=None, errors=[denied("customerOrders")])
    reply["data"]["order"]["customerJourneySummary"] = None
    Fake(reply)
    enriched = run(event(RENEWAL), Needs(journey=True, renewal_origin=True))
    assert enriched.journey.error is None
    assert enriched.renewal.lookup_error == (f"{NO_CONTRACT_SCOPE}, which Shopify's LineItem.contract needs; the "
                                             "customer's orders: Shopify refused it: Access denied for "
                                             "customerOrders field.")


@pytest.mark.parametrize("replies", [
    [{"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}],
    [(503, {}, "unavailable")],
    [{"data": {"order": None, "customerOrders": None},
      "errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}],
], ids=["throttled", "outage", "internal error"])
@responses.activate
def test_throttling_and_outages_are_platform_errors_the_worker_retries(run, replies):
    """Here in the second call, after the contract named no start."""
    fake = Fake({"data": {"order": {"legacyResourceId": ORDER_ID, "lineItems": lines(None)}}}, *replies)
    with pytest.raises(PlatformError):
        run(event(RENEWAL), ORIGIN)
    assert all(sent["variables"]["history"] for sent in fake.seen[1:]) and len(fake.seen) > 1


MALFORMED = {
    "connection a list": history(connection=[]),
    "an order a string": history("5001"),
    "a time without offset": history(placed("5001", "2026-09-01T09:00:00", line(plan=1))),
    "an id not a number": history(placed("gid://shopify/Order/5001", "2026-09-01T09:00:00Z", line(plan=1))),
    "lines missing": history({**placed("5001", "2026-09-01T09:00:00Z"), "lineItems": None}),
    "a selling plan a string": history(placed("5001", "2026-09-01T09:00:00Z", {"sellingPlan": "monthly"})),
    "a plan id not a gid": history(placed("5001", "2026-09-01T09:00:00Z", {"sellingPlan": {"sellingPlanId": "7"}})),
    "a variant a list": history(placed("5001", "2026-09-01T09:00:00Z", {"variant": []})),
    "the renewal's lines not objects": history(placed("5001", "2026-09-01T09:00:00Z", line(plan=1)), own=("x",)),
}


@pytest.mark.parametrize("reply", MALFORMED.values(), ids=MALFORMED.keys())
@responses.activate
def test_an_answer_that_cannot_be_read_is_a_lookup_error(run, no_contract_scope, reply):
    """Chosen, as for the journey: not MalformedPayload. The delivery itself is fine."""
    Fake(reply)
    renewal = run(event(RENEWAL), ORIGIN).renewal
    assert renewal.origin_order_id is None
    assert renewal.lookup_error.startswith(f"{NO_CONTRACT_SCOPE}, which Shopify's LineItem.contract needs; the "
                                           "customer's orders: Shopify's answer could not be read: ")


# --- at the stand-in Shopify -----------------------------------------------------------------------


def stored_event(standin, order_id: int) -> OrderEvent:
    """The order as its orders/paid webhook would carry it, normalised."""
    return adapter.normalise("orders/paid", samples.encode(standin.order(STANDIN_SHOP, order_id)))


def shop_order(order_id: int, created_at: str, customer_id: int | None = None, shop: str = STANDIN_SHOP) -> dict:
    """A sample order with line ids of its own (Shopify's are unique; the template's are not)."""
    order = {**samples.order(shop=shop, order_id=order_id, codes=(), customer_id=customer_id),
             "created_at": created_at, "processed_at": created_at}
    order["line_items"] = [{**item, "id": order_id * 100 + index} for index, item in enumerate(order["line_items"])]
    return order


@pytest.fixture
def at_installed(settings, sessions, shopify):
    """enrich against a store at the stand-in whose token has `scope`, the scope on record as an install keeps it."""
    def call(event_: OrderEvent, scope: str) -> Renewal:
        with transaction(sessions) as session:
            store = directory.add_store(session, settings.secret_key, "shopify", STANDIN_SHOP,
                                        access_token=grant(shopify, scope))
            store.scopes = scope
        return enrich(settings.with_overrides(shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url),
                      sessions, store.id, event_, ORIGIN, sleep=lambda _s: None).renewal
    return call


@pytest.mark.parametrize("scope, calls", [("read_orders", 1), ("read_orders,read_own_subscription_contracts", 2)])
def test_another_apps_contract_renewed_goes_back_to_the_order_that_started_it(shopify, at_installed, scope, calls):
    """Shopify Subscriptions' contract, not the connector's: the start is found among the customer's orders."""
    number = shopify.start_subscription(STANDIN_SHOP, shop_order(8100, "2026-10-01T09:00:00Z"), own=False, topics=())
    # Another customer's subscription, later; the customer's one-time order, later still; two renewals.
    shopify.start_subscription(STANDIN_SHOP, shop_order(8150, "2026-10-15T09:00:00Z", customer_id=99), own=False,
                               topics=())
    shopify.place_order(STANDIN_SHOP, shop_order(8160, "2026-10-20T09:00:00Z"), deliver=False)
    shopify.renew(STANDIN_SHOP, number, 8200, topics=())
    shopify.renew(STANDIN_SHOP, number, 8300, tags="Subscription, Subscription Recurring Order", topics=())

    renewal = stored_event(shopify, 8300)
    assert renewal.renewal == Renewal("source_name subscription_contract") and renewal.customer.id == CUSTOMER
    assert at_installed(renewal, scope) == Renewal("source_name subscription_contract", None, "8100", None, "customer_orders")
    # With the contract scope the contract is asked first (and hidden): the customer's orders take a second call.
    assert shopify.graphql_counts(STANDIN_SHOP)["order"] == calls


def test_a_renewal_of_another_apps_contract_is_credited_to_its_starts_influencer(settings, sessions, store, client):
    """The whole way: webhooks in, the real worker asks the stand-in (the contract refused, the customer's orders
    searched) and credits the renewal to alice, whose code the first order used."""
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        standin.grant_token(SHOP, "shpat_test")  # the store fixture's token, with the stand-in's default scopes
        first = {**shop_order(9100, "2026-10-01T09:00:00Z", shop=SHOP),
                 "discount_codes": [{"code": "ALICE15", "amount": "4.50", "type": "percentage"}]}
        number = standin.start_subscription(SHOP, first, own=False, topics=())
        standin.renew(SHOP, number, 9200, topics=())
        shop_settings = settings.with_overrides(shopify_api_key=API_KEY, shopify_admin_url=standin.admin_url)
        for order_id in (9100, 9200):
            assert post_shopify(client, "orders/paid", standin.order(SHOP, order_id)).status_code == 200
            drain(shop_settings, sessions)
        # The first order had its code: nothing to read. The renewal: its visits and contract, then the customer's
        # orders (the store's scopes are not on record, so the contract is asked).
        assert standin.graphql_counts(SHOP) == {"order": 2}
    credited = {b["data"]["order_id"]: b["data"] for b in bodies(sessions)}
    assert (credited["9100"]["tracking_id"], credited["9100"]["method"]) == ("alice", "promo_code")
    assert (credited["9200"]["tracking_id"], credited["9200"]["method"]) == ("alice", "renewal")
    assert credited["9200"]["renewal_of"] == "9100"


def test_the_search_is_what_the_standin_reads(shopify):
    """The stand-in refuses a search term it does not read, so the one the connector sends is read for real."""
    keep = order_filter(SEARCH)
    base = {"customer": {"id": int(CUSTOMER)}, "created_at": "2026-11-01T09:00:00Z", "source_name": "web", "tags": ""}
    assert keep(base)
    assert not keep({**base, "customer": {"id": 1}}) and not keep({**base, "created_at": "2026-11-22T14:02:59Z"})
    assert not keep({**base, "source_name": "subscription_contract_checkout_one"})
    assert not keep({**base, "tags": "Subscription, Subscription Recurring Order"})
    with pytest.raises(ValueError):
        order_filter(f"{SEARCH} status:open")


def test_the_standin_reports_the_documents_cost(shopify):
    """What each part asks of the shop's bucket (order_context.graphql's comment says the same)."""
    shopify.place_order(STANDIN_SHOP, samples.order(shop=STANDIN_SHOP), deliver=False)
    token = grant(shopify, "read_orders")
    document = (DOCUMENTS / "order_context.graphql").read_text()
    url = shopify.admin_url.format(shop=STANDIN_SHOP) + "/admin/api/2026-10/graphql.json"
    costs = {}
    search = "customer_id:7064055069302 created_at:<'2026-12-01T00:00:00Z'"
    for parts in ((True, False, False), (True, True, False), (False, True, False), (False, False, True),
                  (True, False, True)):
        journey, renewal, searched = parts
        body = requests.post(url, timeout=5, headers={"X-Shopify-Access-Token": token}, json={
            "query": document, "variables": {"id": f"gid://shopify/Order/{ORDER_ID}", "journey": journey,
                                             "renewal": renewal, "history": searched, "customerOrders": search}}).json()
        costs[parts] = body["extensions"]["cost"]["requestedQueryCost"]
        assert ("lineItems" in body["data"]["order"]) is renewal and ("customerOrders" in body["data"]) is searched
    assert costs == {(True, False, False): 6, (True, True, False): 28, (False, True, False): 23,
                     (False, False, True): 210, (True, False, True): 215}
