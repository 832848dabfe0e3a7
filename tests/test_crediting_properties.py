"""Property: whatever order, mix and repetition of deliveries an order arrives in, it is credited at most
once, reversals never exceed the purchase, and a cancelled purchase nets to exactly zero."""

from __future__ import annotations

import shutil
from decimal import Decimal

from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st

from standins.shopify import samples
from connector import create_app
from connector.campaigns import directory
from connector.db import make_engine, make_sessionmaker, transaction
from connector.settings import Settings

from .conftest import SHOP, SHOPIFY_SECRET
from .helpers import conversions, drain, post_shopify

ORDER = 820982911946154508


def _deliveries():
    base = samples.order(order_id=ORDER, codes=("ALICE15",), cart_ref="", landing_site="/", landing_site_ref="")
    refund_a, refund_b = samples.refund(refund_id=1, order_id=ORDER), samples.refund(refund_id=2, order_id=ORDER)
    cancelled = {**base, "cancelled_at": "2026-11-23T09:00:00+01:00", "financial_status": "refunded"}
    return {
        "create_pending": ("orders/create", {**base, "financial_status": "pending"}),
        "paid": ("orders/paid", base),
        "updated": ("orders/updated", base),
        "updated_with_refund": ("orders/updated", {**base, "financial_status": "partially_refunded",
                                                   "refunds": [refund_a]}),
        "refund_a": ("refunds/create", refund_a),
        "refund_b": ("refunds/create", refund_b),
        "cancelled": ("orders/cancelled", cancelled),
    }


DELIVERIES = _deliveries()


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sequence=st.lists(st.sampled_from(sorted(DELIVERIES)), min_size=1, max_size=8),
    batches=st.integers(min_value=1, max_value=3),
)
def test_an_order_is_credited_once_and_reversed_to_at_most_zero(sqlite_template, tmp_path_factory, sequence, batches):
    path = tmp_path_factory.mktemp("prop") / "db.sqlite"
    shutil.copy(sqlite_template, path)
    config = Settings(database_url=f"sqlite:///{path}", shopify_api_secrets=(SHOPIFY_SECRET,), poll_interval=0.01)
    engine = make_engine(config.database_url)
    sessions = make_sessionmaker(engine)
    try:
        with transaction(sessions) as session:
            store = directory.add_store(session, config.secret_key, "shopify", SHOP)
            directory.add_influencer(session, store, "alice", code="ALICE15")
        client = create_app(config, engine=engine).test_client()
        # Deliver in `batches` rounds with a worker run after each, so events meet the order in every state.
        size = max(1, len(sequence) // batches)
        for start in range(0, len(sequence), size):
            for name in sequence[start:start + size]:
                topic, body = DELIVERIES[name]
                assert post_shopify(client, topic, body).status_code == 200
            drain(config, sessions)

        rows = conversions(sessions)
        purchases = [c for c in rows if c.type == "conversion.purchase"]
        reversals = [c for c in rows if c.reverses is not None]
        assert len(purchases) <= 1
        assert len({c.dedupe_key for c in rows}) == len(rows)
        if not purchases:
            assert not reversals
            return
        [purchase] = purchases
        reversed_total = sum((c.amount for c in reversals), Decimal(0))
        assert all(c.reverses == purchase.id and c.amount > 0 for c in reversals)
        assert reversed_total <= purchase.amount
        if any(c.type == "conversion.cancellation" for c in reversals):
            assert reversed_total == purchase.amount
        # The purchase is credited only once paid was seen, and cancellation first means no purchase.
        first_paid_or_cancel = next(n for n in sequence if n != "create_pending" and not n.startswith("refund"))
        assert first_paid_or_cancel != "cancelled"
    finally:
        engine.dispose()
