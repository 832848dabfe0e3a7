"""The pure part of a credit by hand (connector/core/manual.py), on values alone: shares, refusals, the decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.core import manual
from connector.core.attribution import InfluencerRef
from connector.core.manual import Asked, ManualFacts, Previous, Refused, Standing
from connector.core.platform import LineItem, Money, RefundEvent
from connector.core.rules import StorePolicy

from .test_attribution import make_order

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
PEOPLE = {f"i{n}": InfluencerRef(f"I{n}", campaign_id=f"c{n}") for n in range(25)}
ORDER = replace(make_order(), items=(LineItem("1", "p1", "v1", "S1", "Scarf", Decimal(1), Decimal("34.00")),
                                     LineItem("2", "p2", "v2", "S2", "Socks", Decimal(2), Decimal("25.50"))))


def _facts(**changes) -> ManualFacts:
    return replace(ManualFacts(ORDER, StorePolicy(), PEOPLE), **changes)


@given(st.integers(min_value=1, max_value=manual.MAX_CREDITS))
def test_without_shares_any_number_of_influencers_share_exactly_one(count):
    credits = manual.credits_of(Asked(tuple((f"I{n}", None) for n in range(count)), "backend"), PEOPLE)
    assert sum(c.share for c in credits) == 1
    assert all(c.share > 0 and c.share.as_tuple().exponent >= -4 for c in credits)


@given(st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=manual.MAX_CREDITS))
def test_shares_are_taken_only_when_they_add_up_to_exactly_one(parts):
    asked = Asked(tuple((f"i{n}", f"{Decimal(p) / 10_000:f}" if p < 10_000 else "1") for n, p in enumerate(parts)),
                  "backend")
    if sum(parts) == 10_000:
        assert sum(c.share for c in manual.credits_of(asked, PEOPLE)) == 1
    else:
        with pytest.raises(Refused) as refused:
            manual.credits_of(asked, PEOPLE)
        assert (refused.value.reason, refused.value.field) == (manual.SHARES_NOT_ONE, "credits")


def test_the_purchase_is_the_orders_base_and_lines_with_method_manual_and_the_largest_share_named():
    decision = manual.decide(_facts(), Asked((("i1", "0.25"), ("i2", "0.75")), "merchant", "42", "a note"))
    purchase = decision.purchase
    assert (purchase["method"], purchase["amount"], purchase["tracking_id"], purchase["campaign_id"]) == (
        "manual", Money(Decimal("59.50"), "EUR"), "I2", "c2")
    assert (purchase["promo_code"], purchase["click_id"]) == (None, None)
    assert sum(item.amount for item in purchase["items"]) == Decimal("59.50")
    assert decision.clear_deferred and decision.awaiting_report_until is None and decision.reversals == ()


def test_refunds_kept_before_are_reversed_with_it_once():
    refund = RefundEvent("r1", ORDER.order_id, NOW, Money(Decimal("12.75"), "EUR"))
    [reversal] = manual.decide(_facts(deferred_refunds=(refund,)), Asked((("i1", None),), "backend")).reversals
    assert (reversal.dedupe_key, reversal.amount) == ("refund:r1", Decimal("12.75"))
    assert manual.decide(_facts(deferred_refunds=(refund,), sent_refunds=frozenset({"refund:r1"})),
                         Asked((("i1", None),), "backend")).reversals == ()


@pytest.mark.parametrize("order, policy, reason", [
    (replace(ORDER, cancelled=True), StorePolicy(), manual.CANCELLED),
    (replace(ORDER, test=True), StorePolicy(), manual.TEST_ORDER),
    (replace(ORDER, paid=False, financial_status="pending"), StorePolicy(), manual.UNPAID),
])
def test_what_the_orders_event_says_against_it_refuses_it(order, policy, reason):
    with pytest.raises(Refused) as refused:
        manual.decide(_facts(event=order, policy=policy), Asked((("i1", None),), "backend"))
    assert refused.value.reason == reason
    # a store that credits orders when placed and forwards test orders takes the last two; a cancellation, never
    lenient = manual.event_refusal(order, StorePolicy(credit_on="creation", forward_test_orders=True))
    assert (lenient.reason if lenient else None) == (manual.CANCELLED if reason == manual.CANCELLED else None)


def test_an_order_credited_already_is_refused_naming_what_and_when():
    at = datetime(2026, 11, 22, 14, 3, tzinfo=timezone.utc)
    refused = manual.standing_refusal(Standing("cv_1", at, "click", None, False))
    assert (refused.reason, refused.conversion_id) == (manual.ALREADY_CREDITED, "cv_1")
    assert refused.message == "the order was already credited by a link click at 2026-11-22T14:03:00Z: conversion cv_1"
    by_hand = manual.standing_refusal(Standing("cv_2", at, "manual", "merchant", False))
    assert "already credited by hand (merchant)" in by_hand.message
    assert manual.standing_refusal(Standing(None, None, None, None, True)).reason == manual.CANCELLED
    assert manual.standing_refusal(Standing(None, None, None, None, False)) is None


@pytest.mark.parametrize("note, kept", [(None, None), ("  ", None), (" ok \n line two\t", "ok \n line two"),
                                        ("x" * 500, "x" * 500)])
def test_a_note_is_kept_trimmed(note, kept):
    assert manual.check_note(note) == kept


@pytest.mark.parametrize("note", ["x" * 501, "nul\x00", "bell\x07", "escape\x1b[31m", "half \ud800 pair", "del\x7f"])
def test_a_note_that_cannot_be_kept_is_refused(note):
    with pytest.raises(Refused) as refused:
        manual.check_note(note)
    assert (refused.value.reason, refused.value.field) == (manual.BAD_NOTE, "note")


def test_the_record_keeps_what_the_signals_decided_marked_superseded():
    previous = Previous(NOW, "no_eligible_signal", None, [], [{"kind": "promo_code", "status": "ignored"}],
                        {"first_order": {"value": None, "source": "unknown"}})
    values = manual.record_values(previous, [("I1", Decimal("0.5")), ("I2", Decimal("0.50"))],
                                  Asked((), "backend", None, "why"), NOW)
    assert (values["method"], values["outcome"]) == ("manual", "credit")
    assert values["credits"] == [{"tracking_id": "I1", "share": "0.5"}, {"tracking_id": "I2", "share": "0.5"}]
    assert values["signals"] == [{"kind": "promo_code", "status": "ignored", "superseded": True}]
    assert values["details"]["first_order"] == previous.details["first_order"]
    assert values["details"]["manual"] == {
        "by": "backend", "user": None, "at": "2026-12-01T09:00:00Z", "note": "why",
        "superseded": {"outcome": "no_eligible_signal", "method": None, "credits": [],
                       "decided_at": "2026-12-01T09:00:00Z"}}
    assert previous.signals == [{"kind": "promo_code", "status": "ignored"}]  # the earlier record is not changed
