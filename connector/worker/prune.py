"""What anyone on the internet can make the connector write is erased once it can match nothing any more.

Clicks (`GET /t/…`) and browser reports (`POST /storefront/events`) come from anyone. They are bounded
where they arrive (a browser's repeat clicks count once; reports are rate-limited and never make order
rows), and erased here on a schedule, by every worker once an hour:

- a click, once it is older than its store's attribution window and a day: no order or sign-up can
  credit it any more. The stats still count it: clicks are first added up per influencer and hour;
- a report still waiting for its order after 7 days (orders come within hours, reconciliation reads
  the last hours again), a sign-up report after 2 days (it counts only right by its sign-up), and a
  report refused for its proof after 7 days. Joined reports stay: they are part of an order's record;
- the inbox's raw copy of any report, after 7 days (until then a report posted again is a duplicate).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from connector.db import insert
from connector.models import REPORT_TOPICS, Click, ClickCount, Event, Store, StorefrontReport

CLICK_MARGIN = timedelta(days=1)
WAITING_PURCHASE_REPORTS = timedelta(days=7)
WAITING_SIGNUP_REPORTS = timedelta(days=2)
REJECTED_REPORTS = timedelta(days=7)
REPORT_EVENTS = timedelta(days=7)
BATCH = 5000
#: batches per store per pass (100,000 clicks); a larger backlog goes over the next passes
MAX_BATCHES = 20


@dataclass(frozen=True)
class Pruned:
    clicks: int
    reports: int

    def __str__(self) -> str:
        return f"{self.clicks} clicks (counted per hour) and {self.reports} reports erased"


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _prune_clicks(session: Session, store_id: int, before: datetime) -> int:
    """One batch of the store's clicks older than `before`: erased, and counted into click_counts.

    Only what this statement itself erased is counted (DELETE … RETURNING), and the batch is taken with
    SKIP LOCKED, so two workers pruning at once never count a click twice.
    """
    batch = (select(Click.id).where(Click.store_id == store_id, Click.clicked_at < before)
             .order_by(Click.clicked_at).limit(BATCH).with_for_update(skip_locked=True))
    ids = list(session.scalars(batch))
    if not ids:
        return 0
    rows = session.execute(delete(Click).where(Click.id.in_(ids))
                           .returning(Click.tracking_key, Click.clicked_at)).all()
    counts = Counter((row.tracking_key, _hour(row.clicked_at)) for row in rows)
    for (tracking_key, hour), clicks in counts.items():
        statement = insert(session, ClickCount.__table__).values(
            store_id=store_id, tracking_key=tracking_key, hour=hour, clicks=clicks)
        session.execute(statement.on_conflict_do_update(
            index_elements=["store_id", "tracking_key", "hour"],
            set_={"clicks": ClickCount.__table__.c.clicks + statement.excluded.clicks}))
    return len(rows)


def due(session: Session, now: datetime) -> Pruned:
    """What a pass would erase now, counted (connector prune --dry-run)."""
    clicks = 0
    for store_id, window_days in session.execute(select(Store.id, Store.attribution_window_days)).all():
        clicks += session.scalar(select(func.count()).select_from(Click).where(
            Click.store_id == store_id, Click.clicked_at < now - timedelta(days=window_days) - CLICK_MARGIN)) or 0
    reports = 0
    for condition in _report_conditions(now):
        reports += session.scalar(select(func.count()).select_from(StorefrontReport).where(*condition)) or 0
    return Pruned(clicks, reports)


def _report_conditions(now: datetime) -> list[list]:
    conditions = []
    for kind, status, keep in ((None, "rejected", REJECTED_REPORTS), ("purchase", "waiting", WAITING_PURCHASE_REPORTS),
                               ("signup", "waiting", WAITING_SIGNUP_REPORTS)):
        condition = [StorefrontReport.status == status, StorefrontReport.received_at < now - keep]
        if kind is not None:
            condition.append(StorefrontReport.kind == kind)
        conditions.append(condition)
    return conditions


def prune(session: Session, now: datetime) -> Pruned:
    """Erase what can no longer match anything (one pass; a huge backlog is erased over several)."""
    clicks = 0
    for store_id, window_days in session.execute(select(Store.id, Store.attribution_window_days)).all():
        for _ in range(MAX_BATCHES):
            pruned = _prune_clicks(session, store_id, now - timedelta(days=window_days) - CLICK_MARGIN)
            clicks += pruned
            if pruned < BATCH:
                break
    reports = 0
    for condition in _report_conditions(now):
        reports += session.execute(delete(StorefrontReport).where(*condition)).rowcount
    # The partial index's own condition, written out (a bound parameter would not let the planner use it).
    session.execute(delete(Event).where(REPORT_TOPICS, Event.received_at < now - REPORT_EVENTS,
                                        Event.status != "pending"))
    return Pruned(clicks, reports)
