"""The attribution record's reasons in the merchant's words (connector/web/app/explain.py): each reason the core
writes for a returning customer, a renewal, Shopify's visits and the signal order, and the sentence the order's
page shows for it. The reasons are the core's own words (connector/core/attribution.py, signals.py,
credit_models.py, crediting/history.py); tests/test_merchant_order_details.py shows them in records the real
worker wrote.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connector.core.attribution import (DEFAULT_PRECEDENCE, LANDING_PAGE, PROMO_CODE, InfluencerRef, Inherited,
                                        PastCredit, RenewalContext, Signal, attribute_signals, inherited_signals)
from connector.core.credit_models import ModelSettings
from connector.core.platform import Customer
from connector.web.app import explain



@pytest.mark.parametrize("reason,visit,said", [
    ("renewal takes precedence over promo_code", False,
     "Subscription renewal counts before a promo code in this store's signal order (Settings), and the order had one."),
    ("promo_code takes precedence over customer", False,
     "Promo code counts before a returning customer's first order in this store's signal order (Settings), and the "
     "order had one."),
    ("customer takes precedence over landing_page", False,
     "Returning customer counts before a ref in the landing page in this store's signal order (Settings), and the "
     "order had one."),
    ("alice is no longer an influencer of this store", False,
     "alice was credited for that order, but is no longer one of this store's influencers."),
    ("a returning customer: their first credited order #1001 was this influencer's", False,
     "A returning customer: their first credited order, #1001, was this influencer's."),
    ("the customer's first credited order (#1001) is older than the 90-day customer lifetime", False,
     "The customer's first credited order, #1001, was more than 90 days before this one: past this store's time for "
     "returning customers (Settings)."),
    ("a subscription renewal: the order that started it, #1001, was this influencer's", False,
     "A subscription renewal: the order that started it, #1001, was this influencer's."),
    ("a subscription renewal: this store does not credit renewals (renewals = ignore)", False,
     "A subscription renewal: this store does not credit renewals (Settings)."),
    ("a subscription renewal whose start cannot be credited: the order that started it, #1001, was cancelled", False,
     "A subscription renewal that cannot be credited: the order that started it, #1001, was cancelled."),
    ("a subscription renewal whose start cannot be credited: the order that started it, #1001, was not credited",
     False, "A subscription renewal that cannot be credited: the order that started it, #1001, was not credited to "
            "any influencer."),
    ("the order that started it (5501) is unknown to the connector (placed before the install, or never delivered)",
     False, "The order that started it (5501) is not known to the connector: it was placed before the app was "
            "installed, or Shopify never sent it."),
    ("the platform does not name the order that started it (Shopify refused it: Access denied), and the connector "
     "knows no earlier subscription order of this customer", False,
     "Shopify does not say which order started it (Shopify refused it: Access denied), and the connector knows no "
     "earlier order of this customer that started a subscription."),
    ("the platform does not name the order that started it, and the connector knows no earlier subscription order "
     "of this customer", False, "Shopify does not say which order started it, and the connector knows no earlier "
                                "order of this customer that started a subscription."),
    ("the order that started it, #1001, was cancelled", False, "The order that started it, #1001, was cancelled."),
    ("the same landing as journey.first_visit, which carries its time", False,
     "The same landing as the first visit in Shopify's record, which says when it was: that one counts instead."),
    ("same influencer as another code on the order", False,
     "The same influencer's code is on the order twice: it counts once."),
    ("landing_site is preferred to landing_site_ref", False,
     "The ref in the landing page's address counts first; this copy of it adds nothing."),
    ("first click before the order", True, "The shopper's first visit with an influencer's ref before the order: "
                                           "under this store's model (First click) it takes the credit."),
    ("first click: an earlier touch won", True,
     "An earlier visit with an influencer's ref takes the credit under this store's model (First click)."),
    ("linear: 1 of 2 touches", True, "One of 2 visits with an influencer's ref in the window: each gets an equal share."),
    ("time decay: 2 days before the order, half-life 7 days, weight 0.4", True,
     "Visited 2 days before the order; with a half-life of 7 days its share is 0.4."),
    ("time decay: 400 days before the order, too old to weigh anything", True,
     "Visited 400 days before the order: too long ago to earn a share."),
    ("older than the 30-day attribution window", True,
     "The visit was more than 30 days before the order: outside the attribution window."),
    ("the touch is later than the conversion", True, "Recorded as later than the order, which cannot be: never credited."),
    ("last click before the order", False, "The last influencer link clicked before the order."),  # a click stays one
])
def test_each_reason_is_said_in_the_merchants_words(reason, visit, said):
    assert explain.reason_text(reason, visit=visit) == said


def test_a_reason_not_known_yet_is_shown_as_recorded():
    assert explain.reason_text("a_new_reason from the core") == "A new reason from the core"


@pytest.mark.parametrize("kind", ["customer", "renewal"])
def test_the_new_methods_and_kinds_have_labels(kind):
    assert explain.METHOD_LABELS[kind] and explain.KINDS[kind] and explain.KIND_WORDS[kind]
    assert explain.outcome_label("awaiting_visits") == ("Waiting for Shopify's visits", "info")


# --- the reasons as the core writes them: none is left in its operator's words ----------------------------

AT = datetime(2026, 11, 22, 14, 0, tzinfo=timezone.utc)
ALICE, BOB = InfluencerRef("alice", promo_code="ALICE15"), InfluencerRef("bob")


def _past(found_by: str, days: int, *credits) -> PastCredit:
    return PastCredit("1001", "#1001", AT - timedelta(days=days), credits or ((ALICE, "alice", Decimal(1)),), found_by)


def _visit(position: str, ref: InfluencerRef, days: float) -> Signal:
    return Signal(LANDING_PAGE, f"journey.{position}_visit", ref.tracking_id, ref, at=AT - timedelta(days=days))


CASES = {
    "a returning customer won": (
        [], Inherited(customer=_past("customer_id", 10), lifetime=timedelta(days=30)), ModelSettings()),
    "a returning customer too old, beaten by a code and one gone": (
        [Signal(PROMO_CODE, "discount_codes", "ALICE15", ALICE)],
        Inherited(customer=_past("email_sha256", 40, (ALICE, "alice", Decimal("0.5")), (None, "zed", Decimal("0.5"))),
                  lifetime=timedelta(days=30)), ModelSettings()),
    "a renewal won over a code": (
        [Signal(PROMO_CODE, "discount_codes", "ALICE15", ALICE)],
        Inherited(renewal=RenewalContext("tag Subscription Recurring Order", origin=_past("origin", 30))),
        ModelSettings()),
    "a renewal whose start was not credited": (
        [Signal(PROMO_CODE, "discount_codes", "ALICE15", ALICE)],
        Inherited(renewal=RenewalContext("source_name subscription_contract",
                                         missing="the order that started it, #1001, was not credited")),
        ModelSettings()),
    "renewals ignored": (
        [Signal(PROMO_CODE, "discount_codes", "ALICE15", ALICE)],
        Inherited(renewal=RenewalContext("source_name subscription_contract", policy="ignore")), ModelSettings()),
    **{f"visits under {model}": (
        [Signal(LANDING_PAGE, "landing_site", "bob", BOB), _visit("first", ALICE, 3), _visit("last", BOB, 0.5),
         _visit("last", ALICE, 45)], Inherited(), ModelSettings(model=model))
       for model in ("last_click", "first_click", "linear", "time_decay")},
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_reason_attribution_writes_for_the_new_kinds_has_the_merchants_words(case):
    signals, inherited, model = CASES[case]
    signals = [*signals, *inherited_signals(inherited)]
    decided = attribute_signals(signals, AT, Customer("c1", "shopper@example.com"), DEFAULT_PRECEDENCE, model, inherited)
    assert decided.outcomes
    for outcome in decided.outcomes:
        record = outcome.as_record()
        said = explain.reason_text(record["reason"], visit=record["kind"] == LANDING_PAGE)
        as_recorded = (record["reason"][:1].upper() + record["reason"][1:]).replace("_", " ")
        assert said and said != as_recorded, record["reason"]
