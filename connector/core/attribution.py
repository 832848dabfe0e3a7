"""Attribution (pure): which influencers an order's signals point to, which signal wins, and the credits.

Every signal the order carried is kept in the result with what became of it, so an operator can
see why an order was (or was not) credited to someone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Sequence

from connector.core.credit_models import ModelSettings, Touch, exact_shares, share_credit
from connector.core.platform import Customer, OrderEvent
from connector.core.rules import is_self_referral
# What signals are, re-exported: the rest of the connector names them as attribution's.
from connector.core.signals import (CLICK, CLICK_ID_ATTRIBUTE, CLOCK_SKEW, CUSTOMER, DEFAULT_PRECEDENCE,  # noqa: F401
                                    INHERITED_KINDS, LANDING_PAGE, PROMO_CODE, REF_ATTRIBUTE, RENEWAL,
                                    RENEWAL_POLICIES, RENEWALS_CREDIT, RENEWALS_IGNORE, SIGNAL_KINDS, Directory,
                                    InfluencerRef, Inherited, PastCredit, RenewalContext, ReportedTouch, Signal,
                                    collect_signals, inherited_signals, journey_refs, journey_signals, match_key,
                                    ref_from_url, signal_keys, touch_signals)

SHARE_PLACES = Decimal("0.0001")
DEFAULT_MODEL = ModelSettings()


@dataclass(frozen=True)
class Outcome:
    signal: Signal
    #: won, lost (an eligible signal that another beat) or ignored (not eligible)
    status: str
    reason: str

    def as_record(self) -> dict:
        return {
            "kind": self.signal.kind,
            "source": self.signal.source,
            "value": self.signal.value,
            "tracking_id": self.signal.influencer.tracking_id if self.signal.influencer else None,
            "click_id": self.signal.click_id,
            "at": self.signal.at.isoformat() if self.signal.at else None,
            **({"share": format(self.signal.share.normalize(), "f")} if self.signal.share is not None else {}),
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Credit:
    influencer: InfluencerRef
    share: Decimal


@dataclass(frozen=True)
class Attribution:
    method: str | None
    credits: tuple[Credit, ...]
    outcomes: tuple[Outcome, ...]

    @property
    def winner(self) -> InfluencerRef | None:
        """The influencer with the largest share (the earliest listed on a tie): the payload's tracking_id."""
        if not self.credits:
            return None
        return max(self.credits, key=lambda c: c.share).influencer

    @property
    def winning_signals(self) -> tuple[Signal, ...]:
        return tuple(o.signal for o in self.outcomes if o.status == "won")


def split_equally(count: int) -> list[Decimal]:
    """`count` shares of 1 with four decimals that add up to exactly 1 (the first takes the remainder)."""
    if count < 1:
        raise ValueError("at least one share")
    share = (Decimal(1) / count).quantize(SHARE_PLACES, rounding=ROUND_DOWN)
    shares = [share] * count
    shares[0] += Decimal(1) - share * count
    return shares


def _codes_share(signals: list[Signal]) -> tuple[list[tuple[Signal, Decimal]], dict[int, str]]:
    """Several influencers' codes on one order share the credit equally; a code twice counts once."""
    winners, losers, seen = [], {}, set()
    for index, signal in enumerate(signals):
        key = match_key(signal.influencer.tracking_id)
        if key in seen:
            losers[index] = "same influencer as another code on the order"
        else:
            seen.add(key)
            winners.append(signal)
    return list(zip(winners, split_equally(len(winners)))), losers


def _first_listed(signals: list[Signal]) -> tuple[list[tuple[Signal, Decimal]], dict[int, str]]:
    """Landing refs: the first listed wins (landing_site's ref before landing_site_ref)."""
    return [(signals[0], Decimal(1))], {
        index: f"{signals[0].source} is preferred to {signal.source}" for index, signal in enumerate(signals) if index
    }


def _click_timeline(signals: list[Signal], at: datetime) -> list[Touch]:
    # A cart attribute or other touch without a time was set in the session that placed the order; a touch
    # a little after the order (clocks differ, platforms round to the second) is taken as at the order.
    return [Touch(match_key(s.influencer.tracking_id), min(s.at or at, at), index) for index, s in enumerate(signals)]


def _clicks_share(signals: list[Signal], at: datetime, model: ModelSettings,
                  verdicts: dict[int, tuple[str, str]]) -> tuple[list[tuple[Signal, Decimal]], dict[int, str]]:
    """The store's attribution model shares the conversion among the in-window clicks."""
    result = share_credit(_click_timeline(signals, at), at, model)
    first_signal = {}
    for verdict in sorted(result.verdicts, key=lambda v: v.index):
        if verdict.status == "won":
            first_signal.setdefault(match_key(signals[verdict.index].influencer.tracking_id), verdict.index)
    shares = [(signals[first_signal[key]], share) for key, share in result.shares]
    losers = {}
    for verdict in result.verdicts:
        if verdict.status == "won":
            verdicts[verdict.index] = ("won", verdict.reason)
        else:
            losers[verdict.index] = verdict.reason
    return shares, losers


def _in_window(signal: Signal, at: datetime, model: ModelSettings) -> tuple[str, str] | None:
    """Why a timed click cannot count (out of window, after the conversion), or None when it can."""
    if signal.at is None:
        return None
    if signal.at > at + CLOCK_SKEW:
        return "future", "the touch is later than the conversion"
    if signal.at < at - model.window:
        return "out_of_window", f"older than the {model.window.days}-day attribution window"
    return None


def attribute(order: OrderEvent, directory: Directory, precedence: Sequence[str] = DEFAULT_PRECEDENCE, *,
              touches: Sequence[ReportedTouch] = (), model: ModelSettings = DEFAULT_MODEL,
              inherited: Inherited = Inherited()) -> Attribution:
    """Decide who is credited for an order and record what became of every signal."""
    return attribute_signals(collect_signals(order, directory, touches, inherited), order.occurred_at, order.customer,
                             precedence, model, inherited)


def ordered_kinds(precedence: Sequence[str]) -> list[str]:
    """The store's precedence, then the kinds it leaves out in their default order."""
    ordered = [kind for kind in precedence if kind in SIGNAL_KINDS]
    return ordered + [kind for kind in SIGNAL_KINDS if kind not in ordered]


def _excluded(signal: Signal, at: datetime, customer: Customer, model: ModelSettings,
              inherited: Inherited) -> tuple[str, str] | None:
    """Why a signal cannot count (ignored, out of window, in the future), or None when it is eligible."""
    if signal.excluded is not None:
        return "ignored", signal.excluded
    if signal.influencer is None:
        what = "code" if signal.kind == PROMO_CODE else "tracking id"
        return "ignored", f"no influencer of this store has this {what}"
    if is_self_referral(signal.influencer, customer):
        return "ignored", "self-referral: the customer is this influencer"
    if signal.kind == CUSTOMER:
        if signal.at is not None and inherited.lifetime is not None and signal.at < at - inherited.lifetime:
            return ("out_of_window", f"the customer's first credited order ({signal.value}) is older than the "
                                     f"{inherited.lifetime.days}-day customer lifetime")
        return None
    if signal.kind in (CLICK, LANDING_PAGE):
        return _in_window(signal, at, model)
    return None


def _inherited_share(signals: list[Signal]) -> tuple[list[tuple[Signal, Decimal]], dict[int, str]]:
    """The earlier order's shares, among its influencers who still count (shares made to add up to 1 again)."""
    shares = exact_shares([(match_key(s.influencer.tracking_id), s.share) for s in signals])
    first = {}
    for signal in signals:
        first.setdefault(match_key(signal.influencer.tracking_id), signal)
    return [(first[key], share) for key, share in shares], {}


def _landing_share(signals: list[Signal], at: datetime, model: ModelSettings,
                   verdicts: dict[int, tuple[str, str]]) -> tuple[list[tuple[Signal, Decimal]], dict[int, str]]:
    """Landing refs off the order: the first listed wins; with the platform's timed visits, the store's model."""
    if not any(signal.at is not None for signal in signals):
        return _first_listed(signals)
    return _clicks_share(signals, at, model, verdicts)


def _superseded_landings(signals: list[Signal]) -> dict[int, tuple[str, str]]:
    """The order's own landing fields, when the platform's visit data gives the same landing with its time."""
    timed = {match_key(s.value): s.source for s in signals if s.kind == LANDING_PAGE and s.at is not None}
    return {index: ("lost", f"the same landing as {timed[match_key(s.value)]}, which carries its time")
            for index, s in enumerate(signals)
            if s.kind == LANDING_PAGE and s.at is None and match_key(s.value) in timed}


def _renewal_verdict(signals: list[Signal], renewal: RenewalContext | None) -> tuple[str, str] | None:
    """A renewal is credited through its subscription's start alone: why it is not credited at all, or None."""
    if renewal is None:
        return None
    if renewal.policy == RENEWALS_IGNORE:
        return "ignored", "a subscription renewal: this store does not credit renewals (renewals = ignore)"
    if renewal.origin is None:
        return "ignored", f"a subscription renewal whose start cannot be credited: {renewal.missing}"
    return None


def attribute_signals(signals: list[Signal], at: datetime, customer: Customer, precedence: Sequence[str],
                      model: ModelSettings, inherited: Inherited = Inherited()) -> Attribution:
    """Pick the strongest eligible kind of signal by the store's precedence, and share the credit within it."""
    reasons: dict[int, tuple[str, str]] = {}
    eligible: dict[str, list[int]] = {kind: [] for kind in SIGNAL_KINDS}
    no_credit = _renewal_verdict(signals, inherited.renewal)
    superseded = _superseded_landings(signals)
    for index, signal in enumerate(signals):
        excluded = _excluded(signal, at, customer, model, inherited)
        if no_credit is not None:
            # The code or ref on a recurring order was copied there from the subscription, not used again: the
            # renewal's own verdict is each signal's reason (the start's own signal says why it cannot count).
            own = signal.kind == RENEWAL and inherited.renewal.policy != RENEWALS_IGNORE
            reasons[index] = (excluded or no_credit) if own else no_credit
        elif excluded is not None:
            reasons[index] = excluded
        elif index in superseded:
            reasons[index] = superseded[index]
        else:
            eligible[signal.kind].append(index)

    ordered = ordered_kinds(precedence)
    method = next((kind for kind in ordered if eligible[kind]), None)
    credits: tuple[Credit, ...] = ()
    if method is not None:
        indexes = eligible[method]
        chosen = [signals[i] for i in indexes]
        verdicts: dict[int, tuple[str, str]] = {}
        if method == PROMO_CODE:
            shares, losers = _codes_share(chosen)
        elif method == CLICK:
            shares, losers = _clicks_share(chosen, at, model, verdicts)
        elif method in INHERITED_KINDS:
            shares, losers = _inherited_share(chosen)
        else:
            shares, losers = _landing_share(chosen, at, model, verdicts)
        for position, index in enumerate(indexes):
            if position in losers:
                reasons[index] = ("lost", losers[position])
            else:
                reasons[index] = verdicts.get(position, ("won", _won_reason(method, signals[index])))
        credits = tuple(Credit(signal.influencer, share) for signal, share in shares)
        for kind in ordered:
            if kind != method:
                for index in eligible[kind]:
                    reasons[index] = ("lost", f"{method} takes precedence over {kind}")

    outcomes = tuple(Outcome(signal, *reasons[index]) for index, signal in enumerate(signals))
    return Attribution(method=method, credits=credits, outcomes=outcomes)


def _won_reason(method: str, signal: Signal) -> str:
    if method == CUSTOMER:
        return f"a returning customer: their first credited order {signal.value} was this influencer's"
    if method == RENEWAL:
        return f"a subscription renewal: the order that started it, {signal.value}, was this influencer's"
    return f"{method} is the strongest kind of signal on this order"
