"""Home's "Past orders" panel in Chromium: offered on the checklist after setup; a dry run of the last 30 days asked
from the page and done by a real worker (one bulk operation at the stand-in Shopify), its progress shown while
Shopify works, its figures per influencer and the orders it would not credit with why; then the button that
restates them credits exactly those orders, marked as a backfill. At desktop and phone widths.

Served and stood in for as in test_merchant_app.py. With CONNECTOR_SCREENSHOTS=1 the test saves
docs/screenshots/past-orders-*.png.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

from connector.backfill import runs
from connector.models import BackfillRun
from connector.worker import Worker
from standins.shopify import bulk

from ..conftest import SHOP
from .conftest import needs_browser, wait_until
from .merchant_page import DESKTOP, PHONE, app, merchant, shop_order  # noqa: F401 (fixtures)

pytestmark = needs_browser
PANEL = "[data-panel=past-orders]"


def _iso(days_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")


def _worker_until_done(merchant, mode: str) -> threading.Thread:
    """The worker's maintenance loop in the background, until the store's backfill (of this mode) is over."""
    def loop():
        worker = Worker(merchant.settings, merchant.sessions, worker_id="browser-backfill")
        for _ in range(100):
            worker.maintain()
            with merchant.sessions() as session:
                run = session.query(BackfillRun).order_by(BackfillRun.id.desc()).first()
                if run is not None and run.mode == mode and run.status not in runs.UNFINISHED:
                    return
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_past_orders_are_looked_at_then_credited_from_the_page(app, merchant):
    merchant.setup()
    merchant.influencer("alice", "ALICE15")
    merchant.influencer("bob")
    merchant.work()
    for order_id, days, fields in ((7001, 21, {"codes": ("ALICE15",)}), (7002, 14, {"ref": "bob"}),
                                   (7003, 12, {"codes": ("ALICE15",)}), (7004, 6, {})):
        merchant.shopify.place_order(SHOP, shop_order(order_id, at=_iso(days), **fields), deliver=False)
    bulk.set_polls(merchant.shopify, SHOP, 2)  # Shopify takes a few seconds: the page shows it working

    app.open()
    app.page.wait_for_selector(PANEL)
    app.loaded()
    offer = app.page.locator("[data-step=past_orders]")
    assert "Credit past orders" in offer.inner_text() and "To do" in offer.inner_text()
    assert "See what the last 30 days would credit" in offer.inner_text()
    app.shot("past-orders-offer", full_page=True)

    app.page.locator(f"{PANEL} s-button[data-action=look]").click()
    app.page.wait_for_selector(f"{PANEL} [data-state=running]")
    worker = _worker_until_done(merchant, runs.DRY_RUN)
    app.page.wait_for_function("document.querySelector('[data-panel=past-orders]').textContent"
                               ".includes('Shopify is gathering')", timeout=10000)
    app.shot("past-orders-reading")
    worker.join(60)
    app.page.wait_for_selector(f"{PANEL} [data-action=credit]", timeout=10000)
    panel = app.text(PANEL)
    assert app.page.get_attribute(f"{PANEL} s-banner", "heading") == "3 of 4 orders would be credited"
    assert "Nothing has been sent" in panel
    assert "alice" in panel and "bob" in panel and "Promo code" in panel and "Landing page" in panel
    assert "no promo code, link or landing page of an influencer" in panel and "#7004" in panel
    button = app.page.locator(f"{PANEL} s-button[data-action=credit]")
    assert button.inner_text().startswith("Credit these 3 orders (")
    assert merchant.conversions() == []
    app.shot("past-orders-dry-run", full_page=True)
    app.page.set_viewport_size(PHONE)
    assert app.fits()
    app.shot("past-orders-dry-run-phone", full_page=True)
    app.page.set_viewport_size(DESKTOP)

    button.click()
    worker = _worker_until_done(merchant, runs.COMMIT)
    worker.join(60)
    app.page.wait_for_selector(f"{PANEL} s-banner[heading='3 past orders credited']", timeout=10000)
    bodies = [json.loads(c.body)["data"] for c in merchant.conversions()]
    assert sorted((b["order_id"], b["tracking_id"], b["backfill"]) for b in bodies) == [
        ("7001", "alice", True), ("7002", "bob", True), ("7003", "alice", True)]
    assert app.page.locator(f"{PANEL} s-button[data-action=credit]").count() == 0
    app.page.reload()
    app.page.wait_for_selector("[data-step=past_orders]", state="attached")  # done: folded with the steps done
    app.loaded()
    wait_until(lambda: "3 orders placed in the 30 days before were credited" in
               app.page.text_content("[data-step=past_orders]"), message="the checklist's step")
    app.shot("past-orders-credited", full_page=True)
