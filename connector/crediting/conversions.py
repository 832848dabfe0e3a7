"""Turns neutral order events into conversion rows, in the caller's transaction (the one that marks the event handled).

An event goes one way, top to bottom: `facts.gather` locks the order's row, notes what the event says of
the order and fetches, once, what the decision needs (the store's rules, the influencers its codes and refs
name, the browser's touches, the purchase and refunds so far); `connector.core.crediting.decide`, pure,
returns the decision, the record, the purchase and the reversals; `writes.write` writes them. The order
row's lock makes two workers holding two deliveries of one order take turns.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from connector.core.crediting import decide
from connector.core.platform import NeutralEvent
from connector.crediting.facts import gather
from connector.crediting.writes import Applied, write
from connector.models import Store


def apply_event(session: Session, store: Store, event: NeutralEvent, now: datetime, *, event_id: int | None = None,
                grace: timedelta = timedelta(0)) -> Applied:
    """Apply one neutral event to the store's orders; returns the conversions it created.

    `grace`: how long an order with no promo code waits for the browser's report before it is credited
    without one (the worker passes CONNECTOR_REPORT_GRACE_SECONDS); `event_id` lets a later report find it.
    """
    order, facts = gather(session, store, event, now, event_id)
    return write(session, store, order, decide(facts, now, grace), now)
