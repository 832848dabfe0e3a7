"""The merchant app's page (connector/web/static/app*.js) in a real Chromium, against the real app.

The document is the one the app serves at /shopify/app for a Shopify store installed with an access token,
opened as the admin opens it (?shop=&id_token=). Two scripts of it come from Shopify's CDN, which these tests
cannot reach (no network here), so Playwright answers them:

- App Bridge with the stand-in standins/shopify/app_bridge.js: `shopify.idToken()` asks the test
  (`window.__standinIdToken`, exposed with Playwright), which signs a real HS256 session token with the app's
  secret, and the stand-in's fetch adds it to the page's requests, as App Bridge does;
- Polaris with an empty script: the web components stay undefined and the page stands on its own fallback
  styles (app.css), which is what the screenshots show.

Everything the page shows was put in with the project's own code: influencers as the backend registers them
(campaigns.influencers.upsert_influencer; their codes made in the stand-in Shopify by the worker), clicks on
their links through GET /t/<id>, orders as signed webhooks through the app, a real worker crediting them and
delivering to the stand-in backend, setup run against the stand-in Shopify (tests/browser/merchant_page.py).

With CONNECTOR_SCREENSHOTS=1 the tests also save docs/screenshots/*.png (the viewport, 1280 or 390 wide).
"""

from __future__ import annotations

from connector.db import transaction
from connector.models import Store
from standins.backend import Behaviour

from ..conftest import SHOP
from ..helpers import session_token
from .conftest import needs_browser, wait_until
from .merchant_page import ACCESS_TOKEN, DESKTOP, PHONE, VIEWS, Merchant, app, merchant  # noqa: F401 (fixtures)

pytestmark = needs_browser


def _failing_backend(merchant: Merchant) -> None:
    """The backend takes the first conversion and refuses every later one with a 500."""
    merchant.backend.behaviour = Behaviour(status_for=lambda number, _id: 200 if number == 1 else 500)


def _until_failed(merchant: Merchant, count: int) -> None:
    """The worker until `count` conversions used up their retries (waits of 0.05 s in the tests)."""
    def failed():
        merchant.work()
        return sum(c.status == "failed" for c in merchant.conversions()) >= count
    wait_until(failed, timeout=15, message=f"{count} failed deliveries")


def _with_orders(merchant: Merchant) -> None:
    """alice (code ALICE15, made in the store by the worker) and bob; a credited order, a test order, an
    order nobody is credited for, and one more credited order whose delivery fails."""
    merchant.setup()
    merchant.influencer("alice", "ALICE15")
    merchant.influencer("bob")
    merchant.clicks("alice", 24)
    merchant.clicks("bob", 9)
    merchant.work()
    _failing_backend(merchant)
    merchant.order(1001, codes=("ALICE15",), ref="bob")  # the code wins over bob's landing page
    merchant.order(1002, codes=("ALICE15",), test=True)
    merchant.order(1003)
    merchant.work()
    merchant.order(1004, codes=("alice15",))
    _until_failed(merchant, 1)


def test_home_shows_the_step_setup_found_missing_and_turns_it_done_without_a_reload(app, merchant):
    merchant.shopify.set_protected_data_access(SHOP, False)
    merchant.setup()
    merchant.influencer("alice", "ALICE15")
    merchant.work()
    merchant.clicks("alice", 40)
    merchant.order(1001, codes=("ALICE15",))
    merchant.work()

    app.open()
    step = app.page.locator("[data-step=protected_data]")
    step.wait_for()
    assert step.locator("s-badge").inner_text() == "To do"
    assert "Partner Dashboard" in step.inner_text()  # what to do, and where
    assert app.page.locator("[data-step=webhooks] s-badge").inner_text() == "To do"
    link = step.locator("s-link[target=_blank]")
    assert link.get_attribute("href").startswith("https://shopify.dev/docs/apps/launch/protected-customer-data")
    app.loaded()
    tiles = app.text(".cnx-tiles")
    assert "Clicks\n40" in tiles and "Orders\n1" in tiles and "Conversion rate\n2.5%" in tiles
    assert app.page.locator(".cnx-chart svg").count() == 1  # the server's chart, drawn in the page
    assert "alice" in app.text(".cnx-table")
    app.shot("home", full_page=True)

    # The merchant gets access, then asks for a check: the page polls while the worker sets the store up again.
    merchant.shopify.set_protected_data_access(SHOP, True)
    app.press("Check again")
    app.page.get_by_text("checking with Shopify").wait_for()
    merchant.work()
    app.page.wait_for_function("document.querySelector('[data-step=protected_data] s-badge').textContent === 'Done'",
                               timeout=8000)
    assert app.same_document()


def test_every_view_says_what_will_show_up_when_nothing_happened_yet(app, merchant):
    merchant.setup()
    app.open()
    app.loaded()
    assert "Nothing in the last 30 days yet" in app.text()
    assert "No influencer to show yet" in app.text()
    app.shot("empty-home")

    app.press("7 days")
    app.page.get_by_text("Nothing in the last 7 days yet").wait_for()
    for label, path, empty in (("Influencers", "/influencers", "No influencers yet"),
                               ("Orders", "/orders", "No orders yet"),
                               ("Deliveries", "/deliveries", "Nothing sent yet"),
                               ("Settings", "/settings", "Credit test orders")):
        app.navigate(label)
        app.page.get_by_text(empty).first.wait_for()
        assert app.page.evaluate("location.pathname") == f"/shopify/app{path}"
        assert app.page.title().startswith(label)
    app.page.go_back()  # the browser's back button draws the view of the address
    app.page.get_by_text("Nothing sent yet").wait_for()
    assert app.same_document()


def test_influencers_are_searched_paged_and_their_link_copied(app, merchant):
    merchant.setup()
    for code in ("TAKEN10", *(f"TAKEN10-{n}" for n in range(2, 10))):  # the code and every variant the worker tries
        merchant.shopify.add_foreign_code(SHOP, code)
    merchant.shopify.set_bulk_polls(SHOP, 0)  # the shop makes codes at once: nine tries, not nine waits
    merchant.influencer("alice", "ALICE15")
    merchant.influencer("zed", "TAKEN10")
    for n in range(1, 27):
        merchant.influencer(f"creator{n:02d}")
    merchant.work()
    for tracking_id, count in (("alice", 30), ("creator03", 12), ("creator07", 4)):
        merchant.clicks(tracking_id, count)
    merchant.order(1001, codes=("ALICE15",))
    merchant.work()
    app.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=merchant.url)

    app.open("/influencers")
    app.loaded()
    assert "1–25 of 28" in app.text()
    row = app.page.locator("s-table-row", has_text="alice")
    assert "ALICE15" in row.inner_text() and row.locator("s-badge").get_attribute("tone") == "success"
    app.shot("influencers")

    app.press("Next")
    app.page.get_by_text("26–28 of 28").wait_for()
    zed = app.page.locator("s-table-row", has_text="zed")
    assert zed.locator("s-badge").get_attribute("tone") == "critical"
    assert "all taken" in zed.locator(".cnx-error").inner_text()  # why, in red beside the code

    app.page.fill("input[type=search]", "alic")
    app.page.get_by_text("1–1 of 1").wait_for()
    assert "q=alic" in app.page.url
    app.press("Copy", app.page.locator("s-table-row", has_text="alice"))
    wait_until(lambda: any(t["message"] == "Link copied" for t in app.toasts()), message="the toast")
    shown = app.text("s-table-row .cnx-link .cnx-mono")
    assert shown.startswith(f"{merchant.url}/t/alice") and app.page.evaluate("navigator.clipboard.readText()") == shown

    app.page.fill("input[type=search]", "nobody-like-this")
    app.page.get_by_text("No influencer matches").wait_for()


def test_an_orders_why_opens_from_its_row_and_reads_on_a_phone(app, merchant):
    _with_orders(merchant)
    app.open("/orders")
    app.loaded()
    assert [app.page.locator("s-table-row", has_text=f"#{n}").count() for n in (1001, 1002, 1003, 1004)] == [1] * 4
    app.press("Not credited")
    app.page.wait_for_function("!document.body.innerText.includes('#1001')")
    assert "#1002" in app.text() and "#1003" in app.text()
    app.press("Credited")
    app.page.wait_for_function("!document.body.innerText.includes('#1003')")

    app.page.locator("s-table-row", has_text="#1001").locator("s-table-cell").nth(1).click()  # the row, not its link
    app.page.wait_for_selector("s-page[heading='#1001']")
    app.loaded()
    assert app.page.evaluate("location.pathname") == "/shopify/app/orders/1001"
    why = app.text("s-section[heading=Why]")
    assert "alice" in why and "ALICE15" in app.text("s-section[heading=Signals]")
    assert "alice" in app.text("s-section[heading='Credited to']") and "100%" in app.text("s-section[heading='Credited to']")
    # every signal with its status and reason: the code won; bob's ref (in the landing page and its ref) lost
    signals = app.page.locator("s-section[heading=Signals] s-table-row")
    assert signals.filter(has_text="ALICE15").locator("s-badge").get_attribute("tone") == "success"
    lost = signals.filter(has_text="bob")
    assert signals.count() == 3 and lost.count() == 2
    for n in range(2):
        assert lost.nth(n).locator("s-badge").get_attribute("tone") != "success"
        assert "Promo code counts before" in lost.nth(n).locator("s-table-cell").last.inner_text()
    app.shot("orders-why")

    app.page.set_viewport_size(PHONE)
    assert app.fits()
    app.shot("orders-why-phone")
    app.page.set_viewport_size(DESKTOP)

    app.page.get_by_text("‹ Orders").click()  # back to the list the merchant came from, its filter kept
    app.page.wait_for_function("location.pathname === '/shopify/app/orders'")
    assert "show=credited" in app.page.url
    assert app.same_document()


def test_a_failed_delivery_is_replayed_from_its_row(app, merchant):
    _with_orders(merchant)
    [failed] = [c for c in merchant.conversions() if c.status == "failed"]
    app.open("/deliveries")
    app.loaded()
    rows = app.page.locator("s-table-row[data-delivery]")
    assert rows.first.get_attribute("data-delivery") == failed.id  # failed first
    row = app.page.locator(f"s-table-row[data-delivery='{failed.id}']")
    assert row.locator("s-badge").first.inner_text() == "Failed"
    assert "HTTP 500" in row.inner_text()
    assert "Failed (1)" in app.text(".cnx-choice")
    app.shot("deliveries")

    app.press("Replay", row)
    wait_until(lambda: any(t["message"] == "Queued to be sent again" for t in app.toasts()), message="the toast")
    app.page.wait_for_function(f"document.querySelector(\"s-table-row[data-delivery='{failed.id}'] s-badge\")"
                               ".textContent === 'Pending'")
    assert "Failed (0)" in app.text(".cnx-choice")
    [again] = [c for c in merchant.conversions() if c.id == failed.id]
    assert again.status == "pending"


def test_settings_are_saved_refused_next_to_the_field_and_discarded(app, merchant):
    merchant.setup()
    app.allowed.append("status of 422")  # Chromium logs the refusal the test provokes as a failed resource
    app.open("/settings", wait_for="form[data-save-bar]")
    app.loaded()
    bar = lambda: app.page.evaluate("window.__saveBar.visible")  # noqa: E731
    assert not bar()

    app.page.select_option("select[name=model]", "time_decay")
    assert bar()
    assert "counts half as much" in app.text("[data-field=half_life_days]")
    app.page.fill("input[name=window_days]", "0")
    app.page.get_by_text("Save", exact=True).click()
    error = app.page.locator("[data-field=window_days] .cnx-field-error")
    error.wait_for()
    assert "1 to 365" in error.inner_text()
    assert app.page.get_attribute("input[name=window_days]", "aria-invalid") == "true"
    assert bar()  # the changes are still there to save
    assert merchant.store().attribution_model == "last_click"
    app.shot("settings")

    app.page.fill("input[name=window_days]", "14")
    app.page.select_option("select[name=precedence_0]", "click")  # swaps with the select that held it
    assert app.page.eval_on_selector_all("select[name^=precedence]", "(s) => s.map((e) => e.value)") == [
        "click", "promo_code", "renewal", "landing_page", "customer"]
    app.page.check("input[name=forward_test_orders]")
    app.page.get_by_text("Save", exact=True).click()
    wait_until(lambda: any(t["message"] == "Settings saved" for t in app.toasts()), message="the toast")
    assert not bar() and not error.is_visible()
    store = merchant.store()
    assert (store.attribution_model, store.attribution_window_days, store.precedence, store.forward_test_orders) == (
        "time_decay", 14, "click,promo_code,renewal,landing_page,customer", True)

    app.page.fill("input[name=window_days]", "90")
    assert bar()
    app.page.get_by_text("Discard", exact=True).click()
    app.page.get_by_text("Discard changes").click()  # the form asks for a confirmation (data-discard-confirmation)
    assert app.page.input_value("input[name=window_days]") == "14" and not bar()

    app.open("/settings", wait_for="form[data-save-bar]")  # read back from the server
    app.loaded()
    assert app.page.input_value("select[name=model]") == "time_decay"
    assert app.page.input_value("input[name=window_days]") == "14"


def test_every_view_fits_a_phone(app, merchant):
    _with_orders(merchant)
    app.page.set_viewport_size(PHONE)
    for path in VIEWS:
        app.open(path)
        app.loaded()
        assert app.fits(), path
        if path == "":
            app.shot("home-phone")


def test_an_expired_token_is_asked_again_and_a_store_to_authorise_again_is_reinstalled(app, merchant):
    merchant.setup()
    app.allowed += ["status of 401", "status of 403"]
    app.open()
    app.loaded()

    # One token comes back expired (it lived its minute on the way): the server answers 401, the page asks
    # App Bridge again, once, and shows the view.
    app.page.expose_function("__expiredToken", lambda: session_token(lifetime=-60))
    app.page.evaluate("""() => {
        const mint = window.__standinIdToken;
        window.__standinIdToken = () => { window.__standinIdToken = mint; return window.__expiredToken(); };
    }""")
    app.navigate("Orders")
    app.page.get_by_text("No orders yet").wait_for()
    assert [p for p in app.problems if "status of 401" in p]  # it was refused once

    # The store lost its token (the merchant must authorise the app again): the page reloads at the install URL
    # with a fresh token, and that load exchanges it for a new access token at Shopify.
    with transaction(merchant.sessions) as session:
        session.get(Store, merchant.store_id).status = "needs_reauth"
    with app.page.expect_request(lambda r: r.resource_type == "document") as reload:
        app.navigate("Deliveries")
    assert reload.value.url.startswith(f"{merchant.url}/shopify/app?shop={SHOP}&id_token=")
    app.page.wait_for_selector("#app s-page")
    assert not app.same_document()
    store = merchant.store()
    assert store.status == "active"
    assert merchant.shopify.access_tokens(SHOP)[-1] != ACCESS_TOKEN


def test_what_the_store_sends_is_shown_as_text_never_as_markup(app, merchant):
    merchant.setup()
    merchant.influencer("alice", "ALICE15")
    merchant.work()
    name = '<img src=x onerror="window.__xss = 1">#1005'  # an order name is the merchant's own prefix and number
    merchant.order(1005, codes=("ALICE15",), name=name)
    merchant.work()

    app.open("/orders")
    app.loaded()
    assert name in app.text()
    app.page.locator("s-table-row", has_text="#1005").locator("s-link").click()
    app.page.wait_for_selector("s-section[heading=Why]")
    assert app.page.get_attribute("s-page", "heading") == name
    assert app.page.locator("#app img").count() == 0 and app.page.evaluate("window.__xss") is None
