"""Attribution models (pure): which of a shopper's touches before an order count, and how the credit is shared.

Every input touch gets a verdict saying what became of it, so an operator can see why an influencer
was (or was not) credited. Shares are four-decimal `Decimal`s that add up to exactly 1.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Context, Decimal, localcontext
from fractions import Fraction
from typing import Sequence

LAST_CLICK, FIRST_CLICK, LINEAR, TIME_DECAY = "last_click", "first_click", "linear", "time_decay"
MODELS = (LAST_CLICK, FIRST_CLICK, LINEAR, TIME_DECAY)
SHARE_PLACES = Decimal("0.0001")  # shares have at most 4 decimal places
WON, LOST, OUT_OF_WINDOW, FUTURE = "won", "lost", "out_of_window", "future"

_UNITS = 10_000  # 1 / SHARE_PLACES: shares are handed out as whole units of 0.0001
# A fixed context, not the caller's: results must not change with whatever precision the caller set.
_CONTEXT = Context(prec=28)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class ModelSettings:
    """A store's attribution model; invalid settings are refused when built, not when first used."""

    model: str = LAST_CLICK
    window: timedelta = timedelta(days=30)
    half_life: timedelta = timedelta(days=7)  # time decay only

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown attribution model {self.model!r}; expected one of {', '.join(MODELS)}")
        if self.window <= timedelta(0):
            raise ValueError(f"attribution window must be positive, got {self.window}")
        if self.half_life <= timedelta(0):
            raise ValueError(f"time-decay half-life must be positive, got {self.half_life}")


@dataclass(frozen=True)
class Touch:
    key: str
    at: datetime
    index: int


@dataclass(frozen=True)
class TouchVerdict:
    index: int
    status: str
    reason: str
    weight: Decimal


@dataclass(frozen=True)
class ModelResult:
    shares: tuple[tuple[str, Decimal], ...]
    verdicts: tuple[TouchVerdict, ...]


def _days(span: timedelta) -> str:
    """A span in days for a human: `30`, `1.5`, `0.25` (display only, so a float is fine)."""
    return f"{span / timedelta(days=1):.4g}"


def exact_shares(weights: Sequence[tuple[str, Decimal]]) -> tuple[tuple[str, Decimal], ...]:
    """Per-key shares of positive weights, four decimals each, summing to exactly 1 (largest remainder)."""
    totals: dict[str, Fraction] = {}  # dicts keep insertion order: keys stay in order of first appearance
    for key, weight in weights:
        if not weight.is_finite() or weight <= 0:
            raise ValueError(f"weight for {key!r} must be a positive finite number, got {weight}")
        # Fractions are exact, so the floors below never sum past 10000 through rounding.
        totals[key] = totals.get(key, Fraction(0)) + Fraction(weight)
    if len(totals) > _UNITS:
        raise ValueError(f"{len(totals)} keys cannot each get a share of at least {SHARE_PLACES}")
    if not totals:
        return ()
    whole = sum(totals.values())
    keys = list(totals)
    quotas = [totals[key] * _UNITS / whole for key in keys]
    units = [int(quota) for quota in quotas]  # floor: quotas are positive
    # Largest remainder: the units lost to flooring go to the biggest fractional parts, earlier key first on ties.
    by_remainder = sorted(range(len(keys)), key=lambda i: (-(quotas[i] - units[i]), i))
    for i in by_remainder[: _UNITS - sum(units)]:
        units[i] += 1
    # A key with a tiny weight may still hold nothing; it takes a unit from the most over-served key
    # (later key on ties). Someone always has two units to spare: there are at most 10000 keys.
    donors = [(-(units[i] - quotas[i]), -i) for i in range(len(keys)) if units[i] >= 2]
    heapq.heapify(donors)
    for i in range(len(keys)):
        if units[i] == 0:
            _, neg = heapq.heappop(donors)
            units[-neg] -= 1
            units[i] = 1
            if units[-neg] >= 2:
                heapq.heappush(donors, (-(units[-neg] - quotas[-neg]), neg))
    return tuple((key, Decimal(count) * SHARE_PLACES) for key, count in zip(keys, units))


def _decay_weights(touches: list[Touch], half_life: timedelta) -> list[Decimal]:
    """2 ** (-age / half_life) per touch, measured from the newest one so it weighs exactly 1."""
    # Normalising makes the reference point irrelevant; using the newest touch keeps the sum >= 1,
    # so very old touches can underflow to 0 without the total ever doing so.
    newest = touches[-1].at
    half_life_us = Decimal(half_life // _MICROSECOND)
    with localcontext(_CONTEXT):
        ln2 = Decimal(2).ln()
        return [(-(Decimal((newest - t.at) // _MICROSECOND) / half_life_us) * ln2).exp() for t in touches]


def _model_weights(ordered: list[Touch], at: datetime, settings: ModelSettings) -> list[tuple[Decimal, str]]:
    """(raw weight, reason) per in-window touch (in time order); a weight of 0 means the model gave it nothing."""
    count = len(ordered)
    if settings.model in (LAST_CLICK, FIRST_CLICK):
        pick = count - 1 if settings.model == LAST_CLICK else 0
        which = "last" if settings.model == LAST_CLICK else "first"
        beaten = "a later touch won" if settings.model == LAST_CLICK else "an earlier touch won"
        return [
            (Decimal(1), f"{which} click before the order") if i == pick else (Decimal(0), f"{which} click: {beaten}")
            for i in range(count)
        ]
    if settings.model == LINEAR:
        return [(Decimal(1), f"linear: 1 of {count} touches")] * count
    weights = _decay_weights(ordered, settings.half_life)
    with localcontext(_CONTEXT):
        total = sum(weights)
        return [
            (
                weight,
                f"time decay: {_days(at - t.at)} days before the order, half-life {_days(settings.half_life)} days, "
                f"weight {(weight / total).quantize(SHARE_PLACES)}"
                if weight
                else f"time decay: {_days(at - t.at)} days before the order, too old to weigh anything",
            )
            for t, weight in zip(ordered, weights)
        ]


def share_credit(touches: Sequence[Touch], at: datetime, settings: ModelSettings) -> ModelResult:
    """Judge each touch before an order at `at` under the store's model and share the credit among influencers."""
    if at.tzinfo is None or any(t.at.tzinfo is None for t in touches):
        raise ValueError("order and touch times must be timezone-aware")
    start = at - settings.window
    verdicts: dict[int, TouchVerdict] = {}  # by position in `touches`: caller indexes need not be unique
    in_window: list[tuple[int, Touch]] = []
    for position, touch in enumerate(touches):
        if touch.at > at:
            reason = "after the order (clock skew or forgery); never credited"
            verdicts[position] = TouchVerdict(touch.index, FUTURE, reason, Decimal(0))
        elif touch.at < start:
            reason = f"older than the {_days(settings.window)}-day window"
            verdicts[position] = TouchVerdict(touch.index, OUT_OF_WINDOW, reason, Decimal(0))
        else:
            in_window.append((position, touch))
    # Equal times fall back to the caller's index, then input order (sort is stable).
    in_window.sort(key=lambda pair: (pair[1].at, pair[1].index))
    ordered = [touch for _, touch in in_window]
    weighed = _model_weights(ordered, at, settings) if ordered else []
    with localcontext(_CONTEXT):
        total = sum(weight for weight, _ in weighed)
        for (position, touch), (weight, reason) in zip(in_window, weighed):
            status = WON if weight else LOST
            verdicts[position] = TouchVerdict(touch.index, status, reason, weight / total if weight else Decimal(0))
    credited = [(touch.key, weight) for touch, (weight, _) in zip(ordered, weighed) if weight]
    return ModelResult(exact_shares(credited), tuple(verdicts[p] for p in range(len(touches))))
