"""The worker's watch for what the operator must not miss (connector/alerts): once a minute, and the notices
to CONNECTOR_ALERT_URL as they fall due."""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError

from connector.alerts import conditions, notices
from connector.db import transaction
from connector.delivery.forwarder import Sender
from connector.worker.base import WorkerBase

log = logging.getLogger("connector.worker")

#: seconds between looks at the conditions (each is a few indexed counts)
WATCH_INTERVAL = 60.0


class WatchesForAlerts(WorkerBase):
    """Raises and resolves alerts, and posts their notices."""

    _watched_at: float | None = None
    _alert_sender: Sender | None = None

    def watch_alerts(self) -> None:
        """Never raises: a watch that fails is tried again at the next step, and says so."""
        try:
            if self._watched_at is None or time.monotonic() - self._watched_at >= WATCH_INTERVAL:
                with transaction(self.sessions) as session:
                    conditions.watch(session, self.clock(), self.settings)
                self._watched_at = time.monotonic()
            if self.settings.alert_url:
                if self._alert_sender is None:
                    self._alert_sender = Sender(self.settings.alert_url, self.settings.alert_secrets,
                                                timeout=self.settings.http_timeout, clock=self.clock)
                notices.send_due(self.settings, self.sessions, self._alert_sender, self.clock, self.rng)
        except DBAPIError as exc:
            log.warning("alerts not watched now (%s)", exc.orig or exc)
        except Exception:  # noqa: BLE001 - the watch must never stop the maintenance loop
            log.exception("alerts not watched now")
