"""The worker: its three loops (events, deliveries, maintenance) run side by side until it is stopped."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from connector.db import transaction
from connector.delivery import outbox
from connector.delivery.forwarder import Sender
from connector.intake import inbox
from connector.settings import Settings
from connector.worker.deliveries import DeliversConversions
from connector.worker.events import HandlesEvents
from connector.worker.heartbeat import KeepsHeartbeat
from connector.worker.maintenance import MaintainsStores
from connector.worker.wake import Listener, listen

log = logging.getLogger("connector.worker")

#: seconds between looks for stores whose setup or reconciliation is due
MAINTENANCE_POLL = 5.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


class Worker(HandlesEvents, DeliversConversions, MaintainsStores, KeepsHeartbeat):
    """Handles stored events into conversions, delivers due conversions, and maintains stores."""

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
        # Set by a NOTIFY of a newly stored event (PostgreSQL), so the events loop looks at once.
        self._events_waiting = threading.Event()
        # Set when events were handled, so the delivery loop sends their conversions without waiting a poll.
        self._conversions_waiting = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=settings.delivery_concurrency, thread_name_prefix="deliver")
        self._pruned_at: float | None = None
        #: the thread that LISTENs for new events while `run` runs (PostgreSQL only)
        self.listener: Listener | None = None
        self._started_at: datetime | None = None

    # -- running ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish the work in hand and return (SIGTERM)."""
        self._stop.set()
        self._events_waiting.set()
        self._conversions_waiting.set()

    def run(self, *, burst: bool = False) -> None:
        """Loop until stopped; with burst, until nothing is due now.

        Events and deliveries run in loops of their own, so a backend that times out (a delivery
        round can take tens of seconds) never holds up new events. On PostgreSQL a new event wakes the
        events loop at once (LISTEN/NOTIFY, connector/worker/wake.py); the poll stays, for what nothing
        announces (leases, retries and waits coming due) and for when the listener is reconnecting.
        """
        log.info("worker %s started%s", self.worker_id, " (burst)" if burst else "")
        self.heartbeat()
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
                self.listener = listen(self.sessions.kw.get("bind"), {inbox.EVENTS_CHANNEL: [self._events_waiting]})
                for thread in helpers:
                    thread.start()
                try:
                    self._loop(self._events_and_heartbeat, wake=self._events_waiting)
                finally:
                    self.stop()
                    if self.listener is not None:
                        self.listener.stop()
                    for thread in helpers:
                        thread.join()
        finally:
            self.release()
            self._pool.shutdown(wait=True)
            self.stopped_beating()
            log.info("worker %s stopped", self.worker_id)

    def _events_and_heartbeat(self) -> int:
        # The events loop wakes at least every poll interval: the heartbeat rides on it (rate-limited).
        self.heartbeat()
        return self.handle_events()

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
