"""Events for the backend, queued as rows of the conversions' outbox in the transaction of the change they tell.

A row of the same table, so the same claim, lease, retries, replay and `webhook-id` apply, and the forwarder
signs it as it signs a conversion. What sets an event apart from a conversion: its type (never `conversion.…`),
no order, no credits (the figures never see it), an amount of 0 and no currency, `reverses` null (so no claim
waits on it), and a dedupe key `<type>:<what happened>` (the platform delivery that caused it, where a replay
of that delivery could cause it again; else the event's own id). Only the types the deployment asked for
(`CONNECTOR_BACKEND_EVENTS`) are written; with none asked for, nothing is.

A module of its own beside the foundations: installs, the code sync and the privacy requests all queue events,
and none of them may import another stage.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Collection

from sqlalchemy import not_
from sqlalchemy.orm import Session

from connector.core import backend_events as events
from connector.db import insert
from connector.models import Conversion, Store

#: what an event's amount and currency columns hold (they are not null for conversions)
NO_AMOUNT, NO_CURRENCY = Decimal(0), ""


def queue(session: Session, store: Store, kind: str, enabled: Collection[str], now: datetime | None = None, *,
          occurred_at: datetime | None = None, key: str | None = None, **details) -> str | None:
    """Queue one event in the caller's transaction, if `enabled` (the setting's types) holds its type.

    `key` names what happened (e.g. the webhook row that caused it) so that the same happening is told once;
    without it each call is an event of its own. Returns the event's id, or None when nothing was written
    (not asked for, or told already).
    """
    if kind not in enabled:
        return None
    now = now or datetime.now(timezone.utc)
    event_id = events.new_event_id()
    body = events.event_body(kind, event_id=event_id, created_at=now, platform=store.platform, store=store.domain,
                             store_id=store.id, occurred_at=occurred_at or now, **details)
    written = session.execute(
        insert(session, Conversion.__table__)
        .values(id=event_id, store_id=store.id, order_id=None, dedupe_key=f"{kind}:{key or event_id}"[:200],
                type=kind, amount=NO_AMOUNT, currency=NO_CURRENCY, tracking_id=details.get("tracking_id"),
                reverses=None, test=False, body=body, created_at=now, status="pending", attempts=0,
                next_attempt_at=now)
        .on_conflict_do_nothing(index_elements=["store_id", "dedupe_key"])
        .returning(Conversion.__table__.c.id)  # a row only when it was written
    ).first()
    return event_id if written is not None else None


def conversions_only():
    """The condition that keeps events out of what counts conversions."""
    return Conversion.type.startswith(events.CONVERSION_PREFIX)


def erased_by_store_redact():
    """The store's rows that shop/redact erases: all but its own lifecycle events (nothing personal in them),
    which must still reach the backend, and whose keys keep a replayed redaction from telling it twice."""
    return not_(Conversion.type.in_(events.STORE_TYPES))
