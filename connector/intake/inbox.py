"""The inbox: raw webhook deliveries stored idempotently at the edge, claimed by workers with a lease."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import psycopg
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from connector import crypto
from connector.errors import StorageUnavailable
from connector.models import Event, Store
from connector.models.events import ERASED_BODIES
from connector.core.platform import StoreView

STORED, DUPLICATE = "stored", "duplicate"
#: the PostgreSQL channel a newly stored event is announced on (connector/worker/wake.py listens)
EVENTS_CHANNEL = "connector_events"


class StoreCache:
    """Known stores by (platform, key) for a few seconds, so the edge does one statement per delivery.

    Only stores that exist are cached: a store added a moment ago must never be taken for unknown.
    """

    def __init__(self, engine: Engine, secret_keys: tuple[str, ...], ttl: float = 10.0):
        self._engine, self._secret_keys, self._ttl = engine, secret_keys, ttl
        self._entries: dict[tuple[str, str], tuple[float, StoreView]] = {}
        self._lock = threading.Lock()

    def get(self, platform: str, domain: str) -> StoreView | None:
        key = (platform, domain)
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        with self._engine.connect() as connection:
            row = connection.execute(
                select(Store.id, Store.domain, Store.webhook_secret_encrypted, Store.platform_shop_id,
                       Store.storefront_url).where(Store.platform == platform, Store.domain == domain)
            ).first()
        if row is None:
            return None
        secret = crypto.decrypt(self._secret_keys, row.id, row.webhook_secret_encrypted) if row.webhook_secret_encrypted else None
        view = StoreView(id=row.id, domain=row.domain, webhook_secret=secret, shop_id=row.platform_shop_id,
                         storefront_host=_host(row.storefront_url))
        with self._lock:
            self._entries[key] = (time.monotonic() + self._ttl, view)
        return view


def _host(url: str | None) -> str | None:
    try:
        return (urlsplit(url).hostname or "").lower() or None if url else None
    except ValueError:
        return None


EVENT_COLUMNS = ("store_id", "platform", "delivery_id", "topic", "body", "received_at", "triggered_at", "status",
                 "attempts")


@lru_cache(maxsize=4)
def _insert_events(dialect: str):
    """The edge's one statement, built once per dialect so each batch only binds its values."""
    table = Event.__table__
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in EVENT_COLUMNS})
        .on_conflict_do_nothing(index_elements=["store_id", "delivery_id"])
        # Which rows went in: a delivery id already stored returns nothing.
        .returning(table.c.store_id, table.c.delivery_id)
    )


def delivery_row(*, store_id: int, platform: str, delivery_id: str, topic: str, body: bytes, now: datetime,
                 triggered_at: datetime | None = None) -> dict:
    return {
        "store_id": store_id, "platform": platform, "delivery_id": delivery_id, "topic": topic, "body": body,
        "received_at": now, "triggered_at": triggered_at, "status": "pending", "attempts": 0,
    }


@lru_cache(maxsize=4)
def _insert_sql(dialect) -> str:
    """The PostgreSQL edge's statement: the insert, and a NOTIFY only when a row went in.

    pg_notify in the same statement is part of its transaction, so listening workers hear of the event when
    it commits (never before it is visible, never for a duplicate); a worker that is not listening finds it
    at its next poll anyway. The payload is the schema, so that deployments sharing a database in schemas of
    their own never wake each other's workers.
    """
    insert = _insert_events(dialect.name).compile(dialect=dialect)
    return f"WITH stored AS ({insert}) SELECT pg_notify('{EVENTS_CHANNEL}', current_schema()) FROM stored"


def store_delivery(engine: Engine, **fields) -> str:
    """Insert the raw delivery unless that delivery id was stored already; committed when this returns."""
    row = delivery_row(**fields)
    if engine.dialect.name == "postgresql":
        # The edge's hot path. One statement in autocommit is atomic and durable when it returns, so
        # there is no BEGIN or COMMIT round trip; and it goes straight to psycopg, which prepares it
        # after a few uses. Measured against BEGIN/INSERT/COMMIT through SQLAlchemy Core: about half the
        # client CPU and two thirds of the server CPU per delivery (bench/ingest.py).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            try:
                cursor = connection.connection.driver_connection.execute(_insert_sql(engine.dialect), row)
                inserted = cursor.fetchone() is not None
            except psycopg.Error as exc:
                # Bypassing SQLAlchemy means doing its part: drop a broken connection from the pool.
                if isinstance(exc, psycopg.OperationalError) or connection.connection.driver_connection.closed:
                    connection.invalidate(exc)
                raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc
    else:
        with engine.begin() as connection:
            inserted = connection.execute(_insert_events(engine.dialect.name), row).first() is not None
    return STORED if inserted else DUPLICATE


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    store_id: int
    platform: str
    topic: str
    body: bytes
    attempts: int
    received_at: datetime


def claim_events(session: Session, worker_id: str, now: datetime, lease_seconds: float, limit: int) -> list[ClaimedEvent]:
    """Claim up to `limit` due events in one statement; SKIP LOCKED lets other workers take the rest."""
    due = (
        select(Event.id)
        .where(Event.status == "pending", or_(Event.lease_until.is_(None), Event.lease_until <= now))
        .order_by(Event.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(Event)
        .where(Event.id.in_(due.scalar_subquery()))
        .values(lease_until=now + timedelta(seconds=lease_seconds), claimed_by=worker_id)
        .returning(Event.id, Event.store_id, Event.platform, Event.topic, Event.body, Event.attempts,
                   Event.received_at)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((ClaimedEvent(*row) for row in claimed), key=lambda event: event.id)


def settle_event(session: Session, event_id: int, worker_id: str, **values) -> bool:
    """Record how handling a claimed event ended; False when the claim is no longer this worker's.

    The claim is checked here, at the end, in the statement that records the outcome (and locks the row
    until the commit), rather than by reading the row first: one round trip less per event. A worker whose
    lease ran out then rolls back what it did; the worker that holds the claim now handles the event.
    """
    result = session.execute(
        update(Event)
        .where(Event.id == event_id, Event.claimed_by == worker_id, Event.status == "pending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release_events(session: Session, worker_id: str) -> int:
    """Give back this worker's unfinished claims so another worker can take them at once."""
    result = session.execute(
        update(Event)
        .where(Event.claimed_by == worker_id, Event.status == "pending")
        .values(lease_until=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def replay_events(session: Session, event_ids: list[int] | None, statuses: tuple[str, ...], now: datetime) -> list[int]:
    """Queue stored events again: the named ones, or every one in the given statuses (both given: the named
    ones still in those statuses, as a replay of many in batches asks).

    An event whose body was erased (past CONNECTOR_RETENTION_DAYS, or by a privacy request) has nothing left
    to handle: it is not queued (the caller says how many were asked for and how many went).
    """
    query = select(Event).where(Event.body.not_in(ERASED_BODIES))
    if event_ids:
        query = query.where(Event.id.in_(event_ids))
    if statuses or not event_ids:
        query = query.where(Event.status.in_(statuses))
    replayed = []
    for event in session.scalars(query.with_for_update()):
        event.status, event.attempts, event.error = "pending", 0, None
        event.lease_until = event.claimed_by = event.handled_at = None
        replayed.append(event.id)
    if replayed:
        announce_events(session)
    return replayed


def announce_events(session: Session) -> None:
    """Tell listening workers (PostgreSQL) that events are due, when this transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(EVENTS_CHANNEL, func.current_schema())))
