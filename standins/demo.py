"""`connector demo`: the whole path on this machine, with no configuration, told step by step.

Stand-ins for Shopify, a WooCommerce site and the tracking backend; the app on real HTTP; a worker;
SQLite in a temporary folder. A real install of one store of each platform (OAuth grant and wc-auth,
webhooks and the web pixel registered), influencers registered by the backend through /api/v1 with
their codes made in the stores, a click on a tracking link followed to the conversion it earned (with
its attribution record), orders whose webhooks the stores send, one recovered by reconciliation, and
the conversions the backend verified.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import click
import requests
from sqlalchemy import select

from adapters.shopify.app_config import app_toml
from connector import create_app
from standins import demo_campaign, demo_merchant
from connector.campaigns import directory
from connector.db import make_engine, make_sessionmaker
from standins.live_server import LiveServer
from connector.intake.reconcile import reconcile_store
from connector.migrate import upgrade
from connector.models import AttributionRecord, Order
from connector.settings import Settings
from standins.backend import StandinBackend
from standins.waiting import wait_until
from standins.shopify import samples as shopify_samples
from standins.shopify import store as shopify_store
from standins.woocommerce import samples as woocommerce_samples
from standins.woocommerce import store as woocommerce_store
from connector.worker import Worker

SHOP = "demo-boutique.myshopify.com"
WOO_SITE = "demo-woo"
#: the order the shopper places after clicking bob's link
CLICK_ORDER = 820982911946154509


def _step(number: int, text: str) -> None:
    click.echo()
    click.secho(f"{number}. {text}", bold=True)


def _line(text: str, ok: bool | None = None) -> None:
    mark = {True: click.style("✓", fg="green"), False: click.style("✗", fg="red"), None: " "}[ok]
    click.echo(f"   {mark} {text}")


def demo_settings(folder: Path, *, public_url: str, backend_url: str, backend_secret: str, shopify_key: str,
                  shopify_secret: str, shopify_admin_url: str, api_token: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder / 'connector.db'}",
        public_url=public_url,
        api_token=api_token,
        shopify_api_key=shopify_key,
        shopify_api_secrets=(shopify_secret,),
        shopify_admin_url=shopify_admin_url,
        # The stand-in WooCommerce site lives on this machine, over http: allowed for the demo only.
        woocommerce_allow_private=True,
        tracking_backend_url=backend_url,
        tracking_backend_secret=backend_secret,
        retry_schedule=(1, 2, 5),
        poll_interval=0.1,
        # The demo's browser reports right after checkout; a short wait keeps the story quick.
        report_grace_seconds=2,
    )


class _Demo:
    """The parts of one run (stand-ins, app, worker) and the steps told over them."""

    def __init__(self, folder: Path):
        backend_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        self.shopify_key, self.shopify_secret = "demo-app-" + secrets.token_hex(4), secrets.token_hex(16)
        self.folder = folder
        self.backend = StandinBackend(backend_secret).start()
        self.shop_standin = shopify_store.StandinShopify(self.shopify_key, self.shopify_secret).start()
        self.woo_standin = woocommerce_store.StandinWooCommerce().start()
        self.server = LiveServer()
        self.settings = demo_settings(
            folder, public_url=self.server.url, backend_url=self.backend.url, backend_secret=backend_secret,
            shopify_key=self.shopify_key, shopify_secret=self.shopify_secret,
            shopify_admin_url=self.shop_standin.admin_url, api_token=secrets.token_urlsafe(24))
        self.engine = make_engine(self.settings.database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.worker = self.worker_thread = None
        self.woo_url = self.woo_standin.site_url(WOO_SITE)
        self.results: list[bool] = []

    def working(self) -> bool:
        """The worker is still running (a wait on its work gives up at once when it is not)."""
        return self.worker_thread is not None and self.worker_thread.is_alive()

    def set_up(self) -> None:
        _step(1, "Set-up")
        upgrade(self.settings.database_url)
        _line(f"SQLite database {self.folder / 'connector.db'} migrated to head", True)
        _line(f"stand-in tracking backend at {self.backend.url} (verifies Standard Webhooks signatures)", True)
        _line(f"stand-in Shopify (OAuth, GraphQL Admin API) at {self.shop_standin.admin_url}", True)
        _line(f"stand-in WooCommerce site at {self.woo_url}", True)
        self.server.start(create_app(self.settings, engine=self.engine))
        _line(f"connector app at {self.server.url}", True)
        self.worker = Worker(self.settings, self.sessions, worker_id="demo-worker")
        self.worker_thread = threading.Thread(target=self.worker.run, name="demo-worker", daemon=True)
        self.worker_thread.start()
        _line("worker started: it handles stored events, delivers conversions, retries setup, reconciles", True)

    def install(self) -> None:
        _step(2, "Installs (the merchant's browser, following real redirects)")
        browser = requests.Session()
        # `shopify app deploy` of the configuration `connector shopify app-config` writes
        self.shop_standin.deploy_app_config(app_toml(self.settings))
        self.results.append(_install_shopify(browser, self.server.url, self.shop_standin,
                                             lambda params: shopify_store.query_hmac(params, self.shopify_secret),
                                             self.sessions, self.working))
        self.results.append(_install_woocommerce(browser, self.server.url, self.woo_url, self.woo_standin,
                                                 self.sessions))

    def register(self) -> None:
        _step(3, "The tracking backend registers the campaign's influencers (PUT /api/v1, bearer token)")
        self.api = demo_campaign.Api(self.server.url, self.settings.api_token)
        with self.sessions() as session:
            self.shop_id = directory.find_store(session, SHOP).id
            self.woo_id = directory.find_store(session, self.woo_url).id
        self.results.append(demo_campaign.register(self.api, self.shop_id, self.woo_id))
        _line("the worker creates the codes in the stores: Shopify redeem codes in bulk on one discount per "
              "campaign and terms, WooCommerce coupons in batches")

        def in_store(store_id: int, code: str) -> bool:
            if store_id == self.shop_id:
                return code.lower() in self.shop_standin.codes(SHOP)
            return any(c["code"] == code.lower() for c in self.woo_standin.coupons(WOO_SITE))

        self.results.append(demo_campaign.wait_for_codes(
            self.api, {self.shop_id: ["alice", "carol"], self.woo_id: ["dana"]}, in_store, working=self.working))

    def click_and_buy(self) -> None:
        _step(4, "A shopper clicks bob's link, and buys without a code")
        self.results.append(demo_campaign.click_journey(self.server.url, self.api, self.shop_standin,
                                                        shopify_samples, SHOP, self.shop_id, CLICK_ORDER))
        self.results.append(demo_campaign.show_record(self.api, self.shop_id, CLICK_ORDER, working=self.working))

    def more_orders(self) -> None:
        _step(5, "More orders: the stores send signed webhooks to the subscriptions registered at install")
        self.results += _shopify_orders(self.server.url, self.shop_standin, shopify_samples, self.shopify_secret)
        self.results += _woocommerce_orders(self.woo_standin, woocommerce_samples)

    def reconcile(self) -> None:
        _step(6, "A webhook that never came: reconciliation reads the store")
        missed = shopify_samples.order(order_id=820982911946154512, name="#1005", codes=("CAROL10",), cart_ref="",
                                       landing_site="/", landing_site_ref="")
        self.shop_standin.place_order(SHOP, missed, deliver=False)
        _line("#1005 (code CAROL10) placed in the shop; its webhooks were lost on the way")
        reconciled = reconcile_store(self.settings, self.sessions, self.shop_id, datetime.now(timezone.utc))
        _line(f"connector reconcile {SHOP}: {reconciled}", reconciled.fetched >= 1)
        self.results.append(reconciled.fetched >= 1)

    def forwarded(self) -> list:
        _step(7, "The worker attributes the orders and forwards conversions")
        count = len(EXPECTED)
        waited = wait_until(lambda: len(self.backend.wait_for(count, timeout=0.5)) >= count,
                            f"{count} conversions at the tracking backend", working=self.working)
        time.sleep(0.3)  # let an unexpected extra delivery show up if there were one
        received = self.backend.delivered()
        _attribution_story(self.sessions)
        if waited.done:
            _line(f"{count} conversions delivered after {waited.seconds:.1f} s", True)
        else:
            _line(f"{len(received)} of {count} conversions delivered; {waited.reason}", False)
        return received

    def verified(self, received: list) -> bool:
        _step(8, "What the tracking backend received (each signature verified)")
        for entry in received:
            data = entry.body["data"]
            _line(f"{entry.body['type']:<20} {data['platform']:<11} {data['order_name']:<6} {data['amount']:>7} "
                  f"{data['currency']}  {data['tracking_id']:<6} by {data['method']:<12}", entry.verified)
        got = sorted((e.body["type"], e.body["data"]["order_name"], e.body["data"]["tracking_id"],
                      e.body["data"]["method"]) for e in received)
        as_expected = got == sorted(EXPECTED)
        if not as_expected:
            _line(f"expected {sorted(EXPECTED)}", False)
        return all(self.results) and as_expected and all(e.verified for e in received) \
            and len({e.webhook_id for e in received}) == len(received)

    def stop(self, keep: bool) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker_thread.join(timeout=15)
        self.server.stop()
        self.shop_standin.stop()
        self.woo_standin.stop()
        self.backend.stop()
        self.engine.dispose()
        if keep:
            click.echo(f"\n   demo files kept in {self.folder}")
        else:
            shutil.rmtree(self.folder, ignore_errors=True)


#: the conversions the backend must receive, once each: (type, order, influencer, method)
EXPECTED = [("conversion.purchase", "#1001", "alice", "promo_code"),
            ("conversion.purchase", "#1002", "bob", "click"),
            ("conversion.refund", "#1001", "alice", "promo_code"),
            ("conversion.purchase", "#2001", "dana", "promo_code"),
            ("conversion.purchase", "#1005", "carol", "promo_code")]


def run_demo(*, keep: bool = False) -> int:
    """Run the demo; returns the process exit code (0 when everything happened as expected)."""
    # The demo tells its own story; the components' logs (a refused forgery is a warning) would interleave.
    for name in ("connector", "werkzeug"):
        logging.getLogger(name).setLevel(logging.ERROR)
    click.secho("connector demo: two stores are installed, influencers get codes and links, and clicks and orders "
                "become signed conversions",
                bold=True)
    demo = _Demo(Path(tempfile.mkdtemp(prefix="connector-demo-")))
    try:
        for step in (demo.set_up, demo.install, demo.register, demo.click_and_buy, demo.more_orders,
                     demo.reconcile):
            step()
        received = demo.forwarded()
        everything = demo.verified(received)
        _step(9, "The merchant opens the app in the Shopify admin")
        everything = demo_merchant.merchant_app(demo.server.url, demo.shop_standin, SHOP) and everything
        _step(10, "Result")
        if everything:
            _line(f"2 stores installed with no hand work; codes made in both by the worker; a click followed to its "
                  f"conversion; {len(EXPECTED)} conversions delivered once each and verified (#1005 recovered by "
                  "reconciliation); the test order, the redelivery and both forgeries credited nobody; the merchant's "
                  "app says why", True)
        else:
            _line("not everything came out as expected: see the ✗ lines above", False)
        click.echo()
        click.echo("   A sample conversion body, as the backend received it:")
        if received:
            click.echo("   " + json.dumps(received[0].body, indent=2).replace("\n", "\n   "))
        return 0 if everything else 1
    finally:
        demo.stop(keep)


def _install_shopify(browser, app_url: str, standin, sign, sessions, working) -> bool:
    # What the Shopify admin opens when the merchant installs: the app's install URL, signed by Shopify. The
    # callback answers at once and sends the merchant into the admin, which opens the app embedded.
    params = {"shop": SHOP, "timestamp": str(int(time.time()))}
    params["hmac"] = sign(params)
    started = time.monotonic()
    page = browser.get(f"{app_url}/shopify/install", params=params, timeout=20)
    seconds = time.monotonic() - started
    with sessions() as session:
        store = directory.find_store(session, SHOP)
        ok = page.status_code == 200 and store.status == "active" and 'name="shopify-api-key"' in page.text
        _line(f"Shopify {SHOP}: OAuth grant → expiring offline token (valid until "
              f"{store.access_token_expires_at:%H:%M:%S}Z, refresh token kept), encrypted at rest; the embedded app "
              f"opened {seconds:.2f} s after the install began, setup queued for the worker", ok)

    def set_up() -> bool:
        with sessions() as session:
            return not directory.find_store(session, SHOP).setup_pending

    waited = wait_until(set_up, "the worker to set the shop up", working=working)
    topics = sorted(s["topic"].lower() for s in standin.subscriptions(SHOP))
    _line(f"  worker: {len(topics)} webhooks registered by GraphQL ({', '.join(topics)}); app/uninstalled and the "
          f"privacy topics come from the deployed shopify.app.toml", waited.done and len(topics) == 6)
    if not waited.done:
        _line(f"  {waited.reason}", False)
    return ok and waited.done and len(topics) == 6


def _install_woocommerce(browser, app_url: str, site_url: str, standin, sessions) -> bool:
    page = browser.get(f"{app_url}/woocommerce/install", params={"store_url": site_url}, timeout=20)
    with sessions() as session:
        store = directory.find_store(session, site_url)
        ok = page.status_code == 200 and store.status == "active" and not store.setup_pending
    _line(f"WooCommerce {site_url}: wc-auth approval → REST keys posted to the callback, encrypted at rest", ok)
    topics = sorted(h["topic"] for h in standin.webhooks(WOO_SITE))
    wanted = {"order.created", "order.updated", "order.deleted", "customer.created"}
    _line(f"  {len(topics)} webhooks created by REST with a per-store secret (each creation ping answered 200): "
          f"{', '.join(topics)}", set(topics) == wanted)
    return ok and set(topics) == wanted


def _shopify_orders(app_url: str, standin, samples, shopify_secret: str) -> list[bool]:
    results = []

    def report(label: str, answers, expect: int = 200) -> None:
        statuses = [status for status, _ in answers]
        ok = bool(statuses) and all(status == expect for status in statuses)
        _line(f"{label:<62} → {', '.join(map(str, statuses))}", ok)
        results.append(ok)

    code_order = samples.order(shop=SHOP, order_id=820982911946154508, name="#1001", codes=("alice15 ",), cart_ref="",
                               landing_site="/", landing_site_ref="", financial_status="pending")
    report("#1001 created, code 'alice15 ' typed by the shopper", standin.place_order(SHOP, code_order,
                                                                                      topics=("orders/create",)))
    paid = {**code_order, "financial_status": "paid"}
    report("#1001 paid, and updated (same order, later topics)", standin.place_order(
        SHOP, paid, topics=("orders/paid", "orders/updated")))
    # Shopify redelivers: the same X-Shopify-Webhook-Id again.
    raw = samples.encode(paid)
    headers = samples.headers(raw, shop=SHOP, topic="orders/paid", secret=shopify_secret, webhook_id="redelivered-1")
    again = [requests.post(f"{app_url}/webhooks/shopify", data=raw, headers=headers, timeout=10) for _ in range(2)]
    report("#1001 orders/paid delivered twice with one webhook id", [(a.status_code, None) for a in again])
    report("refunds/create for #1001 (one item returned)",
           standin.send_webhook(SHOP, "refunds/create", samples.refund(order_id=820982911946154508)))
    test_order = samples.order(order_id=820982911946154510, name="#1003", codes=("CAROL10",), test=True)
    report("#1003 paid, a test order with code CAROL10", standin.place_order(SHOP, test_order, topics=("orders/paid",)))
    forged_body = samples.encode(samples.order(order_id=820982911946154511, name="#1004", codes=("ALICE15",)))
    forged = samples.headers(forged_body, shop=SHOP, topic="orders/paid", secret="not-the-app-secret")
    answer = requests.post(f"{app_url}/webhooks/shopify", data=forged_body, headers=forged, timeout=10)
    report("#1004 orders/paid signed with the wrong secret (forged)", [(answer.status_code, None)], expect=401)
    # Really signed by Shopify, but for another shop (an attacker's own development store), then sent under
    # this shop's header: the order's own status URL names the other shop.
    foreign = samples.encode(samples.order(shop="attacker-dev.myshopify.com", order_id=820982911946154513,
                                           name="#9", codes=("ALICE15",)))
    answer = requests.post(f"{app_url}/webhooks/shopify", data=foreign, timeout=10,
                           headers=samples.headers(foreign, shop=SHOP, topic="orders/paid", secret=shopify_secret))
    report("#9 signed by Shopify for another shop, under this shop's name", [(answer.status_code, None)],
           expect=401)
    return results


def _woocommerce_orders(standin, samples) -> list[bool]:
    order = samples.order(order_id=2001, number="2001", status="processing", codes=("dana20",),
                          email="shopper@example.com")
    answers = standin.place_order(WOO_SITE, order)
    ok = bool(answers) and all(a.status_code == 200 for a in answers)
    _line(f"{'WooCommerce #2001 processing, coupon dana20':<62} → "
          f"{', '.join(str(a.status_code) for a in answers)}", ok)
    return [ok]


def _attribution_story(sessions) -> None:
    with sessions() as session:
        for order, record in session.execute(
            select(Order, AttributionRecord).join(AttributionRecord, AttributionRecord.order_id == Order.id)
            .order_by(Order.id)
        ):
            winners = ", ".join(f"{c['tracking_id']} (share {c['share']})" for c in record.credits) or "nobody"
            if order.purchase_conversion_id:
                _line(f"{order.order_name}: credited to {winners}")
            else:
                _line(f"{order.order_name}: not credited ({record.outcome}); the signals point to {winners}")
            for signal in record.signals:
                _line(f"     {signal['source']:<24} {signal['value']!r:<10} {signal['status']:<7} {signal['reason']}")
