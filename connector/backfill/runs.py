"""A backfill run's life on its row: started (or resumed, or a dry run's orders taken over by its commit), leased
to the one process working on it, finished; and what the command line and the merchant page show of it.

One unfinished run per store: `active_store_id` holds the store's id until the run finishes, under a unique
constraint, so two starts at once make one run and the other is told a backfill is running. A run whose process
died is found again by its lease running out: the command line resumes its own by being run again, the worker
the merchant page's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.errors import ConnectorError
from connector.models import BackfillOrder, BackfillRun, Store

DRY_RUN, COMMIT = "dry_run", "commit"
CLI, WORKER = "cli", "worker"
READING, CREDITING, DONE, FAILED, STOPPED = "reading", "crediting", "done", "failed", "stopped"
UNFINISHED = (READING, CREDITING)
#: how long a finished dry run's orders are kept for its commit to credit exactly them; after that a commit reads
#: the store again (and the orders are erased: they hold customers' emails)
REUSE = timedelta(hours=1)
MAX_DAYS = 3650
#: how long a process's hold on a run lasts; renewed at every checkpoint and batch
LEASE = timedelta(minutes=5)


class BackfillBusy(ConnectorError):
    """A backfill of this store is running already."""


class BackfillNotPossible(ConnectorError):
    """This backfill cannot be started."""


@dataclass(frozen=True)
class RunView:
    """What the command line and the page show of a run."""

    id: int
    store_id: int
    mode: str
    runner: str
    status: str
    days: int
    since: datetime
    requested_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    orders_read: int
    orders_expected: int | None
    orders_done: int
    calls: int
    read_note: str | None
    error: str | None
    figures: dict | None
    of_run_id: int | None

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED


def view(run: BackfillRun) -> RunView:
    return RunView(run.id, run.store_id, run.mode, run.runner, run.status, run.days, run.since, run.requested_at,
                   run.updated_at, run.finished_at, run.orders_read, run.orders_expected, run.orders_done, run.calls,
                   run.read_note, run.error, run.figures, run.of_run_id)


def active_run(session: Session, store_id: int) -> BackfillRun | None:
    return session.scalars(select(BackfillRun).where(BackfillRun.active_store_id == store_id)).first()


def latest(session: Session, store_id: int, mode: str | None = None) -> BackfillRun | None:
    query = select(BackfillRun).where(BackfillRun.store_id == store_id)
    if mode is not None:
        query = query.where(BackfillRun.mode == mode)
    return session.scalars(query.order_by(BackfillRun.id.desc()).limit(1)).first()


def reusable_dry_run(session: Session, store_id: int, days: int, now: datetime) -> BackfillRun | None:
    """The store's last dry run, if it finished within REUSE with these days and nothing has committed it since."""
    run = latest(session, store_id)
    if run is None or run.mode != DRY_RUN or run.status != DONE or run.days != days:
        return None
    if run.finished_at is None or now - run.finished_at > REUSE:
        return None
    return run


def start(session: Session, store_id: int, *, days: int, mode: str, runner: str, now: datetime,
          of_run_id: int | None = None) -> BackfillRun:
    """The store's unfinished run if it is this one (resumed), else a new one; BackfillBusy while another works.

    An unfinished run of other days, mode or runner whose process is gone (its lease ran out) is stopped and
    replaced. A commit takes over a finished dry run of the same days (`of_run_id`, or the store's last one
    within REUSE): it credits exactly that run's orders, without reading the store again.
    """
    if not 1 <= days <= MAX_DAYS:
        raise BackfillNotPossible(f"--days must be between 1 and {MAX_DAYS}")
    store = session.get(Store, store_id)
    if store is None or store.status != "active":
        raise BackfillNotPossible(f"the store is {store.status if store else 'gone'}: only an active store is read")
    current = active_run(session, store_id)
    if current is not None:
        held = current.lease_until is not None and current.lease_until > now
        if current.mode == mode and current.days == days and of_run_id in (None, current.of_run_id):
            if held and current.runner != runner:
                raise BackfillBusy(_running(current))
            current.runner = runner  # resumed where it stopped, by whoever asks for it again
            return current
        if held or current.mode == COMMIT:
            # A commit half-way is finished, never replaced: what it credited stays, the rest is still owed.
            raise BackfillBusy(_running(current) + (f"; finish it with --days {current.days} --commit"
                                                    if current.mode == COMMIT else ""))
        finish(session, current, now, STOPPED, "replaced by a new backfill before it finished")
        session.flush()
    source = None
    if mode == COMMIT:
        source = session.get(BackfillRun, of_run_id) if of_run_id else reusable_dry_run(session, store_id, days, now)
        if of_run_id and (source is None or source.store_id != store_id or
                          source is not reusable_dry_run(session, store_id, source.days, now)):
            raise BackfillNotPossible("that dry run is no longer the store's latest, or is over an hour old: "
                                      "run a new dry run first")
    run = BackfillRun(store_id=store_id, active_store_id=store_id, mode=mode, runner=runner, days=days,
                      since=now - timedelta(days=days), status=READING, requested_at=now, updated_at=now, calls=0,
                      orders_read=0, orders_done=0)
    if source is not None:
        run.days, run.since, run.status, run.of_run_id = source.days, source.since, CREDITING, source.id
        run.orders_read, run.orders_expected = source.orders_read, source.orders_read
    session.add(run)
    try:
        session.flush()
    except IntegrityError:
        raise BackfillBusy("a backfill of this store was started a moment ago") from None
    if source is not None:
        session.execute(update(BackfillOrder).where(BackfillOrder.run_id == source.id).values(run_id=run.id)
                        .execution_options(synchronize_session=False))
    return run


def claim(session: Session, run_id: int, worker_id: str, now: datetime, seconds: float) -> bool:
    """Lease the run to `worker_id` (free, run out, or its own already); False when another holds it."""
    result = session.execute(
        update(BackfillRun)
        .where(BackfillRun.id == run_id, BackfillRun.status.in_(UNFINISHED),
               or_(BackfillRun.lease_until.is_(None), BackfillRun.lease_until <= now,
                   BackfillRun.claimed_by == worker_id))
        .values(lease_until=now + timedelta(seconds=seconds), claimed_by=worker_id)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def claim_for_worker(session: Session, worker_id: str, now: datetime, seconds: float) -> int | None:
    """One unfinished run the merchant page asked for, not leased, leased to this worker."""
    candidate = (select(BackfillRun.id)
                 .where(BackfillRun.runner == WORKER, BackfillRun.status.in_(UNFINISHED),
                        or_(BackfillRun.lease_until.is_(None), BackfillRun.lease_until <= now))
                 .order_by(BackfillRun.id).limit(1).with_for_update(skip_locked=True))
    return session.execute(
        update(BackfillRun).where(BackfillRun.id.in_(candidate.scalar_subquery()))
        .values(lease_until=now + timedelta(seconds=seconds), claimed_by=worker_id)
        .returning(BackfillRun.id).execution_options(synchronize_session=False)).scalar()


def release(session: Session, run_id: int, worker_id: str, until: datetime | None = None) -> None:
    """Give the lease back (`until`: not to be taken again before then, after a failure that may pass)."""
    session.execute(update(BackfillRun).where(BackfillRun.id == run_id, BackfillRun.claimed_by == worker_id)
                    .values(lease_until=until, claimed_by=None).execution_options(synchronize_session=False))


def still_ours(session: Session, run_id: int, worker_id: str, **values) -> bool:
    """Record `values` on the run if this worker still holds it (checked in the statement that writes them)."""
    result = session.execute(update(BackfillRun)
                             .where(BackfillRun.id == run_id, BackfillRun.claimed_by == worker_id,
                                    BackfillRun.status.in_(UNFINISHED))
                             .values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1


def finish(session: Session, run: BackfillRun, now: datetime, status: str, error: str | None = None) -> None:
    """The run is over: no longer the store's unfinished one; its orders erased unless a commit may still use them."""
    run.status, run.error, run.finished_at, run.updated_at = status, error, now, now
    run.active_store_id = run.lease_until = run.claimed_by = None
    if not (status == DONE and run.mode == DRY_RUN):
        session.execute(delete(BackfillOrder).where(BackfillOrder.run_id == run.id)
                        .execution_options(synchronize_session=False))


def prune(session: Session, now: datetime) -> int:
    """Erase the orders of finished dry runs past REUSE (they hold customers' emails); how many went."""
    stale = select(BackfillRun.id).where(BackfillRun.status.not_in(UNFINISHED),
                                         BackfillRun.finished_at <= now - REUSE)
    result = session.execute(delete(BackfillOrder).where(BackfillOrder.run_id.in_(stale.scalar_subquery()))
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0


def staged_count(session: Session, run_id: int) -> int:
    return session.scalar(select(func.count()).select_from(BackfillOrder).where(BackfillOrder.run_id == run_id)) or 0


def _running(run: BackfillRun) -> str:
    return (f"a {run.mode.replace('_', ' ')} of the last {run.days} days is unfinished (started "
            f"{run.requested_at:%Y-%m-%d %H:%M} UTC, {run.orders_done} of {run.orders_read} orders done)")
