"""The worker's deliveries loop: due conversions claimed, sent several at once, their attempts recorded."""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, wait

from connector import logs
from connector.db import transaction
from connector.delivery import outbox
from connector.delivery.forwarder import DeliveryResult
from connector.worker.base import WorkerBase

log = logging.getLogger("connector.worker")

#: conversions claimed per delivery slot at most (claims are one transaction each: fewer, larger ones are cheaper)
CLAIM_DEPTH = 4
#: seconds a finished delivery waits for others to finish, so that their attempts are recorded together
RECORD_LINGER = 0.05


class DeliversConversions(WorkerBase):
    """The deliveries loop's steps."""

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
            # The delivery threads do not carry the loop's log context: each line names its conversion itself.
            with logs.context(conversion=conversion_id):
                log.info("conversion %s: %s (%s)", conversion_id, statuses.get(conversion_id),
                         result.describe()[:120])
