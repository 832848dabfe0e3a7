"""The worker's maintenance loop: one store at a time, its setup finished, its codes synced, its webhooks checked
(daily), or it reconciled."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from connector.backfill import engine as backfill_engine
from connector.campaigns.codes import CODE_RETRY, postpone_codes, sync_codes
from connector.db import transaction
from connector.errors import PlatformAuthError, PlatformError
from connector.installs import state as install_state
from connector.installs import webhooks
from connector.installs.setup import mark_needs_reauth, run_setup
from connector.intake.reconcile import claim_store_for_maintenance, reconcile_store, release_store
from connector.models import Store
from connector.worker import prune, retention
from connector.worker.alerts import WatchesForAlerts

log = logging.getLogger("connector.worker")

#: seconds between erasures of clicks and browser reports that can match nothing any more (connector/worker/prune.py)
PRUNE_INTERVAL = 3600.0


class MaintainsStores(WatchesForAlerts):
    """The maintenance loop's steps."""

    def _prune(self, now: datetime) -> None:
        """Once an hour, when nothing else is due: erase clicks and reports that can match nothing now, and
        the raw bodies and excerpts past CONNECTOR_RETENTION_DAYS."""
        if self._pruned_at is not None and time.monotonic() - self._pruned_at < PRUNE_INTERVAL:
            return
        self._pruned_at = time.monotonic()
        with transaction(self.sessions) as session:
            pruned = prune.prune(session, now)
        erased = retention.erase(self.sessions, now, self.settings.retention_days)
        if pruned.clicks or pruned.reports:
            log.info("pruned: %s", pruned)
        if erased.bodies or erased.excerpts:
            log.info("erased past %d days: %s", self.settings.retention_days, erased)

    def maintain(self) -> int:
        """Finish one store's setup, sync its codes, check its webhooks or reconcile it; 1 when one was claimed.

        A store that fails keeps its lease, so it is tried again when the lease ends (minutes), not at once.
        """
        if self._stop.is_set():
            return 0
        self.watch_alerts()
        # A slice of a backfill the merchant page asked for (seconds at most); the stores' maintenance follows.
        backfilled = backfill_engine.work_for_worker(self.settings, self.sessions, self.worker_id, self.clock)
        now = self.clock()
        with transaction(self.sessions) as session:
            store_id = claim_store_for_maintenance(session, now, self.settings)
            if store_id is None:
                install_state.prune(session, now)
        if store_id is None:
            self._prune(now)
            return 1 if backfilled else 0
        done = False
        try:
            with self.sessions() as session:
                store = session.get(Store, store_id)
                setup_pending = store.setup_pending
                codes_due = store.codes_due_at is not None and store.codes_due_at <= now
                webhooks_due = webhooks.is_due(store, now)
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
            elif webhooks_due:
                done = webhooks.check_webhooks(self.settings, self.sessions, store_id, now)
            else:
                result = reconcile_store(self.settings, self.sessions, store_id, now)
                log.info("store %s reconciled: %s", store_id, result)
                done = True
        except PlatformAuthError as exc:
            # Credentials refused (revoked keys, a token Shopify no longer takes): retrying cannot help
            # until the merchant authorises again. Its webhooks are still handled meanwhile.
            with transaction(self.sessions) as session:
                mark_needs_reauth(session.get(Store, store_id), exc, self.settings.backend_events)
        except PlatformError as exc:
            log.warning("store %s: maintenance failed, will retry after the lease: %s", store_id, exc)
        except Exception:  # noqa: BLE001 - one store's trouble must never stop the worker
            log.exception("store %s: maintenance failed", store_id)
        if done:
            with transaction(self.sessions) as session:
                release_store(session, store_id)
        return 1
