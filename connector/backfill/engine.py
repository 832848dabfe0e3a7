"""Starting and driving a backfill: the command line runs one to the end in its own process (with progress bars);
the worker takes the merchant page's in slices of its maintenance loop, so no web request waits for one and a
long backfill never holds up the other stores' maintenance for long.

A run goes reading → crediting → done. A platform error that may pass (an outage, throttling) leaves the run where
it stopped, to be taken up again (the command run again; the worker a minute later); a refusal that cannot pass (a
scope not granted, credentials refused) fails it with the platform's reason for the merchant.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import Callable, ContextManager

from sqlalchemy.orm import Session, sessionmaker

from connector.backfill import credit, reading, runs
from connector.core.platform import BackfillRefused
from connector.db import transaction
from connector.errors import PlatformAuthError, PlatformError
from connector.models import BackfillRun

log = logging.getLogger("connector.backfill")

#: how long the worker works on one run before it lets the rest of its maintenance go on
SLICE_SECONDS = 15.0
#: after an error that may pass, how long the worker leaves a run before trying it again
RETRY_AFTER = timedelta(seconds=60)
#: how often a worker erases the orders of dry runs no commit took up (runs.REUSE)
PRUNE_EVERY = 600.0
_pruned_at: float | None = None

Bars = Callable[[str, "int | None"], ContextManager[Callable[[int], None]]]


@contextlib.contextmanager
def _no_bar(_label: str, _length: int | None):
    yield lambda _n=1: None


def begin(sessions: sessionmaker[Session], store_id: int, *, days: int, mode: str, runner: str, now: datetime,
          of_run_id: int | None = None) -> runs.RunView:
    """Start the store's backfill (or find the unfinished one it resumes); BackfillBusy, BackfillNotPossible."""
    with transaction(sessions) as session:
        return runs.view(runs.start(session, store_id, days=days, mode=mode, runner=runner, now=now,
                                    of_run_id=of_run_id))


def current(sessions: sessionmaker[Session], run_id: int) -> runs.RunView:
    with sessions() as session:
        return runs.view(session.get(BackfillRun, run_id))


def drive(settings, sessions: sessionmaker[Session], run_id: int, worker_id: str, clock: Callable[[], datetime], *,
          deadline: float | None = None, bars: Bars | None = None) -> runs.RunView:
    """Work on the run until it is over or `deadline` (monotonic) passes; the run as it then stands.

    BackfillBusy when another process holds it. PlatformError (one that may pass) propagates after the run's
    `error` records it; the run stays where it stopped.
    """
    bars = bars or _no_bar
    with transaction(sessions) as session:
        if not runs.claim(session, run_id, worker_id, clock(), runs.LEASE.total_seconds()):
            run = session.get(BackfillRun, run_id)
            if run is not None and run.status not in runs.UNFINISHED:
                return runs.view(run)
            raise runs.BackfillBusy("another process is working on this backfill")
    try:
        _phases(settings, sessions, run_id, worker_id, clock, deadline, bars)
    except reading.LeaseLost:
        log.warning("backfill %s: another process took it over; this one stops", run_id)
    except (BackfillRefused, PlatformAuthError, runs.BackfillNotPossible) as exc:
        _end(sessions, run_id, clock(), runs.FAILED, str(exc))
    except PlatformError as exc:
        with transaction(sessions) as session:
            runs.still_ours(session, run_id, worker_id, error=f"stopped for now: {exc}"[:2000], updated_at=clock())
        raise
    return current(sessions, run_id)


def _phases(settings, sessions, run_id: int, worker_id: str, clock, deadline: float | None, bars: Bars) -> None:
    run = current(sessions, run_id)
    if run.status == runs.READING:
        label = "reading the store's orders"
        with bars(label, run.orders_expected) as advance:
            if not reading.read(settings, sessions, run_id, worker_id, clock, deadline=deadline, advance=advance):
                return
        run = current(sessions, run_id)
    if run.status == runs.CREDITING:
        verb = "crediting" if run.mode == runs.COMMIT else "deciding (dry run)"
        with bars(f"{verb}, oldest first", max(run.orders_read - run.orders_done, 0)) as advance:
            if not credit.credit(settings, sessions, run_id, worker_id, clock, deadline=deadline, advance=advance):
                return
        _end(sessions, run_id, clock(), runs.DONE)


def _end(sessions: sessionmaker[Session], run_id: int, now: datetime, status: str, error: str | None = None) -> None:
    with transaction(sessions) as session:
        run = session.get(BackfillRun, run_id)
        if run is not None and run.status in runs.UNFINISHED:
            runs.finish(session, run, now, status, error)


def work_for_worker(settings, sessions: sessionmaker[Session], worker_id: str, clock: Callable[[], datetime]) -> bool:
    """One slice of a backfill the merchant page asked for (the worker's maintenance); False when none is waiting."""
    global _pruned_at
    with transaction(sessions) as session:
        run_id = runs.claim_for_worker(session, worker_id, clock(), runs.LEASE.total_seconds())
        if run_id is None:
            if _pruned_at is None or time.monotonic() - _pruned_at >= PRUNE_EVERY:
                _pruned_at = time.monotonic()
                runs.prune(session, clock())
            return False
    until = None
    try:
        view = drive(settings, sessions, run_id, worker_id, clock, deadline=time.monotonic() + SLICE_SECONDS)
        log.info("backfill %s: %s, %d of %d orders done", run_id, view.status, view.orders_done, view.orders_read)
    except PlatformError as exc:
        log.warning("backfill %s: stopped for now, tried again in %d s: %s", run_id, RETRY_AFTER.seconds, exc)
        until = clock() + RETRY_AFTER
    except Exception:  # noqa: BLE001 - one run's trouble must never stop the worker
        log.exception("backfill %s failed; tried again later", run_id)
        until = clock() + RETRY_AFTER
    with transaction(sessions) as session:
        runs.release(session, run_id, worker_id, until)
    return True
