"""The merchant app's page under test: the app and its outside world (Merchant), and the page in Chromium (AppPage).

Used by test_merchant_app.py and test_merchant_orders.py (see there for how the page is served and what stands in
for Shopify's scripts), and by the JSON tests of an order's details (tests/test_merchant_order_details.py), which
play the same orders through the stand-in Shopify and the real worker.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from connector import create_app
from connector.campaigns import directory
from connector.campaigns.influencers import InfluencerSpec, discount_terms, upsert_influencer
from connector.db import transaction
from connector.installs.setup import run_setup
from connector.models import Conversion, Store
from connector.settings import Settings
from connector.web.app.shell import APP_BRIDGE, POLARIS
from standins.backend import StandinBackend
from standins.shopify import samples
from standins.shopify.store import DEFAULT_SCOPE, StandinShopify

from ..conftest import BACKEND_SECRET, SHOP, SHOPIFY_SECRET
from ..helpers import API_KEY, drain, post_shopify, session_token
from .conftest import ROOT

STANDIN_APP_BRIDGE = (ROOT / "standins" / "shopify" / "app_bridge.js").read_text()
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ACCESS_TOKEN = "shpat_merchant_app_test"
VIEWS = ("", "/influencers", "/orders", "/deliveries", "/settings")
#: the stand-in grants what setup asks, and the contracts scope, so a renewal's start is read from its contract
SCOPE = f"{DEFAULT_SCOPE},read_own_subscription_contracts"
#: the template order's Merino Socks line (2 units at 15.00, 12.75 each after the order's discount)
SOCKS = 15873421223126


class ShopClock:
    """The stand-in Shopify's clock: the real time, moved on when the test says time passes in the shop."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def later(self, seconds: float) -> None:
        self.offset += seconds


def shop_order(order_id: int, *, codes=(), ref: str = "", name: str | None = None, at: str | None = None,
               customer: int | None = None, email: str | None = None, tags: str = "", guest: bool = False) -> dict:
    """A paid order of the shop as Shopify keeps it: its codes, the ?ref= of its landing page, its customer and time;
    `guest`: placed without a customer account (the order has the email alone)."""
    body = samples.order(shop=SHOP, order_id=order_id, name=name or f"#{order_id}", codes=codes, cart_ref="",
                         landing_site=f"/?ref={ref}" if ref else "/", landing_site_ref=ref,
                         customer_id=customer, email=email or (f"customer-{customer}@example.com" if customer else None))
    if at is not None:
        body["created_at"] = body["processed_at"] = at
    body["tags"] = tags
    if guest:
        body["customer"] = None
    return body


@dataclass
class Merchant:
    """The app on this test's database behind the session's server, its store, and the outside world it talks to."""

    url: str
    settings: Settings
    sessions: object
    store_id: int
    shopify: StandinShopify
    backend: StandinBackend

    def __post_init__(self):
        self.client = None

    def setup(self) -> None:
        """The store's setup as the worker runs it after an install: webhooks, pixel, what the shop lacks."""
        outcome = run_setup(self.settings, self.sessions, self.store_id, datetime.now(timezone.utc))
        assert outcome.done, outcome.summary

    def influencer(self, tracking_id: str, code: str | None = None) -> None:
        """An influencer as the backend registers one (/api/v1): a code is made in the store by the worker."""
        spec = InfluencerSpec(tracking_id, campaign_id="spring-26", promo_code=code,
                              discount=discount_terms("percentage", "15") if code else None)
        with transaction(self.sessions) as session:
            upsert_influencer(session, session.get(Store, self.store_id), spec, datetime.now(timezone.utc))

    def order(self, order_id: int, *, codes=(), ref: str = "", test: bool = False, name: str | None = None) -> None:
        """A paid order as Shopify sends it: its codes, and the ?ref= of the page the shopper landed on."""
        body = samples.order(order_id=order_id, name=name or f"#{order_id}", codes=codes, cart_ref="",
                             landing_site=f"/?ref={ref}" if ref else "/", landing_site_ref=ref, test=test)
        assert post_shopify(self.client, "orders/paid", body).status_code == 200

    def place(self, order_id: int, *, journey: dict | None = None, **fields) -> None:
        """An order placed in the stand-in shop (shop_order's fields), which sends its orders/paid to the app; with
        `journey`, what Shopify's customerJourneySummary then says of the shopper's visits."""
        if journey is not None:
            self.shopify.set_journey(SHOP, order_id, journey)
        self.shopify.place_order(SHOP, shop_order(order_id, **fields), topics=("orders/paid",))

    def subscribe(self, order_id: int, **fields) -> str:
        """An order bought with a selling plan, starting a subscription contract: the contract's number."""
        return self.shopify.start_subscription(SHOP, shop_order(order_id, **fields), topics=("orders/paid",))

    def renew(self, contract: str, order_id: int, **options) -> None:
        """One billing of the contract: a renewal order, as Shopify's subscription billing makes it."""
        self.shopify.renew(SHOP, contract, order_id, topics=("orders/paid",), **options)

    def edit(self, order_id: int, **changes) -> None:
        """An order edit committed in the shop a minute later (units removed per line id, lines added), then its
        orders/updated. Shopify's times are to the second: an edit in the second the order was placed would not
        be a newer state of it."""
        self.shopify.clock.later(60)
        self.shopify.edit_order(SHOP, order_id, **changes)

    def configure(self, **changes) -> None:
        """The store's settings changed as the merchant saves them (PUT /admin/api/settings with a session token)."""
        headers = {"Authorization": f"Bearer {session_token()}"}
        saved = self.client.get("/admin/api/settings", headers=headers).json["settings"]
        answer = self.client.put("/admin/api/settings", json={**saved, **changes}, headers=headers)
        assert answer.status_code == 200, answer.json

    def clicks(self, tracking_id: str, count: int) -> None:
        """Shoppers following the influencer's link, each in a browser of their own (one click per browser counts)."""
        for n in range(count):
            answer = self.client.get(f"/t/{tracking_id}?s={self.store_id}", headers={"User-Agent": f"Shopper/{n}"})
            assert answer.status_code == 302, answer.get_data(as_text=True)

    def work(self) -> None:
        """The worker until nothing is due: events credited, codes created, conversions delivered."""
        drain(self.settings, self.sessions)

    def store(self) -> Store:
        with self.sessions() as session:
            return session.get(Store, self.store_id)

    def conversions(self) -> list[Conversion]:
        with self.sessions() as session:
            return list(session.scalars(select(Conversion).order_by(Conversion.created_at)))


@dataclass
class AppPage:
    """The page in Chromium, and what went wrong in it (uncaught errors, console errors)."""

    page: object
    merchant: Merchant
    problems: list[str] = field(default_factory=list)
    #: console errors a test expects (a 401 or 403 it provokes is logged by Chromium as a failed resource)
    allowed: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def open(self, path: str = "", wait_for: str = "s-page") -> None:
        self.page.goto(f"{self.merchant.url}/shopify/app{path}?shop={SHOP}&id_token={session_token()}")
        self.page.wait_for_selector(f"#app {wait_for}")
        self.page.evaluate("window.__sameDocument = true")

    def navigate(self, label: str) -> None:
        """A click on the admin's nav item: App Bridge fires shopify:navigate on its s-link."""
        self.page.evaluate("""(label) => {
            const link = [...document.querySelectorAll("s-app-nav s-link")].find((l) => l.textContent === label);
            link.dispatchEvent(new CustomEvent("shopify:navigate", {bubbles: true, composed: true}));
        }""", label)

    def same_document(self) -> bool:
        """No reload since open(): the views switched in the page."""
        return self.page.evaluate("window.__sameDocument === true")

    def loaded(self) -> None:
        self.page.wait_for_function("!document.querySelector('#app [aria-busy]')")
        self.page.wait_for_function("![...document.querySelectorAll('#app .cnx-slot')].some("
                                    "(s) => s.textContent === 'Loading…')")

    def press(self, label: str, within=None) -> None:
        """A click on the s-button with exactly this label (in `within`, a locator, when given)."""
        (within or self.page).locator(f's-button:text-is("{label}")').click()

    def text(self, selector: str = "#app") -> str:
        return self.page.inner_text(selector)

    def toasts(self) -> list[dict]:
        return self.page.evaluate("window.__toasts")

    def fits(self) -> bool:
        return self.page.evaluate("document.documentElement.scrollWidth") <= self.page.viewport_size["width"]

    def shot(self, name: str, full_page: bool = False) -> None:
        """docs/screenshots/<name>.png, with CONNECTOR_SCREENSHOTS=1 only (CI leaves the tree as it is)."""
        if os.environ.get("CONNECTOR_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page, scale="css")


# --- the fixtures of the browser tests of the merchant app (imported by their modules) -------------------


@pytest.fixture
def merchant(_servers, settings, engine, sessions):
    """The app on this test's database behind the session's server, a Shopify store installed with an access
    token, the stand-in Shopify (on its own clock) and the stand-in backend."""
    dispatch, url, _shop = _servers
    with StandinShopify(API_KEY, SHOPIFY_SECRET, scope=SCOPE, clock=ShopClock()) as shopify, \
            StandinBackend(BACKEND_SECRET) as backend:
        app_settings = settings.with_overrides(
            public_url=url, shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url,
            tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET)
        with transaction(sessions) as session:
            store_id = directory.add_store(session, settings.secret_key, "shopify", SHOP, access_token=ACCESS_TOKEN).id
        shopify.grant_token(SHOP, ACCESS_TOKEN)
        served = create_app(app_settings, engine=engine)
        dispatch.app = served
        found = Merchant(url, app_settings, sessions, store_id, shopify, backend)
        found.client = served.test_client()
        try:
            yield found
        finally:
            dispatch.app = None


@pytest.fixture
def app(chromium, merchant):
    """The page in Chromium at desktop width, App Bridge stood in, Polaris unreachable; no error may happen in it."""
    context = chromium.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(5000)
    page = context.new_page()
    shown = AppPage(page, merchant)
    page.on("pageerror", lambda error: shown.problems.append(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error" and shown.problems.append(f"console: {message.text}"))
    page.route(APP_BRIDGE, lambda route: route.fulfill(body=STANDIN_APP_BRIDGE, content_type="text/javascript"))
    page.route(POLARIS, lambda route: route.fulfill(body="/* Polaris is not reachable here */",
                                                    content_type="text/javascript"))

    def mint() -> str:
        shown.tokens.append(session_token())
        return shown.tokens[-1]

    page.expose_function("__standinIdToken", mint)
    yield shown
    context.close()
    unexpected = [p for p in shown.problems if not any(a in p for a in shown.allowed)]
    assert unexpected == [], "the page saw errors"
