"""Crediting an order by hand (pure): the credits asked for checked, the refusals, the purchase and the record.

`connector.crediting.manual` reads the order (its row locked, its last own event normalised) and the influencers
asked for, then makes these calls. A credit by hand is a purchase like any other (`method` "manual"): refunds kept
before it are reversed with it, and its later refunds, edits and cancellation go through the same code as any
purchase's. Nothing here reads the database or the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Mapping, Sequence

from connector.core import items as lines
from connector.core.attribution import Attribution, Credit, InfluencerRef, match_key, split_equally
from connector.core.crediting import OrderDecision, Purchase, purchase_fields
from connector.core.platform import OrderEvent, RefundEvent
from connector.core.reversals import refund_reversals
from connector.core.rules import StorePolicy, purchase_decision
from connector.core.times import format_time

MANUAL = "manual"
#: who credited it: the tracking backend (its API token), or someone in the merchant app (their session)
BY_BACKEND, BY_MERCHANT = "backend", "merchant"
MAX_CREDITS, MAX_NOTE, MAX_TRACKING_ID = 20, 500, 100
#: a share as the API takes it: a decimal string of at most four places, more than 0 and at most 1 ("0.5", "0.05",
#: "1"); an influencer who gets nothing is left out rather than given "0"
SHARE_PATTERN = r"^(0\.([1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9])|1(\.0{1,4})?)$"
#: a note is free text: line breaks and tabs, but no other control character (PostgreSQL cannot keep NUL)
NOTE_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
_SHARE, _NOTE = re.compile(SHARE_PATTERN), re.compile(NOTE_PATTERN)

# Why a credit by hand is refused (Refused.reason): stable words the API and the page answer with.
UNKNOWN_ORDER, ALREADY_CREDITED, CANCELLED, TEST_ORDER, UNPAID = (
    "unknown_order", "already_credited", "cancelled", "test_order", "unpaid")
NO_ORDER_EVENT, STORE_NOT_ACTIVE = "no_order_event", "store_not_active"
UNKNOWN_INFLUENCER, INACTIVE_INFLUENCER, DUPLICATE_INFLUENCER = (
    "unknown_influencer", "inactive_influencer", "duplicate_influencer")
BAD_CREDITS, BAD_SHARE, SHARES_NOT_ONE, BAD_NOTE = "bad_credits", "bad_share", "shares_not_one", "bad_note"
#: the refusals about the order's state (answered 409 by the API); the others are about the request
ORDER_STATES = (ALREADY_CREDITED, CANCELLED, TEST_ORDER, UNPAID, NO_ORDER_EVENT, STORE_NOT_ACTIVE)
METHOD_WORDS = {"promo_code": "promo code", "click": "a link click", "landing_page": "a landing page ref",
                "customer": "a returning customer's first order", "renewal": "a subscription renewal"}


class Refused(Exception):
    """A credit by hand that was not made, and why: nothing was written."""

    def __init__(self, reason: str, message: str, field: str | None = None, *, conversion_id: str | None = None,
                 values: Mapping[str, str] | None = None):
        super().__init__(message)
        self.reason, self.message, self.field, self.conversion_id = reason, message, field, conversion_id
        #: what the message was made from (a tracking id, the shares' sum), for a surface to say it its own way
        self.values = dict(values or {})


@dataclass(frozen=True)
class Asked:
    """A credit by hand as asked: (tracking id, share or None) each; no shares at all means equal shares."""

    credits: tuple[tuple[str, str | None], ...]
    by: str
    #: the merchant's staff member (the session token's `sub`), when someone in the app asked
    user: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Standing:
    """What the order's row and record say of it before anything is decided."""

    purchase_conversion_id: str | None
    credited_at: datetime | None
    #: the record's method (how it was credited) and, for a credit by hand, who made it
    method: str | None
    credited_by: str | None
    cancelled: bool


@dataclass(frozen=True)
class ManualFacts:
    """What crediting the order by hand needs: its last own event, the store's policy, the influencers asked for."""

    event: OrderEvent
    policy: StorePolicy
    #: by match key, the store's influencers the credits name (None: removed from the store)
    influencers: Mapping[str, InfluencerRef | None]
    customer_email_sha256: str | None = None
    first_order: bool | None = None
    deferred_refunds: tuple[RefundEvent, ...] = ()
    sent_refunds: frozenset[str] = frozenset()
    taxes_included: bool = False


@dataclass(frozen=True)
class Previous:
    """The order's attribution record before the credit by hand (what the signals decided), if it had one."""

    decided_at: datetime | None
    outcome: str | None
    method: str | None
    credits: list = field(default_factory=list)
    signals: list = field(default_factory=list)
    details: dict = field(default_factory=dict)


def standing_refusal(standing: Standing) -> Refused | None:
    """An order already credited (by what, when) or cancelled is refused, never overwritten."""
    if standing.purchase_conversion_id is not None:
        by = (f"by hand ({standing.credited_by or 'unknown'})" if standing.method == MANUAL
              else f"by {METHOD_WORDS.get(standing.method or '', standing.method or 'a signal')}")
        return Refused(ALREADY_CREDITED, f"the order was already credited {by} at "
                       f"{format_time(standing.credited_at) or 'an unknown time'}: conversion "
                       f"{standing.purchase_conversion_id}", conversion_id=standing.purchase_conversion_id,
                       values={"method": standing.method or "", "by": standing.credited_by or "",
                               "at": format_time(standing.credited_at) or ""})
    if standing.cancelled:
        return Refused(CANCELLED, "the order was cancelled: a cancelled order is never credited")
    return None


def event_refusal(event: OrderEvent, policy: StorePolicy) -> Refused | None:
    """What the order's own last event says against crediting it now: cancelled, a test order, not paid."""
    decision = purchase_decision(event, policy, already_credited=False, cancelled=False)
    if decision.credit:
        return None
    if decision.outcome == "cancelled":
        return Refused(CANCELLED, "the order was cancelled: a cancelled order is never credited")
    if decision.outcome == "test_order":
        return Refused(TEST_ORDER, "it is a test order, and this store does not credit test orders "
                                   "(forward_test_orders is off)")
    status = event.financial_status or "unknown"
    return Refused(UNPAID, f"the order is not paid yet (financial status {status}), and this store credits orders "
                           "once they are paid (credit_on=paid)", values={"financial_status": status})


def check_note(note: str | None) -> str | None:
    """The note as kept: trimmed, at most MAX_NOTE characters, no control character but line breaks and tabs."""
    if note is None or not note.strip():
        return None
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Refused(BAD_NOTE, f"a note is at most {MAX_NOTE} characters", "note")
    if not _NOTE.fullmatch(note) or any(0xD800 <= ord(c) <= 0xDFFF for c in note):
        raise Refused(BAD_NOTE, "a note holds no control characters", "note")
    return note


def _influencer(index: int, tracking_id: str, influencers: Mapping[str, InfluencerRef | None],
                seen: set[str]) -> InfluencerRef:
    where = f"credits.{index}.tracking_id"
    key = match_key(tracking_id or "")
    if not key or len(key) > MAX_TRACKING_ID:
        raise Refused(UNKNOWN_INFLUENCER, "a tracking id is 1 to 100 characters", where)
    if key in seen:
        raise Refused(DUPLICATE_INFLUENCER, f"{tracking_id} is named twice: name each influencer once", where,
                      values={"tracking_id": tracking_id})
    seen.add(key)
    if key not in influencers:
        raise Refused(UNKNOWN_INFLUENCER, f"no influencer of this store has the tracking id {tracking_id!r}", where,
                      values={"tracking_id": tracking_id})
    found = influencers[key]
    if found is None:
        raise Refused(INACTIVE_INFLUENCER, f"{tracking_id} is no longer an influencer of this store (removed)",
                      where, values={"tracking_id": tracking_id})
    return found


def _share(index: int, raw: str) -> Decimal:
    where = f"credits.{index}.share"
    if not isinstance(raw, str) or not _SHARE.fullmatch(raw):
        raise Refused(BAD_SHARE, "a share is a decimal string more than 0 and at most 1, with at most four places "
                                 "(e.g. \"0.5\"): leave out an influencer who gets nothing", where,
                      values={"share": str(raw)})
    return Decimal(raw)


def credits_of(asked: Asked, influencers: Mapping[str, InfluencerRef | None]) -> tuple[Credit, ...]:
    """The credits asked for, checked: active influencers of the store, each once, shares adding up to exactly 1."""
    if not asked.credits:
        raise Refused(BAD_CREDITS, "name at least one influencer to credit", "credits")
    if len(asked.credits) > MAX_CREDITS:
        raise Refused(BAD_CREDITS, f"at most {MAX_CREDITS} influencers share one order", "credits")
    given = [share is not None for _, share in asked.credits]
    if any(given) and not all(given):
        raise Refused(BAD_CREDITS, "give every influencer a share, or none for equal shares", "credits")
    seen: set[str] = set()
    refs = [_influencer(i, tracking_id, influencers, seen) for i, (tracking_id, _) in enumerate(asked.credits)]
    if not any(given):
        return tuple(Credit(ref, share) for ref, share in zip(refs, split_equally(len(refs))))
    shares = [_share(i, share) for i, (_, share) in enumerate(asked.credits)]
    total = sum(shares, Decimal(0))
    if total != 1:
        raise Refused(SHARES_NOT_ONE, f"the shares add up to {total.normalize():f}, not 1", "credits",
                      values={"total": f"{total.normalize():f}"})
    return tuple(Credit(ref, share) for ref, share in zip(refs, shares))


def decide(facts: ManualFacts, asked: Asked) -> OrderDecision:
    """The purchase credited by hand, and the reversals of refunds kept before it (they waited for a purchase)."""
    refusal = event_refusal(facts.event, facts.policy)
    if refusal is not None:
        raise refusal
    credits = credits_of(asked, facts.influencers)
    attribution = Attribution(MANUAL, credits, ())
    event = facts.event
    fields = purchase_fields(event, attribution, facts.customer_email_sha256, facts.first_order)
    purchase = Purchase(None, event.commission_base.amount, base_as_of=event.updated_at,
                        items=lines.held([fields["items"]]))
    reversals = refund_reversals(purchase, False, facts.deferred_refunds, facts.sent_refunds, facts.taxes_included)
    note = f"purchase credited by hand ({asked.by}) to {attribution.winner.tracking_id}"
    return OrderDecision(notes=(note,), purchase=fields, awaiting_report_until=None, base_as_of=event.updated_at,
                         reversals=reversals, clear_deferred=True)


def record_values(previous: Previous | None, credits: Sequence[tuple[str, Decimal]], asked: Asked,
                  now: datetime) -> dict:
    """The attribution record after the credit by hand: what the signals decided kept, marked superseded, and who
    credited the order, when, and why (details.manual)."""
    superseded = None
    if previous is not None:
        superseded = {"outcome": previous.outcome, "method": previous.method, "credits": previous.credits,
                      "decided_at": format_time(previous.decided_at)}
    details = dict(previous.details or {}) if previous else {}
    details["manual"] = {"by": asked.by, "user": asked.user, "at": format_time(now), "note": asked.note,
                         "superseded": superseded}
    return {
        "decided_at": now, "method": MANUAL, "outcome": "credit",
        "credits": [{"tracking_id": tracking_id, "share": f"{share.normalize():f}"} for tracking_id, share in credits],
        "signals": [{**signal, "superseded": True} for signal in (previous.signals if previous else [])],
        "details": details,
    }


def refunds_left(event: OrderEvent, sent: frozenset[str]) -> bool:
    """The order's event lists refunds not reversed yet: handled again by the worker, which reads them exactly
    (WooCommerce's order gives only their totals) and reverses them as for any purchase."""
    return any(f"refund:{refund.refund_id}" not in sent for refund in event.refunds)
