"""What the operator must act on, read from the database, and the alerts it raises and resolves.

Three conditions: deliveries to the tracking backend failing for longer than CONNECTOR_ALERT_AFTER_SECONDS
(or given up), a store whose platform refused the connector's credentials, and events set aside as failed.
The first two stay open while they hold and are resolved when they end; failed events are told once per
batch. Every worker watches, so raising is an insert that a unique index turns into nothing for all but one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, cast, func, select, update
from sqlalchemy.orm import Session

from connector import logs
from connector.core.times import format_time
from connector.db import insert
from connector.models import Conversion, DeliveryAttempt, Event, Store
from connector.models.operations import ONE_OFF, UNIQUE_WHILE, Alert
from connector.settings import Settings

log = logging.getLogger("connector.alerts")

#: failed events named in one alert at most (the rest are counted)
NAMED_EVENTS = 5


@dataclass(frozen=True)
class Finding:
    """A condition that holds now."""

    kind: str
    subject: str
    message: str
    action: str
    store_id: int | None = None


@dataclass(frozen=True)
class Watched:
    raised: tuple[Finding, ...] = ()
    resolved: tuple[str, ...] = ()


def deliveries_failing(session: Session, now: datetime, after: timedelta) -> Finding | None:
    """Conversions the backend has refused (or not answered) for longer than `after`, or given up on."""
    waiting = (select(func.count(), func.min(DeliveryAttempt.attempted_at))
               .select_from(Conversion).join(DeliveryAttempt, DeliveryAttempt.conversion_id == Conversion.id)
               .where(Conversion.status == "pending", Conversion.attempts > 0))
    _, since = session.execute(waiting).one()
    given_up = session.scalar(select(func.count()).select_from(Conversion).where(Conversion.status == "failed"))
    if not given_up and (since is None or now - since < after):
        return None
    retrying = session.scalar(select(func.count()).select_from(Conversion)
                              .where(Conversion.status == "pending", Conversion.attempts > 0))
    last = session.scalar(select(Conversion.last_error).where(Conversion.status.in_(("pending", "failed")),
                                                             Conversion.last_error.is_not(None))
                          .order_by(Conversion.next_attempt_at.desc()).limit(1))
    parts = []
    if since is not None and now - since >= after:
        parts.append(f"deliveries to the tracking backend have been failing since {format_time(since)}: "
                     f"{retrying} conversions waiting for a retry")
    if given_up:
        parts.append(f"{given_up} conversions given up after the last retry (marked failed)")
    message = "; ".join(parts) + (f"; last error: {last[:200]}" if last else "")
    action = ("Check that TRACKING_BACKEND_URL is up and answers 2xx to signed POSTs (its secret is "
              "TRACKING_BACKEND_SECRET); `connector conversions list --status pending` shows what waits. Waiting "
              "conversions are retried on their own; send the failed ones again with `connector conversions "
              "replay --failed`.")
    return Finding("deliveries_failing", "backend", message, action)


def stores_needing_reauth(session: Session) -> list[Finding]:
    rows = session.execute(select(Store.id, Store.platform, Store.domain, Store.status_reason)
                           .where(Store.status == "needs_reauth").order_by(Store.id)).all()
    return [Finding(
        "store_needs_reauth", str(store_id),
        f"store {store_id} ({platform} {domain}) refused the connector's credentials: {(reason or '')[:200]}",
        "Ask the merchant to authorise the app again (Shopify: open it from the store's admin; WooCommerce: "
        "connect again through /woocommerce/install). Webhooks are still handled meanwhile; promo codes, "
        "setup and reconciliation wait.", store_id) for store_id, platform, domain, reason in rows]


def events_failed(session: Session) -> Finding | None:
    """Events set aside since the last such alert (the highest event id told so far is its subject)."""
    told = session.scalar(select(func.max(cast(Alert.subject, BigInteger))).where(Alert.kind == "events_failed"))
    newer = select(Event.id, Event.topic).where(Event.status == "failed")
    if told is not None:
        newer = newer.where(Event.id > told)
    rows = session.execute(newer.order_by(Event.id)).all()
    if not rows:
        return None
    ids = [event_id for event_id, _ in rows]
    topics = sorted({topic for _, topic in rows})
    named = ", ".join(str(event_id) for event_id in ids[:NAMED_EVENTS]) + (" …" if len(ids) > NAMED_EVENTS else "")
    return Finding(
        "events_failed", str(max(ids)),
        f"{len(ids)} events set aside as failed after repeated errors (ids {named}; topics {', '.join(topics)}): "
        "they credit nothing until replayed",
        "See why with `connector events list --status failed`, fix the cause, then `connector events replay "
        "--failed`.")


def findings(session: Session, now: datetime, settings: Settings) -> list[Finding]:
    found = [deliveries_failing(session, now, timedelta(seconds=settings.alert_after_seconds)),
             *stores_needing_reauth(session), events_failed(session)]
    return [finding for finding in found if finding is not None]


def watch(session: Session, now: datetime, settings: Settings) -> Watched:
    """Raise the alerts whose condition holds and is not raised yet, resolve those whose condition ended."""
    found = findings(session, now, settings)
    holding = {(finding.kind, finding.subject) for finding in found}
    notice_due = now if settings.alert_url else None
    resolved = []
    for alert_id, kind, subject in session.execute(select(Alert.id, Alert.kind, Alert.subject)
                                                   .where(Alert.resolved_at.is_(None))).all():
        if (kind, subject) in holding:
            holding.discard((kind, subject))
            continue
        done = session.execute(update(Alert).where(Alert.id == alert_id, Alert.resolved_at.is_(None))
                               .values(resolved_at=now, notice_due_at=notice_due, notice_attempts=0))
        if done.rowcount:
            resolved.append(f"{kind} {subject}")
            log.info("alert resolved: %s %s", kind, subject, extra={"alert": kind})
    raised = []
    for finding in found:
        if (finding.kind, finding.subject) not in holding:
            continue
        row = {"kind": finding.kind, "subject": finding.subject, "store_id": finding.store_id,
               "message": finding.message, "action": finding.action, "raised_at": now,
               "resolved_at": now if finding.kind in ONE_OFF else None, "notice_due_at": notice_due,
               "notice_attempts": 0}
        statement = (insert(session, Alert.__table__).values(**row)
                     .on_conflict_do_nothing(index_elements=["kind", "subject"], index_where=UNIQUE_WHILE)
                     .returning(Alert.__table__.c.id))
        if session.execute(statement).first() is None:
            continue  # another worker raised it a moment ago
        raised.append(finding)
        with logs.context(store=finding.store_id):
            log.error("ALERT %s: %s. What to do: %s", finding.kind, finding.message, finding.action,
                      extra={"alert": finding.kind})
    return Watched(tuple(raised), tuple(resolved))
