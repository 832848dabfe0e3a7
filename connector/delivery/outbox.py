"""The outbox: conversions due for delivery, claimed with a lease; each attempt recorded; replays."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, aliased, load_only

from connector.delivery.forwarder import DeliveryResult
from connector.models import Conversion, DeliveryAttempt
from connector.core.retry import next_attempt_at


@dataclass(frozen=True)
class DueConversion:
    id: str
    body: str
    attempts: int


def claim_due(session: Session, worker_id: str, now: datetime, lease_seconds: float, limit: int) -> list[DueConversion]:
    """Claim up to `limit` conversions due now in one statement (SKIP LOCKED on PostgreSQL).

    A refund or cancellation waits until the purchase it reverses was delivered, so the backend never
    sees a reversal of a purchase it has not received.
    """
    purchase = aliased(Conversion)
    due = (
        select(Conversion.id)
        .where(
            Conversion.status == "pending",
            Conversion.next_attempt_at <= now,
            or_(Conversion.lease_until.is_(None), Conversion.lease_until <= now),
            or_(
                Conversion.reverses.is_(None),
                exists().where(purchase.id == Conversion.reverses, purchase.status == "delivered"),
            ),
        )
        .order_by(Conversion.next_attempt_at, Conversion.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(Conversion)
        .where(Conversion.id.in_(due.scalar_subquery()))
        .values(lease_until=now + timedelta(seconds=lease_seconds), claimed_by=worker_id)
        .returning(Conversion.id, Conversion.body, Conversion.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    return [DueConversion(*row) for row in rows]


def record_results(
    session: Session,
    worker_id: str,
    results: Sequence[tuple[str, DeliveryResult]],
    now: datetime,
    schedule: Sequence[float],
    rng: random.Random,
) -> dict[str, str]:
    """Record a batch of attempts and move each conversion on: delivered, retried later, or failed.

    One transaction for the whole batch (a commit per delivery was the forwarder's bottleneck).
    Returns each conversion's new status.
    """
    session.add_all(
        DeliveryAttempt(
            conversion_id=conversion_id,
            attempted_at=result.attempted_at or now,
            status_code=result.status_code,
            error=result.error,
            excerpt=result.excerpt,
            duration_ms=result.duration_ms,
            worker=worker_id,
        )
        for conversion_id, result in results
    )
    by_id = dict(results)
    rows = session.scalars(
        select(Conversion)
        .options(load_only(Conversion.status, Conversion.attempts, Conversion.claimed_by))
        .where(Conversion.id.in_(by_id))
        .order_by(Conversion.id)  # a fixed lock order: two workers never deadlock on each other's rows
        .with_for_update()
    ).all()
    statuses = {}
    for conversion in rows:
        statuses[conversion.id] = _move_on(conversion, by_id[conversion.id], worker_id, now, schedule, rng)
    return statuses


def _move_on(conversion: Conversion, result: DeliveryResult, worker_id: str, now: datetime,
             schedule: Sequence[float], rng: random.Random) -> str:
    if conversion.status != "pending":
        return conversion.status  # delivered meanwhile by a worker that took over an expired lease
    if not result.ok and conversion.claimed_by != worker_id:
        return conversion.status  # our lease ran out: the worker that owns it now counts its own attempts
    conversion.attempts += 1
    if result.ok:
        conversion.status, conversion.delivered_at, conversion.last_error = "delivered", now, None
    else:
        conversion.last_error = result.describe()
        retry_at = next_attempt_at(conversion.attempts, now, schedule, rng, result.retry_after)
        if retry_at is None:
            conversion.status = "failed"
        else:
            conversion.next_attempt_at = retry_at
    conversion.lease_until = conversion.claimed_by = None
    return conversion.status


def release_conversions(session: Session, worker_id: str) -> int:
    result = session.execute(
        update(Conversion)
        .where(Conversion.claimed_by == worker_id, Conversion.status == "pending")
        .values(lease_until=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def replay(session: Session, conversion_ids: Sequence[str] | None, now: datetime, *,
           only_failed: bool = False) -> list[str]:
    """Queue conversions again with the same id and body: the named ones, or every failed one (both: the named
    ones still failed, as a replay of many in batches asks)."""
    query = select(Conversion)
    if conversion_ids:
        query = query.where(Conversion.id.in_(conversion_ids))
    if only_failed or not conversion_ids:
        query = query.where(Conversion.status == "failed")
    replayed = []
    for conversion in session.scalars(query.with_for_update()):
        conversion.status = "pending"
        conversion.next_attempt_at = now
        conversion.attempts = 0
        conversion.lease_until = conversion.claimed_by = None
        replayed.append(conversion.id)
    return replayed
