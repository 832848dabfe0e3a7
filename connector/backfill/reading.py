"""A run's first part: the platform's orders of the window read (PlatformAdapter.backfill_orders) into
backfill_orders, checkpoint by checkpoint, so a run killed half-way reads on where it stopped.

Orders are kept as the adapter's normaliser reads them (compressed), under (run, order id): an order read twice
(a boundary a resumed reading repeats, an order changed while the store was read) is kept once, in its latest
state. Each checkpoint's resume token is saved with the orders before it, in one transaction. No transaction is
open while the adapter calls the platform.
"""

from __future__ import annotations

import logging
import time
import zlib
from datetime import datetime
from typing import Callable

from sqlalchemy.orm import Session, sessionmaker

from connector import registry
from connector.backfill import runs
from connector.core.platform import PastOrder, ReadCheckpoint
from connector.db import insert, transaction
from connector.models import BackfillOrder, BackfillRun, Store

log = logging.getLogger("connector.backfill")

#: orders kept per transaction while a long download (one checkpoint at its end) is read
STAGE_BATCH = 500
MAX_ORDER_ID = 64


class LeaseLost(Exception):
    """Another process holds the run now (this one's lease ran out): it stops, keeping nothing more."""


def read(settings, sessions: sessionmaker[Session], run_id: int, worker_id: str, clock: Callable[[], datetime], *,
         deadline: float | None = None, advance: Callable[[int], None] | None = None) -> bool:
    """Read on from the run's last checkpoint: True when the reading is over, False when `deadline` (monotonic)
    passed at a checkpoint (the rest is read next time). Platform errors propagate; what was kept stays kept."""
    with sessions() as session:
        run = session.get(BackfillRun, run_id)
        store = session.get(Store, run.store_id)
        since, token, calls_before, platform = run.since, run.read_token, run.calls, store.platform
        store_id = store.id
    adapter = registry.get(platform)
    reader = getattr(adapter, "backfill_orders", None)
    if reader is None:
        raise runs.BackfillNotPossible(f"{platform} stores cannot be backfilled")
    pending: list[PastOrder] = []
    items = reader(settings, sessions, store_id, since, token)
    try:
        for item in items:
            if isinstance(item, PastOrder):
                if _fits(item, since):
                    pending.append(item)
                if len(pending) >= STAGE_BATCH:
                    _keep(sessions, run_id, worker_id, pending, None, calls_before, clock())
                    _advance(advance, pending)
                    pending = []
                continue
            if not isinstance(item, ReadCheckpoint):
                raise TypeError(f"backfill_orders yielded {type(item).__name__}")
            _keep(sessions, run_id, worker_id, pending, item, calls_before, clock())
            _advance(advance, pending)
            pending = []
            if item.done:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # a generator stopped at a checkpoint lets go of its connections now
    raise runs.BackfillNotPossible("the platform's reading ended without saying it was done")


def _advance(advance: Callable[[int], None] | None, orders: list) -> None:
    if advance is not None and orders:
        advance(len(orders))


def _fits(order: PastOrder, since: datetime) -> bool:
    """An order of the window with an id the table can hold; anything else is left out (and logged)."""
    if not order.order_id or len(order.order_id) > MAX_ORDER_ID or order.placed_at.tzinfo is None:
        log.warning("backfill: order %r left out: its id or time cannot be kept", order.order_id[:80])
        return False
    return order.placed_at >= since


def _keep(sessions: sessionmaker[Session], run_id: int, worker_id: str, orders: list[PastOrder],
          checkpoint: ReadCheckpoint | None, calls_before: int, now: datetime) -> None:
    """The orders (latest state wins) and the checkpoint, in one transaction, if the run is still this worker's."""
    with transaction(sessions) as session:
        if orders:
            rows = {o.order_id: {"run_id": run_id, "platform_order_id": o.order_id, "placed_at": o.placed_at,
                                 "topic": o.topic, "body": zlib.compress(o.body, 6)} for o in orders}
            statement = insert(session, BackfillOrder)
            session.execute(statement.on_conflict_do_update(
                index_elements=["run_id", "platform_order_id"],
                set_={"placed_at": statement.excluded.placed_at, "topic": statement.excluded.topic,
                      "body": statement.excluded.body}), list(rows.values()))
        values = {"updated_at": now, "orders_read": runs.staged_count(session, run_id), "lease_until": now + runs.LEASE,
                  "error": None}
        if checkpoint is not None:
            values.update(read_token=checkpoint.resume, read_note=checkpoint.note or None,
                          calls=calls_before + checkpoint.calls, orders_expected=checkpoint.expected)
            if checkpoint.done:
                values.update(status=runs.CREDITING, read_note=None)
        if not runs.still_ours(session, run_id, worker_id, **values):
            raise LeaseLost(run_id)
