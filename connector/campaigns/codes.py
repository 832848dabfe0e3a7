"""Promo codes in the store: the worker creates and removes what the backend asked for, in bulk.

The adapter makes the calls (Shopify bulk redeem codes, WooCommerce coupon batches); this module
decides what to ask for and records what became of each code. No database transaction is held
while the store is called.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Collection

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from connector import registry
from connector.backend_events import queue as queue_event
from connector.core import backend_events as told
from connector.core.attribution import match_key
from connector.campaigns.influencers import terms_of
from connector.db import transaction
from connector.models import Discount, Influencer, Store
from connector.core.platform import CodeRemoval, CodeRequest, CodeResult
from connector.settings import Settings

log = logging.getLogger("connector.codes")

#: codes handled per maintenance turn: enough for big registrations, bounded so one store cannot hog a worker
BATCH = 5000
#: a code the store could not take for a passing reason is tried again, this many times, backing off
MAX_CODE_ATTEMPTS = 6
#: seconds before a store that could not be reached at all is asked about its codes again
CODE_RETRY = 300


@dataclass(frozen=True)
class CodeSync:
    created: int = 0
    adopted: int = 0
    removed: int = 0
    failed: int = 0
    retrying: int = 0
    calls: int = 0

    def __str__(self) -> str:
        return (f"codes: {self.created} created, {self.adopted} adopted, {self.removed} removed, {self.failed} failed,"
                f" {self.retrying} to retry ({self.calls} API calls)")


def _due_creations(session: Session, store: Store, now: datetime, starts_supported: bool) -> list[Influencer]:
    query = select(Influencer).where(Influencer.store_id == store.id, Influencer.code_status == "pending",
                                     Influencer.code_remote_id.is_(None), Influencer.code_discount_id.is_(None))
    if not starts_supported:
        # The platform cannot schedule a code: create it when it starts.
        query = query.where(or_(Influencer.discount_starts_at.is_(None), Influencer.discount_starts_at <= now))
    return list(session.scalars(query.order_by(Influencer.id).limit(BATCH)))


def _due_removals(session: Session, store: Store) -> list[Influencer]:
    # "pending" with a remote id: a code being replaced (new code or terms); the old one goes first.
    query = select(Influencer).where(
        Influencer.store_id == store.id,
        or_(Influencer.code_status == "removing",
            (Influencer.code_status == "pending") & _made(Influencer)),
    )
    return list(session.scalars(query.order_by(Influencer.id).limit(BATCH)))


def _made(table):
    """The connector made this code in the store (a code adopted without its own id still has its discount's)."""
    return table.code_remote_id.is_not(None) | table.code_discount_id.is_not(None)


def _next_due(session: Session, store: Store, now: datetime, starts_supported: bool) -> datetime | None:
    """When the worker should look at this store's codes again, or None when nothing is waiting."""
    waiting = select(Influencer.id).where(Influencer.store_id == store.id,
                                          Influencer.code_status.in_(("pending", "removing")))
    if not session.scalar(waiting.limit(1)):
        return None
    retry_at = now + timedelta(seconds=30)
    if not starts_supported:
        ready = waiting.where(_ready(now))
        if not session.scalar(ready.limit(1)):
            first_start = session.scalar(select(Influencer.discount_starts_at).where(
                Influencer.store_id == store.id, Influencer.code_status == "pending",
            ).order_by(Influencer.discount_starts_at).limit(1))
            return first_start or retry_at
        # Some were left by the batch bound or to retry: come back soon.
    return now if _has_untried(session, store, now, starts_supported) else retry_at


def _ready(now: datetime):
    """Work that can be done now on a platform without start dates: removals, and codes that have started."""
    return or_(Influencer.discount_starts_at.is_(None), Influencer.discount_starts_at <= now,
               Influencer.code_status == "removing", _made(Influencer))


def _has_untried(session: Session, store: Store, now: datetime, starts_supported: bool) -> bool:
    """Work left by the batch bound (never tried yet): the worker comes back at once for it."""
    query = select(Influencer.id).where(
        Influencer.store_id == store.id, Influencer.code_status.in_(("pending", "removing")),
        Influencer.code_attempts == 0)
    if not starts_supported:
        query = query.where(_ready(now))
    return bool(session.scalar(query.limit(1)))


def sync_codes(settings: Settings, sessions: sessionmaker[Session], store_id: int, now: datetime,
               progress: Callable[[int], None] | None = None) -> CodeSync:
    """Remove, then create, the store's waiting codes; record each result (`progress(n)` after each batch: the
    command line's bar). Platform errors propagate."""
    with sessions() as session:
        store = session.get(Store, store_id)
        adapter = registry.get(store.platform)
        starts_supported = getattr(adapter, "supports_start_date", True)
        removals = [CodeRemoval(i.id, i.promo_code or i.requested_code or "", i.code_remote_id, i.code_discount_id)
                    for i in _due_removals(session, store)]
    tally = CodeSync()
    told_to = settings.backend_events
    if removals:
        batch = adapter.remove_codes(settings, sessions, store_id, removals)
        removed = {r.influencer_id: r.code for r in removals}
        tally = _record(sessions, store_id, batch.results, {}, now, tally, batch.calls, removed=removed,
                        backend_events=told_to)
        if progress is not None:
            progress(len(removals))
    # Read after the removals, so a replaced code's successor is made in the same turn.
    with sessions() as session:
        store = session.get(Store, store_id)
        requests = [CodeRequest(i.id, i.tracking_id, i.campaign_id, i.requested_code, terms_of(i))
                    for i in _due_creations(session, store, now, starts_supported)
                    if i.requested_code and terms_of(i) is not None]
        # What was asked when the store was called: a PUT meanwhile makes a result stale (see _apply).
        asked = {r.influencer_id: (r.code, r.terms) for r in requests}
        discounts = {d.group_key: d.remote_id for d in session.scalars(select(Discount).where(
            Discount.store_id == store_id))}
    if requests:
        batch = adapter.create_codes(settings, sessions, store_id, requests, discounts)
        tally = _record(sessions, store_id, batch.results, batch.discounts, now, tally, batch.calls, asked,
                        backend_events=told_to)
        if progress is not None:
            progress(len(requests))
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        store.codes_due_at = _next_due(session, store, now, starts_supported)
    if removals or requests:
        log.info("store %s %s", store_id, tally)
    return tally


def postpone_codes(sessions: sessionmaker[Session], store_id: int, now: datetime) -> None:
    """The store could not be reached: its codes wait CODE_RETRY seconds (other maintenance goes on)."""
    with transaction(sessions) as session:
        session.get(Store, store_id).codes_due_at = now + timedelta(seconds=CODE_RETRY)


def _record(sessions: sessionmaker[Session], store_id: int, results: tuple[CodeResult, ...],
            discounts: dict[str, str], now: datetime, tally: CodeSync, calls: int,
            asked: dict[int, tuple] | None = None, *, removed: dict[int, str] | None = None,
            backend_events: Collection[str] = ()) -> CodeSync:
    """What became of each code, and the backend told of it in the same transaction (code.created, code.failed,
    code.removed; `removed`: the codes a removal batch asked to take down, by influencer)."""
    counts = {"created": tally.created, "adopted": tally.adopted, "removed": tally.removed,
              "failed": tally.failed, "retrying": tally.retrying}
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        for group_key, remote_id in discounts.items():
            row = session.scalar(select(Discount).where(Discount.store_id == store_id,
                                                        Discount.group_key == group_key))
            if row is None:
                session.add(Discount(store_id=store_id, group_key=group_key, remote_id=remote_id, created_at=now))
            else:
                row.remote_id = remote_id
        for result in results:
            influencer = session.get(Influencer, result.influencer_id)
            if influencer is None:
                continue
            wanted = asked.get(influencer.id) if asked is not None else None
            if wanted is not None and wanted != (influencer.requested_code, terms_of(influencer)):
                counts[_stale(session, influencer, result, now)] += 1
            else:
                outcome = _apply(session, influencer, result, now)
                counts[outcome] += 1
                _tell(session, store, influencer, outcome, removed, backend_events, now)
    return CodeSync(**counts, calls=tally.calls + calls)


def _tell(session: Session, store: Store, influencer: Influencer, outcome: str, removed: dict[int, str] | None,
          backend_events: Collection[str], now: datetime) -> None:
    """The backend's event for what just became of the influencer's code (a retry to come tells nothing yet)."""
    who = {"tracking_id": influencer.tracking_id, "campaign_id": influencer.campaign_id}
    if outcome in ("created", "adopted"):
        queue_event(session, store, told.CODE_CREATED, backend_events, now, code=influencer.promo_code,
                    requested_code=influencer.requested_code, **who)
    elif outcome == "removed":
        code = (removed or {}).get(influencer.id) or influencer.promo_code
        queue_event(session, store, told.CODE_REMOVED, backend_events, now, code=code, **who)
    elif outcome == "failed":
        action = "remove" if removed is not None else "create"
        code = removed.get(influencer.id) if removed is not None else influencer.requested_code
        queue_event(session, store, told.CODE_FAILED, backend_events, now, code=code, action=action,
                    reason=influencer.code_error, **who)


def _stale(session: Session, influencer: Influencer, result: CodeResult, now: datetime) -> str:
    """The backend changed the influencer while their old code was being made: take that one down, then
    make what is wanted now (or nothing)."""
    influencer.code_synced_at = now
    if result.status == "active":
        influencer.code_remote_id, influencer.code_discount_id = result.remote_id, result.discount_id
        wants_code = terms_of(influencer) is not None and influencer.removed_at is None
        influencer.code_status = "pending" if wants_code else "removing"
        influencer.code_attempts = 0  # untried work: sync_codes has the worker come back for it at once
    return "retrying"


def _apply(session: Session, influencer: Influencer, result: CodeResult, now: datetime) -> str:
    influencer.code_synced_at = now
    if result.status == "removed":
        influencer.code_remote_id = influencer.code_discount_id = None
        influencer.code_attempts = 0
        if influencer.removed_at is not None:
            influencer.code_status = "removed"
        elif terms_of(influencer) is not None:
            influencer.code_status = "pending"  # replaced: the new code is created next
        else:
            # The backend dropped the discount of a code the connector had made: it is gone from the store.
            influencer.code_status, influencer.promo_code_key = "none", None
        return "removed"
    if result.status == "active":
        code = result.code or influencer.requested_code
        taken = session.scalar(select(Influencer.id).where(
            Influencer.store_id == influencer.store_id, Influencer.promo_code_key == match_key(code),
            Influencer.id != influencer.id))
        if taken is not None:
            # The collision policy picked a code another influencer has asked for meanwhile.
            influencer.code_status, influencer.code_error = "failed", f"{code} is another influencer's code"
            return "failed"
        influencer.promo_code, influencer.promo_code_key = code, match_key(code)
        influencer.code_remote_id, influencer.code_discount_id = result.remote_id, result.discount_id
        influencer.code_status, influencer.code_error, influencer.code_attempts = "active", None, 0
        if influencer.removed_at is not None:
            # Removed while it was being made: take it down again; it matches nothing meanwhile.
            influencer.code_status, influencer.promo_code_key = "removing", None
        return "adopted" if result.adopted else "created"
    influencer.code_attempts += 1
    influencer.code_error = (result.error or "the store refused the code")[:1000]
    # A code that should go keeps being tried (a live code of a removed influencer is worse than retries).
    removal = influencer.code_status == "removing" or (influencer.code_status == "pending"
                                                       and influencer.code_remote_id is not None)
    if (result.retryable or removal) and influencer.code_attempts < MAX_CODE_ATTEMPTS:
        return "retrying"
    influencer.code_status = "failed"
    return "failed"
