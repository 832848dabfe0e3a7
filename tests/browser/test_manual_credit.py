"""Crediting an order by hand in the merchant app, in Chromium, at desktop and phone widths: the form on the "why" of
an order no signal credited, a refusal shown beside its field, the order then shown credited by hand (who, when,
the note), and its refund, sent by the stand-in Shopify, reversed and listed.

Served and stood in for as in test_merchant_app.py (see there). Orders are placed in the stand-in Shopify, which
sends their webhooks to the app over HTTP; the real worker credits and delivers them to the stand-in backend. With
CONNECTOR_SCREENSHOTS=1 the tests save docs/screenshots/manual-*.png.
"""

from __future__ import annotations

from standins.shopify import samples

from ..conftest import SHOP
from .conftest import needs_browser, wait_until
from .merchant_page import DESKTOP, PHONE, app, merchant  # noqa: F401 (fixtures)

pytestmark = needs_browser
ORDER = 9001
NOTE = "She sent the customer to us by email"
#: a note as an attacker with the app open might write it: shown as text, never parsed
HOSTILE_NOTE = "<img src=x onerror=\"document.title='owned'\"> by <b>email</b>"


def _open_why(app, order_id: int) -> None:
    app.open(f"/orders/{order_id}")
    app.page.wait_for_selector(f"s-page[heading='#{order_id}']")
    app.loaded()


def _section(app, heading: str) -> str:
    return app.text(f"s-section[heading=\"{heading}\"]")


def _without_toasts(app) -> None:
    """The stand-in App Bridge draws toasts over the page; in the admin they are outside the app's frame."""
    app.page.evaluate("document.querySelector('[data-standin=toasts]').replaceChildren()")


def _row(app, n: int):
    return app.page.locator(".cnx-credit-row").nth(n)


def _with_an_uncredited_order(merchant) -> None:
    merchant.setup()
    for tracking_id in ("alice", "bob", "carla"):
        merchant.influencer(tracking_id)
    merchant.work()
    merchant.place(ORDER)  # no code, no ref, and Shopify's visits name nobody: no signal credits it
    merchant.work()


def _open_the_form(app) -> None:
    part = app.page.locator("[data-part=credit-by-hand]")
    assert "No signal credited this order" in part.inner_text()
    app.press("Credit by hand", within=part)
    app.page.wait_for_selector("form.cnx-credit-form")
    wait_until(lambda: app.page.locator("#cnx-influencer-choices option").count() == 3, message="the suggestions")


def test_an_order_is_credited_by_hand_in_the_page_and_its_refund_then_reversed(app, merchant):
    _with_an_uncredited_order(merchant)
    app.allowed.append("status of 422")  # Chromium logs the refusal the test provokes as a failed resource
    _open_why(app, ORDER)
    assert "Not credited" in _section(app, "Why")
    _open_the_form(app)
    first = _row(app, 0).locator("input[name=tracking_id]")
    first.fill("a")
    wait_until(lambda: app.page.eval_on_selector_all("#cnx-influencer-choices option", "(os) => os.map((o) => o.value)")
               == ["alice", "carla"], message="the suggestions for what was typed")
    first.fill("alice")
    _row(app, 0).locator("input[name=percent]").fill("60")
    app.press("Add an influencer")
    _row(app, 1).locator("input[name=tracking_id]").fill("bob")
    _row(app, 1).locator("input[name=percent]").fill("30")
    app.page.fill("textarea[name=note]", NOTE)
    app.shot("manual-form")

    app.press("Credit this order")
    error = app.page.locator("[data-field=credits] > .cnx-field-error")
    error.wait_for()
    assert error.inner_text().endswith("The shares add up to 90%, not 100%.")
    assert merchant.conversions() == []  # nothing of it was kept
    app.shot("manual-refused")

    _row(app, 1).locator("input[name=percent]").fill("40")
    app.press("Credit this order")
    app.page.wait_for_selector("[data-part=by-hand]")
    app.loaded()
    wait_until(lambda: any(t["message"] == "Credited by hand to alice, bob" for t in app.toasts()), message="toast")
    why = _section(app, "Why")
    assert "Credited by hand to alice (60%), bob (40%)." in why and "By hand" in why
    by_hand = app.text("[data-part=by-hand]")
    assert "Someone in this app (Shopify staff member 42)" in by_hand
    assert NOTE in by_hand
    assert "Not credited: the order carried no promo code" in by_hand  # what the signals had decided
    assert app.page.locator("[data-part=credit-by-hand]").count() == 0
    assert "alice" in _section(app, "Credited to") and "60%" in _section(app, "Credited to")
    _without_toasts(app)
    app.shot("manual-credited", full_page=True)
    app.page.set_viewport_size(PHONE)
    assert app.fits()
    app.shot("manual-credited-phone", full_page=True)
    app.page.set_viewport_size(DESKTOP)

    merchant.work()
    [purchase] = [r.body for r in merchant.backend.delivered()]
    assert (purchase["data"]["method"], purchase["data"]["credits"]) == (
        "manual", [{"tracking_id": "alice", "share": "0.6"}, {"tracking_id": "bob", "share": "0.4"}])
    merchant.shopify.send_webhook(SHOP, "refunds/create", samples.refund(refund_id=9101, order_id=ORDER))
    merchant.work()
    refund = merchant.backend.delivered()[-1].body["data"]
    assert (refund["amount"], refund["reverses"], refund["method"]) == (
        "12.75", purchase["data"]["conversion_id"], "manual")
    assert refund["credits"] == purchase["data"]["credits"]

    _open_why(app, ORDER)
    sent = app.page.locator("s-section[heading='Sent to tracking'] s-table-row")
    assert [sent.nth(n).locator("s-text[type=strong]").first.inner_text() for n in range(2)] == ["Purchase", "Refund"]
    assert "Merino Socks × 1 · €12.75" in sent.nth(1).inner_text()


def test_the_form_fits_a_phone_and_equal_shares_need_no_numbers(app, merchant):
    _with_an_uncredited_order(merchant)
    app.page.set_viewport_size(PHONE)
    _open_why(app, ORDER)
    _open_the_form(app)
    _row(app, 0).locator("input[name=tracking_id]").fill("alice")
    app.press("Add an influencer")
    _row(app, 1).locator("input[name=tracking_id]").fill("carla")
    assert app.fits()
    app.shot("manual-form-phone", full_page=True)
    app.page.fill("textarea[name=note]", HOSTILE_NOTE)
    app.press("Credit this order")
    app.page.wait_for_selector("[data-part=by-hand]")
    assert "Credited by hand to alice (50%), carla (50%)." in _section(app, "Why")
    assert HOSTILE_NOTE in app.text("[data-part=by-hand]")  # as text: the page parses nothing it is sent as HTML
    assert app.page.locator("[data-part=by-hand] img, [data-part=by-hand] b").count() == 0
    assert app.page.title() != "owned"
    assert app.fits()


def test_an_order_that_cannot_be_credited_by_hand_says_why_and_offers_no_form(app, merchant):
    merchant.setup()
    merchant.influencer("alice")
    merchant.work()
    merchant.order(9201, test=True)  # a test order, and the store does not credit test orders
    merchant.work()
    _open_why(app, 9201)
    part = app.text("[data-part=credit-by-hand]")
    assert "It cannot be credited by hand: Test orders are not credited in this store (Settings)." in part
    assert app.page.locator("[data-part=credit-by-hand] s-button").count() == 0
