"""Alerts told to CONNECTOR_ALERT_URL: signed like conversions (Standard Webhooks), retried on the delivery
schedule, at least once and under the same id every time.

Each alert has at most two notices, `alert.raised` and `alert.resolved` (one-off alerts only the first); the
row says which was last accepted and when the next is due. A sender leases a due notice by moving its due
time past the lease, so two workers do not post the same notice at the same moment.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connector.core.retry import next_attempt_at
from connector.core.times import format_time
from connector.db import transaction
from connector.delivery.forwarder import DeliveryResult, Sender
from connector.models import Store
from connector.models.operations import ONE_OFF, Alert
from connector.settings import Settings

log = logging.getLogger("connector.alerts")

#: notices sent per round at most
BATCH = 20


@dataclass(frozen=True)
class Notice:
    alert_id: int
    state: str
    webhook_id: str
    body: str


def wanted_state(alert: Alert) -> str:
    """The notice the alert's state calls for now."""
    return "resolved" if alert.resolved_at is not None and alert.kind not in ONE_OFF else "raised"


def notice_body(alert: Alert, store: Store | None, state: str) -> str:
    """The notice's JSON: the conversions' envelope (type, timestamp, data), the same bytes for every attempt."""
    document = {
        "type": f"alert.{state}",
        "timestamp": format_time(alert.resolved_at if state == "resolved" else alert.raised_at),
        "data": {
            "alert_id": f"al_{alert.id}",
            "kind": alert.kind,
            "subject": alert.subject,
            "store": ({"id": store.id, "platform": store.platform, "domain": store.domain}
                      if store is not None else None),
            "message": alert.message,
            "action": alert.action,
            "raised_at": format_time(alert.raised_at),
            "resolved_at": format_time(alert.resolved_at) if state == "resolved" else None,
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def claim_due(session: Session, now: datetime, lease_seconds: float) -> list[Notice]:
    """Due notices, leased to the caller (their due time moved past the lease)."""
    alerts = session.scalars(select(Alert).where(Alert.notice_due_at <= now).order_by(Alert.notice_due_at, Alert.id)
                             .limit(BATCH).with_for_update(skip_locked=True)).all()
    notices = []
    for alert in alerts:
        state = wanted_state(alert)
        if alert.noticed == state:
            alert.notice_due_at = None  # told already (a notice that raced a resolve)
            continue
        alert.notice_due_at = now + timedelta(seconds=lease_seconds)
        store = session.get(Store, alert.store_id) if alert.store_id is not None else None
        notices.append(Notice(alert.id, state, f"alert_{alert.id}_{state}", notice_body(alert, store, state)))
    return notices


def record(session: Session, notice: Notice, result: DeliveryResult, now: datetime, schedule, rng) -> None:
    alert = session.get(Alert, notice.alert_id, with_for_update=True)
    if alert is None:
        return  # its store was erased meanwhile
    if result.ok:
        alert.noticed, alert.notice_attempts, alert.notice_error = notice.state, 0, None
        # resolved while this notice was on its way: the resolve is due now
        alert.notice_due_at = None if wanted_state(alert) == notice.state else now
        return
    alert.notice_attempts += 1
    alert.notice_error = result.describe()[:500]
    alert.notice_due_at = next_attempt_at(alert.notice_attempts, now, schedule, rng, result.retry_after)
    if alert.notice_due_at is None:
        log.error("alert %s (%s): CONNECTOR_ALERT_URL refused its %s notice %d times; giving up: %s", alert.id,
                  alert.kind, notice.state, alert.notice_attempts, alert.notice_error)
    else:
        log.warning("alert %s (%s): %s notice not accepted (%s); next try at %s", alert.id, alert.kind,
                    notice.state, alert.notice_error[:120], format_time(alert.notice_due_at))


def send_due(settings: Settings, sessions: sessionmaker[Session], sender: Sender,
             clock: Callable[[], datetime], rng: random.Random) -> int:
    """Post the due notices, one at a time (alerts are few); returns how many were tried."""
    with transaction(sessions) as session:
        notices = claim_due(session, clock(), settings.lease_seconds)
    for notice in notices:
        result = sender.send(notice.webhook_id, notice.body)
        with transaction(sessions) as session:
            record(session, notice, result, clock(), settings.retry_schedule, rng)
    return len(notices)
