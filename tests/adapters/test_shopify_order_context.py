"""ShopifyAdapter.enrich (adapters/shopify/order_context.py): the shopper's visits and a renewal's start order, read
in one GraphQL call, for what `Needs` asks.

The first part fakes Shopify's GraphQL endpoint with `responses`, one scripted answer per case, to pin down what is
sent and how each answer shape is read: what cannot be read for good is the value's error, what may pass is a
PlatformError. The second part runs against the stand-in Shopify (order_context.graphql answered from per-order
journeys and subscription contracts, scopes enforced field by field). The database is real.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from adapters.shopify import adapter
from adapters.shopify.order_context import enrich
from connector.campaigns import directory
from connector.core.platform import Journey, Needs, OrderEvent, Renewal, Visit
from connector.db import transaction
from connector.errors import PlatformError
from standins.shopify import journeys, samples
from standins.shopify.store import StandinShopify

from ..conftest import SHOP, SHOPIFY_SECRET

GRAPHQL_URL = f"https://{SHOP}/admin/api/2026-10/graphql.json"
ORDER_ID = "820982911946154508"
JOURNEY = Needs(journey=True)
ORIGIN = Needs(renewal_origin=True)


def event(renewal: Renewal | None = None) -> OrderEvent:
    found = adapter.normalise("orders/paid", samples.encode(samples.order(codes=())))
    return found if renewal is None else OrderEvent(**{**found.__dict__, "renewal": renewal})


def visit_answer(at: str = "2026-11-20T08:15:00Z", landing: str | None = "https://wool-and-co.com/?ref=dana",
                 code: str | None = "dana", source: str = "instagram", utm: dict | None = None) -> dict:
    return {"occurredAt": at, "landingPage": landing, "referralCode": code, "source": source,
            "utmParameters": utm}


def answer(summary=None, lines=None, errors=None, order: dict | None | bool = True) -> dict:
    node = None
    if order is True:
        node = {"legacyResourceId": ORDER_ID}
        if summary is not ...:
            node["customerJourneySummary"] = summary
        if lines is not None:
            node["lineItems"] = lines
    body = {"data": {"order": node}, "extensions": {"cost": {"requestedQueryCost": 6, "actualQueryCost": 4,
                                                            "throttleStatus": {"maximumAvailable": 2000.0,
                                                                               "currentlyAvailable": 1996.0,
                                                                               "restoreRate": 100.0}}}}
    if errors:
        body["errors"] = errors
    return body


def denied(*path) -> dict:
    return {"message": f"Access denied for {path[-1]} field.", "path": list(path),
            "extensions": {"code": "ACCESS_DENIED"}}


class Fake:
    """Shopify's endpoint answering each request with the next scripted answer, every request kept."""

    def __init__(self, *answers):
        self.answers, self.seen = list(answers), []
        responses.add_callback(responses.POST, GRAPHQL_URL, callback=self)

    def __call__(self, request):
        self.seen.append(json.loads(request.body))
        reply = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return reply if isinstance(reply, tuple) else (200, {}, json.dumps(reply))


@pytest.fixture
def run(settings, sessions, store):
    sleeps: list[float] = []

    def call(event_: OrderEvent, needs: Needs) -> OrderEvent:
        return enrich(settings, sessions, store.id, event_, needs, sleep=sleeps.append)

    call.sleeps = sleeps
    return call


# --- the journey ----------------------------------------------------------------------------------


@responses.activate
def test_a_ready_journey_gives_the_first_and_last_visits(run):
    summary = {"ready": True, "customerOrderIndex": 3,
               "firstVisit": visit_answer(utm={"campaign": "spring", "content": None, "medium": "social",
                                               "source": "ig", "term": ""}),
               "lastVisit": visit_answer("2026-11-22T13:58:00+01:00", "https://wool-and-co.com/products/x?ref=erin",
                                         None, "direct")}
    fake = Fake(answer(summary))
    enriched = run(event(), JOURNEY)
    assert enriched.journey == Journey(ready=True, customer_order_index=3, visits=(
        Visit("first", datetime(2026, 11, 20, 8, 15, tzinfo=timezone.utc), "dana", "https://wool-and-co.com/?ref=dana",
              "instagram", {"campaign": "spring", "medium": "social", "source": "ig"}),
        Visit("last", datetime(2026, 11, 22, 12, 58, tzinfo=timezone.utc), "erin",
              "https://wool-and-co.com/products/x?ref=erin", "direct", {}),
    ))
    (sent,) = fake.seen
    assert sent["query"].lstrip().startswith("# enrich") and "query OrderContext(" in sent["query"]
    assert sent["variables"] == {"id": f"gid://shopify/Order/{ORDER_ID}", "journey": True, "renewal": False,
                                 "history": False}
    assert enriched.renewal is None and enriched.commission_base == event().commission_base


@responses.activate
def test_a_journey_shopify_has_not_built_yet_is_not_ready(run):
    Fake(answer({"ready": False, "customerOrderIndex": None, "firstVisit": None, "lastVisit": None}))
    assert run(event(), JOURNEY).journey == Journey(ready=False)


@pytest.mark.parametrize("summary", [None, {"ready": True, "customerOrderIndex": 1, "firstVisit": None,
                                            "lastVisit": None}])
@responses.activate
def test_an_order_without_sessions_has_a_ready_journey_without_visits(run, summary):
    Fake(answer(summary))
    journey = run(event(), JOURNEY).journey
    assert journey.ready and journey.visits == () and journey.error is None


@pytest.mark.parametrize("errors, order", [
    ([denied("order", "customerJourneySummary")], True),
    ([denied("order")], None),
    ([{"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}}], None),
])
@responses.activate
def test_access_denied_is_a_journey_error_not_an_exception(run, errors, order):
    Fake(answer(None, errors=errors, order=order))
    journey = run(event(), JOURNEY).journey
    assert journey.ready and journey.visits == () and journey.error.startswith("Shopify refused it: Access denied")


@responses.activate
def test_an_order_shopify_no_longer_shows_is_a_journey_error(run):
    Fake(answer(order=None))
    assert "Shopify shows no order 820982911946154508" in run(event(), JOURNEY).journey.error


@responses.activate
def test_throttling_that_does_not_pass_is_a_platform_error_the_worker_retries(run):
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                 "extensions": {"cost": {"requestedQueryCost": 6, "actualQueryCost": None,
                                         "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1.0,
                                                            "restoreRate": 100.0}}}}
    fake = Fake(throttled)
    with pytest.raises(PlatformError):
        run(event(), JOURNEY)
    assert len(fake.seen) == 7 and len(run.sleeps) == 6  # AdminApi waited what the bucket said, six times


@responses.activate
def test_throttling_that_passes_gives_the_journey(run):
    Fake((429, {"Retry-After": "1"}, "{}"), answer(None))
    assert run(event(), JOURNEY).journey == Journey(ready=True) and run.sleeps == [1.0]


@pytest.mark.parametrize("reply", [
    (503, {}, "unavailable"),
    answer(None, errors=[{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]),
    answer(None, errors=[{"message": "something else"}]),
    {"errors": [{"message": "Field 'customerJourneySummary' doesn't exist"}]},
])
@responses.activate
def test_outages_and_other_errors_are_platform_errors(run, reply):
    Fake(reply)
    with pytest.raises(PlatformError):
        run(event(), JOURNEY)


MALFORMED = {
    "summary a list": [],
    "ready a string": {"ready": "yes"},
    "index a string": {"ready": True, "customerOrderIndex": "3"},
    "index negative": {"ready": True, "customerOrderIndex": -1},
    "visit a list": {"ready": True, "firstVisit": []},
    "visit without a time": {"ready": True, "firstVisit": {**visit_answer(), "occurredAt": None}},
    "visit time without offset": {"ready": True, "lastVisit": {**visit_answer(), "occurredAt": "2026-11-20T08:15:00"}},
    "utm a string": {"ready": True, "firstVisit": visit_answer(utm="utm_source=ig")},
    "a year Python cannot keep": {"ready": True, "firstVisit": visit_answer(at="0001-01-01T00:00:00+01:00")},
    "a time the database cannot keep": {"ready": True, "firstVisit": visit_answer(at="1960-01-01T00:00:00Z")},
    "text the database cannot keep": {"ready": True, "firstVisit": visit_answer(code="da\x00na")},
}


@pytest.mark.parametrize("summary", MALFORMED.values(), ids=MALFORMED.keys())
@responses.activate
def test_an_answer_that_cannot_be_read_is_a_journey_error_and_the_event_stands(run, summary):
    """Chosen: not MalformedPayload. The delivery itself is fine and is credited from what it carries."""
    Fake(answer(summary))
    enriched = run(event(), JOURNEY)
    assert enriched.journey.ready and enriched.journey.visits == ()
    assert enriched.journey.error.startswith("Shopify's answer could not be read")


@responses.activate
def test_the_ref_of_the_landing_page_stands_in_for_a_missing_referral_code(run):
    Fake(answer({"ready": True, "firstVisit": visit_answer(landing="/collections/all?utm_source=x&ref=%20fay%20",
                                                           code=None)}))
    (first,) = run(event(), JOURNEY).journey.visits
    assert first.ref == "fay" and first.landing_url == "/collections/all?utm_source=x&ref=%20fay%20"


@pytest.mark.parametrize("needs", [Needs(), Needs(refunds=True), ORIGIN])
@responses.activate
def test_nothing_to_read_makes_no_call(run, needs):
    fake = Fake(answer(None))
    plain = event()  # not a renewal: no start order to look for
    assert run(plain, needs) is plain and fake.seen == []
    known = event(Renewal("source_name subscription_contract", "1", "2"))
    assert run(known, ORIGIN) is known and fake.seen == []


# --- a renewal's start order ----------------------------------------------------------------------

RENEWAL = Renewal("source_name subscription_contract")


def lines(*contracts, more: bool = False) -> dict:
    return {"nodes": [{"contract": c} for c in contracts], "pageInfo": {"hasNextPage": more}}


def contract(number: int = 555, origin: str | None = "820982911946150001") -> dict:
    return {"id": f"gid://shopify/SubscriptionContract/{number}",
            "originOrder": None if origin is None else {"legacyResourceId": origin}}


#: the customer's orders, none of them before the renewal (order_context.graphql's history part)
NO_ORDERS = {"data": {"order": {"legacyResourceId": ORDER_ID, "renewalLines": {"nodes": []}},
                      "customerOrders": {"nodes": [], "pageInfo": {"hasNextPage": False}}}}


@responses.activate
def test_the_start_order_is_read_through_the_lines_contract(run):
    fake = Fake(answer(..., lines(None, contract())))
    renewal = run(event(RENEWAL), ORIGIN).renewal
    assert renewal == Renewal("source_name subscription_contract", "555", "820982911946150001",
                              found_by="subscription")
    assert fake.seen[0]["variables"] == {"id": f"gid://shopify/Order/{ORDER_ID}", "journey": False, "renewal": True,
                                         "history": False}
    assert len(fake.seen) == 1  # the contract named the start: the customer's orders are not asked


@responses.activate
def test_both_parts_in_one_call(run):
    fake = Fake(answer(None, lines(contract())))
    enriched = run(event(RENEWAL), Needs(journey=True, renewal_origin=True))
    assert enriched.journey == Journey(ready=True) and enriched.renewal.origin_order_id == "820982911946150001"
    assert len(fake.seen) == 1 and fake.seen[0]["variables"]["journey"] and fake.seen[0]["variables"]["renewal"]


@pytest.mark.parametrize("reply, expected", [
    (answer(..., lines(contract(origin=None))), "names no origin order"),
    (answer(..., lines(None, None)), "no line of the order has a subscription contract this app can read"),
    (answer(..., lines(None, more=True)), "only the first 5 lines were read"),
    (answer(..., {"nodes": [{"contract": None}], "pageInfo": {"hasNextPage": False}},
            errors=[denied("order", "lineItems", "nodes", 0, "contract")]), "Shopify refused it: Access denied"),
    (answer(order=None), "Shopify shows no order"),
    (answer(..., lines({"id": "555", "originOrder": None})), "answer could not be read"),
    (answer(..., lines(contract(origin="not-a-number"))), "answer could not be read"),
    (answer(..., {"nodes": "none"}), "answer could not be read"),
    (answer(..., lines(["contract"])), "answer could not be read"),
])
@responses.activate
def test_a_start_order_that_cannot_be_read_is_a_lookup_error(run, reply, expected):
    """Then the customer's orders are asked (test_shopify_customer_orders.py); here they name no start either."""
    fake = Fake(reply, NO_ORDERS)
    renewal = run(event(RENEWAL), ORIGIN).renewal
    assert renewal.marker == RENEWAL.marker and renewal.origin_order_id is None and expected in renewal.lookup_error
    assert "none of the customer's 0 latest earlier orders" in renewal.lookup_error
    assert [sent["variables"]["history"] for sent in fake.seen] == [False, True]


@pytest.mark.parametrize("needs", [ORIGIN, Needs(journey=True, renewal_origin=True)])
@responses.activate
def test_a_store_granted_no_contract_scope_is_not_asked_for_the_contract(run, sessions, store, needs):
    """It is asked for the customer's orders instead, in the same one call as the journey."""
    with transaction(sessions) as session:
        session.get(type(store), store.id).scopes = "read_orders,write_discounts"
    fake = Fake(NO_ORDERS)
    enriched = run(event(RENEWAL), needs)
    assert "no read_own_subscription_contracts scope" in enriched.renewal.lookup_error
    assert len(fake.seen) == 1 and not fake.seen[0]["variables"]["renewal"] and fake.seen[0]["variables"]["history"]
    assert fake.seen[0]["variables"]["journey"] is needs.journey


@responses.activate
def test_a_store_granted_the_contract_scope_is_asked(run, sessions, store):
    with transaction(sessions) as session:
        session.get(type(store), store.id).scopes = "read_orders,write_own_subscription_contracts"
    fake = Fake(answer(..., lines(contract())))
    assert run(event(RENEWAL), ORIGIN).renewal.origin_order_id == "820982911946150001" and len(fake.seen) == 1


@responses.activate
def test_a_refused_contract_leaves_the_journey_read(run):
    Fake(answer({"ready": True, "firstVisit": visit_answer()}, lines(None),
                errors=[denied("order", "lineItems", "nodes", 0, "contract")]), NO_ORDERS)
    enriched = run(event(RENEWAL), Needs(journey=True, renewal_origin=True))
    assert enriched.journey.error is None and enriched.journey.visits[0].ref == "dana"
    assert "Access denied" in enriched.renewal.lookup_error


# --- against the stand-in Shopify -----------------------------------------------------------------

API_KEY = "context-api-key"
STANDIN_SHOP = "context-shop.myshopify.com"


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        yield standin


def grant(standin: StandinShopify, scope: str) -> str:
    base = standin.admin_url.format(shop=STANDIN_SHOP)
    location = requests.get(f"{base}/admin/oauth/authorize", allow_redirects=False, timeout=5, params={
        "client_id": API_KEY, "scope": scope, "redirect_uri": "https://connector.example/shopify/callback"},
    ).headers["Location"]
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    return requests.post(f"{base}/admin/oauth/access_token", timeout=5, json={
        "client_id": API_KEY, "client_secret": SHOPIFY_SECRET, "code": code}).json()["access_token"]


@pytest.fixture
def at_standin(settings, sessions, shopify):
    """enrich against a store at the stand-in whose token has `scope`."""
    def call(event_: OrderEvent, needs: Needs, scope: str = "read_orders") -> OrderEvent:
        with transaction(sessions) as session:
            store = directory.add_store(session, settings.secret_key, "shopify", STANDIN_SHOP,
                                        access_token=grant(shopify, scope))
        return enrich(settings.with_overrides(shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url),
                      sessions, store.id, event_, needs, sleep=lambda _s: None)
    return call


def test_the_standin_answers_a_journey_a_test_set(shopify, at_standin):
    order = samples.order(shop=STANDIN_SHOP, codes=())
    shopify.place_order(STANDIN_SHOP, order, deliver=False)
    first = journeys.visit("2026-11-18T09:00:00Z", "https://wool-and-co.com/?ref=gus", referral_code="gus",
                           source="newsletter", utm={"medium": "email"})
    last = journeys.visit("2026-11-22T13:55:00Z", "https://wool-and-co.com/products/wool-scarf", source="direct")
    shopify.set_journey(STANDIN_SHOP, order["id"], journeys.summary(first=first, last=last, customer_order_index=2))
    journey = at_standin(event(), JOURNEY).journey
    assert [(v.position, v.ref, v.source, dict(v.utm)) for v in journey.visits] == [
        ("first", "gus", "newsletter", {"medium": "email"}), ("last", None, "direct", {})]
    assert journey.customer_order_index == 2 and journey.ready
    assert shopify.graphql_counts(STANDIN_SHOP)["order"] == 1


def test_the_standin_reads_an_orders_own_session_without_one_set(shopify, at_standin):
    shopify.place_order(STANDIN_SHOP, samples.order(shop=STANDIN_SHOP, codes=()), deliver=False)
    journey = at_standin(event(), JOURNEY).journey
    assert [(v.position, v.ref, dict(v.utm)) for v in journey.visits] == [
        ("first", "alice", {"source": "instagram"}), ("last", "alice", {"source": "instagram"})]
    assert journey.visits[0].source == "l.instagram.com"


def test_the_standin_refuses_the_contract_field_not_the_order_without_the_scope(shopify, at_standin):
    first = samples.order(shop=STANDIN_SHOP, order_id=7100, codes=())
    number = shopify.start_subscription(STANDIN_SHOP, first, topics=())
    shopify.renew(STANDIN_SHOP, number, 7200, topics=())
    renewal = event(RENEWAL)
    renewal = OrderEvent(**{**renewal.__dict__, "order_id": "7200"})
    both = Needs(journey=True, renewal_origin=True)
    refused = at_standin(renewal, both)
    # This event says the renewal was placed when the first order was, so no order of the customer is before it.
    assert "Access denied for contract field" in refused.renewal.lookup_error
    assert "none of the customer's 0 latest earlier orders" in refused.renewal.lookup_error
    assert refused.journey == Journey(ready=True)  # a renewal has no online session
    read = at_standin(renewal, both, scope="read_orders,read_own_subscription_contracts")
    assert read.renewal == Renewal(RENEWAL.marker, number, "7100", found_by="subscription")
    # The journey alone never touches the contract, so a token without the scope is not refused anything.
    assert at_standin(renewal, JOURNEY).journey.error is None


def test_the_standin_hides_another_apps_contract(shopify, at_standin):
    number = shopify.start_subscription(STANDIN_SHOP, samples.order(shop=STANDIN_SHOP, order_id=7300), own=False,
                                        topics=())
    shopify.renew(STANDIN_SHOP, number, 7400, topics=())
    renewal = OrderEvent(**{**event(RENEWAL).__dict__, "order_id": "7400"})
    found = at_standin(renewal, ORIGIN, scope="read_orders,read_own_subscription_contracts").renewal
    assert "another app's contracts are hidden" in found.lookup_error and found.origin_order_id is None
