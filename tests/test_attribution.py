"""Attribution (pure): which signals an order carries, which kind wins, and how the credit is shared.

Hand-worked examples on neutral OrderEvents, then hypothesis properties of the pure helpers.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.attribution import (
    CLICK,
    LANDING_PAGE,
    PROMO_CODE,
    SIGNAL_KINDS,
    Directory,
    InfluencerRef,
    ReportedTouch,
    attribute,
    collect_signals,
    match_key,
    ref_from_url,
    split_equally,
)
from connector.core.credit_models import LINEAR, MODELS, TIME_DECAY, ModelSettings
from connector.core.platform import Customer, Money, OrderEvent
from connector.core.rules import email_sha256

ALICE = InfluencerRef("alice", "spring-26", "ALICE15", email_sha256("alice@example.com"), "111")
BOB = InfluencerRef("bob", "spring-26", "BOB10")
CAROL = InfluencerRef("carol", None, "CAROL5")
DIRECTORY = Directory.of([ALICE, BOB, CAROL])
ONE = Decimal(1)


def make_order(
    *,
    codes: tuple[str, ...] = (),
    cart: dict[str, str] | None = None,
    landing_url: str | None = None,
    landing_ref: str | None = None,
    email: str | None = "shopper@example.net",
    customer_id: str | None = "999",
) -> OrderEvent:
    return OrderEvent(
        order_id="820982911946154508",
        order_name="#1001",
        topic="orders/paid",
        occurred_at=datetime(2026, 11, 22, 14, 2, 59, tzinfo=timezone.utc),
        financial_status="paid",
        paid=True,
        cancelled=False,
        cancelled_at=None,
        test=False,
        customer=Customer(customer_id, email),
        discount_codes=codes,
        cart_attributes=cart or {},
        landing_url=landing_url,
        landing_ref=landing_ref,
        commission_base=Money(Decimal("59.50"), "EUR"),
    )


def credited(result) -> list[tuple[str, Decimal]]:
    return [(c.influencer.tracking_id, c.share) for c in result.credits]


def outcome_of(result, source: str) -> tuple[str, str]:
    [outcome] = [o for o in result.outcomes if o.signal.source == source]
    return outcome.status, outcome.reason


# --- which kind of signal wins -------------------------------------------------------------------


def test_code_beats_cart_ref_beats_landing_ref_by_default():
    """Default precedence: promo code, then the `_ref` cart attribute, then the landing page."""
    everything = make_order(codes=("ALICE15",), cart={"_ref": "bob"}, landing_ref="carol")
    result = attribute(everything, DIRECTORY)
    assert (result.method, credited(result)) == (PROMO_CODE, [("alice", ONE)])
    assert outcome_of(result, "note_attributes._ref")[0] == "lost"
    assert outcome_of(result, "landing_site_ref")[0] == "lost"

    no_code = attribute(make_order(cart={"_ref": "bob"}, landing_ref="carol"), DIRECTORY)
    assert (no_code.method, credited(no_code)) == (CLICK, [("bob", ONE)])

    landing_only = attribute(make_order(landing_ref="carol"), DIRECTORY)
    assert (landing_only.method, credited(landing_only)) == (LANDING_PAGE, [("carol", ONE)])


def test_store_precedence_changes_the_winner():
    """A store that ranks the landing page first credits the landing ref over a code and a click."""
    order = make_order(codes=("ALICE15",), cart={"_ref": "bob"}, landing_url="/p?ref=carol")
    result = attribute(order, DIRECTORY, ["landing_page", "promo_code", "click"])
    assert (result.method, credited(result)) == (LANDING_PAGE, [("carol", ONE)])
    status, reason = outcome_of(result, "discount_codes")
    assert status == "lost" and "landing_page" in reason


def test_partial_precedence_puts_unlisted_kinds_after_listed_ones():
    """Kinds a precedence leaves out still count, after those it lists, in the default order."""
    order = make_order(codes=("ALICE15",), cart={"_ref": "bob"}, landing_ref="carol")
    assert credited(attribute(order, DIRECTORY, ["click"])) == [("bob", ONE)]
    assert credited(attribute(make_order(codes=("ALICE15",), landing_ref="carol"), DIRECTORY, ["click"])) == [
        ("alice", ONE)
    ]


def test_cart_click_id_travels_with_the_winning_click():
    result = attribute(make_order(cart={"_ref": "bob", "_click_id": " clk_42 "}), DIRECTORY)
    [signal] = result.winning_signals
    assert (signal.kind, signal.click_id) == (CLICK, "clk_42")


# --- promo codes ---------------------------------------------------------------------------------


def test_codes_match_case_insensitively_ignoring_surrounding_spaces():
    for code in ("alice15", "  AlIcE15 ", "ALICE15\t"):
        assert credited(attribute(make_order(codes=(code,)), DIRECTORY)) == [("alice", ONE)], code


def test_tracking_ids_match_case_insensitively():
    assert credited(attribute(make_order(cart={"_ref": " BOB "}), DIRECTORY)) == [("bob", ONE)]
    assert credited(attribute(make_order(landing_url="/x?ref=Carol"), DIRECTORY)) == [("carol", ONE)]


def test_unknown_code_is_recorded_as_ignored_and_credits_nobody():
    result = attribute(make_order(codes=("SUMMER50",)), DIRECTORY)
    assert result.method is None and result.credits == () and result.winner is None
    status, reason = outcome_of(result, "discount_codes")
    assert status == "ignored" and "no influencer" in reason


def test_unknown_code_does_not_stop_a_known_one():
    result = attribute(make_order(codes=("SUMMER50", "BOB10")), DIRECTORY)
    assert credited(result) == [("bob", ONE)]
    assert sorted(o.status for o in result.outcomes) == ["ignored", "won"]


def test_several_influencers_codes_share_equally():
    """Three influencers' codes: 0.3334 + 0.3333 + 0.3333, exactly 1."""
    result = attribute(make_order(codes=("ALICE15", "BOB10", "CAROL5")), DIRECTORY)
    assert result.method == PROMO_CODE
    assert [(tid, str(share)) for tid, share in credited(result)] == [
        ("alice", "0.3334"), ("bob", "0.3333"), ("carol", "0.3333")
    ]
    assert sum(c.share for c in result.credits) == Decimal(1)


def test_same_influencers_code_twice_counts_once():
    result = attribute(make_order(codes=("ALICE15", " alice15 ", "BOB10")), DIRECTORY)
    assert credited(result) == [("alice", Decimal("0.5")), ("bob", Decimal("0.5"))]
    statuses = [(o.signal.value, o.status) for o in result.outcomes]
    assert statuses == [("ALICE15", "won"), (" alice15 ", "lost"), ("BOB10", "won")]


# --- landing page --------------------------------------------------------------------------------


def test_ref_in_landing_site_wins_over_landing_site_ref():
    order = make_order(landing_url="/products/scarf?utm_source=ig&ref=alice", landing_ref="bob")
    result = attribute(order, DIRECTORY)
    assert (result.method, credited(result)) == (LANDING_PAGE, [("alice", ONE)])
    assert outcome_of(result, "landing_site")[0] == "won"
    status, reason = outcome_of(result, "landing_site_ref")
    assert status == "lost" and "landing_site" in reason


def test_landing_site_ref_counts_when_landing_site_has_no_ref():
    result = attribute(make_order(landing_url="/products/scarf?utm_source=ig", landing_ref="bob"), DIRECTORY)
    assert credited(result) == [("bob", ONE)]


# --- self-referral -------------------------------------------------------------------------------


def test_self_referral_by_email_removes_only_that_influencers_signals():
    """Alice buying with her own code: her code is ignored, Bob's landing ref still wins."""
    order = make_order(codes=("ALICE15",), landing_ref="bob", email="  Alice@Example.COM ")
    result = attribute(order, DIRECTORY)
    assert (result.method, credited(result)) == (LANDING_PAGE, [("bob", ONE)])
    status, reason = outcome_of(result, "discount_codes")
    assert status == "ignored" and "self-referral" in reason


def test_self_referral_by_customer_id():
    order = make_order(codes=("ALICE15", "BOB10"), customer_id="111")
    result = attribute(order, DIRECTORY)
    assert credited(result) == [("bob", ONE)]
    assert [o.status for o in result.outcomes] == ["ignored", "won"]


def test_self_referral_alone_credits_nobody():
    result = attribute(make_order(cart={"_ref": "alice"}, email="alice@example.com"), DIRECTORY)
    assert result.credits == () and result.method is None
    assert outcome_of(result, "note_attributes._ref")[0] == "ignored"


# --- every signal is accounted for ---------------------------------------------------------------


def test_every_signal_appears_in_outcomes_with_a_status_and_reason():
    order = make_order(
        codes=("ALICE15", "NOPE"),
        cart={"_ref": "bob"},
        landing_url="https://shop.example/?ref=carol",
        landing_ref="zed",
    )
    result = attribute(order, DIRECTORY)
    records = [o.as_record() for o in result.outcomes]
    assert [(r["source"], r["value"], r["tracking_id"], r["status"]) for r in records] == [
        ("discount_codes", "ALICE15", "alice", "won"),
        ("discount_codes", "NOPE", None, "ignored"),
        ("note_attributes._ref", "bob", "bob", "lost"),
        ("landing_site", "carol", "carol", "lost"),
        ("landing_site_ref", "zed", None, "ignored"),
    ]
    assert all(r["reason"] for r in records)


def test_order_without_signals_has_no_outcomes():
    result = attribute(make_order(cart={"gift_note": "hi"}, landing_url="/products/scarf"), DIRECTORY)
    assert (result.method, result.credits, result.outcomes) == (None, (), ())


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10_000))
def test_split_equally_sums_to_exactly_one_with_positive_four_place_shares(count):
    shares = split_equally(count)
    assert len(shares) == count
    assert sum(shares, Decimal(0)) == Decimal(1)
    assert all(share > 0 for share in shares)
    assert all(share.as_tuple().exponent >= -4 for share in shares)


def test_split_equally_refuses_zero():
    with pytest.raises(ValueError):
        split_equally(0)


_ids = st.text(alphabet="abcXY1-_", min_size=1, max_size=4)


def _vary(value: str):
    """The same id or code as a shopper or theme might type it: case and surrounding spaces changed."""
    return st.tuples(st.sampled_from(["", " ", "  "]), st.booleans(), st.sampled_from(["", " ", "\t"])).map(
        lambda t: t[0] + (value.upper() if t[1] else value.lower()) + t[2]
    )


@st.composite
def directory_and_order(draw):
    tracking_ids = draw(st.lists(_ids, max_size=5, unique_by=match_key))
    codes = draw(st.lists(_ids.map(lambda c: "C" + c), min_size=len(tracking_ids), max_size=len(tracking_ids),
                          unique_by=match_key))
    influencers = [
        InfluencerRef(
            tid,
            promo_code=draw(st.sampled_from([code, None])),
            email_sha256=email_sha256(draw(st.sampled_from([f"{tid}@example.com", None]))),
            customer_id=draw(st.sampled_from([str(n), None])),
        )
        for n, (tid, code) in enumerate(zip(tracking_ids, codes))
    ]
    known_codes = [i.promo_code for i in influencers if i.promo_code]
    some_code = st.sampled_from(known_codes).flatmap(_vary) if known_codes else _ids
    some_id = st.sampled_from(tracking_ids).flatmap(_vary) if tracking_ids else _ids
    order = make_order(
        codes=tuple(draw(st.lists(st.one_of(some_code, _ids), max_size=4))),
        cart=draw(st.one_of(st.just({}), st.builds(lambda r: {"_ref": r}, st.one_of(some_id, _ids)))),
        landing_url=draw(st.one_of(st.none(), st.builds(lambda r: "/p?" + urlencode({"ref": r}), some_id))),
        landing_ref=draw(st.one_of(st.none(), some_id, _ids)),
        email=draw(st.one_of(st.none(), st.sampled_from([f"{t}@example.com" for t in tracking_ids] or ["x@y.z"]))),
        customer_id=draw(st.one_of(st.none(), st.sampled_from([str(n) for n in range(6)]))),
    )
    precedence = draw(st.permutations(SIGNAL_KINDS).flatmap(lambda p: st.integers(0, 3).map(lambda n: p[:n])))
    return Directory.of(influencers), order, precedence


@settings(max_examples=200, deadline=None)
@given(directory_and_order())
def test_attribute_credits_sum_to_one_and_only_credit_the_directory(case):
    directory, order, precedence = case
    result = attribute(order, directory, precedence)
    known = set(directory.by_tracking_id.values())
    assert len(result.outcomes) == len(collect_signals(order, directory))
    assert all(o.status in {"won", "lost", "ignored"} and o.reason for o in result.outcomes)
    if result.credits:
        assert sum(c.share for c in result.credits) == Decimal(1)
        assert all(c.influencer in known for c in result.credits)
        assert result.method in SIGNAL_KINDS
        assert any(o.status == "won" for o in result.outcomes)
    else:
        assert result.method is None
        assert all(o.status == "ignored" for o in result.outcomes)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_ref_from_url_never_raises(text):
    found = ref_from_url(text)
    assert found is None or (isinstance(found, str) and found == found.strip() and found)


_params = st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k != "ref"), st.text(max_size=6), max_size=3)


@settings(max_examples=200, deadline=None)
@given(
    ref=st.text(min_size=1).filter(lambda r: r.strip()),
    before=_params,
    after=_params,
    prefix=st.sampled_from(["https://shop.example/products/scarf", "http://a.myshopify.com", "/products/scarf", "/", ""]),
    fragment=st.sampled_from(["", "#reviews"]),
)
def test_ref_from_url_round_trips_a_urlencoded_ref(ref, before, after, prefix, fragment):
    query = urlencode([*before.items(), ("ref", ref), *after.items()])
    assert ref_from_url(f"{prefix}?{query}{fragment}") == ref.strip()


# --- browser-reported touches under the store's model -------------------------------------------


def _touches(spec):
    at = make_order().occurred_at
    return [ReportedTouch(ref, None, at - timedelta(hours=hours)) for ref, hours in spec]


def test_reported_touches_are_shared_by_the_model_and_old_ones_kept_as_out_of_window():
    """alice 40 days ago (out of a 30-day window), bob 5 days ago, carol 1 day ago; a landing ref too."""
    touches = _touches([("alice", 40 * 24), ("bob", 5 * 24), ("carol", 24)])
    order = make_order(landing_ref="alice")
    last = attribute(order, DIRECTORY, touches=touches)
    assert credited(last) == [("carol", ONE)] and last.method == CLICK
    assert [o.status for o in last.outcomes] == ["out_of_window", "lost", "won", "lost"]
    assert "30-day" in last.outcomes[0].reason and "click takes precedence" in last.outcomes[3].reason
    linear = attribute(order, DIRECTORY, touches=touches, model=ModelSettings(LINEAR))
    assert credited(linear) == [("bob", Decimal("0.5")), ("carol", Decimal("0.5"))]
    # Every touch out of window: the click kind is not eligible, the landing ref wins instead.
    stale = attribute(order, DIRECTORY, touches=_touches([("bob", 31 * 24)]))
    assert stale.method == LANDING_PAGE and credited(stale) == [("alice", ONE)]


def test_the_winner_is_the_largest_share_and_a_code_still_beats_the_touches():
    touches = _touches([("bob", 48), ("carol", 24), ("carol", 1)])
    decayed = attribute(make_order(), DIRECTORY, touches=touches, model=ModelSettings(TIME_DECAY))
    assert decayed.winner.tracking_id == "carol" and sum(c.share for c in decayed.credits) == ONE
    assert attribute(make_order(codes=("BOB10",)), DIRECTORY, touches=touches).method == PROMO_CODE


@settings(max_examples=150, deadline=None)
@given(
    spec=st.lists(st.tuples(st.sampled_from(["alice", "bob", "carol", "nobody"]),
                            st.integers(min_value=-3, max_value=50 * 24)), max_size=6),
    model=st.sampled_from(MODELS),
    window_days=st.integers(min_value=1, max_value=40),
)
def test_touch_credits_sum_to_one_and_never_reach_outside_the_window(spec, model, window_days):
    settings_ = ModelSettings(model, timedelta(days=window_days))
    touches = _touches(spec)
    result = attribute(make_order(), DIRECTORY, touches=touches, model=settings_)
    in_window = {ref for ref, hours in spec if ref != "nobody" and 0 <= hours <= window_days * 24}
    if result.credits:
        assert sum(c.share for c in result.credits) == ONE
        assert {c.influencer.tracking_id for c in result.credits} <= in_window
    else:
        assert not in_window
    # The order the browser listed its touches in changes nothing.
    again = attribute(make_order(), DIRECTORY, touches=list(reversed(touches)), model=settings_)
    if len({t.at for t in touches}) == len(touches):
        assert credited(again) == credited(result)
