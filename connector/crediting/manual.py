"""Crediting an order by hand (the backend's API, the merchant app), in the caller's transaction.

The order's row is locked as an event of it would lock it (the order id's lock, then the row), so a delivery of the
order handled at this moment takes turns with the credit: one of the two credits it, and the other sees that. The
amount and lines come from the order's own last event (`Order.last_event_id`, normalised again by its adapter):
the order's row keeps the base only once it is credited, and never the lines. `connector.core.manual` decides;
`writes.write` writes the purchase and the reversals of refunds kept before it, as for any purchase; the record keeps
what the signals had decided, marked superseded. Any refusal raises `Refused` before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import registry
from connector.core import manual
from connector.core.attribution import InfluencerRef, match_key
from connector.core.manual import Asked, ManualFacts, Previous, Refused, Standing
from connector.core.platform import OrderEvent
from connector.crediting import history
from connector.crediting.facts import deferred_refunds, lock_order_id, sent_refunds, store_rules
from connector.crediting.writes import write
from connector.errors import ConnectorError
from connector.intake import inbox
from connector.models import AttributionRecord, Conversion, Event, Influencer, Order, Store
from connector.models.events import ERASED_BODIES

#: a store whose orders are still handled (as the worker's events loop has it)
CREDITED_STORES = ("active", "needs_reauth")


@dataclass(frozen=True)
class Credited:
    """What a credit by hand wrote: the purchase, the reversals made with it, and the record's manual details."""

    purchase: Conversion
    reversals: tuple[Conversion, ...]
    manual: dict
    #: the order's last event listed refunds: it was queued again, for the worker to reverse them exactly
    refunds_queued: bool


def credit_by_hand(session: Session, store: Store, order_id: str, asked: Asked, now: datetime) -> Credited:
    """Credit the order to the influencers asked for, as `conversion.purchase` with method "manual"; Refused
    (nothing written) when the order cannot or may not be credited, or the credits are not right."""
    if store.status not in CREDITED_STORES:
        raise Refused(manual.STORE_NOT_ACTIVE, f"the store is {store.status}: its orders are not credited")
    note = manual.check_note(asked.note)
    order = _locked(session, store, order_id)
    record = session.get(AttributionRecord, order.id)
    refusal = manual.standing_refusal(_standing(order, record))
    if refusal is not None:
        raise refusal
    source, event = _last_event(session, store, order)
    asked = Asked(asked.credits, asked.by, asked.user, note)
    deferred = deferred_refunds(order)
    facts = ManualFacts(
        event=event, policy=store_rules(store).policy,
        influencers=_influencers(session, store, [tracking_id for tracking_id, _ in asked.credits]),
        customer_email_sha256=order.customer_email_sha256,
        first_order=_first_order(session, store, order, record, event),
        deferred_refunds=deferred, sent_refunds=sent_refunds(session, store, [*deferred, *event.refunds]),
        taxes_included=order.taxes_included or event.taxes_included)
    decision = manual.decide(facts, asked)
    previous = _previous(record)
    applied = write(session, store, order, decision, now)
    values = manual.record_values(previous, decision.purchase["credits"], asked, now)
    if record is None:
        record = AttributionRecord(order_id=order.id)
        session.add(record)
    for name, value in values.items():
        setattr(record, name, value)
    queued = manual.refunds_left(event, facts.sent_refunds | {r.dedupe_key for r in decision.reversals}) and (
        # still to be handled (waiting for the browser's report), or handled: then queued again
        source.status == "pending" or bool(inbox.replay_events(session, [source.id], ("handled",), now)))
    session.flush()
    purchase, *reversals = applied.conversions
    return Credited(purchase, tuple(reversals), values["details"]["manual"], queued)


def _locked(session: Session, store: Store, order_id: str) -> Order:
    """The order's row under the lock its events take; Refused when the connector never saw the order."""
    if not order_id or len(order_id) > 64 or "\x00" in order_id:
        raise Refused(manual.UNKNOWN_ORDER, "the connector has not seen this order")
    lock_order_id(session, store.id, order_id)
    order = session.scalars(select(Order).where(Order.store_id == store.id, Order.platform_order_id == order_id)
                            .with_for_update().execution_options(populate_existing=True)).one_or_none()
    if order is None:
        raise Refused(manual.UNKNOWN_ORDER, "the connector has not seen this order")
    return order


def _standing(order: Order, record: AttributionRecord | None) -> Standing:
    by = ((record.details or {}).get("manual") or {}).get("by") if record is not None else None
    return Standing(order.purchase_conversion_id, order.credited_at, record.method if record else None, by,
                    order.cancelled)


def _last_event(session: Session, store: Store, order: Order) -> tuple[Event, OrderEvent]:
    """The order's last own event, read again: what it says the order is (its amount, lines, paid or not)."""
    source = session.get(Event, order.last_event_id) if order.last_event_id is not None else None
    if source is None or source.store_id != store.id:
        raise Refused(manual.NO_ORDER_EVENT, "the connector has seen no event of the order itself (only a refund or "
                                             "a browser report of it), so it does not know its amount yet")
    if bytes(source.body) in ERASED_BODIES:
        raise Refused(manual.NO_ORDER_EVENT, "the order's event is no longer kept (erased after the retention period "
                                             "or by a privacy request), so its amount and lines are not known")
    try:
        event = registry.get(source.platform).normalise(source.topic, bytes(source.body))
    except ConnectorError as exc:
        raise Refused(manual.NO_ORDER_EVENT, f"the order's last event cannot be read: {exc}") from None
    if not isinstance(event, OrderEvent) or event.order_id != order.platform_order_id:
        raise Refused(manual.NO_ORDER_EVENT, "the order's last event is not one of the order itself")
    return source, event


def _influencers(session: Session, store: Store, tracking_ids: list[str]) -> dict[str, InfluencerRef | None]:
    """The store's influencers the credits name, by match key: a reference for an active one, None for a removed one."""
    keys = sorted({match_key(t) for t in tracking_ids if isinstance(t, str) and 0 < len(t.strip()) <= 100})
    if not keys:
        return {}
    found: dict[str, InfluencerRef | None] = {}
    for row in session.scalars(select(Influencer).where(Influencer.store_id == store.id,
                                                        Influencer.tracking_key.in_(keys))):
        found[row.tracking_key] = InfluencerRef(tracking_id=row.tracking_id, campaign_id=row.campaign_id,
                                                promo_code=row.promo_code, email_sha256=row.email_sha256,
                                                customer_id=row.customer_id) if row.active else None
    return found


def _first_order(session: Session, store: Store, order: Order, record: AttributionRecord | None,
                 event: OrderEvent) -> bool | None:
    """New or returning as the order's own decision found it (it may have read Shopify's visits), else read now."""
    decided = ((record.details or {}) if record is not None else {}).get("first_order")
    if isinstance(decided, dict) and "value" in decided:
        return decided["value"]
    return history.first_order(session, store, order, event)[0]


def _previous(record: AttributionRecord | None) -> Previous | None:
    if record is None:
        return None
    return Previous(record.decided_at, record.outcome, record.method, list(record.credits or []),
                    list(record.signals or []), dict(record.details or {}))
