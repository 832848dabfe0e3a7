"""Signals (pure): what an order, the shopper's browser and the store's earlier orders say about who brought it.

Each signal names the influencer it points to (when one of the store's does) and where it was read, so the
attribution record can say what became of every one. `connector.core.attribution` judges them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

from connector.core.platform import Journey, OrderEvent

PROMO_CODE, CLICK, LANDING_PAGE = "promo_code", "click", "landing_page"
#: a returning customer (the influencers of their first credited order), a subscription renewal (those of its start)
CUSTOMER, RENEWAL = "customer", "renewal"
#: in their default precedence: a renewal goes to its subscription's start first; a returning customer last,
#: only when the order itself points nowhere
SIGNAL_KINDS = (RENEWAL, PROMO_CODE, CLICK, LANDING_PAGE, CUSTOMER)
DEFAULT_PRECEDENCE = SIGNAL_KINDS
#: kinds whose signals come with their shares, from an earlier credited order rather than off this one
INHERITED_KINDS = (CUSTOMER, RENEWAL)
RENEWALS_CREDIT, RENEWALS_IGNORE = "credit", "ignore"
RENEWAL_POLICIES = (RENEWALS_CREDIT, RENEWALS_IGNORE)
# Cart attributes a theme or another tool may set (contract: `_ref` and `_click_id`).
REF_ATTRIBUTE, CLICK_ID_ATTRIBUTE = "_ref", "_click_id"
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
    #: where it was read: discount_codes, storefront_report, note_attributes._ref, landing_site, landing_site_ref,
    #: journey.first_visit, journey.last_visit, customer.customer_id, customer.email_sha256, subscription.origin, ...
    source: str
    value: str
    influencer: InfluencerRef | None
    click_id: str | None = None
    #: when the touch happened (browser-reported clicks, the platform's visits, an earlier order); None for
    #: signals read off the order itself
    at: datetime | None = None
    #: the influencer's share of the earlier order this signal inherits (customer, renewal)
    share: Decimal | None = None
    #: why the signal cannot count, known before attribution (a renewal whose start was never credited)
    excluded: str | None = None


@dataclass(frozen=True)
class PastCredit:
    """An earlier credited order of the store that this order may inherit its influencers from."""

    order_id: str
    order_name: str | None
    #: when that order was placed
    at: datetime
    #: (the influencer, or None when no longer one of the store's; their tracking id; their share)
    credits: tuple[tuple[InfluencerRef | None, str, Decimal], ...]
    #: how it was found: customer_id, email_sha256 (a returning customer); origin, customer_subscription (a renewal)
    found_by: str


@dataclass(frozen=True)
class RenewalContext:
    """A renewal order, the store's rule for renewals, and the order that started its subscription, if found."""

    marker: str
    policy: str = RENEWALS_CREDIT
    origin: PastCredit | None = None
    #: why no credited start was found: unknown to the connector, never credited, cancelled, not readable
    missing: str | None = None


@dataclass(frozen=True)
class Inherited:
    """What attribution may take from the store's earlier orders (the facts fetch it; attribution judges it)."""

    #: the customer's first credited order in the store, when the store's lifetime_days is on
    customer: PastCredit | None = None
    lifetime: timedelta | None = None
    renewal: RenewalContext | None = None


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
    return codes, refs | journey_refs(order.journey)


def journey_refs(journey: Journey | None) -> set[str]:
    return {match_key(v.ref) for v in journey.visits if v.ref and v.ref.strip()} if journey else set()


def journey_signals(journey: Journey | None, directory: Directory) -> list[Signal]:
    """The platform's visits with a ref, as landing signals with their own times (one per distinct visit)."""
    if journey is None:
        return []
    signals, seen = [], set()
    for visit in journey.visits:
        if not visit.ref or not visit.ref.strip() or (match_key(visit.ref), visit.at) in seen:
            continue  # a single session is both the first and the last visit
        seen.add((match_key(visit.ref), visit.at))
        signals.append(Signal(LANDING_PAGE, f"journey.{visit.position}_visit", visit.ref.strip(),
                              directory.by_tracking_id.get(match_key(visit.ref)), at=visit.at))
    return signals


def inherited_signals(inherited: Inherited) -> list[Signal]:
    """The customer's first credited order and a renewal's start, as signals carrying that order's shares."""
    signals = []
    renewal = inherited.renewal
    if renewal is not None:
        if renewal.origin is None:
            signals.append(Signal(RENEWAL, "subscription", renewal.marker, None, excluded=renewal.missing))
        else:
            signals += _past_signals(RENEWAL, renewal.origin)
    if inherited.customer is not None:
        signals += _past_signals(CUSTOMER, inherited.customer)
    return signals


def _past_signals(kind: str, past: PastCredit) -> list[Signal]:
    return [Signal(kind, f"{'customer' if kind == CUSTOMER else 'subscription'}.{past.found_by}",
                   past.order_name or past.order_id, influencer, at=past.at, share=share,
                   excluded=None if influencer else f"{tracking_id} is no longer an influencer of this store")
            for influencer, tracking_id, share in past.credits]


def collect_signals(order: OrderEvent, directory: Directory, touches: Sequence[ReportedTouch] = (),
                    inherited: Inherited = Inherited()) -> list[Signal]:
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
    signals += journey_signals(order.journey, directory)
    return signals + inherited_signals(inherited)


def touch_signals(touches: Sequence[ReportedTouch], directory: Directory) -> list[Signal]:
    """Click signals from the browser's touches alone (a sign-up has no order to read signals off)."""
    return [Signal(CLICK, t.source, t.ref.strip(), directory.by_tracking_id.get(match_key(t.ref)), t.click_id, t.at)
            for t in touches if t.ref.strip()]
