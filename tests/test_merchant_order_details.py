"""An order's "why" (GET /admin/api/orders/<id>) for what attribution learnt to go by: returning customers, renewals,
Shopify's visits, edits and lines, each in the merchant's words.

Every record here is one the real code wrote: orders are placed in the stand-in Shopify, which sends their signed
webhooks over HTTP to the app on a local port; the real worker asks the stand-in's GraphQL for the visits and a
renewal's start, credits them and writes the record; the page's routes read it back with a session token. The
sentence each recorded reason becomes is pinned down in test_merchant_explain.py, one by one.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector import create_app
from connector.campaigns import directory
from connector.db import transaction
from connector.web.app import explain
from standins.backend import StandinBackend
from standins.live_server import LiveServer
from standins.shopify import journeys, samples
from standins.shopify.store import StandinShopify

from .browser.merchant_page import ACCESS_TOKEN, SCOPE, SOCKS, Merchant, ShopClock
from .conftest import API_KEY, BACKEND_SECRET, SHOP, SHOPIFY_SECRET
from .helpers import session_token

SCARF = 15873421190358
LATER = "2026-12-01T10:00:00+01:00"
FOUND_AMONG_ORDERS = ("Found among the customer's orders at the store: their latest earlier order that started a "
                      "subscription like this one")


@pytest.fixture
def merchant(settings, engine, sessions):
    """The app on a local port, set up at the stand-in Shopify (webhooks to that port), with alice (ALICE15), bob
    and dana; the backend is a stand-in too."""
    server = LiveServer()
    with StandinShopify(API_KEY, SHOPIFY_SECRET, scope=SCOPE, clock=ShopClock()) as shopify, StandinBackend(BACKEND_SECRET) as backend:
        app_settings = settings.with_overrides(
            public_url=server.url, shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url,
            tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET)
        with transaction(sessions) as session:
            store = directory.add_store(session, settings.secret_key, "shopify", SHOP, access_token=ACCESS_TOKEN)
            directory.add_influencer(session, store, "alice", code="ALICE15", campaign_id="spring-26")
            for tracking_id in ("bob", "dana"):
                directory.add_influencer(session, store, tracking_id, campaign_id="spring-26")
            store_id = store.id
        shopify.grant_token(SHOP, ACCESS_TOKEN)
        app = create_app(app_settings, engine=engine)
        server.start(app)
        found = Merchant(server.url, app_settings, sessions, store_id, shopify, backend)
        found.client = app.test_client()
        found.setup()
        try:
            yield found
        finally:
            server.stop()


def why(merchant: Merchant, order_id: int) -> dict:
    answer = merchant.client.get(f"/admin/api/orders/{order_id}", headers={"Authorization": f"Bearer {session_token()}"})
    assert answer.status_code == 200, answer.json
    return answer.json


def listed(merchant: Merchant) -> dict:
    rows = merchant.client.get("/admin/api/orders", headers={"Authorization": f"Bearer {session_token()}"}).json
    return {row["order_id"]: row for row in rows["orders"]}


def signal(answer: dict, source: str) -> dict:
    [found] = [s for s in answer["signals"] if s["source_text"] == explain.SOURCES[source]]
    return found


# --- returning customers --------------------------------------------------------------------------


def test_a_returning_customers_order_names_their_first_order_how_it_was_found_and_the_lifetime(merchant):
    merchant.configure(lifetime_days=365)
    merchant.place(5001, codes=("ALICE15",), customer=501)
    merchant.work()
    merchant.place(5002, customer=501, at=LATER)  # no code, no ref: only the customer's first order says who
    merchant.place(5003, customer=777, email="customer-501@example.com", at=LATER)  # another account, same email
    merchant.work()

    first, again, by_email = why(merchant, 5001), why(merchant, 5002), why(merchant, 5003)
    assert first["returning"]["text"] == ("This customer had no earlier credited order in this store, so nothing "
                                          "carried over.")
    assert (again["outcome_text"], again["method_text"]) == ("Credited", "Returning customer")
    assert again["headline"] == "Credited to alice: a returning customer, whose first credited order #5001 was theirs."
    assert again["returning"] == {
        "lifetime_days": 365, "first_order": "#5001", "found_by_text": "found by the same customer account",
        "text": "Their first credited order, #5001, was within the 365 days this store gives returning customers: this "
                "order goes to the same influencers, in the same shares."}
    assert again["customer"] == {"value": False, "text": "Returning customer",
                                 "said_by": "The connector saw an earlier order of this customer in this store"}
    won = signal(again, "customer.customer_id")
    assert (won["status_text"], won["value"], won["tracking_id"]) == ("Credited", "#5001", "alice")
    assert won["reason_text"] == "A returning customer: their first credited order, #5001, was this influencer's."
    assert by_email["returning"]["found_by_text"] == "found by the same email address"
    assert signal(by_email, "customer.email_sha256")["status_text"] == "Credited"
    assert listed(merchant)["5002"]["method_text"] == "Returning customer"
    # Shopify's one session of that order is its first and last visit: one row, with no ref to go by
    [session] = again["visits"]["rows"]
    assert (session["position_text"], session["ref"], session["status_text"]) == ("First and last visit", None, "No ref")


def test_a_first_order_older_than_the_lifetime_carries_nothing_over(merchant):
    merchant.configure(lifetime_days=7)
    merchant.place(5101, codes=("ALICE15",), customer=511)
    merchant.work()
    merchant.place(5102, customer=511, at=LATER)  # nine days later
    merchant.work()

    answer = why(merchant, 5102)
    assert answer["outcome_text"] == "Not credited" and answer["credits"] == []
    assert answer["returning"]["text"] == ("Their first credited order, #5101, was more than 7 days before this one: "
                                           "too old to carry over.")
    old = signal(answer, "customer.customer_id")
    assert old["status_text"] == "Too old"
    assert old["reason_text"] == ("The customer's first credited order, #5101, was more than 7 days before this one: "
                                  "past this store's time for returning customers (Settings).")


def test_with_returning_customers_off_the_page_says_nothing_of_them(merchant):
    merchant.place(5201, codes=("ALICE15",), customer=521)
    merchant.work()
    merchant.place(5202, customer=521, at=LATER)
    merchant.work()
    answer = why(merchant, 5202)
    assert answer["returning"] is None and answer["outcome_text"] == "No influencer"
    assert answer["customer"]["text"] == "Returning customer"  # known all the same, from the earlier order


# --- renewals -------------------------------------------------------------------------------------


def test_a_renewal_goes_to_the_order_that_started_its_subscription(merchant):
    contract = merchant.subscribe(6001, codes=("ALICE15",), customer=601)
    merchant.work()
    merchant.renew(contract, 6002)
    merchant.work()

    answer = why(merchant, 6002)
    assert (answer["outcome_text"], answer["method_text"], answer["provisional"]) == (
        "Credited", "Subscription renewal", False)
    assert answer["headline"] == ("Credited to alice: a renewal of the subscription that #6001 started, credited as "
                                  "#6001 was.")
    assert answer["renewal"] == {
        "marker": "source_name subscription_contract",
        "marker_text": "Made by the subscription's billing (the order's source is “subscription_contract”)",
        "policy": "credit", "start_id": "6001", "start_name": "#6001",
        "found_by_text": "The subscription's own record names it (its first order)",
        "text": "It goes to the influencers of #6001, the order that started the subscription, in the same shares.",
        "tone": "success"}
    won = signal(answer, "subscription.subscription")
    assert won["reason_text"] == ("A subscription renewal: the order that started it, #6001, was this influencer's.")
    assert answer["returning"] is None  # a renewal goes by its subscription
    assert [line["title"] for line in answer["lines"]] == ["Wool Scarf", "Merino Socks"]
    assert listed(merchant)["6002"]["method_text"] == "Subscription renewal"


def test_a_recharge_renewal_is_found_by_the_customers_first_subscription_order(merchant):
    merchant.place(6101, codes=("ALICE15",), customer=611, tags="Subscription, Subscription First Order")
    merchant.work()
    merchant.place(6102, customer=611, at=LATER, tags="Subscription, Subscription Recurring Order")
    # a guest's renewal: Shopify cannot search the orders of a customer it does not name, the connector knows the email
    merchant.place(6103, email="customer-611@example.com", guest=True, at=LATER,
                   tags="Subscription, Subscription Recurring Order")
    merchant.work()
    at_shopify, by_email = why(merchant, 6102)["renewal"], why(merchant, 6103)["renewal"]
    assert at_shopify["marker_text"] == ("The order's tag “Subscription Recurring Order”, which the subscription app "
                                         "sets")
    assert (at_shopify["start_name"], at_shopify["found_by_text"]) == ("#6101", FOUND_AMONG_ORDERS)
    assert (by_email["start_name"], by_email["found_by_text"]) == ("#6101", (
        "The store does not name it: it is the customer's latest earlier order in this store that started a "
        "subscription"))


def test_a_renewal_whose_start_was_not_credited_and_renewals_ignored_say_why(merchant):
    contract = merchant.subscribe(6201, customer=621)  # no code, no ref: the first order is not credited
    merchant.work()
    merchant.renew(contract, 6202)
    merchant.work()
    merchant.configure(renewals="ignore")
    credited = merchant.subscribe(6203, codes=("ALICE15",), customer=622)
    merchant.work()
    merchant.renew(credited, 6204)
    merchant.work()

    uncredited, ignored = why(merchant, 6202), why(merchant, 6204)
    assert uncredited["headline"] == ("Not credited: it is a subscription renewal, and the order that started it, "
                                      "#6201, was not credited to any influencer.")
    assert uncredited["renewal"]["text"] == ("It cannot be credited: the order that started it, #6201, was not "
                                             "credited to any influencer.")
    assert uncredited["renewal"]["tone"] == "warning" and uncredited["renewal"]["start_id"] is None
    assert signal(uncredited, "subscription")["reason_text"] == ("The order that started it, #6201, was not credited "
                                                                 "to any influencer.")
    assert ignored["headline"] == ("Not credited: it is a subscription renewal, and renewals are ignored in this "
                                   "store (Settings).")
    assert ignored["renewal"]["policy"] == "ignore" and "Renewals are ignored" in ignored["renewal"]["text"]
    assert signal(ignored, "subscription")["reason_text"] == ("A subscription renewal: this store does not credit "
                                                              "renewals (Settings).")
    assert ignored["conversions"] == [] and ignored["lines"] == []


# --- Shopify's visits -----------------------------------------------------------------------------


def _two_visits(order_id: int) -> dict:
    """dana's link on Instagram two days before the order, then bob's the session that placed it."""
    return journeys.summary(
        first=journeys.visit("2026-11-20T08:15:00Z", "https://wool-and-co.com/?ref=dana", referral_code="dana",
                             source="instagram", utm={"source": "ig", "campaign": "spring"}),
        last=journeys.visit("2026-11-22T13:58:00Z", "https://wool-and-co.com/?ref=bob", referral_code="bob"),
        customer_order_index=1)


def test_an_order_credited_from_shopifys_visits_shows_both_and_which_won_under_the_model(merchant):
    merchant.place(7001, ref="bob", journey=_two_visits(7001))
    merchant.work()
    merchant.configure(model="first_click")
    merchant.place(7002, ref="bob", journey=_two_visits(7002))
    merchant.work()

    last, first = why(merchant, 7001), why(merchant, 7002)
    assert last["headline"] == "Credited to bob by the ref of the shopper's last visit, as Shopify recorded it."
    assert last["customer"] == {"value": True, "text": "New customer",
                                "said_by": "Shopify: this order's place among the customer's orders"}
    visits = last["visits"]
    assert visits["ready"] and visits["note"].startswith("Shopify records the shopper's first and last visits")
    dana, bob = visits["rows"]
    assert (dana["position_text"], dana["at"], dana["ref"], dana["source"], dana["utm"]) == (
        "First visit", "2026-11-20T08:15:00+00:00", "dana", "instagram", ["utm_campaign=spring", "utm_source=ig"])
    assert (dana["status_text"], dana["tone"]) == ("Beaten", "warning")
    assert dana["reason_text"] == ("A later visit with an influencer's ref takes the credit under this store's model "
                                   "(Last click).")
    assert (bob["position_text"], bob["tracking_id"], bob["status_text"], bob["source"]) == (
        "Last visit", "bob", "Credited", "direct")
    assert bob["reason_text"] == ("The shopper's last visit with an influencer's ref before the order: under this "
                                  "store's model (Last click) it takes the credit.")
    own = signal(last, "landing_site")
    assert own["status_text"] == "Beaten" and own["reason_text"] == (
        "The same landing as the last visit in Shopify's record, which says when it was: that one counts instead.")
    assert first["headline"] == "Credited to dana by the ref of the shopper's first visit, as Shopify recorded it."
    assert [r["status_text"] for r in first["visits"]["rows"]] == ["Credited", "Beaten"]


def test_an_order_waiting_for_shopifys_visits_says_so_and_when_it_stops_waiting(merchant):
    merchant.place(7101, ref="bob", journey=journeys.summary(ready=False))
    merchant.work()
    answer = why(merchant, 7101)
    assert (answer["outcome"], answer["outcome_text"], answer["tone"]) == ("awaiting_visits",
                                                                           "Waiting for Shopify's visits", "info")
    assert answer["headline"].startswith("Waiting for Shopify to finish its record of the shopper's visits (until ")
    assert answer["visits"] == {"ready": False, "rows": [], "note": (
        "Shopify had not finished its record of the shopper's visits when the order was looked at: the connector "
        "looks again every 30 seconds, for up to 5 minutes.")}
    assert any("Shopify's record of the shopper's visits" in line for line in answer["explanation"])
    # bob's ref leads, but nothing is credited while the order waits
    assert answer["provisional"] and answer["conversions"] == []
    assert (signal(answer, "landing_site")["status_text"], signal(answer, "landing_site")["tone"]) == ("Leading", "info")
    row = listed(merchant)["7101"]
    assert (row["outcome_text"], row["tone"]) == ("Waiting for Shopify's visits", "info")


def test_an_order_shopify_shows_no_visit_for_says_so(merchant):
    merchant.place(7201, codes=("ALICE15",))  # a code decides: the visits are not asked for
    merchant.place(7202, ref="bob", journey=journeys.summary(first=None, last=None))
    merchant.work()
    assert why(merchant, 7201)["visits"] is None
    assert why(merchant, 7202)["visits"]["note"] == ("Shopify recorded no visit before this order (it was not placed "
                                                     "in an online session).")


# --- edits and lines ------------------------------------------------------------------------------


def test_an_edited_order_lists_each_adjustment_and_the_lines_each_conversion_concerns(merchant):
    merchant.place(8001, codes=("ALICE15",))
    merchant.work()
    merchant.edit(8001, quantities={SOCKS: 1})  # one pair of socks taken off the order
    merchant.work()

    answer = why(merchant, 8001)
    assert answer["amount"] == "46.75"  # what it is credited on now
    [adjustment] = answer["adjustments"]
    assert (adjustment["from"], adjustment["to"], adjustment["amount"], adjustment["currency"]) == (
        "59.50", "46.75", "-12.75", "EUR")
    assert adjustment["at"] and adjustment["floor_text"] is None
    assert answer["lines"] == [
        {"title": "Wool Scarf", "sku": "WS-GRY-01", "quantity": 1, "amount": "34.00", "percent": "57.1"},
        {"title": "Merino Socks", "sku": "MS-NVY-M", "quantity": 2, "amount": "25.50", "percent": "42.9"}]
    purchase, edit = answer["conversions"]
    assert (edit["type_text"], edit["amount"]) == ("Edit adjustment", "-12.75")
    assert edit["items"] == [{"title": "Merino Socks", "sku": "MS-NVY-M", "quantity": -1, "amount": "-12.75",
                              "percent": "100"}]
    assert purchase["items"] == answer["lines"]
    assert any("edited after it was credited" in line for line in answer["explanation"])


def _amount_refund(refund_id: int, order_id: int, amount: str) -> dict:
    """A refund of an amount alone (no line back): Shopify's refund_discrepancy adjustment."""
    body = samples.refund(refund_id=refund_id, order_id=order_id)
    money = {"shop_money": {"amount": f"-{amount}", "currency_code": "EUR"},
             "presentment_money": {"amount": f"-{amount}", "currency_code": "USD"}}
    body.update(refund_line_items=[], order_adjustments=[{
        "id": refund_id + 1, "order_id": order_id, "refund_id": refund_id, "kind": "refund_discrepancy",
        "reason": "Goodwill", "amount": f"-{amount}", "amount_set": money, "tax_amount": "0.00",
        "tax_amount_set": {**money, "shop_money": {"amount": "0.00", "currency_code": "EUR"}}}])
    return body


def test_a_refund_and_an_edit_that_would_go_below_it_show_the_floor_and_the_refunds_lines(merchant):
    merchant.place(8101, codes=("ALICE15",))
    merchant.work()
    merchant.shopify.send_webhook(SHOP, "refunds/create", _amount_refund(9101, 8101, "50.00"))
    merchant.work()
    merchant.edit(8101, quantities={SCARF: 0})  # the scarf taken off: the lines left earn 25.50
    merchant.work()

    answer = why(merchant, 8101)
    [adjustment] = answer["adjustments"]
    assert (adjustment["from"], adjustment["to"], adjustment["amount"]) == ("59.50", "50.00", "-9.50")
    assert adjustment["floor_text"] == (
        "The edit brought the order to 25.50 EUR, but refunds had already taken back 50.00 EUR: the credit never goes "
        "below what refunds took, so it stops there.")
    types = [(c["type_text"], c["amount"]) for c in answer["conversions"]]
    assert types == [("Purchase", "59.50"), ("Refund", "50.00"), ("Edit adjustment", "-9.50")]
    refund = answer["conversions"][1]
    # an amount refunded alone is shared over the purchase's lines, in proportion
    assert [(i["title"], i["amount"]) for i in refund["items"]] == [("Wool Scarf", "28.57"), ("Merino Socks", "21.43")]
    assert sum(Decimal(i["amount"]) for i in refund["items"]) == Decimal("50.00")
