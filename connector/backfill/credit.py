"""A run's second part: the orders it read, oldest first, each decided as its webhook would be, by the same code
(connector.crediting: gather, the pure decide, write), batch by batch.

- **Commit**: a batch's credits, the run's cursor and its figures are written in one transaction, so a run killed
  half-way goes on after the last batch it committed, each order once. The purchase conversions carry
  `data.backfill: true`. Every conversion still has its per-store dedupe key (`purchase:<order>`), so an order its
  webhooks credited, or an earlier backfill, is "already credited" and nothing is sent twice; webhooks of an order
  after its backfill find it credited the same way.
- **Dry run**: the same batch, in a transaction that is rolled back; only the figures and the cursor are then
  written, to the run's own row. Nothing that later crediting reads is kept (no order, record or conversion), and
  the figures are what the commit's code decided, not a second account of it. What it cannot see: a batch's
  orders are undone before the next batch, so a returning customer's later order that would inherit from an
  earlier one of the same window (`lifetime_days`), or a renewal whose start is in the window, is counted by what
  is credited already; the commit, which keeps each batch, may credit a few more.

Each order runs in a savepoint: one the database cannot keep is undone alone and counted as unreadable. An order
that would wait (placed minutes ago, its browser report or Shopify's visits not in yet) is left to its webhooks.
What the decision needs from the platform (`enrich`: a renewal's start, exact refunds) is read before the batch's
transaction, as the worker does; visits are never read order by order (Shopify's bulk read carries them).
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from connector import registry
from connector.backfill import figures as figures_
from connector.backfill import runs
from connector.backfill.reading import LeaseLost
from connector.core.crediting import decide
from connector.core.platform import Journey, OrderEvent
from connector.crediting import enrichment
from connector.crediting.facts import gather
from connector.crediting.writes import write
from connector.db import transaction
from connector.errors import MalformedPayload, PlatformError
from connector.models import BackfillOrder, BackfillRun, Store

log = logging.getLogger("connector.backfill")

BATCH = 100


@dataclass(frozen=True)
class _Prepared:
    row_id: int
    order_id: str
    placed_at: datetime
    event: OrderEvent | None
    #: why it could not be read, when it could not
    unreadable: str | None = None


class _Undo(Exception):
    """Undo this order's savepoint: it is not written (it would wait: its webhooks credit it)."""


def credit(settings, sessions: sessionmaker[Session], run_id: int, worker_id: str, clock: Callable[[], datetime], *,
           deadline: float | None = None, advance: Callable[[int], None] | None = None) -> bool:
    """Decide the run's orders after its cursor, a batch at a time: True when none is left, False when `deadline`
    (monotonic) passed between batches. PlatformError (enrich could not read what must not be guessed) propagates."""
    with sessions() as session:
        run = session.get(BackfillRun, run_id)
        store = session.get(Store, run.store_id)
        platform, store_id, committing = store.platform, store.id, run.mode == runs.COMMIT
    adapter = registry.get(platform)
    while True:
        with sessions() as session:
            run = session.get(BackfillRun, run_id)
            rows = _next_batch(session, run)
        if not rows:
            return True
        prepared = [_prepare(settings, sessions, adapter, store_id, row) for row in rows]
        _apply(sessions, store_id, run_id, worker_id, prepared, clock(), committing)
        if advance is not None:
            advance(len(prepared))
        if deadline is not None and time.monotonic() >= deadline:
            return False


def _next_batch(session: Session, run: BackfillRun) -> list[BackfillOrder]:
    query = select(BackfillOrder).where(BackfillOrder.run_id == run.id)
    if run.cursor_placed_at is not None:
        query = query.where(or_(BackfillOrder.placed_at > run.cursor_placed_at,
                                and_(BackfillOrder.placed_at == run.cursor_placed_at,
                                     BackfillOrder.platform_order_id > run.cursor_order_id)))
    return list(session.scalars(query.order_by(BackfillOrder.placed_at, BackfillOrder.platform_order_id)
                                .limit(BATCH)))


def _prepare(settings, sessions: sessionmaker[Session], adapter, store_id: int, row: BackfillOrder) -> _Prepared:
    """The order as a neutral event, with what it needs read from the platform; outside any transaction."""
    keep = dict(row_id=row.id, order_id=row.platform_order_id, placed_at=row.placed_at)
    try:
        event = adapter.normalise(row.topic, zlib.decompress(row.body))
    except (MalformedPayload, zlib.error) as exc:
        return _Prepared(event=None, unreadable=str(exc), **keep)
    if not isinstance(event, OrderEvent):
        return _Prepared(event=None, unreadable="not an order", **keep)
    enrich = getattr(adapter, "enrich", None)
    # Visits are never read order by order (that would be a call per order): the platform's backfill read carries
    # them (Shopify's bulk query) or the platform has none. What else may be needed is asked only when the event
    # shows it could be: refunds to read exactly, a renewal without its start.
    maybe = bool(event.refunds) or (event.renewal is not None and not event.renewal.origin_order_id)
    if enrich is None or not maybe:
        return _Prepared(event=event, **keep)
    with sessions() as session:
        needs = replace(enrichment.needs_for(session, store_id, event), journey=False)
    if not needs:
        return _Prepared(event=event, **keep)
    try:
        return _Prepared(event=enrich(settings, sessions, store_id, event, needs), **keep)
    except PlatformError as exc:
        if needs.renewal_origin or needs.refunds:
            raise  # a renewal's start or exact refunds are worth waiting for: the batch is tried again later
        log.warning("backfill: order %s's visits could not be read (%s); decided without them", row.platform_order_id,
                    exc)
        return _Prepared(event=replace(event, journey=Journey(ready=True, error=f"could not be read: {exc}")), **keep)


def _apply(sessions: sessionmaker[Session], store_id: int, run_id: int, worker_id: str, batch: list[_Prepared],
           now: datetime, committing: bool) -> list[figures_.OrderOutcome]:
    """Decide the batch in one transaction, kept with the run's progress (commit) or rolled back (dry run)."""
    session = sessions()
    try:
        session.begin()
        store = session.get(Store, store_id)
        outcomes = [_one(session, store, item, now) for item in batch]
        if committing:
            _progress(session, run_id, worker_id, batch[-1], outcomes, now)
            session.commit()
        else:
            session.rollback()
            with transaction(sessions) as progress_session:
                _progress(progress_session, run_id, worker_id, batch[-1], outcomes, now)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return outcomes


def _progress(session: Session, run_id: int, worker_id: str, last: _Prepared,
              outcomes: list[figures_.OrderOutcome], now: datetime) -> None:
    run = session.get(BackfillRun, run_id, populate_existing=True)
    if run is None or run.claimed_by != worker_id:
        raise LeaseLost(run_id)
    if not runs.still_ours(session, run_id, worker_id, cursor_placed_at=last.placed_at,
                           cursor_order_id=last.order_id, orders_done=run.orders_done + len(outcomes),
                           figures=figures_.add(run.figures, outcomes), updated_at=now,
                           lease_until=now + runs.LEASE, error=None):
        raise LeaseLost(run_id)


def _one(session: Session, store: Store, item: _Prepared, now: datetime) -> figures_.OrderOutcome:
    """One order in a savepoint: what the worker would write for it (kept only when the batch is committed)."""
    name = item.order_id
    if item.event is None:
        return figures_.OrderOutcome(order_name=name, reason="unreadable", detail=item.unreadable)
    name = item.event.order_name or item.order_id
    outcome = None
    try:
        with session.begin_nested():
            order, facts = gather(session, store, item.event, now, None)
            decision = decide(facts, now, timedelta(0))
            outcome = _outcome(name, facts, decision)
            if outcome.reason == "waiting":
                raise _Undo()
            # Written in a dry run too, so the batch's later orders see it (a customer's earlier order); the
            # batch's transaction is rolled back then.
            if decision.purchase is not None:
                decision = replace(decision, purchase={**decision.purchase, "backfill": True})
            write(session, store, order, decision, now)
    except _Undo:
        pass
    except DBAPIError as exc:  # values this database cannot keep: the order alone is undone
        log.warning("backfill: order %s could not be kept: %s", item.order_id, exc.orig or exc)
        return figures_.OrderOutcome(order_name=name, reason="unreadable", detail=str(exc.orig or exc)[:200])
    return outcome


def _outcome(name: str, facts, decision) -> figures_.OrderOutcome:
    event: OrderEvent = facts.event
    reversals = tuple(reversal.kind for reversal in decision.reversals)
    if decision.retry_at is not None:
        return figures_.OrderOutcome(order_name=name, reason="waiting")
    if decision.purchase is not None:
        purchase = decision.purchase
        return figures_.OrderOutcome(order_name=name, method=purchase["method"], amount=purchase["amount"].amount,
                                     currency=purchase["amount"].currency,
                                     credits=tuple((tid, share) for tid, share in purchase["credits"]),
                                     reversals=reversals)
    if event.cancelled or facts.cancelled:
        reason = "already_credited" if facts.purchase is not None and not event.cancelled else "cancelled"
    elif facts.purchase is not None:
        reason = "already_credited"
    else:
        reason = decision.outcome or "no_signal"
    return figures_.OrderOutcome(order_name=name, reason=reason, reversals=reversals)
