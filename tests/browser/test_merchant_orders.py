"""The merchant app in Chromium for what attribution learnt to go by: the settings of returning customers and
renewals, and the "why" of a returning customer's order, a renewal, an edited order and an order credited from
Shopify's visits, at desktop and phone widths.

Served and stood in for as in test_merchant_app.py (see there). Every order is placed in the stand-in Shopify,
which sends its webhooks to the app over HTTP; the real worker reads the visits and a renewal's start from the
stand-in's GraphQL and credits it. With CONNECTOR_SCREENSHOTS=1 the tests save docs/screenshots/*.png.
"""

from __future__ import annotations

from standins.shopify import journeys, samples

from ..conftest import SHOP
from .conftest import needs_browser, wait_until
from .merchant_page import DESKTOP, PHONE, SOCKS, app, merchant  # noqa: F401 (fixtures)

pytestmark = needs_browser
LATER = "2026-12-01T10:00:00+01:00"


def _open_why(app, order_id: int, name: str) -> None:
    app.open(f"/orders/{order_id}")
    app.page.wait_for_selector(f"s-page[heading='{name}']")
    app.loaded()


def _on_a_phone(app, shot: str) -> None:
    """The same view at 390 px: nothing runs off the screen, every part still there."""
    app.page.set_viewport_size(PHONE)
    assert app.fits(), shot
    app.shot(shot, full_page=True)
    app.page.set_viewport_size(DESKTOP)


def _section(app, heading: str) -> str:
    return app.text(f"s-section[heading=\"{heading}\"]")


def test_returning_customers_and_renewals_are_set_saved_kept_and_refused_beside_the_field(app, merchant):
    merchant.setup()
    app.allowed.append("status of 422")  # Chromium logs the refusal the test provokes as a failed resource
    app.open("/settings", wait_for="form[data-save-bar]")
    app.loaded()
    kinds = app.page.eval_on_selector_all("select[name^=precedence]", "(s) => s.map((e) => e.value)")
    assert kinds == ["renewal", "promo_code", "click", "landing_page", "customer"]
    lifetime = app.page.locator("[data-field=lifetime_days]")
    assert app.page.input_value("input[name=lifetime_days]") == "0" and "Off (0)" in lifetime.inner_text()
    assert app.page.input_value("select[name=renewals]") == "credit"
    assert "goes to the influencers of the order that started it" in app.text("[data-field=renewals]")
    app.shot("settings-repeat-orders-empty", full_page=True)

    app.page.fill("input[name=lifetime_days]", "90")
    assert "within 90 days of their first credited order" in lifetime.inner_text()  # the help follows the number
    app.page.select_option("select[name=renewals]", "ignore")
    assert "Only a subscription's first order is credited" in app.text("[data-field=renewals]")
    app.page.select_option("select[name=precedence_4]", "promo_code")  # codes last: swaps with the select that held it
    assert app.page.evaluate("window.__saveBar.visible")
    app.page.get_by_text("Save", exact=True).click()
    wait_until(lambda: any(t["message"] == "Settings saved" for t in app.toasts()), message="the toast")
    store = merchant.store()
    assert (store.lifetime_days, store.renewals, store.precedence) == (
        90, "ignore", "renewal,customer,click,landing_page,promo_code")

    app.open("/settings", wait_for="form[data-save-bar]")  # read back from the server
    app.loaded()
    assert app.page.input_value("input[name=lifetime_days]") == "90"
    assert app.page.input_value("select[name=renewals]") == "ignore"
    assert app.page.input_value("select[name=precedence_1]") == "customer"
    app.shot("settings-repeat-orders", full_page=True)

    app.page.fill("input[name=lifetime_days]", "5000")
    app.page.get_by_text("Save", exact=True).click()
    error = app.page.locator("[data-field=lifetime_days] .cnx-field-error")
    error.wait_for()
    assert "from 0 (off) to 3650" in error.inner_text()
    assert app.page.get_attribute("input[name=lifetime_days]", "aria-invalid") == "true"
    assert not app.page.locator("[data-field=window_days] .cnx-field-error").is_visible()
    assert merchant.store().lifetime_days == 90  # nothing of it was kept
    app.shot("settings-refused")
    _on_a_phone(app, "settings-phone")


def test_a_returning_customers_order_says_which_first_order_it_follows(app, merchant):
    merchant.setup()
    merchant.influencer("alice", "ALICE15")
    merchant.work()
    merchant.configure(lifetime_days=365)
    merchant.place(5001, codes=("ALICE15",), customer=501)
    merchant.work()
    merchant.place(5002, customer=501, at=LATER)
    merchant.work()

    app.open("/orders")
    app.loaded()
    row = app.page.locator("s-table-row", has_text="#5002")
    assert "Returning customer" in row.inner_text() and "alice" in row.inner_text()
    row.locator("s-link").click()
    app.page.wait_for_selector("s-page[heading='#5002']")
    app.loaded()
    assert "a returning customer, whose first credited order #5001 was theirs" in _section(app, "Why")
    assert "Returning customer" in _section(app, "Why")  # new or returning, and what said so
    part = app.text("[data-part=returning]")
    assert "#5001" in part and "found by the same customer account" in part and "365 days" in part
    signal = app.page.locator("s-section[heading=Signals] s-table-row", has_text="#5001")
    assert signal.locator("s-badge").inner_text() == "Credited"
    app.shot("orders-why-returning", full_page=True)
    _on_a_phone(app, "orders-why-returning-phone")


def test_a_renewal_links_to_the_order_that_started_it_and_one_that_cannot_be_credited_says_why(app, merchant):
    merchant.setup()
    merchant.influencer("alice", "ALICE15")
    merchant.work()
    contract = merchant.subscribe(6001, codes=("ALICE15",), customer=601)
    merchant.work()
    merchant.renew(contract, 6002)
    uncredited = merchant.subscribe(6201, customer=621)  # no code, no ref: its renewals cannot be credited either
    merchant.work()
    merchant.renew(uncredited, 6202)
    merchant.work()

    _open_why(app, 6002, "#6002")
    assert "a renewal of the subscription that #6001 started" in _section(app, "Why")
    part = app.page.locator("[data-part=renewal]")
    assert "Made by the subscription's billing" in part.inner_text()
    assert "source_name subscription_contract" in part.inner_text()  # the marker, as it was read
    assert part.locator("s-badge").get_attribute("tone") == "success"
    assert "Wool Scarf" in _section(app, "Lines") and "Merino Socks" in _section(app, "Lines")
    app.shot("orders-why-renewal", full_page=True)
    _on_a_phone(app, "orders-why-renewal-phone")

    part.locator("s-link", has_text="#6001").click()  # the order that started it, in the same page
    app.page.wait_for_selector("s-page[heading='#6001']")
    assert app.page.evaluate("location.pathname") == "/shopify/app/orders/6001" and app.same_document()

    _open_why(app, 6202, "#6202")
    why = _section(app, "Why")
    assert "Not credited: it is a subscription renewal, and the order that started it, #6201, was not credited" in why
    assert app.page.locator("[data-part=renewal] s-badge").get_attribute("tone") == "warning"
    assert "Nothing was sent to your tracking platform" in _section(app, "Sent to tracking")
    assert app.page.locator("[data-part=lines]").count() == 0  # nothing credited, no lines to show
    app.shot("orders-why-renewal-not-credited", full_page=True)
    _on_a_phone(app, "orders-why-renewal-not-credited-phone")


def test_an_edited_and_refunded_order_lists_each_change_and_its_lines(app, merchant):
    merchant.setup()
    merchant.influencer("alice", "ALICE15")
    merchant.work()
    merchant.place(8001, codes=("ALICE15",))
    merchant.work()
    merchant.shopify.send_webhook(SHOP, "refunds/create", samples.refund(refund_id=9001, order_id=8001))  # a pair back
    merchant.work()
    merchant.edit(8001, quantities={SOCKS: 1})  # the other pair taken off the order
    merchant.work()

    _open_why(app, 8001, "#8001")
    assert "edited after it was credited" in _section(app, "Why")
    edits = app.page.locator("[data-part=edits] s-table-row")
    assert edits.count() == 1
    assert [edits.locator("s-table-cell").nth(n).inner_text() for n in (1, 2, 3)] == ["€59.50", "€46.75", "-€12.75"]
    lines = app.page.locator("[data-part=lines] s-table-row")
    assert lines.count() == 2 and "€34.00" in lines.first.inner_text() and "57.1%" in lines.first.inner_text()
    sent = app.page.locator("s-section[heading='Sent to tracking'] s-table-row")
    assert [sent.nth(n).locator("s-text[type=strong]").first.inner_text() for n in range(3)] == [
        "Purchase", "Refund", "Edit adjustment"]
    assert "Merino Socks × 1 · €12.75" in sent.nth(1).inner_text()  # the refund names the line it takes back
    assert "Merino Socks × -1 · -€12.75" in sent.nth(2).inner_text()
    app.shot("orders-why-edited", full_page=True)
    _on_a_phone(app, "orders-why-edited-phone")


def _visits() -> dict:
    return journeys.summary(
        first=journeys.visit("2026-11-20T08:15:00Z", "https://wool-and-co.com/?ref=dana&utm_source=ig",
                             referral_code="dana", source="instagram", utm={"source": "ig", "campaign": "spring-26"}),
        last=journeys.visit("2026-11-22T13:58:00Z", "https://wool-and-co.com/?ref=bob", referral_code="bob"),
        customer_order_index=1)


def test_an_order_credited_from_shopifys_visits_shows_both_and_which_won(app, merchant):
    merchant.setup()
    for tracking_id in ("bob", "dana"):
        merchant.influencer(tracking_id)
    merchant.work()
    merchant.place(7001, ref="bob", journey=_visits())
    merchant.place(7101, ref="bob", journey=journeys.summary(ready=False))  # Shopify still building them
    merchant.work()

    _open_why(app, 7001, "#7001")
    assert "by the ref of the shopper's last visit, as Shopify recorded it" in _section(app, "Why")
    assert "New customer" in _section(app, "Why")
    rows = app.page.locator("[data-part=visits] s-table-row")
    assert rows.count() == 2
    first, last = rows.nth(0), rows.nth(1)
    assert "dana" in first.inner_text() and "instagram" in first.inner_text()
    assert "utm_campaign=spring-26\nutm_source=ig" in first.inner_text()
    assert first.locator("s-badge").inner_text() == "Beaten" and "Last click" in first.inner_text()
    assert last.locator("s-badge").inner_text() == "Credited" and "bob" in last.inner_text()
    app.shot("orders-why-visits", full_page=True)
    _on_a_phone(app, "orders-why-visits-phone")

    _open_why(app, 7101, "#7101")
    assert app.page.locator("s-section[heading=Why] s-badge").first.inner_text() == "Waiting for Shopify's visits"
    part = app.text("[data-part=visits]")
    assert "looks again every 30 seconds" in part
    assert app.page.locator("[data-part=visits] s-table-row").count() == 0
    assert "Nothing is credited while the order waits" in _section(app, "Would be credited to")
    app.shot("orders-why-awaiting-visits", full_page=True)
    _on_a_phone(app, "orders-why-awaiting-visits-phone")
