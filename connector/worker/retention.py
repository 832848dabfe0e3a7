"""Keeping customer data only as long as needed: raw webhook bodies and delivery-attempt excerpts are erased
after CONNECTOR_RETENTION_DAYS, by every worker once an hour and by `connector prune`.

An event row stays, with its delivery id: it is what makes a redelivery of the same webhook a duplicate,
forever. Only its body becomes a marker; the conversions, records and orders made from it are untouched.
Events still waiting (pending) keep their bodies whatever their age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from connector.db import transaction
from connector.models import DeliveryAttempt, Event
from connector.models.events import ERASED_BODIES

EXPIRED = ERASED_BODIES[0]
#: written out, as the partial index ix_events_settled_received says it (a bound parameter would hide it)
SETTLED = text("events.status <> 'pending'")
BATCH = 5000
#: batches per pass; a larger backlog goes over the next passes
MAX_BATCHES = 20


@dataclass(frozen=True)
class Erased:
    bodies: int
    excerpts: int

    def __str__(self) -> str:
        return f"{self.bodies} event bodies and {self.excerpts} attempt excerpts"


def _expired_events(now: datetime, days: int):
    # Bodies already markers (retention's, or a privacy erasure's, whose reason is worth keeping) stay as they are.
    return select(Event.id).where(Event.received_at < now - timedelta(days=days), SETTLED,
                                  Event.body.not_in(ERASED_BODIES))


def _expired_excerpts(now: datetime, days: int):
    return select(DeliveryAttempt.id).where(DeliveryAttempt.attempted_at < now - timedelta(days=days),
                                            DeliveryAttempt.excerpt.is_not(None))


def due(session: Session, now: datetime, days: int) -> Erased:
    """What a pass would erase now (connector prune --dry-run)."""
    def count(query) -> int:
        return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    return Erased(count(_expired_events(now, days)), count(_expired_excerpts(now, days)))


def _in_batches(sessions: sessionmaker[Session], expired, change, progress: Callable[[int], None] | None) -> int:
    """Apply `change` to the rows `expired` selects, a batch per transaction (rows taken with SKIP LOCKED), so
    no pass holds many rows locked: a privacy erasure or a replay of one of them waits a batch at most."""
    done = 0
    for _ in range(MAX_BATCHES):
        with transaction(sessions) as session:
            ids = list(session.scalars(expired.limit(BATCH).with_for_update(skip_locked=True)))
            if ids:
                session.execute(change(ids))
        done += len(ids)
        if progress is not None:
            progress(len(ids))
        if len(ids) < BATCH:
            break
    return done


def erase(sessions: sessionmaker[Session], now: datetime, days: int,
          progress: Callable[[int], None] | None = None) -> Erased:
    """Erase what is past keeping, in batches: two workers never fight over the same rows (`progress(n)` after
    each batch: the command line's bar)."""
    bodies = _in_batches(sessions, _expired_events(now, days),
                         lambda ids: update(Event).where(Event.id.in_(ids)).values(body=EXPIRED), progress)
    excerpts = _in_batches(sessions, _expired_excerpts(now, days),
                           lambda ids: update(DeliveryAttempt).where(DeliveryAttempt.id.in_(ids)).values(excerpt=None),
                           progress)
    return Erased(bodies, excerpts)
