"""The stores bench/merchant_app.py measures: a large one seeded in bulk and an empty one.

The large store's rows are written with bulk INSERTs in the shapes the real code writes; why, and what the rows
are, is in bench/merchant_app.py's docstring.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from _common import SHOP

EMPTY_SHOP = "bench-empty.myshopify.com"
CHUNK = 5000
CURRENCY = "EUR"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def _skewed(rng: random.Random, count: int) -> int:
    """An index in 0..count-1 where a few come up often (a long tail of influencers who bring little)."""
    return min(count - 1, int(count * rng.random() ** 3))


def _bulk(session, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(table.insert(), rows[start:start + CHUNK])


def setup_report() -> list[dict]:
    """What a finished setup keeps on the store (connector/installs/setup.py: SetupStep as dicts)."""
    return [
        {"key": "webhooks", "title": "Order webhooks", "state": "done", "detail": "Shopify sends the store's orders, "
         "refunds and cancellations to the connector.", "action": None, "action_url": None},
        {"key": "protected_data", "title": "Protected customer data", "state": "done", "detail": "The app may read "
         "the orders' customers, so self-referrals are caught.", "action": None, "action_url": None},
        {"key": "web_pixel", "title": "Web pixel", "state": "done", "detail": "The connector's web pixel is connected: "
         "it keeps the influencer links shoppers click.", "action": None, "action_url": None},
    ]


@dataclass
class _OrderRows:
    """The rows of the orders and of what crediting made of them, table by table."""

    orders: list[dict] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    conversions: list[dict] = field(default_factory=list)
    credits: list[dict] = field(default_factory=list)
    attempts: list[dict] = field(default_factory=list)


def seed(url: str, store_id: int, *, influencers: int, orders: int, clicks: int, click_counts: int,
         seed_value: int = 7) -> tuple[dict[str, int], dict[str, float]]:
    """The large store's rows, in bulk (see bench/merchant_app.py's docstring); returns how many of each were
    written, and the seconds taken: building the rows in Python, then each table's INSERTs."""
    from connector.db import make_engine, make_sessionmaker
    from connector.models import (AttributionRecord, Click, ClickCount, Conversion, ConversionCredit,
                                  DeliveryAttempt, Order)

    rng = random.Random(seed_value)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    counts: dict[str, int] = {}
    timings: dict[str, float] = {}
    begun = time.perf_counter()
    try:
        refs, ids = _write_influencers(sessions, store_id, influencers, now)
        counts["influencers"] = influencers
        rows = _order_rows(rng, store_id, refs, orders, now)
        timings["influencers, orders' rows built"] = time.perf_counter() - begun
        begun = time.perf_counter()
        click_rows = _click_rows(rng, store_id, refs, ids, clicks, now)
        count_rows = _click_count_rows(rng, store_id, refs, click_counts, now)
        timings["clicks' rows built"] = time.perf_counter() - begun
        _insert(sessions, ((Order.__table__, rows.orders), (AttributionRecord.__table__, rows.records),
                           (Conversion.__table__, rows.conversions), (ConversionCredit.__table__, rows.credits),
                           (DeliveryAttempt.__table__, rows.attempts), (Click.__table__, click_rows),
                           (ClickCount.__table__, count_rows)), counts, timings)
        if engine.dialect.name == "postgresql":
            # Orders were given their ids; the sequence must follow, as it would have.
            with engine.begin() as connection:
                connection.exec_driver_sql("SELECT setval(pg_get_serial_sequence('orders', 'id'), "
                                           "(SELECT max(id) FROM orders))")
        counts["failed"] = sum(1 for c in rows.conversions if c["status"] == "failed")
        return counts, timings
    finally:
        engine.dispose()


# -- influencers -----------------------------------------------------------------------------------


def _influencer_row(store_id: int, n: int, now: datetime) -> dict:
    """Most with a code made in the store, a few failed, some without a code."""
    from connector.core.attribution import match_key

    tracking_id = f"creator{n:05d}"
    kind = n % 100
    code = f"CREATOR{n:05d}" if kind < 91 else None
    status = "failed" if kind == 90 else ("active" if code else "none")
    return {
        "store_id": store_id, "tracking_id": tracking_id, "tracking_key": tracking_id,
        "promo_code": code, "promo_code_key": match_key(code) if code else None, "campaign_id": "spring-26",
        "email_sha256": _sha(f"{tracking_id}@creators.example"), "active": True,
        "created_at": now - timedelta(days=120, minutes=n), "requested_code": code,
        "discount_kind": "percentage" if code else None, "discount_value": Decimal("15") if code else None,
        "once_per_customer": False, "code_status": status, "code_attempts": 1 if code else 0,
        "code_error": "Shopify refused the code: Code must be unique. Please try a different code."
        if status == "failed" else None,
        "code_remote_id": f"gid://shopify/DiscountRedeemCode/{10_000 + n}" if status == "active" else None,
        "code_discount_id": "gid://shopify/DiscountCodeNode/77" if status == "active" else None,
        "code_synced_at": now - timedelta(days=119) if code else None,
    }


def _write_influencers(sessions, store_id: int, influencers: int, now: datetime) -> tuple[list, dict[str, int]]:
    """The influencers inserted and the store set up; returns their refs (for attribution) and their ids by
    tracking key."""
    from connector.core.attribution import InfluencerRef
    from connector.db import transaction
    from connector.models import Influencer, Store

    rows = [_influencer_row(store_id, n, now) for n in range(influencers)]
    refs = [InfluencerRef(row["tracking_id"], "spring-26", row["promo_code"], row["email_sha256"]) for row in rows]
    with transaction(sessions) as session:
        _bulk(session, Influencer.__table__, rows)
        store = session.get(Store, store_id)
        store.setup_report, store.setup_at, store.last_event_at = setup_report(), now - timedelta(days=120), now
        ids = dict(session.execute(Influencer.__table__.select().with_only_columns(
            Influencer.tracking_key, Influencer.id).where(Influencer.store_id == store_id)).all())
    return refs, ids


# -- orders and what crediting made of them --------------------------------------------------------


def _order_rows(rng: random.Random, store_id: int, refs: list, orders: int, now: datetime) -> _OrderRows:
    """Orders over the last 90 days, oldest first, and what crediting made of each."""
    from connector.settings import DEFAULT_RETRY_SCHEDULE

    with_code = [i for i, ref in enumerate(refs) if ref.promo_code and i % 100 != 90]  # codes live in the store
    span = 90 * 86400
    seen = sorted(now - timedelta(seconds=rng.randrange(span)) for _ in range(orders))
    rows = _OrderRows()
    retries = len(DEFAULT_RETRY_SCHEDULE) + 1
    for n, first_seen in enumerate(seen):
        _add_order(rng, store_id, n, first_seen, refs, with_code, now, retries, rows)
    return rows


def _signals(rng: random.Random, refs: list, with_code: list[int], first_seen: datetime) -> list:
    """What an order brings: a promo code, clicks, a landing ref, a stranger's code, or nothing."""
    from connector.core.attribution import CLICK, LANDING_PAGE, PROMO_CODE, Signal

    influencers = len(refs)
    pick = refs[_skewed(rng, influencers)]
    signals: list[Signal] = []
    r = rng.random()
    if r < 0.42:  # a promo code, sometimes with another influencer's ref in the landing page
        coded = refs[with_code[_skewed(rng, len(with_code))]]
        signals.append(Signal(PROMO_CODE, "discount_codes", coded.promo_code, coded))
        if rng.random() < 0.3:
            signals.append(Signal(LANDING_PAGE, "landing_site", pick.tracking_id, pick))
    elif r < 0.64:  # the browser's report: one or two clicks, sometimes one out of the window
        for back in sorted((rng.uniform(0.1, 40) for _ in range(rng.choice((1, 1, 2)))), reverse=True):
            other = refs[_skewed(rng, influencers)]
            signals.append(Signal(CLICK, "storefront_report", other.tracking_id, other,
                                  f"ck_{_hex(rng, 24)}", first_seen - timedelta(days=back)))
    elif r < 0.69:
        signals.append(Signal(LANDING_PAGE, "landing_site_ref", pick.tracking_id, pick))
    elif r < 0.71:  # a code no influencer of the store has
        signals.append(Signal(PROMO_CODE, "discount_codes", f"SUMMER{rng.randrange(90)}", None))
    return signals


def _add_order(rng: random.Random, store_id: int, n: int, first_seen: datetime, refs: list, with_code: list[int],
               now: datetime, retries: int, rows: _OrderRows) -> None:
    """One order, its attribution record and, when credited, its conversions."""
    from connector.core import payload
    from connector.core.attribution import DEFAULT_MODEL, DEFAULT_PRECEDENCE, attribute_signals
    from connector.core.platform import Customer as ShopCustomer

    order_id = str(5_100_000_000_000 + n)
    amount = Decimal(rng.randrange(1500, 25000)) / 100
    customer = ShopCustomer(str(7_000_000 + rng.randrange(60_000)), None, rng.random() < 0.6)
    email_hash = _sha(f"shopper{customer.id}@example.com")
    test = rng.random() < 0.01
    signals = _signals(rng, refs, with_code, first_seen)
    attribution = attribute_signals(signals, first_seen, customer, DEFAULT_PRECEDENCE, DEFAULT_MODEL)
    decided = first_seen + timedelta(seconds=rng.choice((1, 2, 3, 45)))
    if test:
        outcome = "test_order"
    elif attribution.credits:
        outcome = "credit"
    else:
        outcome = "no_signal" if not attribution.outcomes else "no_eligible_signal"
    order = {
        "id": n + 1, "store_id": store_id, "platform_order_id": order_id, "order_name": f"#{1001 + n}",
        "first_seen_at": first_seen, "currency": CURRENCY, "commission_base": amount, "test": test,
        "customer_id": customer.id, "customer_email_sha256": email_hash, "purchase_conversion_id": None,
        "credited_at": None, "cancelled": False, "deferred_refunds": None,
        "proof_sha256": _sha(f"checkout-{order_id}"), "last_event_id": None, "awaiting_report_until": None,
    }
    rows.orders.append(order)
    rows.records.append({
        "order_id": n + 1, "decided_at": decided, "method": attribution.method, "outcome": outcome,
        "credits": [{"tracking_id": c.influencer.tracking_id, "share": payload.format_share(c.share)}
                    for c in attribution.credits] if outcome == "credit" else [],
        "signals": [o.as_record() for o in attribution.outcomes],
    })
    if outcome == "credit":
        _credit(rng, store_id, order, attribution, customer, email_hash, decided, now, retries, rows)


def _credit(rng: random.Random, store_id: int, order: dict, attribution, customer, email_hash: str,
            decided: datetime, now: datetime, retries: int, rows: _OrderRows) -> None:
    """A credited order's purchase conversion and, for a few, its cancellation."""
    from connector.core import payload
    from connector.core.attribution import CLICK, PROMO_CODE
    from connector.core.platform import Money

    order_id, amount, first_seen = order["platform_order_id"], order["commission_base"], order["first_seen_at"]
    winner = attribution.credits[0].influencer
    won = [o.signal for o in attribution.outcomes if o.status == "won"]
    shares = [(c.influencer.tracking_id, c.share) for c in attribution.credits]
    fields = dict(
        order_id=order_id, order_name=order["order_name"], occurred_at=first_seen,
        amount=Money(amount, CURRENCY),
        presentment=None, tracking_id=winner.tracking_id, campaign_id=winner.campaign_id,
        method=attribution.method,
        promo_code=won[0].value if attribution.method == PROMO_CODE else None,
        click_id=won[0].click_id if attribution.method == CLICK else None, credits=shares,
        customer_email_sha256=email_hash, first_order=customer.first_order, reverses=None, test=False)
    purchase = _conversion(rng, store_id, order["id"], f"purchase:{order_id}", payload.PURCHASE, decided, fields,
                           now, retries, rows)
    order["purchase_conversion_id"], order["credited_at"] = purchase, decided
    if rng.random() < 0.006:  # cancelled later: the purchase is reversed
        order["cancelled"] = True
        later = min(now, decided + timedelta(hours=rng.uniform(1, 72)))
        _conversion(rng, store_id, order["id"], f"cancellation:{order_id}", payload.CANCELLATION, later,
                    {**fields, "reverses": purchase}, now, retries, rows)


def _conversion(rng, store_id, order_pk, dedupe_key, kind, created, fields, now, retries, rows: _OrderRows) -> str:
    """A conversion as the worker leaves it: its body, its credits, its delivery attempts and status."""
    from connector.core import payload
    from connector.core.attribution import match_key

    amount = fields["amount"].amount
    conversion_id = f"cv_{int(created.timestamp() * 1000):012x}{_hex(rng, 16)}"
    body = payload.conversion_body(conversion_id=conversion_id, created_at=created, platform="shopify", store=SHOP,
                                   type=kind, **fields)
    sign = -1 if kind in (payload.REFUND, payload.CANCELLATION) else 1
    for tracking_id, share in fields["credits"]:
        rows.credits.append({"conversion_id": conversion_id, "tracking_key": match_key(tracking_id),
                             "store_id": store_id, "type": kind, "method": fields["method"], "share": share,
                             "amount": sign * share * amount, "currency": CURRENCY, "created_at": created})
    status, tries, at, last_error = _deliveries(rng, conversion_id, created, now, retries, rows.attempts)
    rows.conversions.append({
        "id": conversion_id, "store_id": store_id, "order_id": order_pk, "dedupe_key": dedupe_key, "type": kind,
        "amount": amount, "currency": CURRENCY, "tracking_id": fields["tracking_id"], "reverses": fields["reverses"],
        "test": False, "body": body, "created_at": created, "status": status, "attempts": tries,
        "next_attempt_at": created if status == "pending" else at, "lease_until": None, "claimed_by": None,
        "delivered_at": at if status == "delivered" else None, "last_error": last_error if status == "failed" else None,
    })
    return conversion_id


def _deliveries(rng: random.Random, conversion_id: str, created: datetime, now: datetime, retries: int,
                attempts: list[dict]) -> tuple[str, int, datetime, str | None]:
    """A conversion's delivery attempts (appended to `attempts`); returns its status, how many attempts, when the
    last one was followed (its next attempt or its delivery) and the last error."""
    age = (now - created).total_seconds()
    r = rng.random()
    if age < 600:  # the newest: not sent yet
        status, tries = "pending", 0
    elif r < 0.002:  # the backend refused it every time: failed after the whole schedule
        status, tries = "failed", retries
    elif r < 0.02:  # refused once, taken on the retry
        status, tries = "delivered", 2
    else:
        status, tries = "delivered", 1
    at = created + timedelta(seconds=1)
    last_error = None
    for attempt in range(tries):
        ok = status == "delivered" and attempt == tries - 1
        code = 200 if ok else rng.choice((500, 502, 503))
        attempts.append({"conversion_id": conversion_id, "attempted_at": at, "status_code": code, "error": None,
                         "excerpt": '{"accepted":true}' if ok else "upstream error",
                         "duration_ms": rng.randint(15, 400), "worker": "worker-1"})
        if not ok:
            last_error = f"HTTP {code}: upstream error"
        at += timedelta(seconds=5 * 3 ** min(attempt, 8))
    return status, tries, at, last_error


# -- clicks ----------------------------------------------------------------------------------------


def _click_rows(rng: random.Random, store_id: int, refs: list, ids: dict[str, int], clicks: int,
                now: datetime) -> list[dict]:
    """Click rows for the window and a day (older ones are pruned)."""
    rows = []
    for _ in range(clicks):
        ref = refs[_skewed(rng, len(refs))]
        rows.append({
            "id": f"ck_{_hex(rng, 24)}", "store_id": store_id, "influencer_id": ids[ref.tracking_id],
            "tracking_key": ref.tracking_id, "clicked_at": now - timedelta(seconds=rng.randrange(31 * 86400)),
            "ip_sha256": _hex(rng, 64), "user_agent_sha256": _hex(rng, 64),
            "path": rng.choice(("/", "/products/linen-shirt", "/collections/summer", "/products/tote-bag")),
            "lead_conversion_id": None})
    return rows


def _click_count_rows(rng: random.Random, store_id: int, refs: list, click_counts: int,
                      now: datetime) -> list[dict]:
    """Hourly click counts for the 59 days before the click rows."""
    hour_now = now.replace(minute=0, second=0)
    kept: dict[tuple[str, datetime], int] = {}
    while len(kept) < click_counts:
        ref = refs[_skewed(rng, len(refs))]
        hour = hour_now - timedelta(hours=31 * 24 + rng.randrange(59 * 24))
        kept[(ref.tracking_id, hour)] = kept.get((ref.tracking_id, hour), 0) + rng.randint(1, 4)
    return [{"store_id": store_id, "tracking_key": key, "hour": hour, "clicks": c}
            for (key, hour), c in kept.items()]


def _insert(sessions, tables, counts: dict[str, int], timings: dict[str, float]) -> None:
    """Each table's rows in its own transaction, counted and timed by table name."""
    from connector.db import transaction

    for table, rows in tables:
        started = time.perf_counter()
        with transaction(sessions) as session:
            _bulk(session, table, rows)
        counts[table.name] = len(rows)
        timings[table.name] = time.perf_counter() - started


# -- both stores -----------------------------------------------------------------------------------


def add_stores(url: str) -> dict[str, int]:
    """The large store and the empty one, both installed with an access token and set up."""
    from connector.campaigns import directory
    from connector.db import make_engine, make_sessionmaker, transaction
    from connector.settings import DEV_SECRET_KEY

    engine = make_engine(url)
    try:
        ids = {}
        with transaction(make_sessionmaker(engine)) as session:
            for label, shop in (("large", SHOP), ("empty", EMPTY_SHOP)):
                store = directory.add_store(session, DEV_SECRET_KEY, "shopify", shop, access_token="shpat_x")
                store.setup_report, store.setup_at = setup_report(), datetime.now(timezone.utc)
                session.flush()
                ids[label] = store.id
        return ids
    finally:
        engine.dispose()


def analyze(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


def sample_order(url: str, store_id: int) -> str:
    """A credited order with a promo code and a losing landing ref (its why has every section)."""
    from sqlalchemy import select

    from connector.db import make_engine
    from connector.models import AttributionRecord, Order

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Order.platform_order_id, AttributionRecord.signals).join(
                AttributionRecord, AttributionRecord.order_id == Order.id).where(
                Order.store_id == store_id, AttributionRecord.outcome == "credit",
                AttributionRecord.method == "promo_code").order_by(Order.id.desc()).limit(200)).all()
        return next((o for o, signals in rows if len(signals) > 1), rows[0][0])
    finally:
        engine.dispose()
