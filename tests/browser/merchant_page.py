"""The merchant app's page under test: the app and its outside world (Merchant), and the page in Chromium (AppPage).

Used by test_merchant_app.py; see there for how the page is served and what stands in for Shopify's scripts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select

from connector.campaigns.influencers import InfluencerSpec, discount_terms, upsert_influencer
from connector.db import transaction
from connector.installs.setup import run_setup
from connector.models import Conversion, Store
from connector.settings import Settings
from standins.backend import StandinBackend
from standins.shopify import samples
from standins.shopify.store import StandinShopify

from ..conftest import SHOP
from ..helpers import drain, post_shopify, session_token
from .conftest import ROOT

STANDIN_APP_BRIDGE = (ROOT / "standins" / "shopify" / "app_bridge.js").read_text()
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ACCESS_TOKEN = "shpat_merchant_app_test"
VIEWS = ("", "/influencers", "/orders", "/deliveries", "/settings")


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
