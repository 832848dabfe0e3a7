"""Crediting an order (pure): `decide_order` on values alone, no database.

Hand-worked cases of the waits and the refunds, then properties: reversals never exceed what the
purchase holds, a credited order is never credited again, a cancellation voids exactly what is left.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from connector.core import payload
from connector.core.attribution import DEFAULT_PRECEDENCE, CLICK, LANDING_PAGE, PROMO_CODE, ReportedTouch
from connector.core.credit_models import ModelSettings
from connector.core.crediting import (KEEP_WAIT, OrderFacts, Purchase, StoreRules, decide_order, refund_reversals)
from connector.core.platform import Money, RefundEvent
from connector.core.rules import StorePolicy

from .test_attribution import DIRECTORY, make_order

RULES = StoreRules(StorePolicy(), DEFAULT_PRECEDENCE, ModelSettings())
ORDER = make_order(codes=("ALICE15",))
NOW = ORDER.occurred_at + timedelta(seconds=5)
GRACE = timedelta(minutes=2)


def _refund(number: int, amount: str) -> RefundEvent:
    return RefundEvent(refund_id=str(number), order_id=ORDER.order_id, occurred_at=NOW,
                       commission_base=Money(Decimal(amount), "EUR"))


def test_a_paid_code_order_is_credited_at_once_and_recorded():
    decision = decide_order(OrderFacts(ORDER, RULES, DIRECTORY), NOW, GRACE)
    assert decision.purchase["tracking_id"] == "alice"
    assert decision.purchase["promo_code"] == "ALICE15"
    assert decision.purchase["amount"] == Money(Decimal("59.50"), "EUR")
    assert decision.outcome == "credit" and decision.attribution.method == PROMO_CODE
    assert decision.awaiting_report_until is None and decision.retry_at is None
    assert decision.notes == ("purchase credited to alice by promo_code",)


def test_without_a_code_it_waits_for_the_browsers_report_from_its_first_event():
    order = make_order(cart={"_ref": "bob"})
    decision = decide_order(OrderFacts(order, RULES, DIRECTORY), NOW, GRACE)
    assert decision.purchase is None
    assert decision.outcome == "awaiting_report"
    assert decision.retry_at == decision.awaiting_report_until == NOW + GRACE
    # A later event keeps the wait it started with; once it is over, the cart's ref is credited.
    later = OrderFacts(order, RULES, DIRECTORY, first_event=False, awaiting_report_until=NOW + GRACE)
    assert decide_order(later, NOW + GRACE - timedelta(seconds=1), GRACE).outcome == "awaiting_report"
    done = decide_order(later, NOW + GRACE, GRACE)
    assert done.purchase["tracking_id"] == "bob" and done.purchase["method"] == CLICK


def test_a_joined_report_ends_the_wait():
    order = make_order(landing_url="/?ref=carol")
    touches = (ReportedTouch("bob", "c-1", ORDER.occurred_at - timedelta(hours=1)),)
    decision = decide_order(OrderFacts(order, RULES, DIRECTORY, touches=touches, reported=True), NOW, GRACE)
    assert decision.purchase["tracking_id"] == "bob" and decision.purchase["click_id"] == "c-1"


def test_a_store_that_puts_links_first_makes_even_a_code_order_wait():
    rules = replace(RULES, precedence=(CLICK, PROMO_CODE, LANDING_PAGE))
    assert decide_order(OrderFacts(ORDER, rules, DIRECTORY), NOW, GRACE).outcome == "awaiting_report"


def test_an_unpaid_order_starts_its_wait_but_is_not_credited():
    order = replace(ORDER, paid=False, financial_status="pending")
    decision = decide_order(OrderFacts(order, RULES, DIRECTORY), NOW, GRACE)
    assert decision.purchase is None and decision.outcome == "wait"
    assert decision.awaiting_report_until == NOW + GRACE and decision.retry_at is None
    again = decide_order(OrderFacts(order, RULES, DIRECTORY, first_event=False), NOW, GRACE)
    assert again.awaiting_report_until == KEEP_WAIT


def test_no_known_signal_is_recorded_without_a_purchase_once_the_wait_is_over():
    # An unknown code decides nothing, so the order waits for the report like one without a code.
    assert decide_order(OrderFacts(make_order(codes=("NOBODY",)), RULES, DIRECTORY), NOW, GRACE).retry_at
    decision = decide_order(OrderFacts(make_order(codes=("NOBODY",)), RULES, DIRECTORY), NOW, timedelta(0))
    assert decision.purchase is None and decision.outcome == "no_eligible_signal"
    assert decision.notes == ("not credited: no_eligible_signal",)


def test_an_order_credited_already_only_reverses_its_new_refunds():
    order = replace(ORDER, refunds=(_refund(1, "10.00"), _refund(2, "5.00")))
    facts = OrderFacts(order, RULES, DIRECTORY, purchase=Purchase("p-1", Decimal("59.50")),
                       sent_refunds=frozenset({"refund:1"}))
    decision = decide_order(facts, NOW, GRACE)
    assert decision.purchase is None and decision.attribution is None
    assert [(r.dedupe_key, r.amount) for r in decision.reversals] == [("refund:2", Decimal("5.00"))]
    assert decision.clear_deferred
    assert decision.reversals[0].note("p-1") == "refund 2: reverses 5.00 of p-1"


def test_refunds_kept_before_the_purchase_are_reversed_with_it():
    facts = OrderFacts(ORDER, RULES, DIRECTORY, deferred_refunds=(_refund(7, "100.00"),))
    decision = decide_order(facts, NOW, GRACE)
    assert decision.purchase is not None
    assert [(r.kind, r.amount) for r in decision.reversals] == [(payload.REFUND, Decimal("59.50"))]


def test_a_cancellation_voids_what_refunds_left():
    order = replace(ORDER, cancelled=True, cancelled_at=NOW)
    facts = OrderFacts(order, RULES, DIRECTORY, purchase=Purchase("p-1", Decimal("59.50"), Decimal("9.50")))
    decision = decide_order(facts, NOW, GRACE)
    assert decision.cancel and decision.attribution is None
    [reversal] = decision.reversals
    assert (reversal.kind, reversal.amount, reversal.dedupe_key) == (payload.CANCELLATION, Decimal("50.00"),
                                                                      f"cancellation:{ORDER.order_id}")
    assert decide_order(replace(facts, cancelled=True), NOW, GRACE).notes == ("already cancelled",)


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000"), places=2)


@given(purchase=amounts, reversed_part=st.integers(0, 100), refunds=st.lists(amounts, max_size=6),
       cancelled=st.booleans())
def test_reversals_never_exceed_what_the_purchase_still_holds(purchase, reversed_part, refunds, cancelled):
    already = (purchase * reversed_part / 100).quantize(Decimal("0.01"))
    held = Purchase("p", purchase, already)
    made = refund_reversals(held, cancelled, [_refund(n, str(a)) for n, a in enumerate(refunds)], frozenset())
    assert sum((r.amount for r in made), Decimal(0)) <= purchase - already
    assert all(r.amount > 0 for r in made)
    assert len({r.dedupe_key for r in made}) == len(made)
    if cancelled:
        assert made == ()


@given(paid=st.booleans(), test=st.booleans(), cancelled_before=st.booleans(), first=st.booleans(),
       minutes=st.integers(-5, 5))
def test_a_credited_order_is_never_credited_again(paid, test, cancelled_before, first, minutes):
    order = replace(ORDER, paid=paid, test=test)
    facts = OrderFacts(order, RULES, DIRECTORY, purchase=Purchase("p", Decimal("59.50")), first_event=first,
                       cancelled=cancelled_before, awaiting_report_until=NOW + timedelta(minutes=minutes))
    decision = decide_order(facts, NOW, GRACE)
    assert decision.purchase is None and decision.attribution is None
    assert decision.awaiting_report_until == KEEP_WAIT
