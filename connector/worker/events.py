"""The worker's events loop: stored events claimed, read, confirmed with the platform where needed, applied.

An event is applied in one transaction that also marks it handled; one that fails is retried with
backoff and finally set aside, never stopping the worker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from connector import registry
from connector.campaigns import reports
from connector.core.platform import CONFIRMED_EVENTS, CustomerCreated, Journey, LifecycleEvent, Needs, OrderEvent
from connector import logs
from connector.crediting import enrichment
from connector.crediting.conversions import apply_event
from connector.crediting.leads import apply_signup
from connector.crediting.report_events import apply_report
from connector.db import one_connection, transaction
from connector.errors import MalformedPayload, PlatformError
from connector.installs.lifecycle import apply_lifecycle
from connector.intake import inbox
from connector.models import Event, Store
from connector.worker.base import WorkerBase

log = logging.getLogger("connector.worker")

EVENT_BATCH = 50
# An event whose handling raised something unexpected (a database outage, a bad deploy) is retried
# with backoff, 2 s doubling to an hour, for about 19 hours in all before it is set aside as failed
# (`connector events replay --failed` takes it up again). It never stops the worker.
MAX_EVENT_ATTEMPTS = 30
# A store that needs re-authorisation still has its orders handled: only calls into the shop wait.
PROCESSED_STATUSES = ("active", "needs_reauth")
#: how far an event must move the store's last_event_at on before the store's row is updated for it
LAST_EVENT_STEP = timedelta(seconds=1)


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


def _moves_on(last: datetime | None, received: datetime) -> bool:
    """Whether an event received then moves the store's last_event_at on by LAST_EVENT_STEP or more.

    Shown to the merchant as "arrived N minutes ago" and read by reconciliation with minutes to spare: finer
    steps would only make every event of a busy store update (and lock) the store's row.
    """
    return last is None or received - last >= LAST_EVENT_STEP


class _LeaseLost(Exception):
    """The event's claim ran out while it was handled, and another worker holds it now."""


class HandlesEvents(WorkerBase):
    """The events loop's steps."""

    def handle_events(self, limit: int = EVENT_BATCH) -> int:
        """Claim and handle a batch of stored events; returns how many were claimed."""
        with one_connection(self.sessions) as sessions:
            with transaction(sessions) as session:
                claimed = inbox.claim_events(session, self.worker_id, self.clock(), self.settings.lease_seconds,
                                             limit)
            for event in claimed:
                if self._stop.is_set():
                    break  # the rest are released on the way out
                with logs.context(event=event.id, store=event.store_id):
                    self._handle_one(event, sessions)
        if claimed:
            self._conversions_waiting.set()
        return len(claimed)

    def _handle_one(self, event: inbox.ClaimedEvent, sessions: Callable[[], Session]) -> None:
        try:
            prepared = self._prepare(event)
            with transaction(sessions) as session:
                self._apply(session, event, prepared)
        except _LeaseLost:
            log.info("event %s (%s): its lease ran out and another worker has it now; nothing kept", event.id,
                     event.topic)
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
        if isinstance(neutral, OrderEvent):
            return _Prepared(neutral=self._enriched(adapter, event, neutral))
        if not isinstance(neutral, CONFIRMED_EVENTS):
            return _Prepared(neutral=neutral)
        if not isinstance(neutral, LifecycleEvent):
            with self.sessions() as session:
                status = session.scalar(select(Store.status).where(Store.id == event.store_id))
            if status not in PROCESSED_STATUSES:
                return _Prepared(neutral=neutral)  # skipped in _apply: nothing to confirm
        refuted = adapter.confirm(self.settings, self.sessions, event.store_id, neutral)
        return _Prepared(neutral=neutral, refuted=refuted)

    def _enriched(self, adapter, event: inbox.ClaimedEvent, order: OrderEvent) -> OrderEvent:
        """The order event with what its delivery does not carry, read from the platform (visits, a renewal's
        start, exact refunds), outside any transaction.

        When the platform cannot answer now, a renewal's start or exact refunds are worth waiting for (PlatformError
        propagates and the event is retried later: a guess would be sent for good). The visits are not: the order
        is credited from what its delivery says (which names the last visit's landing) and the record says why.
        """
        enrich = getattr(adapter, "enrich", None)
        if enrich is None:
            return order
        with self.sessions() as session:
            status = session.scalar(select(Store.status).where(Store.id == event.store_id))
            needs = enrichment.needs_for(session, event.store_id, order) if status == "active" else Needs()
        if not needs:
            return order
        try:
            return enrich(self.settings, self.sessions, event.store_id, order, needs)
        except PlatformError as exc:
            if needs.renewal_origin or needs.refunds:
                raise
            log.warning("event %s: the order's visits could not be read (%s); credited without them", event.id, exc)
            return replace(order, journey=Journey(ready=True, error=f"could not be read: {exc}"))

    def _apply(self, session: Session, row: inbox.ClaimedEvent, prepared: "_Prepared") -> None:
        """Apply the claimed event and record its outcome, in the caller's transaction.

        The event's row is not read again (the claim returned what this needs); `settle_event` checks that
        the claim is still ours as it records the outcome, and _LeaseLost rolls everything back if not.
        """
        now = self.clock()
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
                                   secret_key=self.settings.secret_key, backend_events=self.settings.backend_events)
        elif store.status not in PROCESSED_STATUSES:
            # Kept for `connector events replay` should the store come back.
            status, error = "skipped", f"store is {store.status}"
        elif status == "handled":
            grace = timedelta(seconds=self.settings.report_grace_seconds)
            applied = None
            if is_report:
                applied = apply_report(session, store, row.body, row.received_at, now, grace=grace)
            elif isinstance(neutral, CustomerCreated):
                applied = apply_signup(session, store, neutral, now, grace=grace)
            elif neutral is not None:
                applied = apply_event(session, store, neutral, now, event_id=row.id, grace=grace)
            if applied is not None:
                note, retry_at = applied.note, applied.retry_at
            if not is_report and _moves_on(store.last_event_at, row.received_at):
                store.last_event_at = row.received_at
        outcome = {"status": status, "error": error, "handled_at": now, "lease_until": None, "claimed_by": None}
        if retry_at is not None:
            # Waiting for the browser's report: handled again then (or sooner, by the report itself).
            status = outcome["status"] = "pending"
            outcome["lease_until"], outcome["handled_at"] = retry_at, None
        if not inbox.settle_event(session, row.id, self.worker_id, **outcome):
            raise _LeaseLost(row.id)
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
