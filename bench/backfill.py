"""Backfill benchmark: calls made to read N past orders against the platforms' floor, and orders per second, for a
dry run and for the commit that credits it (connector.backfill, in this process, as `connector backfill` runs it).

N orders placed in the last 30 days (a third with the code ALICE15, a third landing on ?ref=bob, a third with
nothing; each its own time) are put straight into the stand-in Shopify (GraphQL Admin API with bulk operations)
and the stand-in WooCommerce site (REST), each a real local HTTP server; calls are counted by the stand-ins.

- Shopify's floor: one bulkOperationRunQuery and the download of its one file (2); the connector adds its polls
  of the operation (the stand-in answers COMPLETED once the file is written) and reads the file in ranged pieces
  of 32 MiB (bulk_file.PIECE_BYTES), so a file over 32 MiB is more than one GET.
- WooCommerce's floor: ⌈N/100⌉ pages (the REST API's largest per_page).

The dry run is timed in two parts: reading (the platform's orders into backfill_orders) and deciding (each order
through gather and the pure decide, rolled back); the commit takes over the dry run's orders (no call, as the
page's button does) and credits them. Runs of more than --whole-up-to orders (10,000) decide and credit for
--decide-seconds (30) only: the rate is what they did in that time, over a store holding all N.

    python bench/backfill.py                       # 10,000 and 100,000 on both platforms, SQLite (~9 min)
    python bench/backfill.py --sizes 10000 --database postgresql
    python bench/backfill.py --commit-sizes 10000  # commit only the smaller runs (the larger: dry run only)
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import SHOPIFY_SECRET, bench_database, exit_cleanly_on_sigterm, temporary_folder  # noqa: E402

API_KEY = "bench-backfill-key"
SHOP = "bench-backfill.myshopify.com"
SITE = "bench-backfill"
TOKEN = "shpat_bench_backfill"


def _when(index: int, count: int) -> datetime:
    """Order `index` of `count`, spread over the last 29 days, each at a second of its own."""
    span = timedelta(days=29).total_seconds()
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=span * (count - index) / count)


def _shopify_orders(standin, count: int) -> None:
    from standins.shopify import samples

    template = samples.order(shop=SHOP, landing_site="", landing_site_ref="", cart_ref="")
    data = standin._shops.get(SHOP).data  # placed straight in the shop: no webhook for any of them
    for index in range(count):
        order = dict(template, id=10_000_000 + index, name=f"#{10_000 + index}",
                     admin_graphql_api_id=f"gid://shopify/Order/{10_000_000 + index}")
        moment = _when(index, count).isoformat().replace("+00:00", "Z")
        order.update(created_at=moment, processed_at=moment, updated_at=moment, checkout_token=f"tok{index}")
        if index % 3 == 0:
            order["discount_codes"] = [{"code": "ALICE15", "amount": "8.93", "type": "percentage"}]
        else:
            order["discount_codes"], order["discount_applications"] = [], []
        if index % 3 == 1:
            order["landing_site"], order["landing_site_ref"] = "/?ref=bob", "bob"
        data.orders[str(order["id"])] = order


def _woo_orders(standin, count: int) -> None:
    from standins.woocommerce import samples

    site = standin._site(SITE)
    for index in range(count):
        moment = _when(index, count).strftime("%Y-%m-%dT%H:%M:%S")
        codes = ("alice15",) if index % 3 == 0 else ()
        landing = "https://shop.example/?ref=bob" if index % 3 == 1 else ""
        order = samples.order(order_id=100_000 + index, codes=codes, landing_url=landing, date_created_gmt=moment,
                              date_modified_gmt=moment)
        order.setdefault("order_key", f"wc_order_bench{index}")
        site.orders[order["id"]] = order


def _drive(settings, sessions, store_id: int, mode: str, decide_seconds: float | None) -> tuple[object, dict]:
    """One run: its reading, then its deciding (with `decide_seconds`, stopped then: the rate is what it did in that
    time, since a run of 100,000 orders is not decided whole in a benchmark of minutes), each timed."""
    from connector.backfill import credit, reading, runs
    from connector.db import transaction
    from connector.models import BackfillRun

    clock = lambda: datetime.now(timezone.utc)  # noqa: E731
    with transaction(sessions) as session:
        left = runs.active_run(session, store_id)
        if left is not None:
            # A dry run stopped at its deadline: closed as done, so the commit takes over its orders (as the page's
            # button does) rather than reading the store again.
            runs.finish(session, left, clock(), runs.DONE)
    with transaction(sessions) as session:
        run = runs.start(session, store_id, days=30, mode=mode, runner=runs.CLI, now=clock())
        run_id, reading_due = run.id, run.status == runs.READING
        assert runs.claim(session, run_id, "bench", clock(), 3600)
    marks: dict = {"read": 0.0}
    started = time.perf_counter()
    if reading_due:
        assert reading.read(settings, sessions, run_id, "bench", clock)
        marks["read"] = time.perf_counter() - started
    started = time.perf_counter()
    deadline = time.monotonic() + decide_seconds if decide_seconds is not None else None
    finished = credit.credit(settings, sessions, run_id, "bench", clock, deadline=deadline)
    marks["decide"] = time.perf_counter() - started
    with transaction(sessions) as session:
        run = session.get(BackfillRun, run_id)
        if finished:
            runs.finish(session, run, clock(), runs.DONE)
        marks["done"] = run.orders_done
        return runs.view(run), marks


def run(platform: str, count: int, database: str, folder: Path, commit: bool, decide_seconds: float | None) -> dict:
    from connector.campaigns import directory
    from connector.db import make_engine, make_sessionmaker, transaction
    from connector.settings import Settings
    from standins.shopify.store import StandinShopify
    from standins.woocommerce.store import StandinWooCommerce

    with bench_database(database, f"backfill_{platform}", folder / f"{platform}-{count}") as url:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        try:
            standin = StandinShopify(API_KEY, SHOPIFY_SECRET) if platform == "shopify" else StandinWooCommerce()
            with standin:
                if platform == "shopify":
                    standin.grant_token(SHOP, TOKEN)
                    settings = Settings(database_url=url, shopify_api_key=API_KEY, shopify_api_secrets=(SHOPIFY_SECRET,),
                                        shopify_admin_url=standin.admin_url)
                    domain, token, secret = SHOP, TOKEN, None
                    _shopify_orders(standin, count)
                else:
                    ck, cs = standin.add_keys(SITE)
                    settings = Settings(database_url=url, woocommerce_allow_private=True)
                    domain, token, secret = standin.site_url(SITE), f"{ck}:{cs}", "bench"
                    _woo_orders(standin, count)
                with transaction(sessions) as session:
                    store = directory.add_store(session, settings.secret_key, platform, domain, access_token=token,
                                                webhook_secret=secret)
                    directory.add_influencer(session, store, "alice", code="ALICE15", campaign_id="bench")
                    directory.add_influencer(session, store, "bob", campaign_id="bench")
                    store_id = store.id
                before = _calls(standin, platform)
                dry, dry_marks = _drive(settings, sessions, store_id, "dry_run", decide_seconds)
                calls = {name: value - before.get(name, 0) for name, value in _calls(standin, platform).items()}
                committed, commit_marks = (_drive(settings, sessions, store_id, "commit", decide_seconds)
                                           if commit else (None, {}))
        finally:
            engine.dispose()
    floor = 2 if platform == "shopify" else math.ceil(count / 100)
    return {"platform": platform, "n": count, "calls": sum(calls.values()), "by_call": calls, "floor": floor,
            "read_s": dry_marks["read"], "decide_s": dry_marks["decide"], "decided": dry_marks["done"],
            "credited": dry.figures["credited"], "read": dry.orders_read,
            "commit_read_s": commit_marks.get("read"), "commit_s": commit_marks.get("decide"),
            "committed": commit_marks.get("done"), "commit_credited": committed.figures["credited"] if committed else None}


def _calls(standin, platform: str) -> dict[str, int]:
    if platform == "shopify":
        counts = standin.graphql_counts(SHOP)
        return {"bulkOperationRunQuery": counts["bulkOperationRunQuery"], "node (polls)": counts["node"],
                "file GETs": sum(1 for call in standin.calls if call.kind == "bulk_file"),
                "other GraphQL": sum(counts.values()) - counts["bulkOperationRunQuery"] - counts["node"]}
    return {"GET orders": standin.calls("orders", site=SITE)}


def _line(row: dict) -> str:
    rate = lambda n, seconds: f"{n / seconds:,.0f}/s" if seconds else "-"  # noqa: E731
    text = (f"{row['platform']:<11} N={row['n']:>7,}: {row['calls']:>5} calls (floor {row['floor']:>4}, "
            f"x{row['calls'] / row['floor']:.2f}) {row['by_call']}; dry run: read {row['read']:,} in {row['read_s']:.1f} s "
            f"({rate(row['read'], row['read_s'])}), decided {row['decided']:,} in {row['decide_s']:.1f} s "
            f"({rate(row['decided'], row['decide_s'])}), {row['credited']:,} of them would be credited")
    if row["commit_s"] is not None:
        again = f"read again in {row['commit_read_s']:.1f} s, " if row["commit_read_s"] else "no read (the dry run's), "
        text += (f"; commit: {again}credited {row['commit_credited']:,} of {row['committed']:,} in "
                 f"{row['commit_s']:.1f} s ({rate(row['committed'], row['commit_s'])})")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated N (default 10000,100000)")
    parser.add_argument("--commit-sizes", default=None, help="N whose dry run is also committed (default: all)")
    parser.add_argument("--platforms", default="shopify,woocommerce")
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--whole-up-to", type=int, default=10_000, help="runs of at most N orders are decided whole")
    parser.add_argument("--decide-seconds", type=float, default=30.0, help="larger runs decide this long (rate)")
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    logging.getLogger("connector").setLevel(logging.WARNING)
    sizes = [int(n) for n in args.sizes.split(",")]
    committing = set(sizes) if args.commit_sizes is None else {int(n) for n in args.commit_sizes.split(",") if n}
    rows = []
    with temporary_folder("backfill") as folder:
        for platform in args.platforms.split(","):
            for count in sizes:
                (folder / f"{platform}-{count}").mkdir()
                limit = args.decide_seconds if count > args.whole_up_to else None
                row = run(platform, count, args.database, folder, count in committing, limit)
                rows.append(row)
                print(_line(row), flush=True)
    summary = "; ".join(f"{r['platform']} {r['n']}: {r['calls']}/{r['floor']} calls" for r in rows)
    print(f"RESULT backfill ({args.database}): {summary}")


if __name__ == "__main__":
    main()
