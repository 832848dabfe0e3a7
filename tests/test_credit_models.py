"""Attribution models: which touches before an order count, and how the credit is shared among influencers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.core.credit_models import (
    FIRST_CLICK,
    LAST_CLICK,
    LINEAR,
    MODELS,
    SHARE_PLACES,
    TIME_DECAY,
    ModelSettings,
    Touch,
    exact_shares,
    share_credit,
)

ORDER_AT = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def touches(*pairs: tuple[str, timedelta]) -> list[Touch]:
    """Touches `(key, how long before the order)`, indexed by position."""
    return [Touch(key, ORDER_AT - before, i) for i, (key, before) in enumerate(pairs)]


def statuses(result) -> list[str]:
    return [v.status for v in result.verdicts]


# alice at t-10d, bob at t-3d, alice at t-1d: the running example.
RUNNING = touches(("alice", 10 * DAY), ("bob", 3 * DAY), ("alice", 1 * DAY))


# --- hand-worked examples -------------------------------------------------------------------------


def test_last_click_gives_everything_to_the_latest_touch():
    # Latest in-window touch is alice at t-1d: alice 1, bob nothing.
    result = share_credit(RUNNING, ORDER_AT, ModelSettings(LAST_CLICK))
    assert result.shares == (("alice", Decimal(1)),)
    assert statuses(result) == ["lost", "lost", "won"]
    assert [v.weight for v in result.verdicts] == [0, 0, 1]
    assert result.verdicts[2].reason == "last click before the order"
    assert "last click" in result.verdicts[1].reason


def test_first_click_gives_everything_to_the_earliest_touch():
    # Earliest in-window touch is alice at t-10d: alice 1, bob nothing, alice's later touch lost.
    result = share_credit(RUNNING, ORDER_AT, ModelSettings(FIRST_CLICK))
    assert result.shares == (("alice", Decimal(1)),)
    assert statuses(result) == ["won", "lost", "lost"]
    assert "first click" in result.verdicts[1].reason


def test_linear_sums_an_influencers_touches():
    # 3 touches, 1/3 each: alice 2/3 = 0.6666.. -> 0.6667, bob 1/3 = 0.3333.. -> 0.3333; 0.6667 + 0.3333 = 1.
    # (In units of 0.0001: quotas 6666.67 and 3333.33, floors 6666 + 3333 = 9999; the spare unit goes to the
    # larger remainder, alice's .67.) Alice comes first: her first touch is the earliest.
    result = share_credit(RUNNING, ORDER_AT, ModelSettings(LINEAR))
    assert result.shares == (("alice", Decimal("0.6667")), ("bob", Decimal("0.3333")))
    assert statuses(result) == ["won", "won", "won"]
    assert all(v.reason == "linear: 1 of 3 touches" for v in result.verdicts)
    # Verdict weights are not rounded: 1/3 to full precision, not 0.3333.
    assert all(v.weight != v.weight.quantize(SHARE_PLACES) for v in result.verdicts)
    assert abs(result.verdicts[0].weight - Decimal(1) / 3) < Decimal("1e-20")


def test_linear_three_way_split_puts_the_spare_unit_on_the_earliest_influencer():
    # 1/3 each -> 0.3333 * 3 = 0.9999; the remainders tie (.33 each), so the earliest in time order takes
    # the extra 0.0001: carol (t-5d) 0.3334, alice (t-2d) 0.3333, bob (t-1d) 0.3333. Sum exactly 1.
    three = touches(("alice", 2 * DAY), ("bob", 1 * DAY), ("carol", 5 * DAY))
    result = share_credit(three, ORDER_AT, ModelSettings(LINEAR))
    assert result.shares == (("carol", Decimal("0.3334")), ("alice", Decimal("0.3333")), ("bob", Decimal("0.3333")))
    assert sum(share for _, share in result.shares) == Decimal(1)


def test_time_decay_halves_weight_every_half_life():
    # Half-life 7 days; weight = 2 ** (-age / 7 days):
    #   alice t-10d: 2^(-10/7) = 0.3715   (exactly half of bob's: 2^(-10/7) = 2^(-3/7) / 2)
    #   bob   t-3d:  2^(-3/7)  = 0.7430
    #   alice t-1d:  2^(-1/7)  = 0.9057
    #   total = 2.0202
    # alice = (0.3715 + 0.9057) / 2.0202 = 0.6322, bob = 0.7430 / 2.0202 = 0.3678; 0.6322 + 0.3678 = 1.
    result = share_credit(RUNNING, ORDER_AT, ModelSettings(TIME_DECAY, half_life=7 * DAY))
    assert result.shares == (("alice", Decimal("0.6322")), ("bob", Decimal("0.3678")))
    weights = [v.weight.quantize(SHARE_PLACES) for v in result.verdicts]
    # Per touch: 0.3715 / 2.0202 = 0.1839, 0.7430 / 2.0202 = 0.3678, 0.9057 / 2.0202 = 0.4483.
    assert weights == [Decimal("0.1839"), Decimal("0.3678"), Decimal("0.4483")]
    assert statuses(result) == ["won", "won", "won"]
    assert "time decay" in result.verdicts[0].reason and "half-life 7 days" in result.verdicts[0].reason


def test_time_decay_gives_equal_weight_to_equal_ages():
    # Two touches at the same moment weigh the same whatever the half-life: 1/2 each.
    same = touches(("alice", 4 * DAY), ("bob", 4 * DAY))
    result = share_credit(same, ORDER_AT, ModelSettings(TIME_DECAY, half_life=timedelta(hours=1)))
    assert result.shares == (("alice", Decimal("0.5")), ("bob", Decimal("0.5")))


def test_time_decay_never_zeroes_an_old_influencer():
    # Half-life 1 hour: bob's touch 29 days out weighs 2^(-696) of alice's, far below 0.0001, yet he still gets
    # the smallest share there is, taken from alice.
    old = touches(("bob", 29 * DAY), ("alice", timedelta(minutes=5)))
    result = share_credit(old, ORDER_AT, ModelSettings(TIME_DECAY, half_life=timedelta(hours=1)))
    assert result.shares == (("bob", Decimal("0.0001")), ("alice", Decimal("0.9999")))


# --- window edges and ties ------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_window_edge_is_in_one_second_older_is_out_and_after_the_order_is_future(model):
    second = timedelta(seconds=1)
    edge = [
        Touch("edge", ORDER_AT - 30 * DAY, 0),
        Touch("older", ORDER_AT - 30 * DAY - second, 1),
        Touch("future", ORDER_AT + second, 2),
    ]
    result = share_credit(edge, ORDER_AT, ModelSettings(model, window=30 * DAY))
    assert result.shares == (("edge", Decimal(1)),)
    assert statuses(result) == ["won", "out_of_window", "future"]
    assert result.verdicts[1].reason == "older than the 30-day window"
    assert "after the order" in result.verdicts[2].reason
    assert result.verdicts[1].weight == result.verdicts[2].weight == 0


def test_a_touch_exactly_at_the_order_counts():
    result = share_credit([Touch("alice", ORDER_AT, 0)], ORDER_AT, ModelSettings(LAST_CLICK))
    assert result.shares == (("alice", Decimal(1)),)


def test_no_touch_in_window_shares_nothing():
    result = share_credit(touches(("alice", 40 * DAY)), ORDER_AT, ModelSettings(LINEAR))
    assert result.shares == ()
    assert statuses(result) == ["out_of_window"]
    assert share_credit([], ORDER_AT, ModelSettings()).shares == ()


def test_equal_times_break_ties_by_input_order():
    # Same instant: last click takes the later index, first click the earlier.
    tied = touches(("alice", DAY), ("bob", DAY))
    assert share_credit(tied, ORDER_AT, ModelSettings(LAST_CLICK)).shares == (("bob", Decimal(1)),)
    assert share_credit(tied, ORDER_AT, ModelSettings(FIRST_CLICK)).shares == (("alice", Decimal(1)),)


def test_verdicts_carry_the_callers_index_in_input_order():
    given_order = [Touch("bob", ORDER_AT - DAY, 7), Touch("alice", ORDER_AT - 2 * DAY, 3)]
    result = share_credit(given_order, ORDER_AT, ModelSettings(LAST_CLICK))
    assert [(v.index, v.status) for v in result.verdicts] == [(7, "won"), (3, "lost")]


# --- settings and inputs refused ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": "u_shaped"},
        {"window": timedelta(0)},
        {"window": -DAY},
        {"half_life": timedelta(0)},
        {"model": LINEAR, "half_life": -DAY},
    ],
)
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        share_credit(RUNNING, ORDER_AT, ModelSettings(**kwargs))


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        share_credit(RUNNING, ORDER_AT.replace(tzinfo=None), ModelSettings())


# --- exact_shares ---------------------------------------------------------------------------------


def test_exact_shares_aggregates_repeated_keys_in_order_of_first_appearance():
    # a: 1 + 1 = 2 of 3 -> 0.6667; b: 1 of 3 -> 0.3333.
    assert exact_shares([("a", Decimal(1)), ("b", Decimal(1)), ("a", Decimal(1))]) == (
        ("a", Decimal("0.6667")),
        ("b", Decimal("0.3333")),
    )


def test_exact_shares_gives_a_tiny_weight_the_smallest_share():
    # b's quota is 0.000000001 units: largest remainder alone would give it 0; it takes one unit from a.
    assert exact_shares([("a", Decimal(1)), ("b", Decimal("1e-13"))]) == (
        ("a", Decimal("0.9999")),
        ("b", Decimal("0.0001")),
    )


def test_exact_shares_handles_exactly_ten_thousand_keys_and_refuses_more():
    many = [(f"k{i}", Decimal(1)) for i in range(10_000)]
    many[0] = ("k0", Decimal(10**6))  # k0's quota is ~9901 units: it must give most back
    shares = exact_shares(many)
    assert all(share == SHARE_PLACES for _, share in shares[1:])
    assert shares[0] == ("k0", Decimal(1) - 9_999 * SHARE_PLACES)
    with pytest.raises(ValueError):
        exact_shares(many + [("one_too_many", Decimal(1))])


@pytest.mark.parametrize("bad", [Decimal(0), Decimal(-1), Decimal("NaN"), Decimal("Infinity")])
def test_exact_shares_refuses_non_positive_weights(bad):
    with pytest.raises(ValueError):
        exact_shares([("a", Decimal(1)), ("b", bad)])


def test_exact_shares_of_nothing_is_nothing():
    assert exact_shares([]) == ()


# --- properties -----------------------------------------------------------------------------------

KEYS = st.sampled_from(["alice", "bob", "carol", "dave", "erin"])
# Seconds before the order (negative: after it); spans past both ends of a 30-day window.
OFFSETS = st.integers(min_value=-2 * 86_400, max_value=40 * 86_400)
SETTINGS = st.builds(
    ModelSettings,
    model=st.sampled_from(MODELS),
    window=st.integers(min_value=1, max_value=60 * 86_400).map(lambda s: timedelta(seconds=s)),
    half_life=st.integers(min_value=60, max_value=30 * 86_400).map(lambda s: timedelta(seconds=s)),
)


def _touches_from(pairs: list[tuple[str, int]]) -> list[Touch]:
    return [Touch(key, ORDER_AT - timedelta(seconds=offset), i) for i, (key, offset) in enumerate(pairs)]


TOUCHES = st.lists(st.tuples(KEYS, OFFSETS), max_size=12).map(_touches_from)
DISTINCT_TOUCHES = st.lists(st.tuples(KEYS, OFFSETS), max_size=12, unique_by=lambda p: p[1]).map(_touches_from)


def _in_window(touch: Touch, settings: ModelSettings) -> bool:
    return ORDER_AT - settings.window <= touch.at <= ORDER_AT


def _is_four_places(value: Decimal) -> bool:
    return value == value.quantize(SHARE_PLACES)


@given(TOUCHES, SETTINGS)
def test_shares_are_positive_four_place_decimals_summing_to_exactly_one(given_touches, settings):
    result = share_credit(given_touches, ORDER_AT, settings)
    if any(_in_window(t, settings) for t in given_touches):
        assert sum(share for _, share in result.shares) == Decimal(1)
    else:
        assert result.shares == ()
    assert all(share > 0 and _is_four_places(share) for _, share in result.shares)
    assert len({key for key, _ in result.shares}) == len(result.shares)


@given(TOUCHES, SETTINGS)
def test_every_touch_gets_one_verdict_and_only_in_window_touches_win(given_touches, settings):
    result = share_credit(given_touches, ORDER_AT, settings)
    assert [v.index for v in result.verdicts] == [t.index for t in given_touches]
    for touch, verdict in zip(given_touches, result.verdicts):
        if touch.at > ORDER_AT:
            assert verdict.status == "future"
        elif not _in_window(touch, settings):
            assert verdict.status == "out_of_window"
        else:
            assert verdict.status in ("won", "lost")
        assert (verdict.weight > 0) == (verdict.status == "won")
    won = [v.weight for v in result.verdicts if v.status == "won"]
    if won:
        assert abs(sum(won) - 1) < Decimal("1e-20")


@given(TOUCHES, SETTINGS)
def test_an_influencer_without_an_in_window_touch_never_gets_a_share(given_touches, settings):
    result = share_credit(given_touches, ORDER_AT, settings)
    in_window_keys = {t.key for t in given_touches if _in_window(t, settings)}
    assert {key for key, _ in result.shares} <= in_window_keys


@given(DISTINCT_TOUCHES, SETTINGS, st.data())
def test_input_order_of_distinct_times_does_not_matter(given_touches, settings, data):
    shuffled = data.draw(st.permutations(given_touches))
    before, after = share_credit(given_touches, ORDER_AT, settings), share_credit(shuffled, ORDER_AT, settings)
    assert before.shares == after.shares
    assert sorted(before.verdicts, key=lambda v: v.index) == sorted(after.verdicts, key=lambda v: v.index)


@given(DISTINCT_TOUCHES, SETTINGS)
def test_last_click_credits_the_latest_and_first_click_the_earliest(given_touches, settings):
    in_window = [t for t in given_touches if _in_window(t, settings)]
    last = share_credit(given_touches, ORDER_AT, ModelSettings(LAST_CLICK, window=settings.window))
    first = share_credit(given_touches, ORDER_AT, ModelSettings(FIRST_CLICK, window=settings.window))
    if in_window:
        assert last.shares == ((max(in_window, key=lambda t: t.at).key, Decimal(1)),)
        assert first.shares == ((min(in_window, key=lambda t: t.at).key, Decimal(1)),)
    else:
        assert last.shares == first.shares == ()


@given(TOUCHES, SETTINGS, KEYS, st.integers(min_value=1, max_value=10 * 86_400), st.booleans())
def test_a_touch_outside_the_window_changes_nothing(given_touches, settings, key, seconds, future):
    gap = timedelta(seconds=seconds)
    outside = ORDER_AT + gap if future else ORDER_AT - settings.window - gap
    extra = Touch(key, outside, len(given_touches))
    before = share_credit(given_touches, ORDER_AT, settings)
    after = share_credit([*given_touches, extra], ORDER_AT, settings)
    assert after.shares == before.shares
    assert after.verdicts[:-1] == before.verdicts
    assert after.verdicts[-1].status == ("future" if future else "out_of_window")


@given(DISTINCT_TOUCHES, SETTINGS)
def test_linear_share_is_within_one_unit_of_touch_count_over_total(given_touches, settings):
    in_window = [t for t in given_touches if _in_window(t, settings)]
    result = share_credit(given_touches, ORDER_AT, ModelSettings(LINEAR, window=settings.window))
    for key, share in result.shares:
        exact = Decimal(sum(t.key == key for t in in_window)) / len(in_window)
        assert abs(share - exact) < SHARE_PLACES


WEIGHTS = st.lists(
    st.tuples(
        st.sampled_from("abcdefghij"),
        st.decimals(min_value=Decimal("1e-12"), max_value=Decimal("1e6"), allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=30,
).filter(lambda pairs: all(w > 0 for _, w in pairs))


@given(WEIGHTS)
def test_exact_shares_sum_to_one_and_follow_the_weights(weights):
    shares = exact_shares(weights)
    assert sum(share for _, share in shares) == Decimal(1)
    assert all(share > 0 and _is_four_places(share) for _, share in shares)
    first_seen = list(dict.fromkeys(key for key, _ in weights))
    assert [key for key, _ in shares] == first_seen
    # Exact quotas (Fractions), so the bound below is not blurred by rounding.
    total = sum(Fraction(w) for _, w in weights)
    quotas = {key: sum(Fraction(w) for k, w in weights if k == key) / total for key in first_seen}
    unit = Fraction(SHARE_PLACES)
    if all(q >= unit for q in quotas.values()):
        # Largest remainder never strays a full unit from the exact quota.
        assert all(abs(Fraction(share) - quotas[key]) < unit for key, share in shares)
