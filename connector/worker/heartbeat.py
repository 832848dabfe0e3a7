"""The worker's heartbeat (connector/liveness.py): when it started, that it is still alive, that it stopped."""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError

from connector import liveness
from connector.db import transaction
from connector.worker.base import WorkerBase

log = logging.getLogger("connector.worker")


class KeepsHeartbeat(WorkerBase):
    """Beats at most every liveness.HEARTBEAT seconds; a beat that cannot be written is tried at the next step."""

    _beaten_at: float | None = None
    _started_at = None

    def heartbeat(self) -> None:
        if self._beaten_at is not None and time.monotonic() - self._beaten_at < liveness.HEARTBEAT:
            return
        now = self.clock()
        if self._started_at is None:
            self._started_at = now
        try:
            with transaction(self.sessions) as session:
                liveness.beat(session, self.worker_id, now, self._started_at)
        except DBAPIError as exc:
            log.warning("heartbeat not recorded (%s)", exc.orig or exc)
            return
        self._beaten_at = time.monotonic()

    def stopped_beating(self) -> None:
        try:
            with transaction(self.sessions) as session:
                liveness.stopped(session, self.worker_id, self.clock())
        except DBAPIError as exc:
            log.warning("could not record the stop (%s); the heartbeat's age will say it", exc.orig or exc)
