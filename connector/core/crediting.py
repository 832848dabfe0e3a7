"""Crediting an order (pure): from everything known about an order, what to write for it.

`connector.crediting.conversions` fetches the facts once (the order row's state, the store's rules, the
influencers the order's signals name, the browser's touches), makes this one call, and writes what it
returns. Nothing here reads the database or the network, so every decision can be tested on values alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Sequence

from connector.core import payload
from connector.core.attribution import (CLICK, PROMO_CODE, SIGNAL_KINDS, Attribution, Directory, ReportedTouch,
                                        attribute)
from connector.core.credit_models import ModelSettings
from connector.core.platform import Money, NeutralEvent, OrderDeleted, OrderEvent, RefundEvent
from connector.core.rules import Decision, StorePolicy, purchase_decision


@dataclass(frozen=True)
class StoreRules:
    """A store's settings that crediting follows."""

    policy: StorePolicy
    #: signal kinds, strongest first
    precedence: tuple[str, ...]
    model: ModelSettings

    def ranks_above(self, kind: str, other: str) -> bool:
        """Does the precedence put `kind` before `other`? (Kinds it leaves out come last, in default order.)"""
        ordered = [k for k in self.precedence if k in SIGNAL_KINDS]
        ordered += [k for k in SIGNAL_KINDS if k not in ordered]
        return ordered.index(kind) < ordered.index(other)


@dataclass(frozen=True)
class Purchase:
    """An order's credited purchase, as much as reversing it needs."""

    #: None: the purchase this same decision makes (its id is given when it is written)
    conversion_id: str | None
    amount: Decimal
    #: what refunds have reversed of it so far
    reversed: Decimal = Decimal(0)


@dataclass(frozen=True)
class Reversal:
    """A refund or cancellation to send against the order's purchase, carrying the purchase's attribution."""

    kind: str
    dedupe_key: str
    amount: Decimal
    occurred_at: datetime
    presentment: Money | None = None
    refund_id: str | None = None

    def note(self, purchase_id: str) -> str:
        if self.kind == payload.CANCELLATION:
            return f"cancelled: voids {purchase_id}"
        return f"refund {self.refund_id}: reverses {self.amount} of {purchase_id}"


@dataclass(frozen=True)
class OrderFacts:
    """What is known about an order when one of its events is handled."""

    event: NeutralEvent
    rules: StoreRules
    #: the store's active influencers that the order's codes and refs name
    directory: Directory
    #: the browser's touches, from the reports joined to the order
    touches: tuple[ReportedTouch, ...] = ()
    #: a browser report proving the order is joined to it
    reported: bool = False
    #: this is the first of the order's events to be handled (its wait for a report starts now)
    first_event: bool = True
    awaiting_report_until: datetime | None = None
    #: the order was cancelled before this event
    cancelled: bool = False
    purchase: Purchase | None = None
    #: refunds that arrived before the purchase was credited
    deferred_refunds: tuple[RefundEvent, ...] = ()
    #: dedupe keys of the refunds among `event.refunds` and `deferred_refunds` that were sent already
    sent_refunds: frozenset[str] = frozenset()
    #: the order's customer email hash as the order row keeps it (gone after a customers/redact)
    customer_email_sha256: str | None = None


#: OrderDecision.awaiting_report_until when the order's wait stays as it was
KEEP_WAIT = "keep"


@dataclass(frozen=True)
class OrderDecision:
    """What to write for one order event."""

    notes: tuple[str, ...] = ()
    #: mark the order cancelled
    cancel: bool = False
    #: the attribution to record, with `outcome`; None when nothing was attributed this time
    attribution: Attribution | None = None
    outcome: str | None = None
    #: the purchase conversion's fields (payload.conversion_body's), when one is made
    purchase: dict | None = None
    awaiting_report_until: datetime | None | str = KEEP_WAIT
    #: handle the event again at this time (it waits for the browser's report)
    retry_at: datetime | None = None
    reversals: tuple[Reversal, ...] = field(default_factory=tuple)
    #: the deferred refunds are dealt with (the order is credited)
    clear_deferred: bool = False
    #: a refund to keep until the purchase is credited
    defer: RefundEvent | None = None
    #: what the note for the log starts with
    heading: str = ""


def cancellation(purchase: Purchase | None, already_cancelled: bool, order_id: str,
                 occurred_at: datetime) -> tuple[Reversal | None, str | None]:
    """A cancelled (or deleted) order voids what the backend still holds of its purchase, once."""
    if purchase is None or already_cancelled:
        return None, "already cancelled" if already_cancelled else "cancelled; nothing credited to reverse"
    # What the backend still holds for this purchase: the amount less what refunds already reversed.
    remaining = max(purchase.amount - purchase.reversed, Decimal(0))
    return Reversal(payload.CANCELLATION, f"cancellation:{order_id}", remaining, occurred_at), None


def refund_reversal(purchase: Purchase | None, cancelled: bool, refund: RefundEvent,
                    sent: frozenset[str]) -> tuple[Reversal | None, str | None]:
    """A refund reverses its commission base, never more than the purchase still holds."""
    if purchase is None:
        return None, f"refund {refund.refund_id}: the order was never credited, nothing to reverse"
    if cancelled:
        return None, f"refund {refund.refund_id}: the purchase was already cancelled"
    dedupe_key = f"refund:{refund.refund_id}"
    if dedupe_key in sent:
        return None, f"refund {refund.refund_id}: already sent"
    # Never reverse more than was credited: refunds of shipping or tax, or rounding, must not go negative.
    amount = min(refund.commission_base.amount, purchase.amount - purchase.reversed)
    if amount <= 0:
        return None, f"refund {refund.refund_id}: no commission base refunded"
    presentment = refund.presentment_base if amount == refund.commission_base.amount else None
    return Reversal(payload.REFUND, dedupe_key, amount, refund.occurred_at, presentment, refund.refund_id), None


def refund_reversals(purchase: Purchase, cancelled: bool, refunds: Sequence[RefundEvent],
                     sent: frozenset[str]) -> tuple[Reversal, ...]:
    """The reversals for refunds an order shows at once; each one lowers what the next may reverse."""
    made: list[Reversal] = []
    for refund in refunds:
        reversal, _ = refund_reversal(purchase, cancelled, refund, sent)
        if reversal is not None:
            made.append(reversal)
            purchase = replace(purchase, reversed=purchase.reversed + reversal.amount)
            sent = sent | {reversal.dedupe_key}
    return tuple(made)


def purchase_fields(event: OrderEvent, attribution: Attribution, customer_email_sha256: str | None) -> dict:
    """The purchase conversion's fields, from the order event and who won it."""
    winner = attribution.winner
    winning = attribution.winning_signals
    # The code as the influencer registered it, not as the shopper typed it (" alice15 ").
    codes = [s.influencer.promo_code for s in winning if s.kind == PROMO_CODE]
    click_ids = [s.click_id for s in winning if s.click_id]
    return dict(
        type=payload.PURCHASE,
        order_id=event.order_id,
        order_name=event.order_name,
        occurred_at=event.occurred_at,
        amount=event.commission_base,
        presentment=event.presentment_base,
        tracking_id=winner.tracking_id,
        campaign_id=winner.campaign_id,
        method=attribution.method,
        promo_code=codes[0] if codes else None,
        click_id=click_ids[0] if click_ids else None,
        credits=[(c.influencer.tracking_id, c.share) for c in attribution.credits],
        customer_email_sha256=customer_email_sha256,
        first_order=event.customer.first_order,
        reverses=None,
        test=event.test,
    )


@dataclass(frozen=True)
class _Verdict:
    decision: Decision
    outcome: str
    awaiting_report_until: datetime | None | str
    retry_at: datetime | None


def _wait_or_credit(facts: OrderFacts, attribution: Attribution, decision: Decision, now: datetime,
                    grace: timedelta) -> _Verdict:
    """Without a code that decides, a creditable order waits a while for the browser's report of its clicks."""
    # The wait starts at the order's first event, not when a row for it was made (a report may come
    # first, and a forged one for a future order id must not shorten the wait).
    waits_until = now + grace if facts.first_event else facts.awaiting_report_until
    code_decides = attribution.method == PROMO_CODE and facts.rules.ranks_above(PROMO_CODE, CLICK)
    if decision.credit and not code_decides and not facts.reported and waits_until and now < waits_until:
        return _Verdict(Decision(False, "awaiting_report", "waiting for the browser's report"), "awaiting_report",
                        waits_until, waits_until)
    outcome = decision.outcome
    if decision.credit and not attribution.credits:
        outcome = "no_signal" if not attribution.outcomes else "no_eligible_signal"
    if decision.credit:
        return _Verdict(decision, outcome, None, None)
    # Not creditable yet (unpaid): when it is, the report may still be on its way.
    return _Verdict(decision, outcome, waits_until if facts.first_event else KEEP_WAIT, None)


def decide(facts: OrderFacts, now: datetime, grace: timedelta = timedelta(0)) -> OrderDecision:
    """What one event of an order leads to: an order event's crediting, a refund's or a deletion's reversal.

    `grace`: how long an order with no promo code that decides waits for the browser's report.
    """
    event = facts.event
    if isinstance(event, OrderEvent):
        return decide_order(facts, now, grace)
    if isinstance(event, OrderDeleted):
        # A deleted order (WooCommerce order.deleted) voids its purchase like a cancellation.
        reversal, note = cancellation(facts.purchase, facts.cancelled, event.order_id, event.occurred_at)
        return OrderDecision(notes=(note,) if note else (), cancel=True, reversals=(reversal,) if reversal else (),
                             heading="order deleted; ")
    if facts.purchase is None and not facts.cancelled:
        return OrderDecision(notes=(f"refund {event.refund_id}: kept until the purchase is credited (an uncredited "
                                    "order sends nothing)",), defer=event)
    reversal, note = refund_reversal(facts.purchase, facts.cancelled, event, facts.sent_refunds)
    return OrderDecision(notes=(note,) if note else (), reversals=(reversal,) if reversal else ())


def decide_order(facts: OrderFacts, now: datetime, grace: timedelta = timedelta(0)) -> OrderDecision:
    """Everything one order event leads to: cancellation, attribution and its record, purchase, reversals."""
    event = facts.event
    if event.cancelled:
        reversal, note = cancellation(facts.purchase, facts.cancelled, event.order_id,
                                      event.cancelled_at or event.occurred_at)
        return OrderDecision(notes=(note,) if note else (), cancel=True,
                             reversals=(reversal,) if reversal else ())
    decision = purchase_decision(event, facts.rules.policy, already_credited=facts.purchase is not None,
                                 cancelled=facts.cancelled)
    if decision.outcome == "already_credited":
        return _with_refunds(facts, OrderDecision(notes=("already credited",)), facts.purchase)
    attribution = attribute(event, facts.directory, facts.rules.precedence, touches=facts.touches,
                            model=facts.rules.model)
    verdict = _wait_or_credit(facts, attribution, decision, now, grace)
    credited = verdict.decision.credit and bool(attribution.credits)
    if credited:
        note = f"purchase credited to {attribution.winner.tracking_id} by {attribution.method}"
    else:
        note = f"not credited: {verdict.decision.reason if not verdict.decision.credit else verdict.outcome}"
    made = OrderDecision(
        notes=(note,), attribution=attribution, outcome=verdict.outcome,
        purchase=purchase_fields(event, attribution, facts.customer_email_sha256) if credited else None,
        awaiting_report_until=verdict.awaiting_report_until, retry_at=verdict.retry_at,
    )
    purchase = facts.purchase or (Purchase(None, event.commission_base.amount) if credited else None)
    return _with_refunds(facts, made, purchase)


def _with_refunds(facts: OrderFacts, made: OrderDecision, purchase: Purchase | None) -> OrderDecision:
    # Refunds the order already shows (an order first seen refunded, or a refund whose own webhook was
    # missed), and refunds whose webhooks came before the purchase was credited.
    if purchase is None:
        return made
    reversals = refund_reversals(purchase, facts.cancelled, [*facts.event.refunds, *facts.deferred_refunds],
                                 facts.sent_refunds)
    return replace(made, reversals=reversals, clear_deferred=True)
