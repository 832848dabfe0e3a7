"""Browser tests: the WooCommerce storefront script and the Shopify web pixel in a real Chromium, reporting
to the real connector.

Every page is served over real HTTP by two local servers (`standins.live_server.LiveServer`):

- `shop`: a stand-in store at http://localhost:<port> — plain pages carrying the one-line script tag,
  WooCommerce's registration form and order-received URLs, and the web pixel harness page
  (`harness/pixel.html`, which maps "@shopify/web-pixels-extension" to `harness/web-pixels-extension.js`
  with an import map and imports `extensions/connector-pixel/src/index.js`).
- `connector`: the connector's app (`create_app`) on the test's database at http://127.0.0.1:<port> (so
  the report is cross-origin, as in production), holding a WooCommerce store whose URL is the shop's
  origin and a Shopify store whose storefront URL is the shop's origin (the pixel harness runs there).
  Requests to POST /storefront/events are recorded on the way in (body, Content-Type, Origin, the
  answer's status) so the tests can check what the browser sent as well as what the connector stored.

The servers live for the whole session (stopping one takes a poll interval); each test plugs its own
app, on its own database, into the connector's server.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright for Python; the tests skip when either
is missing (`playwright install` is never used).
"""

from __future__ import annotations

import html
import io
import json
import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from flask import Flask, Response, request, send_file
from sqlalchemy import select

from connector import create_app
from connector.campaigns import directory
from connector.db import transaction
from standins.live_server import LiveServer
from connector.models import Event

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

ROOT = Path(__file__).resolve().parents[2]
STOREFRONT_JS = ROOT / "connector" / "web" / "static" / "storefront.js"
PIXEL_JS = ROOT / "extensions" / "connector-pixel" / "src" / "index.js"
HARNESS = Path(__file__).resolve().parent / "harness"
CHROMIUM = "/usr/bin/chromium"
COOKIE = "_cnx_touches"
SHOPIFY_SHOP = "test-shop.myshopify.com"
WOO_SECRET = "browser-test-webhook-secret"

if sync_playwright is None:
    SKIP_REASON = "Playwright for Python is not installed (pip install 'playwright>=1.45,<2')"
elif not os.access(CHROMIUM, os.X_OK):
    SKIP_REASON = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
else:
    SKIP_REASON = None

#: every browser test module carries this mark
needs_browser = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


def wait_until(condition, timeout: float = 5.0, message: str = "condition"):
    """Polls `condition` until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.02)


def dead_origin() -> str:
    """An http origin on this machine where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class RecordingDispatch:
    """The connector server's WSGI app: hands each request to the current test's app, recording reports."""

    def __init__(self):
        self.app = None
        self._lock = threading.Lock()
        self.requests: list[dict] = []

    def __call__(self, environ, start_response):
        app = self.app
        if app is None:  # between tests
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app"]
        if environ.get("PATH_INFO") != "/storefront/events":
            return app(environ, start_response)
        body = _read_body(environ)
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        entry = {
            "method": environ["REQUEST_METHOD"],
            "body": body.decode("utf-8", "replace"),
            "content_type": environ.get("CONTENT_TYPE", ""),
            "origin": environ.get("HTTP_ORIGIN"),
            "cookie": environ.get("HTTP_COOKIE"),
            "status": None,
        }
        with self._lock:
            self.requests.append(entry)

        def recording_start_response(status, headers, exc_info=None):
            entry["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info)

        return app(environ, recording_start_response)


def _read_body(environ) -> bytes:
    length = environ.get("CONTENT_LENGTH")
    if length:
        return environ["wsgi.input"].read(int(length))
    return environ["wsgi.input"].read() if environ.get("wsgi.input_terminated") else b""


class Connector:
    """The real connector app of one test, behind the session's server; what reached it and what it stored."""

    def __init__(self, dispatch: RecordingDispatch, url: str, app, settings, sessions, stores: dict[str, int]):
        self._dispatch, self.url, self.app = dispatch, url, app
        self.settings, self.sessions, self.stores = settings, sessions, stores
        #: a client of the same app, for the order webhooks the tests feed in
        self.client = app.test_client()

    def _requests(self, method: str) -> list[dict]:
        with self._dispatch._lock:
            return [dict(r) for r in self._dispatch.requests if r["method"] == method]

    def posts(self) -> list[dict]:
        return self._requests("POST")

    def preflights(self) -> list[dict]:
        return self._requests("OPTIONS")

    def reports(self, kind: str | None = None) -> list[dict]:
        bodies = [json.loads(r["body"]) for r in self.posts()]
        return [b for b in bodies if kind is None or b.get("kind") == kind]

    def wait_for_reports(self, count: int, kind: str | None = None, timeout: float = 5.0) -> list[dict]:
        wait_until(lambda: len(self.reports(kind)) >= count, timeout, f"{count} {kind or ''} report(s)")
        return self.reports(kind)

    def statuses(self, timeout: float = 5.0) -> list[int]:
        """The connector's answers to the reports posted so far (waits until each was answered)."""
        wait_until(lambda: all(r["status"] is not None for r in self.posts()), timeout, "the connector's answers")
        return [r["status"] for r in self.posts()]

    def events(self, topic: str | None = None) -> list[Event]:
        with self.sessions() as session:
            query = select(Event).order_by(Event.id)
            if topic is not None:
                query = query.where(Event.topic == topic)
            return list(session.scalars(query))

    def wait_for_events(self, count: int, topic: str, timeout: float = 5.0) -> list[Event]:
        wait_until(lambda: len(self.events(topic)) >= count, timeout, f"{count} {topic} event(s)")
        return self.events(topic)


class Shop:
    """A stand-in store: every page carries the storefront script tag, as a merchant installs it."""

    def __init__(self, script_origin: str):
        self._connector_origin = script_origin
        self.reset()
        app = Flask("shop")

        @app.get("/pixel-harness")
        def pixel_harness():
            return send_file(HARNESS / "pixel.html", mimetype="text/html")

        @app.get("/harness/<name>")
        def harness_file(name):
            path = (HARNESS / name).resolve()
            if path.parent != HARNESS or not path.is_file():
                return Response(status=404)
            return send_file(path, mimetype="text/javascript" if name.endswith(".js") else None)

        @app.get("/pixel/index.js")
        def pixel():
            return send_file(PIXEL_JS, mimetype="text/javascript")

        @app.route("/my-account/", methods=["GET", "POST"])
        def my_account():
            if request.method == "POST":
                self.registrations.append(dict(request.form))
                return self._page("Registered", "<p id='registered'>Account created.</p>")
            form = (
                "<form method='post' class='woocommerce-form woocommerce-form-register register' action='/my-account/'>"
                "<input type='email' name='email' id='reg_email' autocomplete='email'>"
                "<input type='password' name='password' id='reg_password'>"
                "<button type='submit' name='register' value='Register'>Register</button></form>"
            )
            return self._page("My account", form)

        @app.get("/")
        @app.get("/<path:path>")
        def any_page(path=""):
            return self._page(path or "Home", "<p>Store page.</p>")

        self._server = LiveServer().start(app)
        # localhost, not 127.0.0.1: the store and the connector are different sites, as in production.
        self.url = self._server.url.replace("127.0.0.1", "localhost")

    def reset(self) -> None:
        #: where the page loads /storefront.js from (the connector's origin)
        self.script_origin = self._connector_origin
        self.window_days = 30
        #: registration forms the store received (the script must never block them)
        self.registrations: list[dict] = []

    def _page(self, title: str, body: str) -> Response:
        tag = (f'<script src="{html.escape(self.script_origin)}/storefront.js" data-store="{html.escape(self.url)}" '
               f'data-window-days="{self.window_days}" async></script>')
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>{tag}</head>"
                f"<body><h1>{html.escape(title)}</h1>{body}<script>window.__pageOk = true;</script></body></html>")
        return Response(page, mimetype="text/html")

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture(scope="session")
def chromium():
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(scope="session")
def _servers():
    """Both servers live for the session (stopping one takes a poll interval); tests plug in their app."""
    dispatch = RecordingDispatch()
    server = LiveServer().start(dispatch)
    store = Shop(server.url)
    yield dispatch, server.url, store
    store.stop()
    server.stop()


@pytest.fixture
def connector(_servers, settings, engine, sessions) -> Connector:
    """The connector app on this test's database, with the stand-in shop as a WooCommerce store (whose
    influencer is alice) and as a Shopify store's storefront (whose influencer is bob)."""
    dispatch, url, shop = _servers
    with transaction(sessions) as session:
        woo = directory.add_store(session, settings.secret_key, "woocommerce", shop.url, access_token="ck_x:cs_y",
                                  webhook_secret=WOO_SECRET)
        directory.add_influencer(session, woo, "alice", campaign_id="wc-26")
        shopify = directory.add_store(session, settings.secret_key, "shopify", SHOPIFY_SHOP,
                                      access_token="shpat_test")
        # The pixel harness runs on the shop's origin: the origin the connector sees the pixel's reports from.
        shopify.storefront_url = shop.url
        directory.add_influencer(session, shopify, "bob", campaign_id="spring-26")
        stores = {"woocommerce": woo.id, "shopify": shopify.id}
    app = create_app(settings.with_overrides(public_url=url), engine=engine)
    with dispatch._lock:
        dispatch.requests.clear()
    dispatch.app = app
    connector = Connector(dispatch, url, app, settings, sessions, stores)
    yield connector
    try:
        # What the scripts send is what the connector takes: a report it refused would be a lost credit.
        assert all(status == 202 for status in connector.statuses()), [
            (p["status"], p["origin"], p["body"]) for p in connector.posts()]
    finally:
        dispatch.app = None


@pytest.fixture
def shop(_servers) -> Shop:
    store = _servers[2]
    store.reset()
    return store


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught exceptions and unhandled rejections of the page (Playwright's "pageerror")."""
    return []


@pytest.fixture
def page(chromium, page_errors):
    context = chromium.new_context()
    context.set_default_timeout(5000)
    browser_page = context.new_page()
    browser_page.on("pageerror", lambda error: page_errors.append(str(error)))
    yield browser_page
    context.close()
    assert page_errors == [], "the page saw errors"


def touches_cookie(page, url: str) -> dict | None:
    """The _cnx_touches cookie as Playwright sees it, with its value decoded into `touches`."""
    for cookie in page.context.cookies(url):
        if cookie["name"] == COOKIE:
            return {**cookie, "touches": json.loads(unquote(cookie["value"]))}
    return None
