"""GET /admin/api/overview: the store's last 7, 30 or 90 days: clicks, orders, revenue, rate, per day, top five."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from flask import jsonify, request
from sqlalchemy import select

from connector.campaigns import figures
from connector.models import Influencer
from connector.web import services
from connector.web.app import chart
from connector.web.app.answers import format_time, money, percent, whole
from connector.web.app.auth import merchant_store
from connector.web.app.blueprint import PREFIX, AppError, bp

PERIODS = (7, 30, 90)
TOP = 5


def _top(session, store_id: int, since: datetime, clicks: dict[str, int]) -> list[dict]:
    """The five influencers with the most orders (then clicks) in the period, with their figures."""
    keys = figures.top_influencers(session, store_id, since, TOP, clicks)
    numbers = figures.by_influencer(session, store_id, since, keys)
    best = [(key, numbers.get(key, figures.Figures())) for key in keys]
    names = dict(session.execute(select(Influencer.tracking_key, Influencer.tracking_id).where(
        Influencer.store_id == store_id, Influencer.tracking_key.in_(keys))).all())
    return [{"tracking_id": names.get(key, key), "clicks": entry.clicks, "orders": entry.orders,
             "revenue": money(entry.revenue), "conversion_rate": percent(entry.conversion_rate)}
            for key, entry in best]


@bp.get(f"{PREFIX}/overview")
def overview():
    with services().sessions() as session:
        store = merchant_store(session)  # before reading the request: without a token, 401 and nothing else
        days = whole(request.args.get("days", "30"))
        if days not in PERIODS:
            raise AppError(422, "validation_error", "days: one of 7, 30 or 90", "days")
        first = datetime.now(timezone.utc).date() - timedelta(days=days - 1)
        since = datetime.combine(first, time(), timezone.utc)
        clicks = figures.clicks_by_influencer(session, store.id, since)  # read once, for the total and the top
        total = figures.store_totals(session, store.id, since, clicks)
        top = _top(session, store.id, since, clicks)
        daily = figures.per_day(session, store.id, since)
    series = [(first + timedelta(days=n), *daily.get(first + timedelta(days=n), (0, 0))) for n in range(days)]
    return jsonify(
        days=days, since=format_time(since), clicks=total.clicks, orders=total.orders, revenue=money(total.revenue),
        conversion_rate=percent(total.conversion_rate),
        series=[{"date": d.isoformat(), "clicks": c, "orders": o} for d, c, o in series],
        chart_svg=chart.draw(series), top_influencers=top)
