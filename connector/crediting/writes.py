"""What crediting writes once it has decided: conversion rows with their credits, the attribution record,
the order's state, refunds kept for later. All in the caller's transaction (the one that marks the event
handled); each conversion's dedupe key is unique per store, the last line of defence against a double.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from connector.core import payload
from connector.core.attribution import Attribution, match_key
from connector.core.crediting import KEEP_WAIT, OrderDecision, Reversal
from connector.core.platform import Money, RefundEvent
from connector.db import insert_for
from connector.models import AttributionRecord, Conversion, ConversionCredit, Order, Store

RECORD_COLUMNS = ("order_id", "decided_at", "method", "outcome", "credits", "signals", "details")


@dataclass(frozen=True)
class Applied:
    """What handling one event did: the conversions it created and a line for the log."""

    conversions: tuple[Conversion, ...]
    note: str
    #: handle the event again at this time (it waits for the browser's report); None = done
    retry_at: datetime | None = None


def write(session: Session, store: Store, order: Order, decision: OrderDecision, now: datetime) -> Applied:
    """Write what the decision says, in the order a reader of it expects: record, purchase, reversals."""
    if decision.cancel:
        order.cancelled = True
    if decision.awaiting_report_until != KEEP_WAIT:
        order.awaiting_report_until = decision.awaiting_report_until
    if decision.defer is not None:
        defer_refund(order, decision.defer)
    if decision.attribution is not None:
        write_record(session, order, decision.attribution, decision.outcome, now, decision.details)
    elif decision.details:
        add_to_record(session, order, decision.details)
    if decision.base_as_of is not None:
        order.base_as_of = decision.base_as_of
    created, notes = [], list(decision.notes)
    if decision.purchase is not None:
        # The order's part is set before the conversion is flushed, so its row is updated once per event.
        conversion_id = payload.new_conversion_id()
        order.commission_base = decision.purchase["amount"].amount
        order.adjusted_base = Decimal(0)
        order.purchase_conversion_id, order.credited_at = conversion_id, now
        created.append(write_conversion(session, store, order, f"purchase:{order.platform_order_id}", now,
                                        conversion_id=conversion_id, **decision.purchase))
    for reversal in decision.reversals:
        if reversal.kind == payload.ADJUSTMENT:
            order.adjusted_base = (order.adjusted_base or Decimal(0)) + reversal.amount
        created.append(write_reversal(session, store, order, reversal, now))
        notes.append(reversal.note(order.purchase_conversion_id))
    if decision.clear_deferred:
        order.deferred_refunds = None
    return Applied(tuple(created), decision.heading + "; ".join(notes), decision.retry_at)


def write_conversion(session: Session, store: Store, order: Order | None, dedupe_key: str, now: datetime, *,
                     conversion_id: str | None = None, **fields) -> Conversion:
    """A conversion row, its body serialised once (the outbox sends these bytes), and its credits."""
    conversion_id = conversion_id or payload.new_conversion_id()
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
        items=reversal.items, renewal_of=original.get("renewal_of"),
    )


def write_record(session: Session, order: Order, attribution: Attribution, outcome: str, now: datetime,
                 details: dict | None = None) -> None:
    """Why the order was (or was not) credited, every signal with what became of it: one row per order.

    One upsert rather than a read and then an insert or an update (nothing reads the record back here).
    """
    values = {
        "order_id": order.id, "decided_at": now, "method": attribution.method, "outcome": outcome,
        "credits": [{"tracking_id": c.influencer.tracking_id, "share": payload.format_share(c.share)}
                    for c in attribution.credits],
        "signals": [o.as_record() for o in attribution.outcomes],
        "details": details or None,
    }
    with session.no_autoflush:  # the order's pending changes go with the conversion's flush, in one UPDATE
        session.execute(_record_upsert(session.get_bind().dialect.name), values)


def add_to_record(session: Session, order: Order, details: dict) -> None:
    """A later decision about a credited order (an edit's adjustment), added to its record's details."""
    record = session.get(AttributionRecord, order.id)
    if record is None:
        return
    kept = dict(record.details or {})
    for key, value in details.items():
        if key == "adjustment":
            kept["adjustments"] = [*kept.get("adjustments", []), value]
        else:
            kept[key] = value
    record.details = kept  # a new dict, so the JSON column is seen as changed


@lru_cache(maxsize=4)
def _record_upsert(dialect: str):
    """The record's upsert, built once per dialect so each order only binds its values."""
    table = AttributionRecord.__table__
    statement = insert_for(dialect, table).values({name: bindparam(name, type_=table.c[name].type)
                                                   for name in RECORD_COLUMNS})
    return statement.on_conflict_do_update(index_elements=[table.c.order_id],
                                           set_={name: statement.excluded[name] for name in RECORD_COLUMNS[1:]})


def defer_refund(order: Order, refund: RefundEvent) -> None:
    """Keep a refund that arrived before its purchase was credited, to reverse it once it is (facts.deferred_refunds)."""
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
