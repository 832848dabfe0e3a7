"""Attribution benchmark: the time to attribute and credit one order, in a store of 10 and of 100,000 influencers.

Each order runs through connector.crediting.conversions.apply_event in its own transaction, as the worker does:
lock the order row, join its browser reports, look up only the influencers its signals name, attribute
under the store's model, write the record, the conversion and its credits, commit. A third of the
orders carry a promo code, a third a landing-page ref, a third a browser report with three touches
(time decay, so every touch is weighed). The small store is the baseline, measured in the same run;
the figure to watch is large/small, which should stay near 1 (no work that grows with the store).

    python bench/attribution.py                          # PostgreSQL
    python bench/attribution.py --database sqlite --orders 300
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_database, exit_cleanly_on_sigterm, percentile, temporary_folder  # noqa: E402

SMALL, LARGE = 10, 100_000
CHUNK = 5000


def _fill(sessions, store_id: int, count: int) -> None:
    """`count` influencers with codes, inserted in bulk (the API's path is measured elsewhere)."""
    from connector.db import transaction
    from connector.models import Influencer

    now = datetime.now(timezone.utc)
    for start in range(0, count, CHUNK):
        rows = [{"store_id": store_id, "tracking_id": f"inf{n}", "tracking_key": f"inf{n}",
                 "promo_code": f"CODE{n}", "promo_code_key": f"code{n}", "campaign_id": "bench",
                 "active": True, "created_at": now, "code_status": "active", "code_attempts": 0,
                 "once_per_customer": False}
                for n in range(start, min(count, start + CHUNK))]
        with transaction(sessions) as session:
            session.execute(Influencer.__table__.insert(), rows)


def _orders(count: int, influencers: int, first_id: int, rng: random.Random):
    from connector.core.platform import Customer, Money, OrderEvent

    now = datetime.now(timezone.utc)
    for n in range(count):
        pick = lambda: f"inf{rng.randrange(influencers)}"  # noqa: E731
        kind = n % 3
        yield kind, [pick() for _ in range(3)], OrderEvent(
            order_id=str(first_id + n), order_name=f"#{first_id + n}", topic="orders/paid", occurred_at=now,
            financial_status="paid", paid=True, cancelled=False, cancelled_at=None, test=False,
            customer=Customer(str(n), f"shopper{n}@example.com"),
            discount_codes=(f"CODE{pick()[3:]}",) if kind == 0 else (),
            cart_attributes={}, landing_url=f"/products/x?ref={pick()}" if kind == 1 else None, landing_ref=None,
            commission_base=Money(Decimal("59.90"), "EUR"), proof=f"token-{first_id + n}",
        )


def _measure(sessions, store_id: int, influencers: int, orders: int, first_id: int) -> list[float]:
    from connector.campaigns import reports
    from connector.crediting.conversions import apply_event
    from connector.db import transaction
    from connector.models import Store, StorefrontReport

    rng = random.Random(7)
    timings = []
    now = datetime.now(timezone.utc)
    for kind, refs, order in _orders(orders, influencers, first_id, rng):
        if kind == 2:
            with transaction(sessions) as session:
                session.add(StorefrontReport(
                    store_id=store_id, kind="purchase", platform_order_id=order.order_id,
                    proof_sha256=reports.proof_hash(order.proof), received_at=now, status="waiting",
                    touches=[{"ref": ref, "click_id": None, "at": (now - timedelta(days=d)).isoformat()}
                             for ref, d in zip(refs, (9, 4, 1))]))
        started = time.perf_counter()
        with transaction(sessions) as session:
            applied = apply_event(session, session.get(Store, store_id), order, datetime.now(timezone.utc))
        timings.append(time.perf_counter() - started)
        if not applied.conversions:
            raise SystemExit(f"order {order.order_id} was not credited: {applied.note}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--orders", type=int, default=600, help="orders per store (default 600)")
    args = parser.parse_args()
    exit_cleanly_on_sigterm()

    from connector.campaigns import directory
    from connector.db import make_engine, make_sessionmaker, transaction
    from connector.settings import DEV_SECRET_KEY

    with temporary_folder("attribution") as folder, bench_database(args.database, "attribution", folder) as url:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        stores = {}
        for label, size in (("small", SMALL), ("large", LARGE)):
            with transaction(sessions) as session:
                store = directory.add_store(session, DEV_SECRET_KEY, "shopify", f"bench-{label}.myshopify.com",
                                            access_token="shpat_bench")
                store.attribution_model = "time_decay"
                stores[label] = store.id
            started = time.perf_counter()
            _fill(sessions, stores[label], size)
            print(f"{label}: {size:,} influencers inserted in {time.perf_counter() - started:.1f} s", flush=True)
        results = {}
        # Warm both (connections, statement caches), then measure them interleaved in halves, so drift in
        # the machine's load falls on both alike.
        for label, size in (("small", SMALL), ("large", LARGE)):
            _measure(sessions, stores[label], size, 30, 10_000_000)
        half = args.orders // 2
        for round_number in range(2):
            for label, size in (("small", SMALL), ("large", LARGE)):
                results.setdefault(label, []).extend(
                    _measure(sessions, stores[label], size, half, 1_000_000 * (round_number + 1)))
        engine.dispose()

    print(f"\n{args.database}, {args.orders} orders per store (codes, landing refs, reports with 3 touches, "
          "time decay), one transaction each")
    for label, size in (("small", SMALL), ("large", LARGE)):
        timings = results[label]
        print(f"  {size:>7,} influencers: p50 {percentile(timings, 50) * 1000:6.2f} ms, "
              f"p90 {percentile(timings, 90) * 1000:6.2f} ms, p99 {percentile(timings, 99) * 1000:6.2f} ms")
    ratio = percentile(results["large"], 50) / percentile(results["small"], 50)
    print(f"RESULT attribution {args.database}: p50 per order {percentile(results['small'], 50) * 1000:.2f} ms "
          f"with {SMALL} influencers, {percentile(results['large'], 50) * 1000:.2f} ms with {LARGE:,}; "
          f"large/small = {ratio:.2f}")


if __name__ == "__main__":
    main()
