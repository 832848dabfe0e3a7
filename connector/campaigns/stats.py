"""Per-influencer figures: clicks, orders, leads, revenue (commission base after reversals), code uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.core import payload
from connector.models import Click, ClickCount, ConversionCredit


@dataclass(frozen=True)
class Stats:
    clicks: int
    #: purchases less cancellations
    orders: int
    leads: int
    #: currency → credited commission base (shares applied) less refunds and cancellations
    revenue: dict[str, Decimal]
    promo_code_uses: int

    @property
    def conversion_rate(self) -> Decimal | None:
        """Orders per click, four places; None without clicks (a code-only influencer has no rate)."""
        if not self.clicks:
            return None
        return (Decimal(self.orders) / Decimal(self.clicks)).quantize(Decimal("0.0001"))


def influencer_stats(session: Session, store_id: int, tracking_key: str, since: datetime | None,
                     until: datetime | None) -> Stats:
    def window(column, query):
        if since is not None:
            query = query.where(column >= since)
        if until is not None:
            query = query.where(column < until)
        return query

    clicks = session.scalar(window(Click.clicked_at, select(func.count()).select_from(Click).where(
        Click.store_id == store_id, Click.tracking_key == tracking_key)))
    # Clicks past every window are kept only as counts per hour (connector/worker/prune.py): an hour counts when
    # it starts in the period asked for.
    clicks += session.scalar(window(ClickCount.hour, select(func.coalesce(func.sum(ClickCount.clicks), 0)).where(
        ClickCount.store_id == store_id, ClickCount.tracking_key == tracking_key))) or 0
    credits = window(ConversionCredit.created_at, select(ConversionCredit).where(
        ConversionCredit.store_id == store_id, ConversionCredit.tracking_key == tracking_key))
    orders = leads = uses = 0
    revenue: dict[str, Decimal] = {}
    # Summed here, not in SQL: amounts are text on SQLite, and Decimal keeps every digit on both.
    for credit in session.scalars(credits):
        if credit.type == payload.PURCHASE:
            orders += 1
            uses += credit.method == "promo_code"
        elif credit.type == payload.CANCELLATION:
            orders -= 1  # a cancelled order is no order (its code was still used)
        elif credit.type == payload.LEAD:
            leads += 1
            continue
        revenue[credit.currency] = revenue.get(credit.currency, Decimal(0)) + credit.amount
    return Stats(clicks, orders, leads, revenue, uses)
