"""Turns neutral events into conversion rows, in the caller's transaction (the one that marks the event handled).

The order row is locked first, so two workers holding two deliveries of one order take turns, and
each conversion has a unique dedupe key per store as the last line of defence against a double.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connector.core import payload
from connector.campaigns import reports
from connector.core.attribution import CLICK, PROMO_CODE, SIGNAL_KINDS, Attribution, attribute, match_key, signal_keys
from connector.core.credit_models import ModelSettings
from connector.db import insert
from connector.campaigns.directory import directory_for
from connector.models import AttributionRecord, Conversion, ConversionCredit, Order, Store
from connector.core.platform import Money, NeutralEvent, OrderDeleted, OrderEvent, RefundEvent
from connector.core.rules import Decision, StorePolicy, email_sha256, purchase_decision


@dataclass(frozen=True)
class Applied:
    """What handling one event did: the conversions it created and a line for the log."""

    conversions: tuple[Conversion, ...]
    note: str
    #: handle the event again at this time (it waits for the browser's report); None = done
    retry_at: datetime | None = None


def model_settings(store: Store) -> ModelSettings:
    """The store's attribution model, window and half-life."""
    return ModelSettings(store.attribution_model, timedelta(days=store.attribution_window_days),
                         timedelta(days=store.half_life_days))


def lock_order_id(session: Session, store_id: int, order_id: str) -> None:
    """Take the order id's lock for this transaction, whether or not a row exists for it yet.

    An order's event and a browser report of it, handled at once by two workers, take turns on it, so
    one of them always sees the other's work, without the report having to make an order row (anyone
    can post reports; only the platform's own deliveries make orders). SQLite needs nothing: its
    writers queue for the whole database.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:store, hashtext(:order))"),
                        {"store": store_id, "order": order_id})


def _locked_order(session: Session, store: Store, order_id: str, now: datetime) -> Order:
    lock_order_id(session, store.id, order_id)
    stmt = (
        insert(session, Order.__table__)
        .values(store_id=store.id, platform_order_id=order_id, first_seen_at=now, test=False, cancelled=False)
        .on_conflict_do_nothing(index_elements=["store_id", "platform_order_id"])
    )
    session.execute(stmt)
    return session.scalars(
        select(Order)
        .where(Order.store_id == store.id, Order.platform_order_id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _new_conversion(session: Session, store: Store, order: Order | None, dedupe_key: str, now: datetime,
                    **fields) -> Conversion:
    conversion_id = payload.new_conversion_id()
    amount: Money = fields["amount"]
    body = payload.conversion_body(
        conversion_id=conversion_id, created_at=now, platform=store.platform, store=store.domain, **fields
    )
    sign = -1 if fields["type"] in (payload.REFUND, payload.CANCELLATION) else 1
    for tracking_id, share in fields["credits"]:
        session.add(ConversionCredit(
            conversion_id=conversion_id, tracking_key=match_key(tracking_id), store_id=store.id, type=fields["type"],
            method=fields["method"], share=share, amount=sign * share * amount.amount, currency=amount.currency,
            created_at=now,
        ))
    conversion = Conversion(
        id=conversion_id,
        store_id=store.id,
        order_id=order.id if order is not None else None,
        dedupe_key=dedupe_key,
        type=fields["type"],
        amount=amount.amount,
        currency=amount.currency,
        tracking_id=fields["tracking_id"],
        reverses=fields["reverses"],
        test=fields["test"],
        body=body,
        created_at=now,
        status="pending",
        attempts=0,
        next_attempt_at=now,
    )
    session.add(conversion)
    return conversion


def _record(session: Session, order: Order, attribution: Attribution, outcome: str, now: datetime) -> None:
    record = session.get(AttributionRecord, order.id)
    if record is None:
        record = AttributionRecord(order_id=order.id)
        session.add(record)
    record.decided_at = now
    record.method = attribution.method
    record.outcome = outcome
    record.credits = [
        {"tracking_id": c.influencer.tracking_id, "share": payload.format_share(c.share)} for c in attribution.credits
    ]
    record.signals = [o.as_record() for o in attribution.outcomes]


def _purchase(session: Session, store: Store, order: Order, event: OrderEvent, attribution: Attribution, now: datetime) -> Conversion:
    winner = attribution.winner
    winning = attribution.winning_signals
    # The code as the influencer registered it, not as the shopper typed it (" alice15 ").
    codes = [s.influencer.promo_code for s in winning if s.kind == PROMO_CODE]
    click_ids = [s.click_id for s in winning if s.click_id]
    return _new_conversion(
        session,
        store,
        order,
        f"purchase:{order.platform_order_id}",
        now,
        type=payload.PURCHASE,
        order_id=order.platform_order_id,
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
        customer_email_sha256=order.customer_email_sha256,
        first_order=event.customer.first_order,
        reverses=None,
        test=event.test,
    )


def _reversal(
    session: Session, store: Store, order: Order, kind: str, dedupe_key: str, amount: Decimal,
    occurred_at: datetime, now: datetime, presentment: Money | None = None,
) -> Conversion:
    """A refund or cancellation carrying the purchase's attribution, so the backend reverses the same shares."""
    purchase = session.get(Conversion, order.purchase_conversion_id)
    original = json.loads(purchase.body)["data"]
    return _new_conversion(
        session,
        store,
        order,
        dedupe_key,
        now,
        type=kind,
        order_id=order.platform_order_id,
        order_name=original["order_name"],
        occurred_at=occurred_at,
        amount=Money(amount, purchase.currency),
        presentment=presentment,
        tracking_id=original["tracking_id"],
        campaign_id=original["campaign_id"],
        method=original["method"],
        promo_code=original["promo_code"],
        click_id=original["click_id"],
        credits=[(c["tracking_id"], Decimal(c["share"])) for c in original["credits"]],
        # The order's, not the purchase body's: after a customers/redact it is gone and must not travel again.
        customer_email_sha256=order.customer_email_sha256,
        first_order=original["customer"]["first_order"],
        reverses=purchase.id,
        test=purchase.test,
    )


def _reversed_so_far(session: Session, order: Order) -> Decimal:
    amounts = session.scalars(select(Conversion.amount).where(Conversion.reverses == order.purchase_conversion_id))
    return sum(amounts, Decimal(0))


def _refund(session: Session, store: Store, order: Order, refund: RefundEvent, now: datetime) -> tuple[Conversion | None, str]:
    if order.purchase_conversion_id is None:
        return None, f"refund {refund.refund_id}: the order was never credited, nothing to reverse"
    if order.cancelled:
        return None, f"refund {refund.refund_id}: the purchase was already cancelled"
    dedupe_key = f"refund:{refund.refund_id}"
    if session.scalar(select(Conversion.id).where(Conversion.store_id == store.id, Conversion.dedupe_key == dedupe_key)):
        return None, f"refund {refund.refund_id}: already sent"
    purchase = session.get(Conversion, order.purchase_conversion_id)
    # Never reverse more than was credited: refunds of shipping or tax, or rounding, must not go negative.
    remaining = purchase.amount - _reversed_so_far(session, order)
    amount = min(refund.commission_base.amount, remaining)
    if amount <= 0:
        return None, f"refund {refund.refund_id}: no commission base refunded"
    presentment = refund.presentment_base if amount == refund.commission_base.amount else None
    conversion = _reversal(
        session, store, order, payload.REFUND, dedupe_key, amount, refund.occurred_at, now, presentment
    )
    return conversion, f"refund {refund.refund_id}: reverses {amount} of {purchase.id}"


def _defer(order: Order, refund: RefundEvent) -> str:
    """Keep a refund that arrived before its purchase was credited, to reverse it once it is."""
    kept = list(order.deferred_refunds or [])
    if all(entry["refund_id"] != refund.refund_id for entry in kept):
        kept.append({
            "refund_id": refund.refund_id,
            "occurred_at": refund.occurred_at.isoformat(),
            "amount": str(refund.commission_base.amount),
            "currency": refund.commission_base.currency,
            "presentment": [str(refund.presentment_base.amount), refund.presentment_base.currency]
            if refund.presentment_base else None,
        })
        order.deferred_refunds = kept  # a new list, so the JSON column is seen as changed
    return f"refund {refund.refund_id}: kept until the purchase is credited (an uncredited order sends nothing)"


def _deferred(order: Order) -> list[RefundEvent]:
    return [
        RefundEvent(
            refund_id=entry["refund_id"],
            order_id=order.platform_order_id,
            occurred_at=datetime.fromisoformat(entry["occurred_at"]),
            commission_base=Money(Decimal(entry["amount"]), entry["currency"]),
            presentment_base=Money(Decimal(entry["presentment"][0]), entry["presentment"][1])
            if entry["presentment"] else None,
        )
        for entry in order.deferred_refunds or []
    ]


def _cancellation(session: Session, store: Store, order: Order, occurred_at: datetime, now: datetime) -> tuple[Conversion | None, str]:
    first_time = not order.cancelled
    order.cancelled = True
    if order.purchase_conversion_id is None or not first_time:
        return None, "cancelled; nothing credited to reverse" if first_time else "already cancelled"
    purchase = session.get(Conversion, order.purchase_conversion_id)
    # What the backend still holds for this purchase: the amount less what refunds already reversed.
    remaining = max(purchase.amount - _reversed_so_far(session, order), Decimal(0))
    conversion = _reversal(
        session, store, order, payload.CANCELLATION, f"cancellation:{order.platform_order_id}", remaining,
        occurred_at, now,
    )
    return conversion, f"cancelled: voids {purchase.id}"


def _ranks_above(store: Store, kind: str, other: str) -> bool:
    """Does the store's precedence put `kind` before `other`? (Kinds it leaves out come last, in default order.)"""
    ordered = [k for k in store.precedence.split(",") if k in SIGNAL_KINDS]
    ordered += [k for k in SIGNAL_KINDS if k not in ordered]
    return ordered.index(kind) < ordered.index(other)


def _apply_order(session: Session, store: Store, event: OrderEvent, now: datetime, *, event_id: int | None = None,
                 grace: timedelta = timedelta(0)) -> Applied:
    order = _locked_order(session, store, event.order_id, now)
    order.order_name = event.order_name or order.order_name
    order.currency = event.commission_base.currency
    order.test = event.test
    order.customer_id = event.customer.id or order.customer_id
    order.customer_email_sha256 = email_sha256(event.customer.email) or order.customer_email_sha256
    order.proof_sha256 = reports.proof_hash(event.proof) or order.proof_sha256
    # The wait for a browser report starts at the order's first event, not when a row for it was made
    # (a report may come first, and a forged one for a future order id must not shorten the wait).
    first_event = order.last_event_id is None
    if event_id is not None:
        order.last_event_id = event_id
    created: list[Conversion] = []
    notes: list[str] = []
    retry_at = None

    if event.cancelled:
        conversion, note = _cancellation(session, store, order, event.cancelled_at or event.occurred_at, now)
        return Applied(tuple(c for c in [conversion] if c), note)

    policy = StorePolicy(credit_on=store.credit_on, forward_test_orders=store.forward_test_orders)
    decision = purchase_decision(
        event, policy, already_credited=order.purchase_conversion_id is not None, cancelled=order.cancelled
    )
    if decision.outcome != "already_credited":
        joined = reports.join_order_reports(session, order)
        touches = reports.touches_of(session, store.id, joined)
        codes, refs = signal_keys(event, touches)
        attribution = attribute(event, directory_for(session, store.id, codes, refs), store.precedence.split(","),
                                touches=touches, model=model_settings(store))
        outcome = decision.outcome
        waits_until = now + grace if first_event else order.awaiting_report_until
        code_decides = attribution.method == PROMO_CODE and _ranks_above(store, PROMO_CODE, CLICK)
        if decision.credit and not code_decides and not joined and waits_until and now < waits_until:
            # No code: the browser's report (sent at checkout) may still be on its way with the clicks.
            decision = Decision(False, "awaiting_report", "waiting for the browser's report")
            outcome, retry_at = "awaiting_report", waits_until
            order.awaiting_report_until = waits_until
        elif decision.credit:
            order.awaiting_report_until = None
        elif first_event:
            # Not creditable yet (unpaid): when it is, the report may still be on its way.
            order.awaiting_report_until = waits_until
        if decision.credit and not attribution.credits:
            outcome = "no_signal" if not attribution.outcomes else "no_eligible_signal"
        _record(session, order, attribution, outcome, now)
        if decision.credit and attribution.credits:
            order.commission_base = event.commission_base.amount
            conversion = _purchase(session, store, order, event, attribution, now)
            session.flush()
            order.purchase_conversion_id = conversion.id
            order.credited_at = now
            created.append(conversion)
            notes.append(f"purchase credited to {attribution.winner.tracking_id} by {attribution.method}")
        else:
            notes.append(f"not credited: {decision.reason if not decision.credit else outcome}")
    else:
        notes.append("already credited")

    # Refunds the order already shows (an order first seen refunded, or a refund whose own webhook was
    # missed), and refunds whose webhooks came before the purchase was credited.
    if order.purchase_conversion_id is not None:
        for refund in [*event.refunds, *_deferred(order)]:
            conversion, note = _refund(session, store, order, refund, now)
            if conversion is not None:
                session.flush()
                created.append(conversion)
                notes.append(note)
        order.deferred_refunds = None
    return Applied(tuple(created), "; ".join(notes), retry_at)


def apply_event(session: Session, store: Store, event: NeutralEvent, now: datetime, *, event_id: int | None = None,
                grace: timedelta = timedelta(0)) -> Applied:
    """Apply one neutral event to the store's orders; returns the conversions it created.

    `grace`: how long an order with no promo code waits for the browser's report before it is credited
    without one (the worker passes CONNECTOR_REPORT_GRACE_SECONDS); `event_id` lets a later report find it.
    """
    if isinstance(event, OrderEvent):
        return _apply_order(session, store, event, now, event_id=event_id, grace=grace)
    order = _locked_order(session, store, event.order_id, now)
    if isinstance(event, OrderDeleted):
        # A deleted order (WooCommerce order.deleted) voids its purchase like a cancellation.
        conversion, note = _cancellation(session, store, order, event.occurred_at, now)
        if conversion is not None:
            session.flush()
        return Applied(tuple(c for c in [conversion] if c), f"order deleted; {note}")
    if order.purchase_conversion_id is None and not order.cancelled:
        return Applied((), _defer(order, event))
    conversion, note = _refund(session, store, order, event, now)
    if conversion is not None:
        session.flush()
    return Applied(tuple(c for c in [conversion] if c), note)
