"""The rows crediting reads and writes: orders locked, the store's rules, conversions, credits and records.

Everything here runs in the caller's transaction (the one that marks the event handled). Each conversion
has a unique dedupe key per store, the last line of defence against a double.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connector.core import payload
from connector.core.attribution import Attribution, match_key
from connector.core.credit_models import ModelSettings
from connector.core.crediting import Purchase, Reversal, StoreRules
from connector.core.platform import Money, RefundEvent
from connector.core.rules import StorePolicy
from connector.db import insert
from connector.models import AttributionRecord, Conversion, ConversionCredit, Order, Store


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


def store_rules(store: Store) -> StoreRules:
    """The store's settings that crediting follows."""
    return StoreRules(StorePolicy(credit_on=store.credit_on, forward_test_orders=store.forward_test_orders),
                      tuple(store.precedence.split(",")), model_settings(store))


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


def locked_order(session: Session, store: Store, order_id: str, now: datetime) -> Order:
    """The order's row, made if it is new, locked so two workers holding two of its deliveries take turns."""
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


def purchase_of(session: Session, order: Order, *, reversible: bool) -> Purchase | None:
    """The order's credited purchase, or None; with what refunds reversed of it when the event can reverse.

    Only an event that can reverse something (a cancellation, refunds) needs the sum, and it is the one read
    here that is not by key, so an order's every other redelivery skips it.
    """
    if order.purchase_conversion_id is None:
        return None
    purchase = session.get(Conversion, order.purchase_conversion_id)
    if not reversible:
        return Purchase(purchase.id, purchase.amount)
    amounts = session.scalars(select(Conversion.amount).where(Conversion.reverses == purchase.id))
    return Purchase(purchase.id, purchase.amount, sum(amounts, Decimal(0)))


def sent_refunds(session: Session, store: Store, refunds: list[RefundEvent]) -> frozenset[str]:
    """The dedupe keys among these refunds' that the store has sent already."""
    keys = {f"refund:{refund.refund_id}" for refund in refunds}
    if not keys:
        return frozenset()
    return frozenset(session.scalars(select(Conversion.dedupe_key).where(
        Conversion.store_id == store.id, Conversion.dedupe_key.in_(sorted(keys)))))


def write_conversion(session: Session, store: Store, order: Order | None, dedupe_key: str, now: datetime,
                     **fields) -> Conversion:
    """A conversion row, its body serialised once (the outbox sends these bytes), and its credits."""
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
        id=conversion_id, store_id=store.id, order_id=order.id if order is not None else None,
        dedupe_key=dedupe_key, type=fields["type"], amount=amount.amount, currency=amount.currency,
        tracking_id=fields["tracking_id"], reverses=fields["reverses"], test=fields["test"], body=body,
        created_at=now, status="pending", attempts=0, next_attempt_at=now,
    )
    session.add(conversion)
    session.flush()
    return conversion


def write_reversal(session: Session, store: Store, order: Order, reversal: Reversal, now: datetime) -> Conversion:
    """A refund or cancellation carrying the purchase's attribution, so the backend reverses the same shares."""
    purchase = session.get(Conversion, order.purchase_conversion_id)
    original = json.loads(purchase.body)["data"]
    return write_conversion(
        session, store, order, reversal.dedupe_key, now,
        type=reversal.kind, order_id=order.platform_order_id, order_name=original["order_name"],
        occurred_at=reversal.occurred_at, amount=Money(reversal.amount, purchase.currency),
        presentment=reversal.presentment, tracking_id=original["tracking_id"],
        campaign_id=original["campaign_id"], method=original["method"], promo_code=original["promo_code"],
        click_id=original["click_id"],
        credits=[(c["tracking_id"], Decimal(c["share"])) for c in original["credits"]],
        # The order's, not the purchase body's: after a customers/redact it is gone and must not travel again.
        customer_email_sha256=order.customer_email_sha256,
        first_order=original["customer"]["first_order"], reverses=purchase.id, test=purchase.test,
    )


def write_record(session: Session, order: Order, attribution: Attribution, outcome: str, now: datetime) -> None:
    """Why the order was (or was not) credited, every signal with what became of it: one row per order."""
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


def defer_refund(order: Order, refund: RefundEvent) -> str:
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


def deferred_refunds(order: Order) -> tuple[RefundEvent, ...]:
    """The refunds `defer_refund` kept on the order."""
    return tuple(
        RefundEvent(
            refund_id=entry["refund_id"],
            order_id=order.platform_order_id,
            occurred_at=datetime.fromisoformat(entry["occurred_at"]),
            commission_base=Money(Decimal(entry["amount"]), entry["currency"]),
            presentment_base=Money(Decimal(entry["presentment"][0]), entry["presentment"][1])
            if entry["presentment"] else None,
        )
        for entry in order.deferred_refunds or []
    )
