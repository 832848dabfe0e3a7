"""Promo-code benchmark: API calls the connector makes to create N influencers' codes, against the floor.

For N = 10, 1,000 and 10,000 influencers of one campaign with the same discount, registered as the API
registers them (pending), the worker's code sync (connector.campaigns.codes.sync_codes) runs until nothing is left,
against the stand-in Shopify (GraphQL Admin API) and the stand-in WooCommerce site (REST), each a real
local HTTP server. Calls are counted by the stand-ins themselves.

The floor is what the platforms allow at best: Shopify adds at most 250 redeem codes per
discountRedeemCodeBulkAdd, so ceil(N/250); WooCommerce takes at most 100 items per coupons/batch, so
ceil(N/100). Shopify's count also has the one discountCodeBasicCreate that makes the shared discount
and the reads of each asynchronous bulk creation (its status, then its codes).

    python bench/codes.py                 # 10, 1000, 10000 on both platforms (SQLite, about a minute)
    python bench/codes.py --sizes 10,1000
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHOPIFY_SECRET, exit_cleanly_on_sigterm, temporary_folder  # noqa: E402

API_KEY = "bench-codes-key"
SHOP = "bench-codes.myshopify.com"
SITE = "bench-codes"


def _shopify_token(standin) -> str:
    """A lasting token from the stand-in's code grant, as a custom app holds."""
    import requests

    base = standin.admin_url.format(shop=SHOP)
    location = requests.get(f"{base}/admin/oauth/authorize", allow_redirects=False, timeout=5, params={
        "client_id": API_KEY, "scope": "write_discounts", "redirect_uri": "https://connector.example/cb"},
    ).headers["Location"]
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    return requests.post(f"{base}/admin/oauth/access_token", timeout=5, json={
        "client_id": API_KEY, "client_secret": SHOPIFY_SECRET, "code": code}).json()["access_token"]


def _register(sessions, store_id: int, count: int) -> None:
    from connector.campaigns import influencers as campaigns
    from connector.db import transaction
    from connector.models import Store
    from connector.core.platform import PERCENTAGE

    terms = campaigns.discount_terms(PERCENTAGE, "10")
    now = datetime.now(timezone.utc)
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        for n in range(count):
            spec = campaigns.InfluencerSpec(f"inf{n}", "bench", None, f"BENCH{n:05d}", terms)
            campaigns.upsert_influencer(session, store, spec, now)


def _sync_all(settings, sessions, store_id: int) -> tuple[int, float]:
    from connector.campaigns.codes import sync_codes
    from connector.models import Influencer
    from sqlalchemy import func, select

    started, calls = time.perf_counter(), 0
    while True:
        calls += sync_codes(settings, sessions, store_id, datetime.now(timezone.utc)).calls
        with sessions() as session:
            left = session.scalar(select(func.count()).select_from(Influencer).where(
                Influencer.store_id == store_id, Influencer.code_status != "active"))
        if not left:
            return calls, time.perf_counter() - started


def run(platform: str, count: int, folder: Path) -> dict:
    from standins.shopify.store import StandinShopify
    from standins.woocommerce.store import StandinWooCommerce
    from connector.campaigns import directory
    from connector.db import make_engine, make_sessionmaker, transaction
    from connector.migrate import upgrade
    from connector.settings import Settings

    url = f"sqlite:///{folder / f'{platform}-{count}.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        if platform == "shopify":
            with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
                settings = Settings(database_url=url, shopify_api_key=API_KEY, shopify_api_secrets=(SHOPIFY_SECRET,),
                                    shopify_admin_url=standin.admin_url)
                with transaction(sessions) as session:
                    store_id = directory.add_store(session, settings.secret_key, "shopify", SHOP,
                                                   access_token=_shopify_token(standin)).id
                _register(sessions, store_id, count)
                standin.calls.clear()
                counted, seconds = _sync_all(settings, sessions, store_id)
                by_operation = standin.graphql_counts(SHOP)
                made = len(standin.codes(SHOP))
            floor = math.ceil(count / 250)
        else:
            with StandinWooCommerce() as standin:
                key, secret = standin.add_keys(SITE)
                settings = Settings(database_url=url, woocommerce_allow_private=True)
                with transaction(sessions) as session:
                    store_id = directory.add_store(session, settings.secret_key, "woocommerce",
                                                   standin.site_url(SITE), access_token=f"{key}:{secret}",
                                                   webhook_secret="bench").id
                _register(sessions, store_id, count)
                before = standin.calls("coupons/batch", site=SITE)
                counted, seconds = _sync_all(settings, sessions, store_id)
                by_operation = {"coupons/batch": standin.calls("coupons/batch", site=SITE) - before}
                made = len(standin.coupons(SITE))
            floor = math.ceil(count / 100)
    finally:
        engine.dispose()
    if made < count:
        raise SystemExit(f"{platform} {count}: only {made} codes in the store")
    return {"platform": platform, "n": count, "calls": sum(by_operation.values()), "counted": counted,
            "floor": floor, "seconds": seconds, "by_operation": dict(by_operation)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,1000,10000", help="comma-separated N (default 10,1000,10000)")
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    import logging

    logging.getLogger("connector").setLevel(logging.WARNING)
    sizes = [int(n) for n in args.sizes.split(",")]
    rows = []
    with temporary_folder("codes") as folder:
        for platform in ("shopify", "woocommerce"):
            for count in sizes:
                rows.append(run(platform, count, folder))
                row = rows[-1]
                print(f"{platform:<11} N={count:>6,}: {row['calls']:>4} calls (floor {row['floor']:>3}, "
                      f"x{row['calls'] / row['floor']:.2f}) in {row['seconds']:.2f} s  {row['by_operation']}",
                      flush=True)
    summary = "; ".join(f"{r['platform']} {r['n']}: {r['calls']}/{r['floor']}" for r in rows)
    print(f"RESULT codes (calls/floor): {summary}")


if __name__ == "__main__":
    main()
