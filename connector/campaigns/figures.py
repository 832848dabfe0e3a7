"""A store's figures for the merchant app: clicks, orders and revenue, in all, per influencer and per day.

Counted as the API's per-influencer stats count them (connector/campaigns/stats.py): orders are purchases
less cancellations, revenue is the credited commission base less refunds and cancellations, clicks are the
click rows plus the hourly counts kept of pruned ones. Here for many influencers at once, in a few queries
whatever their number, so a page of 25 of 10,000 influencers costs what a page of 25 costs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable

from sqlalchemy import Integer, cast, func, literal_column, select
from sqlalchemy.orm import Session

from connector.core import payload
from connector.models import Click, ClickCount, ConversionCredit

ORDER_STEP = {payload.PURCHASE: 1, payload.CANCELLATION: -1}
MILLIONTHS = Decimal(1_000_000)


@dataclass
class Figures:
    clicks: int = 0
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)

    @property
    def conversion_rate(self) -> Decimal | None:
        """Orders per click as a percentage, two places; None without clicks."""
        if not self.clicks:
            return None
        return (Decimal(100 * self.orders) / Decimal(self.clicks)).quantize(Decimal("0.01"))


def _day(session: Session, column):
    """The UTC calendar day of a time column, as text `YYYY-MM-DD`, in the database's own terms."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    # SQLite keeps UTC times as text, `YYYY-MM-DD HH:MM:SS…` (models.base.UTCDateTime): the day is its start,
    # which costs far less than date() parsing every row
    return func.substr(column, 1, 10)


def _keyed(query, column, keys: Iterable[str] | None):
    return query if keys is None else query.where(column.in_(list(keys)))


def clicks_by_influencer(session: Session, store_id: int, since: datetime | None,
                         keys: Iterable[str] | None = None) -> dict[str, int]:
    keys = None if keys is None else list(keys)
    found: dict[str, int] = defaultdict(int)
    recent = select(Click.tracking_key, func.count()).where(Click.store_id == store_id)
    kept = select(ClickCount.tracking_key, func.sum(ClickCount.clicks)).where(ClickCount.store_id == store_id)
    if since is not None:
        recent, kept = recent.where(Click.clicked_at >= since), kept.where(ClickCount.hour >= since)
    for query, key in ((recent, Click.tracking_key), (kept, ClickCount.tracking_key)):
        for tracking_key, count in session.execute(_keyed(query, key, keys).group_by(key)):
            found[tracking_key] += int(count or 0)
    return dict(found)


def _credits(session: Session, store_id: int, since: datetime | None, keys: list[str] | None, *columns):
    query = select(*columns).where(ConversionCredit.store_id == store_id, ConversionCredit.type != payload.LEAD)
    if since is not None:
        query = query.where(ConversionCredit.created_at >= since)
    return session.execute(_keyed(query, ConversionCredit.tracking_key, keys))


def by_influencer(session: Session, store_id: int, since: datetime | None,
                  keys: Iterable[str] | None = None) -> dict[str, Figures]:
    """Figures per tracking key (all of the store's, or those of `keys`)."""
    keys = None if keys is None else list(keys)
    figures: dict[str, Figures] = defaultdict(Figures)
    for key, clicks in clicks_by_influencer(session, store_id, since, keys).items():
        figures[key].clicks = clicks
    # Summed here, not in SQL: amounts are text on SQLite, and Decimal keeps every digit on both.
    for key, kind, currency, amount in _credits(session, store_id, since, keys, ConversionCredit.tracking_key,
                                                ConversionCredit.type, ConversionCredit.currency,
                                                ConversionCredit.amount):
        entry = figures[key]
        entry.orders += ORDER_STEP.get(kind, 0)
        entry.revenue[currency] = entry.revenue.get(currency, Decimal(0)) + amount
    return dict(figures)


def _exact_sum(session: Session, column):
    """SUM of an amount column, exact on both databases.

    PostgreSQL sums NUMERIC exactly. SQLite keeps amounts as text (at most 6 places, Numeric(20, 6)) and would
    sum them as floats: there they are summed as whole millionths, exact for amounts under a billion each
    (tests/test_figures.py).
    """
    if session.get_bind().dialect.name == "postgresql":
        return func.sum(column)
    return func.sum(cast(func.round(column * literal_column("1000000")), Integer))


def _amount(session: Session, total) -> Decimal:
    if session.get_bind().dialect.name == "postgresql":
        return Decimal(total or 0)
    return Decimal(int(total or 0)) / MILLIONTHS


def _since(query, column, since: datetime | None):
    return query if since is None else query.where(column >= since)


def store_totals(session: Session, store_id: int, since: datetime | None,
                 clicks: dict[str, int] | None = None) -> Figures:
    """The store's figures, summed by the database (a period holds as many rows as it holds orders).

    `clicks`: clicks_by_influencer of the same period, when the caller has it. An order shared by two
    influencers is one order here (each of them counts it).
    """
    total = Figures()
    total.clicks = sum((clicks if clicks is not None else clicks_by_influencer(session, store_id, since)).values())
    revenue = _since(select(ConversionCredit.currency, _exact_sum(session, ConversionCredit.amount)).where(
        ConversionCredit.store_id == store_id, ConversionCredit.type != payload.LEAD), ConversionCredit.created_at, since)
    for currency, amount in session.execute(revenue.group_by(ConversionCredit.currency)):
        total.revenue[currency] = _amount(session, amount)
    orders = _since(select(ConversionCredit.type, func.count(func.distinct(ConversionCredit.conversion_id))).where(
        ConversionCredit.store_id == store_id, ConversionCredit.type.in_(list(ORDER_STEP))),
        ConversionCredit.created_at, since)
    for kind, count in session.execute(orders.group_by(ConversionCredit.type)):
        total.orders += ORDER_STEP[kind] * count
    return total


def top_influencers(session: Session, store_id: int, since: datetime | None, limit: int,
                    clicks: dict[str, int] | None = None) -> list[str]:
    """The tracking keys with the most orders in the period, then the most clicks (counted, not summed, by the
    database); only those with one or the other. `clicks` as in store_totals."""
    orders: dict[str, int] = defaultdict(int)
    query = _since(select(ConversionCredit.tracking_key, ConversionCredit.type, func.count()).where(
        ConversionCredit.store_id == store_id, ConversionCredit.type.in_(list(ORDER_STEP))),
        ConversionCredit.created_at, since)
    for key, kind, count in session.execute(query.group_by(ConversionCredit.tracking_key, ConversionCredit.type)):
        orders[key] += ORDER_STEP[kind] * count
    if clicks is None:
        clicks = clicks_by_influencer(session, store_id, since)
    ranked = sorted(set(orders) | set(clicks), key=lambda key: (-orders.get(key, 0), -clicks.get(key, 0), key))
    return [key for key in ranked if orders.get(key) or clicks.get(key)][:limit]


def per_day(session: Session, store_id: int, since: datetime) -> dict[date, tuple[int, int]]:
    """(clicks, orders) per UTC day since `since`; days with neither are absent."""
    found: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    day = _day(session, Click.clicked_at)
    for text, count in session.execute(select(day, func.count()).where(
            Click.store_id == store_id, Click.clicked_at >= since).group_by(day)):
        found[date.fromisoformat(text)][0] += count
    day = _day(session, ClickCount.hour)
    for text, count in session.execute(select(day, func.sum(ClickCount.clicks)).where(
            ClickCount.store_id == store_id, ClickCount.hour >= since).group_by(day)):
        found[date.fromisoformat(text)][0] += int(count or 0)
    day = _day(session, ConversionCredit.created_at)
    for text, kind, count in session.execute(select(day, ConversionCredit.type,
                                                    func.count(func.distinct(ConversionCredit.conversion_id))).where(
            ConversionCredit.store_id == store_id, ConversionCredit.created_at >= since,
            ConversionCredit.type.in_(list(ORDER_STEP))).group_by(day, ConversionCredit.type)):
        found[date.fromisoformat(text)][1] += ORDER_STEP[kind] * count
    return {day: (clicks, orders) for day, (clicks, orders) in found.items()}
