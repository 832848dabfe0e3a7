"""Attribution depth (pure): returning customers, renewals, the platform's visits under each model, new or returning.

The worker's tests (tests/test_attribution_depth_flow.py) take the same cases through the database and the
platforms' stand-ins; here each rule is shown on values alone, with properties where a rule must hold for all.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from connector.core.attribution import (CUSTOMER, DEFAULT_PRECEDENCE, LANDING_PAGE, PROMO_CODE, RENEWAL,
                                        RENEWALS_IGNORE, Inherited, PastCredit, RenewalContext, attribute)
from connector.core.credit_models import FIRST_CLICK, LAST_CLICK, LINEAR, MODELS, TIME_DECAY, ModelSettings
from connector.core.crediting import OrderFacts, StoreRules, decide_order
from connector.core.platform import Customer, Journey, Visit
from connector.core.rules import StorePolicy

from .test_attribution import ALICE, BOB, CAROL, DIRECTORY, make_order

ORDER = make_order()
AT = ORDER.occurred_at
LIFETIME = timedelta(days=180)


def past(*credits, days_ago: int = 30, name: str = "#900", found_by: str = "customer_id") -> PastCredit:
    return PastCredit("900", name, AT - timedelta(days=days_ago),
                      tuple((DIRECTORY.by_tracking_id.get(t), t, Decimal(s)) for t, s in credits), found_by)


def returning(*credits, days_ago: int = 30) -> Inherited:
    return Inherited(customer=past(*credits, days_ago=days_ago), lifetime=LIFETIME)


def shares(result) -> list[tuple[str, Decimal]]:
    return [(c.influencer.tracking_id, c.share) for c in result.credits]


def reasons(result) -> dict[str, tuple[str, str]]:
    return {f"{o.signal.kind}:{o.signal.source}:{o.signal.value}": (o.status, o.reason) for o in result.outcomes}


def verdicts(result) -> list[tuple[str, str]]:
    return [(o.status, o.reason) for o in result.outcomes]


# -- returning customers ---------------------------------------------------------------------------------------

def test_a_returning_customer_inside_the_lifetime_goes_to_the_first_orders_influencers_in_the_same_shares():
    result = attribute(ORDER, DIRECTORY, inherited=returning(("alice", "0.6"), ("bob", "0.4")))
    assert result.method == CUSTOMER
    assert shares(result) == [("alice", Decimal("0.6")), ("bob", Decimal("0.4"))]
    assert all("first credited order #900" in o.reason for o in result.outcomes if o.status == "won")


def test_outside_the_lifetime_the_first_order_is_recorded_and_not_credited():
    result = attribute(ORDER, DIRECTORY, inherited=returning(("alice", "1"), days_ago=181))
    assert result.method is None and not result.credits
    [(status, reason)] = reasons(result).values()
    assert status == "out_of_window" and "older than the 180-day customer lifetime" in reason


def test_the_orders_own_signals_come_first_by_default_and_the_merchant_can_put_customers_first():
    order = make_order(codes=("BOB10",))
    inherited = returning(("alice", "1"))
    by_default = attribute(order, DIRECTORY, inherited=inherited)
    assert by_default.method == PROMO_CODE and shares(by_default) == [("bob", Decimal("1"))]
    assert reasons(by_default)["customer:customer.customer_id:#900"] == ("lost", "promo_code takes precedence over "
                                                                                 "customer")
    first = attribute(order, DIRECTORY, (CUSTOMER, PROMO_CODE), inherited=inherited)
    assert first.method == CUSTOMER and shares(first) == [("alice", Decimal("1"))]


def test_self_referral_still_applies_to_a_returning_customer_and_the_others_share_it_all():
    alice_buys = replace(ORDER, customer=Customer("111", "alice@example.com"))
    result = attribute(alice_buys, DIRECTORY, inherited=returning(("alice", "0.5"), ("bob", "0.5")))
    assert shares(result) == [("bob", Decimal("1"))]
    assert ("ignored", "self-referral: the customer is this influencer") in verdicts(result)


def test_an_influencer_no_longer_in_the_store_drops_out_and_the_rest_keep_their_proportions():
    result = attribute(ORDER, DIRECTORY, inherited=returning(("gone", "0.5"), ("alice", "0.3"), ("bob", "0.2")))
    assert shares(result) == [("alice", Decimal("0.6")), ("bob", Decimal("0.4"))]
    assert ("ignored", "gone is no longer an influencer of this store") in verdicts(result)


@given(st.lists(st.integers(1, 9999), min_size=1, max_size=3), st.integers(0, 400), st.integers(1, 400))
def test_inherited_shares_always_add_up_to_one_and_the_lifetime_is_kept(weights, days_ago, lifetime_days):
    total = sum(weights)
    raw = [Decimal(w) / total for w in weights]
    credits = [(t, str(s.quantize(Decimal("0.0001")))) for t, s in zip(("alice", "bob", "carol"), raw)]
    inherited = Inherited(customer=past(*credits, days_ago=days_ago), lifetime=timedelta(days=lifetime_days))
    result = attribute(ORDER, DIRECTORY, inherited=inherited)
    if days_ago > lifetime_days:
        assert not result.credits
    else:
        assert result.method == CUSTOMER and sum(c.share for c in result.credits) == 1


# -- renewals --------------------------------------------------------------------------------------------------

def renewal(origin: PastCredit | None = None, missing: str | None = None, policy: str = "credit") -> Inherited:
    return Inherited(renewal=RenewalContext("tag Subscription Recurring Order", policy, origin, missing))


def test_a_renewal_of_a_credited_start_goes_to_its_influencers_and_names_it():
    order = make_order(codes=("BOB10",))  # the subscription's discount, carried onto every recurring order
    facts = OrderFacts(order, StoreRules(StorePolicy(), DEFAULT_PRECEDENCE, ModelSettings()), DIRECTORY,
                       inherited=renewal(past(("alice", "1"), found_by="origin")))
    decision = decide_order(facts, AT + timedelta(seconds=1))
    assert decision.purchase["method"] == RENEWAL and decision.purchase["renewal_of"] == "900"
    assert decision.purchase["credits"] == [("alice", Decimal("1"))]
    assert decision.details["renewal"]["start"] == "900"
    assert decision.retry_at is None  # no browser report is waited for: a subscription charged it


def test_a_renewal_whose_start_is_unknown_or_uncredited_is_not_credited_even_with_a_code_on_it():
    order = make_order(codes=("BOB10",))
    why = "the order that started it (77) is unknown to the connector (placed before the install, or never delivered)"
    result = attribute(order, DIRECTORY, inherited=renewal(missing=why))
    assert result.method is None and not result.credits
    assert reasons(result)["renewal:subscription:tag Subscription Recurring Order"] == ("ignored", why)
    assert reasons(result)["promo_code:discount_codes:BOB10"][0] == "ignored"
    assert "start cannot be credited" in reasons(result)["promo_code:discount_codes:BOB10"][1]


def test_a_store_that_ignores_renewals_credits_none_and_says_so():
    result = attribute(make_order(codes=("BOB10",)), DIRECTORY,
                       inherited=renewal(past(("alice", "1")), policy=RENEWALS_IGNORE))
    assert not result.credits
    assert all("renewals = ignore" in o.reason for o in result.outcomes)


def test_a_merchant_who_puts_codes_before_renewals_credits_the_code_on_a_renewal():
    result = attribute(make_order(codes=("BOB10",)), DIRECTORY, (PROMO_CODE, RENEWAL),
                       inherited=renewal(past(("alice", "1"))))
    assert result.method == PROMO_CODE and shares(result) == [("bob", Decimal("1"))]


# -- the platform's visits -------------------------------------------------------------------------------------

def visits(first: str | None, last: str | None, first_days: float = 10, last_days: float = 1) -> Journey:
    return Journey(ready=True, visits=(Visit("first", AT - timedelta(days=first_days), first, f"/?ref={first}"),
                                       Visit("last", AT - timedelta(days=last_days), last, f"/?ref={last}")))


def with_model(model: str, half_life_days: int = 7) -> ModelSettings:
    return ModelSettings(model, timedelta(days=30), timedelta(days=half_life_days))


def test_the_first_visit_wins_under_first_click_and_the_last_under_last_click():
    order = replace(make_order(landing_url="/?ref=bob"), journey=visits("alice", "bob"))
    first = attribute(order, DIRECTORY, model=with_model(FIRST_CLICK))
    assert first.method == LANDING_PAGE and shares(first) == [("alice", Decimal("1"))]
    last = attribute(order, DIRECTORY, model=with_model(LAST_CLICK))
    assert shares(last) == [("bob", Decimal("1"))]
    # The order's own landing field is the last visit again: it gives way to the visit with its time.
    assert reasons(last)["landing_page:landing_site:bob"] == ("lost", "the same landing as journey.last_visit, "
                                                                      "which carries its time")


def test_linear_shares_the_visits_and_time_decay_weighs_the_recent_one_more():
    order = replace(ORDER, journey=visits("alice", "bob", first_days=14, last_days=0))
    linear = attribute(order, DIRECTORY, model=with_model(LINEAR))
    assert shares(linear) == [("alice", Decimal("0.5")), ("bob", Decimal("0.5"))]
    decay = attribute(order, DIRECTORY, model=with_model(TIME_DECAY, half_life_days=7))
    # 14 days at a 7-day half-life: a quarter of the weight of the visit on the day.
    assert shares(decay) == [("alice", Decimal("0.2")), ("bob", Decimal("0.8"))]


def test_a_visit_older_than_the_window_is_recorded_and_not_credited():
    order = replace(ORDER, journey=visits("alice", "bob", first_days=45))
    result = attribute(order, DIRECTORY, model=with_model(FIRST_CLICK))
    assert shares(result) == [("bob", Decimal("1"))]
    assert reasons(result)["landing_page:journey.first_visit:alice"][0] == "out_of_window"


def test_one_session_is_one_visit_and_visits_without_a_ref_or_influencer_are_kept_apart():
    one = Journey(ready=True, visits=(Visit("first", AT - timedelta(days=2), "carol"),
                                      Visit("last", AT - timedelta(days=2), "carol")))
    result = attribute(replace(ORDER, journey=one), DIRECTORY, model=with_model(LINEAR))
    assert shares(result) == [("carol", Decimal("1"))] and len(result.outcomes) == 1
    none = Journey(ready=True, visits=(Visit("first", AT - timedelta(days=2), None),
                                       Visit("last", AT - timedelta(days=1), "stranger")))
    result = attribute(replace(ORDER, journey=none), DIRECTORY)
    assert not result.credits and [o.status for o in result.outcomes] == ["ignored"]


@given(st.sampled_from(MODELS), st.floats(0, 29), st.floats(0, 29))
def test_under_every_model_visits_share_exactly_one_between_their_influencers(model, first_days, last_days):
    order = replace(ORDER, journey=visits("alice", "bob", first_days=max(first_days, last_days),
                                          last_days=min(first_days, last_days)))
    result = attribute(order, DIRECTORY, model=with_model(model))
    assert result.method == LANDING_PAGE and sum(c.share for c in result.credits) == 1
    assert {c.influencer.tracking_id for c in result.credits} <= {"alice", "bob"}


def test_an_order_waits_for_visits_being_built_and_is_credited_without_them_after_the_wait():
    order = replace(make_order(landing_url="/?ref=carol"), journey=Journey(ready=False))
    rules = StoreRules(StorePolicy(), DEFAULT_PRECEDENCE, ModelSettings())
    facts = OrderFacts(order, rules, DIRECTORY, journey_wait_until=AT + timedelta(minutes=5))
    waiting = decide_order(facts, AT + timedelta(seconds=10))
    assert waiting.outcome == "awaiting_visits" and waiting.retry_at == AT + timedelta(seconds=40)
    done = decide_order(facts, AT + timedelta(minutes=5))
    assert done.purchase["tracking_id"] == "carol" and done.details["journey"]["ready"] is False


def test_bob_and_carol_are_in_the_directory_the_cases_use():
    assert {BOB.tracking_id, CAROL.tracking_id, ALICE.tracking_id} <= set(DIRECTORY.by_tracking_id)


# -- edits, refunds and a cancellation against one purchase ----------------------------------------------------

RULES = StoreRules(StorePolicy(), DEFAULT_PRECEDENCE, ModelSettings())


def lines_of(base: Decimal) -> tuple:
    """Two lines adding up to `base` (a scarf and the rest in socks)."""
    from connector.core.platform import LineItem
    scarf = min(base, Decimal("34.00"))
    return (LineItem("1", "p1", "v1", "S1", "Scarf", Decimal(1), scarf),
            LineItem("2", "p2", "v2", "S2", "Socks", Decimal(2), base - scarf))


def sequences():
    base = st.integers(0, 50000).map(lambda c: Decimal(c).scaleb(-2))
    edit = st.tuples(st.just("edit"), base, st.integers(1, 40))
    refund = st.tuples(st.just("refund"), st.integers(1, 100), st.just(0))
    cancel = st.tuples(st.just("cancel"), st.just(0), st.just(0))
    return st.tuples(base, st.lists(st.one_of(edit, edit, refund, cancel), max_size=8))


@given(sequences())
def test_purchase_adjustments_refunds_and_cancellation_add_up_to_what_the_order_earns_never_below_zero(case):
    from connector.core import items as lines
    from connector.core.crediting import Purchase, decide
    from connector.core.platform import Money, RefundEvent
    start, steps = case
    first = replace(ORDER, commission_base=Money(start, "EUR"), items=lines_of(start), updated_at=AT)
    made = decide_order(OrderFacts(first, RULES, DIRECTORY, inherited=returning(("alice", "1"))), AT)
    purchase = Purchase("cv_1", start, base_as_of=AT, items=lines.held([made.purchase["items"]]))
    sent = [(made.purchase["type"], start, made.purchase["items"])]
    base, base_at, refunded, cancelled, refund_number = start, AT, Decimal(0), False, 0
    for kind, value, minutes in steps:
        if kind == "edit":
            at = AT + timedelta(minutes=minutes)
            event = replace(first, commission_base=Money(value, "EUR"), items=lines_of(value), updated_at=at)
            decision = decide_order(OrderFacts(event, RULES, DIRECTORY, purchase=purchase, cancelled=cancelled), at)
            if at >= base_at:  # the same second may be a newer state: it adjusts (crediting.edit_adjustment)
                base, base_at = value, at
        elif kind == "refund":
            # A platform refunds at most what is left of the order's goods.
            amount = (max(base - refunded, Decimal(0)) * value / 100).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
            if amount == 0:
                continue
            refund_number += 1
            event = RefundEvent(str(refund_number), first.order_id, AT, Money(amount, "EUR"))
            decision = decide(OrderFacts(event, RULES, DIRECTORY, purchase=purchase, cancelled=cancelled), AT)
            refunded += amount if not cancelled else 0
        else:
            decision = decide_order(OrderFacts(replace(first, cancelled=True, cancelled_at=AT), RULES, DIRECTORY,
                                               purchase=purchase, cancelled=cancelled), AT)
            cancelled = True
        for reversal in decision.reversals:
            assert lines.total(reversal.items) == reversal.amount or not reversal.items and not purchase.items
            sent.append((reversal.kind, reversal.amount, reversal.items))
            if reversal.kind == "conversion.adjustment":
                purchase = replace(purchase, adjusted=purchase.adjusted + reversal.amount,
                                   items=lines.held([purchase.items.values(), reversal.items]))
            else:
                purchase = replace(purchase, reversed=purchase.reversed + reversal.amount)
        if decision.base_as_of is not None:
            purchase = replace(purchase, base_as_of=decision.base_as_of)
        net = purchase.held - purchase.reversed
        assert net >= 0
    earned = Decimal(0) if cancelled else max(base - refunded, Decimal(0))
    signed = sum(-amount if kind in ("conversion.refund", "conversion.cancellation") else amount
                 for kind, amount, _ in sent)
    assert signed == earned
