"""The merchant app's page in Chromium, for bench/merchant_app.py: one view's load in a fresh context, its paint
figures (TTFB, FP, FCP, LCP, CLS) and its interactions (INP, click -> data).

What is measured and how is in bench/merchant_app.py's docstring. Playwright itself is imported there (so
--help works without it); this module only drives the browser it is given.
"""

from __future__ import annotations

import time
import uuid

from _common import ROOT, SHOPIFY_SECRET

API_KEY = "bench-api-key"
CHROMIUM = "/usr/bin/chromium"
APP_BRIDGE_STANDIN = ROOT / "standins" / "shopify" / "app_bridge.js"
VIEWPORT = {"width": 1280, "height": 900}


def session_token(shop: str) -> str:
    """A session token as App Bridge gets it from Shopify: HS256 under the app's secret, a minute of life."""
    import jwt

    now = int(time.time())
    claims = {"iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": API_KEY, "sub": "42",
              "exp": now + 60, "nbf": now - 5, "iat": now, "jti": str(uuid.uuid4()), "sid": "bench-session"}
    return jwt.encode(claims, SHOPIFY_SECRET, algorithm="HS256")


# -- what the page reports -------------------------------------------------------------------------

OBSERVE = """(() => {
  const perf = window.__perf = {lcp: null, cls: 0, shifts: [], events: [], firstInput: null, errors: []};
  const observe = (type, each, extra) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(each)).observe({type, buffered: true, ...extra});
    } catch (e) { perf.errors.push(`${type}: ${e}`); }
  };
  observe("largest-contentful-paint", (e) => {
    const el = e.element;
    perf.lcp = {t: e.startTime, size: e.size, el: el ? el.localName + (el.className ? "." + el.className : "") : null};
  });
  const describe = (node) => !node ? "?" : node.nodeType !== 1 ? `${node.parentElement ? describe(node.parentElement) : "?"} text`
    : node.localName + (node.id ? `#${node.id}` : "") + (node.className && typeof node.className === "string"
      ? "." + node.className.trim().split(/\s+/).join(".") : "") + (node.getAttribute("heading")
      ? `[heading=${node.getAttribute("heading")}]` : "");
  observe("layout-shift", (e) => {
    if (e.hadRecentInput) return;
    perf.cls += e.value;
    const move = (s) => `${describe(s.node)} (y ${Math.round(s.previousRect.y)}->${Math.round(s.currentRect.y)}, `
      + `h ${Math.round(s.previousRect.height)}->${Math.round(s.currentRect.height)})`;
    perf.shifts.push({t: e.startTime, value: e.value, sources: (e.sources || []).map(move)});
  });
  observe("event", (e) => perf.events.push({name: e.name, d: e.duration, id: e.interactionId}), {durationThreshold: 16});
  observe("first-input", (e) => { perf.firstInput = {name: e.name, d: e.duration}; });
})();"""

#: every part of the view has drawn its answer (or its error): nothing busy, nothing "Loading…"
LOADED = """() => {
  const app = document.getElementById("app");
  if (!app || !app.firstElementChild || app.querySelector("[aria-busy]")) return false;
  const slots = [...app.querySelectorAll(".cnx-slot")];
  return slots.length > 0 && !slots.some((s) => s.textContent === "Loading…");
}"""

READ = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = (name) => { const e = performance.getEntriesByName(name)[0]; return e ? e.startTime : null; };
  return {ttfb: nav ? nav.responseStart : null, fp: paint("first-paint"), fcp: paint("first-contentful-paint"),
          lcp: window.__perf.lcp, cls_load: window.__perf.cls, errors: window.__perf.errors};
}"""


class Page:
    """One view's load in a fresh context, its paint figures and its interactions."""

    def __init__(self, browser, base_url: str, shop: str, app_bridge: str):
        self.context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
        self.context.set_default_timeout(30_000)
        self.context.add_init_script(OBSERVE)
        self.context.route("https://cdn.shopify.com/shopifycloud/app-bridge.js", lambda route: route.fulfill(
            body=app_bridge, content_type="text/javascript"))
        self.context.route("https://cdn.shopify.com/shopifycloud/polaris.js", lambda route: route.fulfill(
            body="/* Polaris is not reachable here */", content_type="text/javascript"))
        self.context.expose_function("__standinIdToken", lambda: session_token(shop))
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.base_url, self.shop = base_url, shop
        self.steps: dict[str, float] = {}
        #: when each interaction began (performance.now()), to tell which one a layout shift followed
        self.marks: list[tuple[float, str]] = []

    def close(self) -> None:
        self.context.close()

    def open(self, path: str) -> dict:
        self.page.goto(f"{self.base_url}/shopify/app{path}?shop={self.shop}&id_token={session_token(self.shop)}")
        data = self.page.wait_for_function(f"({LOADED})() && performance.now()", polling="raf").json_value()
        # Two frames for the data's paint to be reported, then LCP is read (before any input stops it).
        self.page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => "
                           "setTimeout(r, 50))))")
        figures = self.page.evaluate(READ)
        figures["data"] = data
        return figures

    def timed(self, label: str, act, done: str, *, from_end: bool = False) -> None:
        """An interaction, and the time until `done` (a JS expression) holds and every slot has drawn; timed
        from its start, or with `from_end` from when the last key was typed."""
        self.page.evaluate("window.__mark = [...document.querySelectorAll('#app .cnx-slot > *')]")
        started = self.page.evaluate("performance.now()")
        self.marks.append((started, label))
        act()
        if from_end:
            started = self.page.evaluate("performance.now()")
        ended = self.page.wait_for_function(
            f"(({done}) && ({LOADED})()) && performance.now()", polling="raf").json_value()
        self.steps[label] = ended - started

    def inp(self) -> dict:
        self.page.wait_for_timeout(200)  # event entries are reported after the next paint
        perf = self.page.evaluate("window.__perf")
        durations = [e["d"] for e in perf["events"] if e["id"]]
        first = perf["firstInput"]["d"] if perf["firstInput"] else None
        candidates = durations + ([first] if first is not None else [])
        return {"inp": max(candidates) if candidates else None, "inp_events": len(durations),
                "inp_first": first, "cls_final": perf["cls"], "shifts": perf["shifts"]}


#: a fresh part of the view: the slots' content is not what it was before the interaction
CHANGED = "[...document.querySelectorAll('#app .cnx-slot > *')].some((e) => !window.__mark.includes(e))"


# -- each view's interactions ---------------------------------------------------------------------


def _next_page(page: Page) -> None:
    """Page 2 of the list, when there is one (a small store's failed deliveries may fit on one page)."""
    button = page.page.locator('s-button:text-is("Next")')
    if button.get_attribute("disabled") is not None:
        return
    page.timed("Next page", button.click,
               "document.querySelector('.cnx-pager') && document.querySelector('.cnx-pager').textContent"
               ".startsWith('26–')")


def _home(page: Page, large: bool) -> None:
    p = page.page
    page.timed("period 7 days", lambda: p.locator('s-button:text-is("7 days")').click(), CHANGED)
    page.timed("period 90 days", lambda: p.locator('s-button:text-is("90 days")').click(), CHANGED)
    if large:
        page.timed("top influencer link", lambda: p.locator(".cnx-table s-link").first.click(),
                   "location.pathname.endsWith('/influencers') && document.querySelector('#app s-table-row')")
        page.marks.append((p.evaluate("performance.now()"), "browser Back to Home"))  # draws Home again
        p.go_back()
        p.wait_for_function(LOADED)
    page.timed("nav Influencers (shopify:navigate)", lambda: p.evaluate("""() => {
        const link = [...document.querySelectorAll("s-app-nav s-link")].find((l) => l.textContent === "Influencers");
        link.dispatchEvent(new CustomEvent("shopify:navigate", {bubbles: true, composed: true}));
    }"""), "location.pathname.endsWith('/influencers')")


def _influencers(page: Page, large: bool) -> None:
    if large:
        _next_page(page)
    search = page.page.locator("input[type=search]")
    page.timed("search: last key -> results", lambda: (search.click(),
                                                         search.press_sequentially("creator0042", delay=60)),
               "document.querySelectorAll('#app s-table-row').length === 10" if large
               else "document.body.innerText.includes('No influencer matches')", from_end=True)


def _orders(page: Page, large: bool) -> None:
    p = page.page
    page.timed("filter Credited", lambda: p.locator('s-button:text-is("Credited")').click(), CHANGED)
    if large:
        page.timed("open an order's why", lambda: p.locator("#app s-table-row").first.locator(
            "s-table-cell").nth(1).click(), "document.querySelector(\"s-section[heading='Why']\")")


def _deliveries(page: Page, large: bool) -> None:
    page.timed("filter Failed", lambda: page.page.locator('#app .cnx-choice s-button').nth(1).click(), CHANGED)
    if large:
        _next_page(page)


def _settings(page: Page, large: bool) -> None:
    p = page.page
    page.timed("tick a setting", lambda: p.locator("input[name=forward_test_orders]").click(),
               "window.__saveBar.visible")
    field = p.locator("input[name=window_days]")
    page.timed("type a number", lambda: (field.click(), field.press("Control+A"),
                                         field.press_sequentially("45", delay=60)),
               "document.querySelector('input[name=window_days]').value === '45'", from_end=True)
    page.timed("Discard", lambda: (p.get_by_text("Discard", exact=True).click(),
                                   p.get_by_text("Discard changes").click()), "!window.__saveBar.visible")


def _why(page: Page, large: bool) -> None:
    page.timed("breadcrumb to Orders", lambda: page.page.locator("s-link[slot=breadcrumb-actions]").click(),
               "location.pathname.endsWith('/orders') && (document.querySelector('#app s-table-row') || "
               "document.querySelector('#app .cnx-empty'))")


#: each view's interactions, made with Playwright's mouse and keyboard (some only in the large store)
INTERACTIONS = {"home": _home, "influencers": _influencers, "orders": _orders, "deliveries": _deliveries,
                "settings": _settings, "why": _why}


def interact(page: Page, view: str, large: bool) -> None:
    act = INTERACTIONS.get(view)
    if act:
        act(page, large)


# -- a view's load ---------------------------------------------------------------------------------


def views(order_id: str) -> list[tuple[str, str]]:
    return [("home", ""), ("influencers", "/influencers"), ("orders", "/orders"), ("deliveries", "/deliveries"),
            ("settings", "/settings"), ("why", f"/orders/{order_id}")]


def measure_page(browser, base_url: str, shop: str, path: str, view: str, large: bool, app_bridge: str) -> dict:
    page = Page(browser, base_url, shop, app_bridge)
    try:
        figures = page.open(path)
        interact(page, view, large)
        figures.update(page.inp())
        figures["steps"] = page.steps
        for shift in figures["shifts"]:
            shift["phase"] = next((f"after '{label}'" for at, label in reversed(page.marks) if at <= shift["t"]),
                                  "while loading")
        figures["problems"] = [p for p in page.problems if "status of 404" not in p]
        return figures
    finally:
        page.close()
