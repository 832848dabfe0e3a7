"""The worker: handles stored events into conversions, and delivers due conversions. Several may run at once."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from connector.intake import inbox
from connector.installs import state as install_state
from connector.delivery import outbox
from connector.worker import prune
from connector import registry
from connector.campaigns import reports
from connector.campaigns.codes import CODE_RETRY, postpone_codes, sync_codes
from connector.crediting.conversions import apply_event
from connector.db import transaction
from connector.errors import MalformedPayload, PlatformAuthError, PlatformError
from connector.installs.setup import mark_needs_reauth, run_setup
from connector.delivery.forwarder import DeliveryResult, Sender
from connector.crediting.leads import apply_signup
from connector.installs.lifecycle import apply_lifecycle
from connector.models import Event, Store
from connector.core.platform import CONFIRMED_EVENTS, CustomerCreated, LifecycleEvent
from connector.crediting.report_events import apply_report
from connector.intake.reconcile import claim_store_for_maintenance, reconcile_store, release_store
from connector.settings import Settings

log = logging.getLogger("connector.worker")

EVENT_BATCH = 50
# An event whose handling raised something unexpected (a database outage, a bad deploy) is retried
# with backoff, 2 s doubling to an hour, for about 19 hours in all before it is set aside as failed
# (`connector events replay --failed` takes it up again). It never stops the worker.
MAX_EVENT_ATTEMPTS = 30


#: seconds between looks for stores whose setup or reconciliation is due
MAINTENANCE_POLL = 5.0
#: conversions claimed per delivery slot at most (claims are one transaction each: fewer, larger ones are cheaper)
CLAIM_DEPTH = 4
#: seconds a finished delivery waits for others to finish, so that their attempts are recorded together
RECORD_LINGER = 0.05
#: seconds between erasures of clicks and browser reports that can match nothing any more (connector/worker/prune.py)
PRUNE_INTERVAL = 3600.0
# A store that needs re-authorisation still has its orders handled: only calls into the shop wait.
PROCESSED_STATUSES = ("active", "needs_reauth")


@dataclass(frozen=True)
class _Prepared:
    """What `_prepare` learnt of an event before its transaction."""

    neutral: object | None = None
    #: the adapter could not read it: it is rejected with this reason
    malformed: str | None = None
    #: the platform contradicts it: it is rejected with this reason
    refuted: str | None = None


def event_retry_wait(attempts: int) -> float:
    return float(min(2 ** attempts, 3600))


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


class Worker:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        *,
        sender: Sender | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        rng: random.Random | None = None,
        worker_id: str | None = None,
    ):
        self.settings, self.sessions, self.clock = settings, sessions, clock
        self.rng = rng or random.Random()
        self.worker_id = worker_id or default_worker_id()
        if sender is None and settings.delivery_enabled:
            sender = Sender(settings.tracking_backend_url, settings.tracking_backend_secrets,
                            timeout=settings.http_timeout)
        self.sender = sender
        self._stop = threading.Event()
        # Set when events were handled, so the delivery loop sends their conversions without waiting a poll.
        self._conversions_waiting = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=settings.delivery_concurrency, thread_name_prefix="deliver")
        self._pruned_at: float | None = None

    # -- running ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish the work in hand and return (SIGTERM)."""
        self._stop.set()
        self._conversions_waiting.set()

    def run(self, *, burst: bool = False) -> None:
        """Loop until stopped; with burst, until nothing is due now.

        Events and deliveries run in loops of their own, so a backend that times out (a delivery
        round can take tens of seconds) never holds up new events, which are picked up within a poll.
        """
        log.info("worker %s started%s", self.worker_id, " (burst)" if burst else "")
        try:
            if burst:
                self._loop(lambda: self.handle_events() + self.deliver_due() + self.maintain(), burst=True)
            else:
                helpers = [
                    threading.Thread(target=self._loop, args=(self.deliver_due,),
                                     kwargs={"wake": self._conversions_waiting}, name="deliveries"),
                    # Setup retries and reconciliation call into stores (seconds each): a loop of their own.
                    threading.Thread(target=self._loop, args=(self.maintain,),
                                     kwargs={"interval": MAINTENANCE_POLL}, name="maintenance"),
                ]
                for thread in helpers:
                    thread.start()
                try:
                    self._loop(self.handle_events)
                finally:
                    self.stop()
                    for thread in helpers:
                        thread.join()
        finally:
            self.release()
            self._pool.shutdown(wait=True)
            log.info("worker %s stopped", self.worker_id)

    def _loop(self, step: Callable[[], int], *, burst: bool = False, wake: threading.Event | None = None,
              interval: float | None = None) -> None:
        wake = wake or self._stop
        interval = interval or self.settings.poll_interval
        failures = 0
        while not self._stop.is_set():
            if wake is not self._stop:
                wake.clear()  # before the step: a wake-up during it makes the next wait return at once
            try:
                done = step()
                failures = 0
            except DBAPIError as exc:
                # The database went away: wait and try again rather than die (burst: give up).
                if burst:
                    raise
                failures += 1
                log.error("database unavailable (%s); retrying", exc.orig or exc)
                self._stop.wait(min(2 ** failures * 0.1, 10.0))
                continue
            if done:
                continue
            if burst:
                break
            wake.wait(interval)

    def release(self) -> None:
        """Hand back unfinished claims at once (if the database cannot be reached, their leases do it later)."""
        try:
            with transaction(self.sessions) as session:
                events = inbox.release_events(session, self.worker_id)
                conversions = outbox.release_conversions(session, self.worker_id)
        except DBAPIError as exc:
            log.warning("could not release claims (%s); their leases will expire", exc.orig or exc)
            return
        if events or conversions:
            log.info("released %d events and %d conversions", events, conversions)

    # -- events ----------------------------------------------------------------------------------

    def handle_events(self, limit: int = EVENT_BATCH) -> int:
        """Claim and handle a batch of stored events; returns how many were claimed."""
        with transaction(self.sessions) as session:
            claimed = inbox.claim_events(session, self.worker_id, self.clock(), self.settings.lease_seconds, limit)
        for event in claimed:
            if self._stop.is_set():
                break  # the rest are released on the way out
            self._handle_one(event)
        if claimed:
            self._conversions_waiting.set()
        return len(claimed)

    def _handle_one(self, event: inbox.ClaimedEvent) -> None:
        try:
            prepared = self._prepare(event)
            with transaction(self.sessions) as session:
                self._apply(session, event, prepared)
        except Exception as exc:  # noqa: BLE001 - one bad event must never stop the worker
            log.exception("event %s (%s) failed", event.id, event.topic)
            self._set_aside(event, exc)

    def _prepare(self, event: inbox.ClaimedEvent) -> "_Prepared":
        """Read the event, and ask the platform about one of CONFIRMED_EVENTS, before any transaction.

        The question (is the app really gone? is the order really deleted? is this customer the shop's?)
        is an HTTP call: asked outside the transaction, it holds no lock while it waits. PlatformError (the platform cannot
        tell now) propagates, and the event is retried later.
        """
        if event.topic.startswith(reports.TOPIC_PREFIX):
            return _Prepared()
        adapter = registry.get(event.platform)
        try:
            neutral = adapter.normalise(event.topic, event.body)
        except MalformedPayload as exc:
            return _Prepared(malformed=str(exc))
        if not isinstance(neutral, CONFIRMED_EVENTS):
            return _Prepared(neutral=neutral)
        if not isinstance(neutral, LifecycleEvent):
            with self.sessions() as session:
                status = session.scalar(select(Store.status).where(Store.id == event.store_id))
            if status not in PROCESSED_STATUSES:
                return _Prepared(neutral=neutral)  # skipped in _apply: nothing to confirm
        refuted = adapter.confirm(self.settings, self.sessions, event.store_id, neutral)
        return _Prepared(neutral=neutral, refuted=refuted)

    def _apply(self, session: Session, claimed: inbox.ClaimedEvent, prepared: "_Prepared") -> None:
        now = self.clock()
        row = session.scalars(
            select(Event).where(Event.id == claimed.id, Event.claimed_by == self.worker_id, Event.status == "pending")
        ).one_or_none()
        if row is None:
            return  # our lease ran out and another worker has it now
        store = session.get(Store, row.store_id)
        status, error, note, neutral, retry_at = "handled", None, "", prepared.neutral, None
        is_report = row.topic.startswith(reports.TOPIC_PREFIX)
        if prepared.malformed is not None:
            status, error = "rejected", prepared.malformed
        elif prepared.refuted is not None:
            # Authentic bytes, but the platform contradicts what they were sent as: kept, flagged, not applied.
            status, error, neutral = "rejected", f"not applied: {prepared.refuted}", None
            log.warning("event %s %s for store %s not applied: %s", row.id, row.topic, row.store_id, prepared.refuted)
        if store is None:
            status, error = "skipped", "store is gone"
        elif status == "rejected":
            pass
        elif isinstance(neutral, LifecycleEvent):
            # Uninstall and privacy requests are honoured whatever state the store is in.
            note = apply_lifecycle(session, store, neutral, now=now, current_event_id=row.id,
                                   secret_key=self.settings.secret_key)
        elif store.status not in PROCESSED_STATUSES:
            # Kept for `connector events replay` should the store come back.
            status, error = "skipped", f"store is {store.status}"
        elif status == "handled":
            grace = timedelta(seconds=self.settings.report_grace_seconds)
            applied = None
            if is_report:
                applied = apply_report(session, store, row, now, grace=grace)
            elif isinstance(neutral, CustomerCreated):
                applied = apply_signup(session, store, neutral, now, grace=grace)
            elif neutral is not None:
                applied = apply_event(session, store, neutral, now, event_id=row.id, grace=grace)
            if applied is not None:
                note, retry_at = applied.note, applied.retry_at
            if not is_report:
                store.last_event_at = max(filter(None, [store.last_event_at, row.received_at]))
        row.status, row.error, row.handled_at = status, error, now
        row.lease_until = row.claimed_by = None
        if retry_at is not None:
            # Waiting for the browser's report: handled again then (or sooner, by the report itself).
            status = row.status = "pending"
            row.lease_until, row.handled_at = retry_at, None
        log.info("event %s %s %s: %s", row.id, row.topic, status, error or note or "nothing to do")

    def _set_aside(self, event: inbox.ClaimedEvent, exc: Exception) -> None:
        attempts = event.attempts + 1
        message = f"{type(exc).__name__}: {exc}"[:2000]
        values: dict = {"attempts": attempts, "error": message, "claimed_by": None}
        if isinstance(exc, DataError):
            # Values the database cannot hold will not fit on a retry either: kept and flagged.
            values["status"], values["lease_until"] = "rejected", None
        elif attempts >= MAX_EVENT_ATTEMPTS:
            values["status"], values["lease_until"] = "failed", None
        else:
            values["lease_until"] = self.clock() + timedelta(seconds=event_retry_wait(attempts))
        try:
            with transaction(self.sessions) as session:
                session.execute(
                    update(Event)
                    .where(Event.id == event.id, Event.claimed_by == self.worker_id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # noqa: BLE001 - the lease will hand the event back anyway
            log.exception("could not record the failure of event %s", event.id)

    # -- deliveries ------------------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Deliver due conversions, several at once, until none is due; returns how many were attempted.

        Results are recorded as they come in (those finishing close together in one transaction), and new
        conversions are claimed as slots free up, so one slow delivery (up to its deadline) never holds up
        the others. At most CLAIM_DEPTH times the concurrency is claimed at a time: a claimed conversion
        waits for at most that many deadlines (40 s by default), inside its lease (60 s).
        """
        if self.sender is None or self._stop.is_set():
            return 0  # stopping: claim nothing new
        concurrency = self.settings.delivery_concurrency
        inflight: dict[Future, str] = {}
        attempted = 0
        while True:
            if len(inflight) <= 2 * concurrency and not self._stop.is_set():
                with transaction(self.sessions) as session:
                    due = outbox.claim_due(session, self.worker_id, self.clock(), self.settings.lease_seconds,
                                           CLAIM_DEPTH * concurrency - len(inflight))
                for conversion in due:
                    inflight[self._pool.submit(self.sender.send, conversion.id, conversion.body)] = conversion.id
                attempted += len(due)
            if not inflight:
                return attempted
            # Every claimed delivery runs to its end even when asked to stop: "finish the delivery in hand".
            done = self._finished(inflight)
            self.record([(inflight.pop(future), future.result()) for future in done])

    @staticmethod
    def _finished(inflight: dict[Future, str]) -> set[Future]:
        """The deliveries that are done, once one is: those that finish within RECORD_LINGER after it join it.

        Recorded together, they share one transaction (one per delivery would halve the forwarder's rate);
        a slow one delays the others' record by RECORD_LINGER at most, never by its own deadline.
        """
        done, pending = wait(inflight, return_when=FIRST_COMPLETED)
        if pending:
            more, _ = wait(pending, timeout=RECORD_LINGER)  # all of them, or those done when the linger ends
            done |= more
        return done

    def record(self, results: list[tuple[str, DeliveryResult]]) -> None:
        try:
            with transaction(self.sessions) as session:
                statuses = outbox.record_results(
                    session, self.worker_id, results, self.clock(), self.settings.retry_schedule, self.rng
                )
        except Exception:  # noqa: BLE001 - the leases hand them back; they are sent again, same id and body
            log.exception("could not record %d deliveries", len(results))
            return
        for conversion_id, result in results:
            log.info("conversion %s: %s (%s)", conversion_id, statuses.get(conversion_id), result.describe()[:120])

    # -- maintenance -----------------------------------------------------------------------------

    def _prune(self, now: datetime) -> None:
        """Once an hour, when nothing else is due: erase clicks and reports that can match nothing now."""
        if self._pruned_at is not None and time.monotonic() - self._pruned_at < PRUNE_INTERVAL:
            return
        self._pruned_at = time.monotonic()
        with transaction(self.sessions) as session:
            pruned = prune.prune(session, now)
        if pruned.clicks or pruned.reports:
            log.info("pruned: %s", pruned)

    def maintain(self) -> int:
        """Finish one store's setup, sync its promo codes, or reconcile it when due; returns 1 when one was claimed.

        A store that fails keeps its lease, so it is tried again when the lease ends (minutes), not at once.
        """
        if self._stop.is_set():
            return 0
        now = self.clock()
        with transaction(self.sessions) as session:
            store_id = claim_store_for_maintenance(session, now, self.settings)
            if store_id is None:
                install_state.prune(session, now)
        if store_id is None:
            self._prune(now)
            return 0
        done = False
        try:
            with self.sessions() as session:
                store = session.get(Store, store_id)
                setup_pending = store.setup_pending
                codes_due = store.codes_due_at is not None and store.codes_due_at <= now
            if setup_pending:
                done = run_setup(self.settings, self.sessions, store_id, now).done
            elif codes_due:
                try:
                    sync_codes(self.settings, self.sessions, store_id, now)
                except PlatformError as exc:
                    if isinstance(exc, PlatformAuthError):
                        raise
                    # The store cannot take codes now: try them later, and let reconciliation run meanwhile.
                    postpone_codes(self.sessions, store_id, now)
                    log.warning("store %s: codes will be tried again in %d s: %s", store_id, CODE_RETRY, exc)
                done = True
            else:
                result = reconcile_store(self.settings, self.sessions, store_id, now)
                log.info("store %s reconciled: %s", store_id, result)
                done = True
        except PlatformAuthError as exc:
            # Credentials refused (revoked keys, a token Shopify no longer takes): retrying cannot help
            # until the merchant authorises again. Its webhooks are still handled meanwhile.
            with transaction(self.sessions) as session:
                mark_needs_reauth(session.get(Store, store_id), exc)
        except PlatformError as exc:
            log.warning("store %s: maintenance failed, will retry after the lease: %s", store_id, exc)
        except Exception:  # noqa: BLE001 - one store's trouble must never stop the worker
            log.exception("store %s: maintenance failed", store_id)
        if done:
            with transaction(self.sessions) as session:
                release_store(session, store_id)
        return 1
