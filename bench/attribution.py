"""Attribution benchmark: the time to attribute and credit one order, in a store of 10 influencers and 10 customers
and in one of 100,000 influencers and 100,000 customers.

Each order runs through connector.crediting.conversions.apply_event in its own transaction, as the worker does:
lock the order row, join its browser reports, look up only the influencers its signals name and the customer's
earlier orders (new or returning, their first credited order), attribute under the store's model, write the
record, the conversion and its credits, commit. A quarter of the orders carry a promo code, a quarter a
landing-page ref, a quarter a browser report with three touches (time decay, so every touch is weighed), and a
quarter nothing but a returning customer, credited by `customer` to their first credited order's influencer
(both stores have lifetime_days on; every customer there has one credited order). The small store is the
baseline, measured in the same run; the figure to watch is large/small, which should stay near 1 (no work that
grows with the store).

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
KINDS = 4
#: past orders get explicit ids far above what the measured orders' own inserts will reach
PAST_ID = 50_000_000


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


def _fill_customers(sessions, store_id: int, count: int, influencers: int, offset: int) -> None:
    """`count` customers, each with one credited order ten days old (its purchase and its one credit), in bulk."""
    from connector.core.rules import email_sha256
    from connector.db import transaction
    from connector.models import Conversion, ConversionCredit, Order

    now = datetime.now(timezone.utc)
    placed = now - timedelta(days=10)
    for start in range(0, count, CHUNK):
        numbers = range(start, min(count, start + CHUNK))
        orders = [{"id": offset + n, "store_id": store_id, "platform_order_id": f"past{n}", "order_name": f"#P{n}",
                   "first_seen_at": placed, "ordered_at": placed, "currency": "EUR", "commission_base": Decimal("40"),
                   "test": False, "customer_id": f"c{n}", "customer_email_sha256": email_sha256(f"c{n}@example.com"),
                   "purchase_conversion_id": f"cv_past_{store_id}_{n}", "credited_at": placed, "cancelled": False,
                   "taxes_included": False, "starts_subscription": False, "adjusted_base": Decimal(0)}
                  for n in numbers]
        conversions = [{"id": f"cv_past_{store_id}_{n}", "store_id": store_id, "order_id": offset + n,
                        "dedupe_key": f"purchase:past{n}", "type": "conversion.purchase", "amount": Decimal("40"),
                        "currency": "EUR", "tracking_id": f"inf{n % influencers}", "test": False, "body": "{}",
                        "created_at": placed, "status": "delivered", "attempts": 1, "next_attempt_at": placed}
                       for n in numbers]
        credits = [{"conversion_id": f"cv_past_{store_id}_{n}", "tracking_key": f"inf{n % influencers}",
                    "store_id": store_id, "type": "conversion.purchase", "method": "promo_code", "share": Decimal(1),
                    "amount": Decimal("40"), "currency": "EUR", "created_at": placed} for n in numbers]
        with transaction(sessions) as session:
            session.execute(Order.__table__.insert(), orders)
            session.execute(Conversion.__table__.insert(), conversions)
            session.execute(ConversionCredit.__table__.insert(), credits)


def _orders(count: int, influencers: int, first_id: int, rng: random.Random):
    from connector.core.platform import Customer, Money, OrderEvent

    now = datetime.now(timezone.utc)
    for n in range(count):
        pick = lambda: f"inf{rng.randrange(influencers)}"  # noqa: E731
        kind = n % KINDS
        # The returning customers are the store's own (one of its `influencers`-many); the rest are new.
        customer = (Customer(f"c{rng.randrange(influencers)}", None) if kind == 3
                    else Customer(str(first_id + n), f"shopper{first_id + n}@example.com"))
        yield kind, [pick() for _ in range(3)], OrderEvent(
            order_id=str(first_id + n), order_name=f"#{first_id + n}", topic="orders/paid", occurred_at=now,
            financial_status="paid", paid=True, cancelled=False, cancelled_at=None, test=False,
            customer=customer,
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
        if kind == 3 and "by customer" not in applied.note:
            raise SystemExit(f"order {order.order_id} was not credited as a returning customer's: {applied.note}")
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
                store.lifetime_days = 365
                stores[label] = store.id
            started = time.perf_counter()
            _fill(sessions, stores[label], size)
            _fill_customers(sessions, stores[label], size, size, PAST_ID * (1 + len(stores)))
            print(f"{label}: {size:,} influencers and {size:,} customers with a credited order inserted in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
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

    print(f"\n{args.database}, {args.orders} orders per store (codes, landing refs, reports with 3 touches under "
          "time decay, returning customers), one transaction each")
    for label, size in (("small", SMALL), ("large", LARGE)):
        timings = results[label]
        print(f"  {size:>7,} influencers and customers: p50 {percentile(timings, 50) * 1000:6.2f} ms, "
              f"p90 {percentile(timings, 90) * 1000:6.2f} ms, p99 {percentile(timings, 99) * 1000:6.2f} ms")
    ratio = percentile(results["large"], 50) / percentile(results["small"], 50)
    print(f"RESULT attribution {args.database}: p50 per order {percentile(results['small'], 50) * 1000:.2f} ms "
          f"with {SMALL} influencers and customers, {percentile(results['large'], 50) * 1000:.2f} ms with "
          f"{LARGE:,}; "
          f"large/small = {ratio:.2f}")


if __name__ == "__main__":
    main()
