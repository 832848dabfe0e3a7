"""An attribution record in a merchant's words: what each signal was, where it came from, and why it won or not.

The record keeps the connector's own words (kinds, sources, reasons written for operators); these are the
sentences the merchant app shows instead. A reason this module does not know is shown as it was recorded,
so nothing is hidden when the core learns a new one.
"""

from __future__ import annotations

import re
from datetime import datetime

KINDS = {"promo_code": "Promo code", "click": "Click on an influencer's link", "landing_page": "Ref in the landing page"}
KIND_WORDS = {"promo_code": "a promo code", "click": "a click on a link", "landing_page": "a ref in the landing page"}
SOURCES = {
    "discount_codes": "The discount codes used at checkout",
    "storefront_report": "The shopper's browser, at checkout (the web pixel or storefront script)",
    "note_attributes._ref": "The order's cart attributes (_ref)",
    "meta_data._ref": "The order's details (_ref)",
    "landing_site": "The page the shopper first landed on",
    "landing_site_ref": "The ref in the address of the page the shopper landed on",
}
STATUSES = {"won": ("Credited", "success"), "lost": ("Beaten", "warning"), "ignored": ("Not counted", "neutral"),
            "out_of_window": ("Too old", "neutral"), "future": ("After the order", "critical")}
#: outcome → (short label, badge tone)
OUTCOMES = {
    "credit": ("Credited", "success"), "awaiting_report": ("Waiting for the browser", "info"),
    "wait": ("Waiting for payment", "info"), "test_order": ("Test order", "neutral"),
    "cancelled": ("Cancelled", "warning"), "no_signal": ("No influencer", "neutral"),
    "no_eligible_signal": ("Not credited", "warning"), None: ("Not decided yet", "neutral"),
}
METHODS = {"promo_code": "promo code", "click": "link click", "landing_page": "landing page ref"}
METHOD_LABELS = {"promo_code": "Promo code", "click": "Link click", "landing_page": "Landing page ref"}

_RULES: tuple[tuple[re.Pattern, callable], ...] = (
    (re.compile(r"(\w+) takes precedence over (\w+)"),
     lambda m: f"{KINDS.get(m[1], m[1])} counts before {KIND_WORDS.get(m[2], m[2])} in this store's signal order "
               "(Settings), and the order had one."),
    (re.compile(r"(\w+) is the strongest kind of signal on this order"),
     lambda m: f"{KINDS.get(m[1], m[1])} was the strongest kind of signal on this order."),
    (re.compile(r"no influencer of this store has this (.+)"),
     lambda m: f"No influencer in this store has this {m[1]}, so it points to no one."),
    (re.compile(r"self-referral: .*"),
     lambda m: "Self-referral: the customer is this influencer (same email or customer account). Influencers are "
               "not credited for their own orders."),
    (re.compile(r"older than the (\d+)-day (?:attribution )?window"),
     lambda m: f"The click was more than {m[1]} days before the order: outside the attribution window."),
    (re.compile(r"(?:the touch is later than the conversion|after the order.*)"),
     lambda m: "The browser reported this click as later than the order, which cannot be: never credited."),
    (re.compile(r"last click before the order"), lambda m: "The last influencer link clicked before the order."),
    (re.compile(r"last click: a later touch won"), lambda m: "Another influencer's link was clicked later."),
    (re.compile(r"first click before the order"), lambda m: "The first influencer link clicked in the window."),
    (re.compile(r"first click: an earlier touch won"), lambda m: "Another influencer's link was clicked earlier."),
    (re.compile(r"linear: 1 of (\d+) touches"),
     lambda m: f"One of {m[1]} influencer clicks in the window: each gets an equal share."),
    (re.compile(r"time decay: (.+) days before the order, half-life (.+) days, weight (.+)"),
     lambda m: f"Clicked {m[1]} days before the order; with a half-life of {m[2]} days its share is {m[3]}."),
    (re.compile(r"time decay: (.+) days before the order, too old to weigh anything"),
     lambda m: f"Clicked {m[1]} days before the order: too long ago to earn a share."),
)


def reason_text(reason: str | None) -> str:
    text = (reason or "").strip()
    for pattern, say in _RULES:
        match = pattern.fullmatch(text)
        if match:
            return say(match)
    return (text[:1].upper() + text[1:]).replace("_", " ") if text else ""


def signal_text(signal: dict) -> dict:
    status, tone = STATUSES.get(signal.get("status"), (str(signal.get("status")), "neutral"))
    source = str(signal.get("source") or "")
    return {
        "kind": signal.get("kind"), "kind_text": KINDS.get(signal.get("kind"), str(signal.get("kind"))),
        "source_text": SOURCES.get(source, f"The order ({source})"),
        "value": signal.get("value"), "tracking_id": signal.get("tracking_id"), "at": signal.get("at"),
        "status": signal.get("status"), "status_text": status, "tone": tone,
        "reason_text": reason_text(signal.get("reason")),
    }


def outcome_label(outcome: str | None) -> tuple[str, str]:
    return OUTCOMES.get(outcome, (str(outcome).replace("_", " ").capitalize(), "neutral"))


def headline(outcome: str | None, credits: list[dict], signals: list[dict], method: str | None, *,
             waits_until: datetime | None) -> str:
    """One sentence: why the order was, or was not (yet), credited."""
    if outcome == "credit":
        names = ", ".join(c["tracking_id"] for c in credits)
        won = [s for s in signals if s.get("status") == "won" and s.get("kind") == method]
        by = METHODS.get(method or "", method or "a signal")
        value = f" {won[0]['value']}" if method == "promo_code" and won and won[0].get("value") else ""
        return f"Credited to {names} by {by}{value}."
    if outcome == "awaiting_report":
        until = f" (until {waits_until:%H:%M} UTC)" if waits_until else ""
        return ("Waiting a few minutes for the shopper's browser to report the influencer link they came from"
                f"{until}; then the order is credited by what is known.")
    return {
        "wait": "Not credited yet: this store credits orders once they are paid, and this one is not paid yet.",
        "test_order": "Not credited: it is a test order, and this store does not credit test orders (Settings).",
        "cancelled": "Not credited: the order was cancelled before it was credited.",
        "no_signal": "Not credited: the order carried no promo code, no tracked click and no influencer's ref.",
        "no_eligible_signal": "Not credited: none of the order's signals could count. Each one says why below.",
        None: "The connector has seen this order but not decided on it yet.",
    }.get(outcome, f"Not credited ({outcome}).")
