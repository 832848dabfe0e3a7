"""What a merchant sees of their campaigns on the app's page: links, codes, clicks, conversions, delivery.

Only for a store the request has proven it belongs to (Shopify's session token or OAuth callback).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.models import Click, Conversion, ConversionCredit, Influencer, Store
from connector.core.payload import format_amount

MAX_ROWS = 200
RECENT = 20


@dataclass(frozen=True)
class InfluencerRow:
    tracking_id: str
    link: str
    code: str | None
    code_status: str
    clicks: int
    orders: int
    revenue: str


def influencer_rows(session: Session, store: Store, public_url: str) -> list[InfluencerRow]:
    influencers = list(session.scalars(select(Influencer).where(Influencer.store_id == store.id,
                                                                Influencer.active.is_(True))
                                       .order_by(Influencer.id).limit(MAX_ROWS)))
    keys = [i.tracking_key for i in influencers]
    clicks = dict(session.execute(select(Click.tracking_key, func.count()).where(
        Click.store_id == store.id, Click.tracking_key.in_(keys)).group_by(Click.tracking_key)).all()) if keys else {}
    orders: dict[str, int] = {}
    revenue: dict[str, dict[str, Decimal]] = {}
    if keys:
        for credit in session.scalars(select(ConversionCredit).where(ConversionCredit.store_id == store.id,
                                                                     ConversionCredit.tracking_key.in_(keys))):
            if credit.type in ("conversion.purchase", "conversion.cancellation"):
                # A cancelled order is no order (as in the API's stats).
                step = 1 if credit.type == "conversion.purchase" else -1
                orders[credit.tracking_key] = orders.get(credit.tracking_key, 0) + step
            if credit.type != "conversion.lead":
                by_currency = revenue.setdefault(credit.tracking_key, {})
                by_currency[credit.currency] = by_currency.get(credit.currency, Decimal(0)) + credit.amount
    return [InfluencerRow(
        i.tracking_id, f"{public_url}/t/{i.tracking_id}?s={store.id}", i.promo_code, i.code_status,
        clicks.get(i.tracking_key, 0), orders.get(i.tracking_key, 0),
        ", ".join(f"{format_amount(a)} {c}" for c, a in sorted(revenue.get(i.tracking_key, {}).items())) or "-",
    ) for i in influencers]


def recent_conversions(session: Session, store: Store) -> list[Conversion]:
    return list(session.scalars(select(Conversion).where(Conversion.store_id == store.id)
                                .order_by(Conversion.id.desc()).limit(RECENT)))
