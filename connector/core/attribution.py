"""Attribution (pure): which influencers an order's signals point to, which signal wins, and the credits.

Every signal the order carried is kept in the result with what became of it, so an operator can
see why an order was (or was not) credited to someone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Iterable, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

from connector.core.credit_models import ModelSettings, Touch, share_credit
from connector.core.platform import Customer, OrderEvent
from connector.core.rules import is_self_referral

PROMO_CODE, CLICK, LANDING_PAGE = "promo_code", "click", "landing_page"
SIGNAL_KINDS = (PROMO_CODE, CLICK, LANDING_PAGE)
DEFAULT_PRECEDENCE = SIGNAL_KINDS
# Cart attributes a theme or another tool may set (contract: `_ref` and `_click_id`).
REF_ATTRIBUTE, CLICK_ID_ATTRIBUTE = "_ref", "_click_id"
SHARE_PLACES = Decimal("0.0001")
DEFAULT_MODEL = ModelSettings()
#: how far apart the platform's clock (order times, rounded to the second) and ours (clicks) may be
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class InfluencerRef:
    tracking_id: str
    campaign_id: str | None = None
    promo_code: str | None = None
    email_sha256: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class Directory:
    """A store's influencers, keyed the way signals are matched: trimmed and lower-cased."""

    by_code: Mapping[str, InfluencerRef] = field(default_factory=dict)
    by_tracking_id: Mapping[str, InfluencerRef] = field(default_factory=dict)

    @classmethod
    def of(cls, influencers: Iterable[InfluencerRef]) -> "Directory":
        influencers = list(influencers)
        return cls(
            by_code={match_key(i.promo_code): i for i in influencers if i.promo_code},
            by_tracking_id={match_key(i.tracking_id): i for i in influencers},
        )


@dataclass(frozen=True)
class ReportedTouch:
    """A touch the shopper's browser kept and reported (web pixel, storefront script), joined by its proof."""

    ref: str
    click_id: str | None
    at: datetime
    #: storefront_report, or where else it was read
    source: str = "storefront_report"
    #: the time came from the connector's own click record, not from the browser
    click_verified: bool = False


@dataclass(frozen=True)
class Signal:
    kind: str
    #: where it was read: discount_codes, storefront_report, note_attributes._ref, landing_site, landing_site_ref
    source: str
    value: str
    influencer: InfluencerRef | None
    click_id: str | None = None
    #: when the touch happened (browser-reported clicks); None for signals read off the order itself
    at: datetime | None = None


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


def match_key(value: str) -> str:
    """Codes and tracking ids match case-insensitively, surrounding spaces ignored."""
    return value.strip().lower()


def ref_from_url(url: str | None) -> str | None:
    """The `ref` query parameter of a landing URL (absolute, or path and query), if any."""
    if not url:
        return None
    try:
        query = urlsplit(url.strip()).query
    except ValueError:
        return None
    values = [v.strip() for v in parse_qs(query, keep_blank_values=False).get("ref", []) if v.strip()]
    return values[0] if values else None


def signal_keys(order: OrderEvent, touches: Sequence[ReportedTouch] = ()) -> tuple[set[str], set[str]]:
    """The codes and tracking ids an order's signals name (match keys): all a directory needs to hold."""
    codes = {match_key(code) for code in order.discount_codes if code.strip()}
    refs = {match_key(t.ref) for t in touches if t.ref.strip()}
    for value in (order.cart_attributes.get(REF_ATTRIBUTE, ""), ref_from_url(order.landing_url) or "",
                  order.landing_ref or ""):
        if value.strip():
            refs.add(match_key(value))
    return codes, refs


def collect_signals(order: OrderEvent, directory: Directory, touches: Sequence[ReportedTouch] = ()) -> list[Signal]:
    """Every signal the order carries, matched to an influencer where one fits."""
    signals = [
        Signal(PROMO_CODE, "discount_codes", code, directory.by_code.get(match_key(code)))
        for code in order.discount_codes
        if code.strip()
    ]
    # The browser's touches first: they carry times, and they are what the click models share out.
    signals += touch_signals(touches, directory)
    ref = order.cart_attributes.get(REF_ATTRIBUTE, "").strip()
    if ref:
        click_id = order.cart_attributes.get(CLICK_ID_ATTRIBUTE, "").strip() or None
        signals.append(
            Signal(CLICK, f"note_attributes.{REF_ATTRIBUTE}", ref, directory.by_tracking_id.get(match_key(ref)), click_id)
        )
    landing = ref_from_url(order.landing_url)
    if landing:
        signals.append(Signal(LANDING_PAGE, "landing_site", landing, directory.by_tracking_id.get(match_key(landing))))
    if order.landing_ref and order.landing_ref.strip():
        value = order.landing_ref.strip()
        signals.append(Signal(LANDING_PAGE, "landing_site_ref", value, directory.by_tracking_id.get(match_key(value))))
    return signals


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
              touches: Sequence[ReportedTouch] = (), model: ModelSettings = DEFAULT_MODEL) -> Attribution:
    """Decide who is credited for an order and record what became of every signal."""
    return attribute_signals(collect_signals(order, directory, touches), order.occurred_at, order.customer,
                             precedence, model)


def touch_signals(touches: Sequence[ReportedTouch], directory: Directory) -> list[Signal]:
    """Click signals from the browser's touches alone (a sign-up has no order to read signals off)."""
    return [Signal(CLICK, t.source, t.ref.strip(), directory.by_tracking_id.get(match_key(t.ref)), t.click_id, t.at)
            for t in touches if t.ref.strip()]


def attribute_signals(signals: list[Signal], at: datetime, customer: Customer, precedence: Sequence[str],
                      model: ModelSettings) -> Attribution:
    """Pick the strongest eligible kind of signal by the store's precedence, and share the credit within it."""
    reasons: dict[int, tuple[str, str]] = {}
    eligible: dict[str, list[int]] = {kind: [] for kind in SIGNAL_KINDS}
    for index, signal in enumerate(signals):
        excluded = _in_window(signal, at, model) if signal.kind == CLICK else None
        if signal.influencer is None:
            what = "code" if signal.kind == PROMO_CODE else "tracking id"
            reasons[index] = ("ignored", f"no influencer of this store has this {what}")
        elif is_self_referral(signal.influencer, customer):
            reasons[index] = ("ignored", "self-referral: the customer is this influencer")
        elif excluded is not None:
            reasons[index] = excluded
        else:
            eligible[signal.kind].append(index)

    ordered = [kind for kind in precedence if kind in SIGNAL_KINDS]
    ordered += [kind for kind in SIGNAL_KINDS if kind not in ordered]
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
        else:
            shares, losers = _first_listed(chosen)
        for position, index in enumerate(indexes):
            if position in losers:
                reasons[index] = ("lost", losers[position])
            else:
                reasons[index] = verdicts.get(position, ("won", f"{method} is the strongest kind of signal on this order"))
        credits = tuple(Credit(signal.influencer, share) for signal, share in shares)
        for kind in ordered:
            if kind != method:
                for index in eligible[kind]:
                    reasons[index] = ("lost", f"{method} takes precedence over {kind}")

    outcomes = tuple(Outcome(signal, *reasons[index]) for index, signal in enumerate(signals))
    return Attribution(method=method, credits=credits, outcomes=outcomes)
