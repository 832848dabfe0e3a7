"""A store's figures for the merchant app (connector/campaigns/figures.py), summed by the database itself.

SQLite keeps amounts as text and would sum them as floats; the figures must still be exact to the last
millionth, as Decimal sums them, on both databases.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import delete

from connector.campaigns import figures
from connector.core import payload
from connector.db import transaction
from connector.models import Conversion, ConversionCredit

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
amounts = st.decimals(min_value=Decimal("-999999999.999999"), max_value=Decimal("999999999.999999"), places=6,
                      allow_nan=False, allow_infinity=False)


def _credit(session, store_id: int, key: str, amount: Decimal, currency: str, kind: str, at: datetime) -> None:
    conversion_id = "cv_" + uuid.uuid4().hex[:28]
    session.add(Conversion(id=conversion_id, store_id=store_id, dedupe_key=conversion_id, type=kind, amount=abs(amount),
                           currency=currency, body="{}", created_at=at, next_attempt_at=at))
    session.flush()
    session.add(ConversionCredit(conversion_id=conversion_id, tracking_key=key, store_id=store_id, type=kind,
                                 method="promo_code", share=Decimal(1), amount=amount, currency=currency, created_at=at))


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(amounts, st.sampled_from(["EUR", "USD"])), min_size=1, max_size=12))
def test_revenue_is_summed_exactly_by_the_database(sessions, store, values):
    with transaction(sessions) as session:
        session.execute(delete(ConversionCredit))
        session.execute(delete(Conversion))
        for amount, currency in values:
            _credit(session, store.id, "alice", amount, currency, payload.PURCHASE, NOW)
    expected: dict[str, Decimal] = {}
    for amount, currency in values:
        expected[currency] = expected.get(currency, Decimal(0)) + amount
    with sessions() as session:
        total = figures.store_totals(session, store.id, NOW - timedelta(days=1))
    assert total.revenue == expected
    assert total.orders == len(values)


def test_the_period_and_the_top_influencers(sessions, store):
    with transaction(sessions) as session:
        _credit(session, store.id, "alice", Decimal("10.50"), "EUR", payload.PURCHASE, NOW)
        _credit(session, store.id, "carol", Decimal("5"), "EUR", payload.PURCHASE, NOW)
        _credit(session, store.id, "carol", Decimal("7"), "EUR", payload.PURCHASE, NOW - timedelta(hours=1))
        _credit(session, store.id, "carol", Decimal("-7"), "EUR", payload.CANCELLATION, NOW - timedelta(minutes=5))
        _credit(session, store.id, "bob", Decimal("99"), "EUR", payload.PURCHASE, NOW - timedelta(days=40))
    with sessions() as session:
        recent = figures.store_totals(session, store.id, NOW - timedelta(days=30))
        assert (recent.orders, recent.revenue) == (2, {"EUR": Decimal("15.50")})
        everything = figures.store_totals(session, store.id, None)
        assert (everything.orders, everything.revenue) == (3, {"EUR": Decimal("114.50")})
        # carol: two purchases less one cancellation is one order, as alice has; a tie goes by name
        assert figures.top_influencers(session, store.id, NOW - timedelta(days=30), 5) == ["alice", "carol"]
        assert figures.top_influencers(session, store.id, None, 1) == ["alice"]
