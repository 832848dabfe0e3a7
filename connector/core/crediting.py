"""Crediting an order (pure): from everything known about an order, what to write for it.

`connector.crediting.conversions` fetches the facts once (the order row's state, the store's rules, the
influencers the order's signals name, the browser's touches), makes this one call, and writes what it
returns. Nothing here reads the database or the network, so every decision can be tested on values alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from connector.core import items as lines
from connector.core import payload
from connector.core.attribution import (CLICK, PROMO_CODE, RENEWAL, Attribution, Directory, Inherited, ReportedTouch,
                                        attribute, ordered_kinds)
from connector.core.credit_models import ModelSettings
from connector.core.platform import NeutralEvent, OrderDeleted, OrderEvent, RefundEvent
from connector.core.reversals import (Purchase, Reversal, cancellation, refund_reversal,  # noqa: F401 (re-exported)
                                      refund_reversals, taxed_out)
from connector.core.rules import Decision, StorePolicy, purchase_decision

#: how long an order without a code waits for Shopify to build its visits (customerJourneySummary.ready), and
#: how often it looks again meanwhile
JOURNEY_WAIT, JOURNEY_RECHECK = timedelta(minutes=5), timedelta(seconds=30)


@dataclass(frozen=True)
class StoreRules:
    """A store's settings that crediting follows."""

    policy: StorePolicy
    #: signal kinds, strongest first
    precedence: tuple[str, ...]
    model: ModelSettings

    def ranks_above(self, kind: str, other: str) -> bool:
        """Does the precedence put `kind` before `other`? (Kinds it leaves out come last, in default order.)"""
        ordered = ordered_kinds(self.precedence)
        return ordered.index(kind) < ordered.index(other)


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
    #: the customer's earlier credited order and a renewal's start, for the customer and renewal kinds
    inherited: Inherited = Inherited()
    #: new or returning (True, False, None = unknown), and what said so
    first_order: bool | None = None
    first_order_source: str = "unknown"
    #: the order's own event said the shop's prices include tax (refund lines then hold tax too)
    taxes_included: bool = False
    #: an order without a code waits until then for the platform's visits to be ready
    journey_wait_until: datetime | None = None


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
    #: the order state's update time the purchase now stands on (an adjustment, or a newer state with no change)
    base_as_of: datetime | None = None
    #: what to add to the attribution record's details (first_order, renewal, journey, adjustments)
    details: dict = field(default_factory=dict)


def purchase_fields(event: OrderEvent, attribution: Attribution, customer_email_sha256: str | None,
                    first_order: bool | None = None, renewal_of: str | None = None) -> dict:
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
        first_order=first_order,
        reverses=None,
        test=event.test,
        items=lines.share_out(event.commission_base.amount, event.items),
        renewal_of=renewal_of,
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
    # A renewal is charged by the subscription, with no shopper in a browser to report anything.
    renewal = facts.inherited.renewal is not None
    journey = facts.event.journey if isinstance(facts.event, OrderEvent) else None
    if decision.credit and not code_decides and not renewal and journey is not None and not journey.ready \
            and facts.journey_wait_until and now < facts.journey_wait_until:
        retry = min(now + JOURNEY_RECHECK, facts.journey_wait_until)
        return _Verdict(Decision(False, "awaiting_visits", "waiting for Shopify to build the order's visits"),
                        "awaiting_visits", KEEP_WAIT, retry)
    if decision.credit and not code_decides and not renewal and not facts.reported and waits_until \
            and now < waits_until:
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
    reversal, note = refund_reversal(facts.purchase, facts.cancelled, taxed_out(event, facts.taxes_included),
                                     facts.sent_refunds)
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
        made, purchase = edit_adjustment(facts, facts.purchase)
        return _with_refunds(facts, made, purchase)
    attribution = attribute(event, facts.directory, facts.rules.precedence, touches=facts.touches,
                            model=facts.rules.model, inherited=facts.inherited)
    verdict = _wait_or_credit(facts, attribution, decision, now, grace)
    credited = verdict.decision.credit and bool(attribution.credits)
    if credited:
        note = f"purchase credited to {attribution.winner.tracking_id} by {attribution.method}"
    else:
        note = f"not credited: {verdict.decision.reason if not verdict.decision.credit else verdict.outcome}"
    renewal = facts.inherited.renewal
    renewal_of = renewal.origin.order_id if renewal and renewal.origin and attribution.method == RENEWAL else None
    made = OrderDecision(
        notes=(note,), attribution=attribution, outcome=verdict.outcome,
        purchase=purchase_fields(event, attribution, facts.customer_email_sha256, facts.first_order, renewal_of)
        if credited else None,
        awaiting_report_until=verdict.awaiting_report_until, retry_at=verdict.retry_at,
        base_as_of=event.updated_at if credited else None, details=decision_details(facts),
    )
    purchase = facts.purchase or (Purchase(None, event.commission_base.amount, base_as_of=event.updated_at,
                                           items=lines.held([made.purchase["items"]])) if credited else None)
    return _with_refunds(facts, made, purchase)


def decision_details(facts: OrderFacts) -> dict:
    """The record's account of what attribution went by besides the signals: new or returning, renewal, visits."""
    event = facts.event
    details: dict = {"first_order": {"value": facts.first_order, "source": facts.first_order_source}}
    renewal = facts.inherited.renewal
    if renewal is not None:
        details["renewal"] = {"marker": renewal.marker, "policy": renewal.policy,
                              "start": renewal.origin.order_id if renewal.origin else None,
                              "start_name": renewal.origin.order_name if renewal.origin else None,
                              "found_by": renewal.origin.found_by if renewal.origin else None,
                              "missing": renewal.missing}
    if facts.inherited.lifetime is not None:
        past = facts.inherited.customer
        details["customer"] = {"lifetime_days": facts.inherited.lifetime.days,
                               "first_credited_order": past.order_name or past.order_id if past else None,
                               "first_credited_order_id": past.order_id if past else None,
                               "found_by": past.found_by if past else None}
    journey = event.journey if isinstance(event, OrderEvent) else None
    if journey is not None:
        details["journey"] = {"ready": journey.ready, "error": journey.error,
                              "visits": [{"position": v.position, "at": v.at.isoformat(), "ref": v.ref,
                                          "source": v.source, "utm": dict(v.utm)} for v in journey.visits]}
    return details


def edit_adjustment(facts: OrderFacts, purchase: Purchase) -> tuple[OrderDecision, Purchase]:
    """A credited order whose commission base an edit changed: the difference, as conversion.adjustment.

    Only a newer state of the order than the one the purchase stands on adjusts it (deliveries come in any
    order), and never so far down that the purchase, its adjustments and its refunds would go below zero.
    """
    event = facts.event
    unchanged = OrderDecision(notes=("already credited",))
    # An older state never adjusts a newer one. The same second may be a newer state (platforms stamp updates to
    # the second): it adjusts only if its base differs, and two states of one second cannot be told apart anyway.
    if facts.cancelled or event.updated_at is None or \
            (purchase.base_as_of is not None and event.updated_at < purchase.base_as_of):
        return unchanged, purchase
    newer = replace(unchanged, base_as_of=event.updated_at)
    target = max(event.commission_base.amount, purchase.reversed)
    delta = target - purchase.held
    if delta == 0 or purchase.conversion_id is None:
        return newer, purchase
    held = purchase.items or {}
    changed = [item for item in lines.changes(held, event.items) if item.amount]
    items = lines.share_out(delta, changed or list(held.values()))
    reversal = Reversal(payload.ADJUSTMENT, f"adjustment:{event.order_id}:{event.updated_at.isoformat()}", delta,
                        event.updated_at, items=items)
    money = payload.format_amount
    detail = {"at": event.updated_at.isoformat(), "from": money(purchase.held), "to": money(target),
              "amount": money(delta)}
    if target != event.commission_base.amount:
        detail["floor"] = f"the order now earns {money(event.commission_base.amount)}, but refunds already " \
                          f"reversed {money(purchase.reversed)}: never below zero"
    adjusted = replace(purchase, adjusted=purchase.adjusted + delta, base_as_of=event.updated_at,
                       items=lines.held([held.values(), items]))
    return replace(newer, reversals=(reversal,), details={"adjustment": detail}), adjusted


def _with_refunds(facts: OrderFacts, made: OrderDecision, purchase: Purchase | None) -> OrderDecision:
    # Refunds the order already shows (an order first seen refunded, or a refund whose own webhook was
    # missed), and refunds whose webhooks came before the purchase was credited.
    if purchase is None:
        return made
    reversals = refund_reversals(purchase, facts.cancelled, [*facts.event.refunds, *facts.deferred_refunds],
                                 facts.sent_refunds, facts.taxes_included or facts.event.taxes_included)
    return replace(made, reversals=made.reversals + reversals, clear_deferred=True)
