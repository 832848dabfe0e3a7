"""An attribution record in a merchant's words: what each signal was, where it came from, and why it won or not.

The record keeps the connector's own words (kinds, sources, reasons written for operators); these are the
sentences the merchant app shows instead. A reason this module does not know is shown as it was recorded,
so nothing is hidden when the core learns a new one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Callable

KINDS = {"promo_code": "Promo code", "click": "Click on an influencer's link", "landing_page": "Ref in the landing page",
         "customer": "Returning customer", "renewal": "Subscription renewal"}
KIND_WORDS = {"promo_code": "a promo code", "click": "a click on a link", "landing_page": "a ref in the landing page",
              "customer": "a returning customer's first order", "renewal": "a subscription renewal"}
SOURCES = {
    "discount_codes": "The discount codes used at checkout",
    "storefront_report": "The shopper's browser, at checkout (the web pixel or storefront script)",
    "note_attributes._ref": "The order's cart attributes (_ref)",
    "meta_data._ref": "The order's details (_ref)",
    "landing_site": "The page the shopper first landed on",
    "landing_site_ref": "The ref in the address of the page the shopper landed on",
    "journey.first_visit": "Shopify's record of the shopper's first visit",
    "journey.last_visit": "Shopify's record of the shopper's last visit",
    "customer.customer_id": "The customer's first credited order (same customer account)",
    "customer.email_sha256": "The customer's first credited order (same email address)",
    "subscription.origin": "The order that started the subscription, as the order names it",
    "subscription.subscription": "The order that started the subscription, as the subscription's record names it",
    "subscription.customer_orders": "The order that started the subscription, found among the customer's orders",
    "subscription.customer_subscription": "The customer's earlier order that started a subscription",
    "subscription": "The subscription this order renews",
}
STATUSES = {"won": ("Credited", "success"), "lost": ("Beaten", "warning"), "ignored": ("Not counted", "neutral"),
            "out_of_window": ("Too old", "neutral"), "future": ("After the order", "critical")}
#: outcome → (short label, badge tone)
OUTCOMES = {
    "credit": ("Credited", "success"), "awaiting_report": ("Waiting for the browser", "info"),
    "awaiting_visits": ("Waiting for Shopify's visits", "info"),
    "wait": ("Waiting for payment", "info"), "test_order": ("Test order", "neutral"),
    "cancelled": ("Cancelled", "warning"), "no_signal": ("No influencer", "neutral"),
    "no_eligible_signal": ("Not credited", "warning"), None: ("Not decided yet", "neutral"),
}
METHODS = {"promo_code": "promo code", "click": "link click", "landing_page": "landing page ref",
           "customer": "returning customer", "renewal": "subscription renewal"}
METHOD_LABELS = {"promo_code": "Promo code", "click": "Link click", "landing_page": "Landing page ref",
                 "customer": "Returning customer", "renewal": "Subscription renewal"}
#: what the store's attribution model is called in Settings, by the words its reasons start with
MODEL_NAMES = {"last": "Last click", "first": "First click"}

Rule = tuple[re.Pattern, Callable[[re.Match], str]]

#: why a renewal's start cannot be credited (the record's renewal.missing), as the end of a sentence
_MISSING: tuple[Rule, ...] = (
    (re.compile(r"the order that started it \((.+)\) is unknown to the connector \(placed before the install, "
                r"or never delivered\)"),
     lambda m: f"the order that started it ({m[1]}) is not known to the connector: it was placed before the app was "
               "installed, or Shopify never sent it"),
    (re.compile(r"the platform does not name the order that started it(?: \((.+)\))?, and the connector knows no "
                r"earlier subscription order of this customer"),
     lambda m: "Shopify does not say which order started it" + (f" ({m[1]})" if m[1] else "")
               + ", and the connector knows no earlier order of this customer that started a subscription"),
    (re.compile(r"the order that started it, (.+), was cancelled"),
     lambda m: f"the order that started it, {m[1]}, was cancelled"),
    (re.compile(r"the order that started it, (.+), was not credited"),
     lambda m: f"the order that started it, {m[1]}, was not credited to any influencer"),
)


def missing_text(missing: str | None) -> str:
    """Why a renewal's start cannot be credited, in the merchant's words (lower case: the end of a sentence)."""
    text = (missing or "").strip()
    for pattern, say in _MISSING:
        match = pattern.fullmatch(text)
        if match:
            return say(match)
    return text


def _sentence(clause: str) -> str:
    return clause[:1].upper() + clause[1:] + ("" if clause.endswith(".") else ".")


_RULES: tuple[Rule, ...] = (
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
    (re.compile(r"same influencer as another code on the order"),
     lambda m: "The same influencer's code is on the order twice: it counts once."),
    (re.compile(r"landing_site is preferred to landing_site_ref"),
     lambda m: "The ref in the landing page's address counts first; this copy of it adds nothing."),
    (re.compile(r"(.+) is no longer an influencer of this store"),
     lambda m: f"{m[1]} was credited for that order, but is no longer one of this store's influencers."),
    (re.compile(r"a returning customer: their first credited order (.+) was this influencer's"),
     lambda m: f"A returning customer: their first credited order, {m[1]}, was this influencer's."),
    (re.compile(r"the customer's first credited order \((.+)\) is older than the (\d+)-day customer lifetime"),
     lambda m: f"The customer's first credited order, {m[1]}, was more than {m[2]} days before this one: past "
               "this store's time for returning customers (Settings)."),
    (re.compile(r"a subscription renewal: the order that started it, (.+), was this influencer's"),
     lambda m: f"A subscription renewal: the order that started it, {m[1]}, was this influencer's."),
    (re.compile(r"a subscription renewal: this store does not credit renewals \(renewals = ignore\)"),
     lambda m: "A subscription renewal: this store does not credit renewals (Settings)."),
    (re.compile(r"a subscription renewal whose start cannot be credited: (.+)"),
     lambda m: f"A subscription renewal that cannot be credited: {missing_text(m[1])}."),
    (re.compile(r"the same landing as journey\.(first|last)_visit, which carries its time"),
     lambda m: f"The same landing as the {m[1]} visit in Shopify's record, which says when it was: that one "
               "counts instead."),
    *((pattern, lambda m: _sentence(missing_text(m[0]))) for pattern, _say in _MISSING),
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

#: a landing signal is weighed by the store's model too (Shopify's visits carry their times): said as a visit
_VISIT_RULES: tuple[Rule, ...] = (
    (re.compile(r"older than the (\d+)-day (?:attribution )?window"),
     lambda m: f"The visit was more than {m[1]} days before the order: outside the attribution window."),
    (re.compile(r"(?:the touch is later than the conversion|after the order.*)"),
     lambda m: "Recorded as later than the order, which cannot be: never credited."),
    (re.compile(r"(last|first) click before the order"),
     lambda m: f"The shopper's {m[1]} visit with an influencer's ref before the order: under this store's model "
               f"({MODEL_NAMES[m[1]]}) it takes the credit."),
    (re.compile(r"(last|first) click: an? (?:later|earlier) touch won"),
     lambda m: f"A{' later' if m[1] == 'last' else 'n earlier'} visit with an influencer's ref takes the credit "
               f"under this store's model ({MODEL_NAMES[m[1]]})."),
    (re.compile(r"linear: 1 of (\d+) touches"),
     lambda m: f"One of {m[1]} visits with an influencer's ref in the window: each gets an equal share."),
    (re.compile(r"time decay: (.+) days before the order, half-life (.+) days, weight (.+)"),
     lambda m: f"Visited {m[1]} days before the order; with a half-life of {m[2]} days its share is {m[3]}."),
    (re.compile(r"time decay: (.+) days before the order, too old to weigh anything"),
     lambda m: f"Visited {m[1]} days before the order: too long ago to earn a share."),
)


def reason_text(reason: str | None, *, visit: bool = False) -> str:
    """A recorded reason in the merchant's words; `visit`: it is a landing signal's (said as a visit)."""
    text = (reason or "").strip()
    for pattern, say in (*_VISIT_RULES, *_RULES) if visit else _RULES:
        match = pattern.fullmatch(text)
        if match:
            return say(match)
    return (text[:1].upper() + text[1:]).replace("_", " ") if text else ""


#: outcomes of an order still waiting (for payment, the browser, Shopify's visits): what won so far is not credited yet
PROVISIONAL = ("wait", "awaiting_report", "awaiting_visits")


def signal_text(signal: dict, *, provisional: bool = False) -> dict:
    """A recorded signal as the page shows it; `provisional`: the order is still waiting, so what won leads only."""
    status, tone = STATUSES.get(signal.get("status"), (str(signal.get("status")), "neutral"))
    if provisional and signal.get("status") == "won":
        status, tone = "Leading", "info"
    source = str(signal.get("source") or "")
    reason = reason_text(signal.get("reason"), visit=signal.get("kind") == "landing_page")
    return {
        "kind": signal.get("kind"), "kind_text": KINDS.get(signal.get("kind"), str(signal.get("kind"))),
        "source_text": SOURCES.get(source, f"The order ({source})"),
        "value": signal.get("value"), "tracking_id": signal.get("tracking_id"), "at": signal.get("at"),
        "status": signal.get("status"), "status_text": status, "tone": tone, "reason_text": reason,
    }


def outcome_label(outcome: str | None) -> tuple[str, str]:
    return OUTCOMES.get(outcome, (str(outcome).replace("_", " ").capitalize(), "neutral"))


def _credited(names: str, won: list[dict], method: str | None) -> str:
    value = won[0].get("value") if won else None
    if method == "customer" and value:
        return f"Credited to {names}: a returning customer, whose first credited order {value} was theirs."
    if method == "renewal" and value:
        return f"Credited to {names}: a renewal of the subscription that {value} started, credited as {value} was."
    visits = sorted({s["source"].split(".")[1].split("_")[0] for s in won if str(s.get("source")).startswith("journey.")})
    if method == "landing_page" and visits:
        return f"Credited to {names} by the ref of the shopper's {' and '.join(visits)} visit, as Shopify recorded it."
    by = METHODS.get(method or "", method or "a signal")
    code = f" {value}" if method == "promo_code" and value else ""
    return f"Credited to {names} by {by}{code}."


def _renewal_refusal(details: dict | None) -> str | None:
    renewal = (details or {}).get("renewal")
    if not renewal:
        return None
    if renewal.get("policy") == "ignore":
        return "Not credited: it is a subscription renewal, and renewals are ignored in this store (Settings)."
    if renewal.get("missing"):
        return f"Not credited: it is a subscription renewal, and {missing_text(renewal['missing'])}."
    return None


def headline(outcome: str | None, credits: list[dict], signals: list[dict], method: str | None, *,
             waits_until: datetime | None, details: dict | None = None) -> str:
    """One sentence: why the order was, or was not (yet), credited."""
    if outcome == "credit":
        won = [s for s in signals if s.get("status") == "won" and s.get("kind") == method]
        return _credited(", ".join(c["tracking_id"] for c in credits), won, method)
    until = f" (until {waits_until:%H:%M} UTC)" if waits_until else ""
    if outcome == "awaiting_report":
        return ("Waiting a few minutes for the shopper's browser to report the influencer link they came from"
                f"{until}; then the order is credited by what is known.")
    if outcome == "awaiting_visits":
        return (f"Waiting for Shopify to finish its record of the shopper's visits{until}; then the order is "
                "credited by what is known.")
    if outcome == "no_eligible_signal" and _renewal_refusal(details):
        return _renewal_refusal(details)
    return {
        "wait": "Not credited yet: this store credits orders once they are paid, and this one is not paid yet.",
        "test_order": "Not credited: it is a test order, and this store does not credit test orders (Settings).",
        "cancelled": "Not credited: the order was cancelled before it was credited.",
        "no_signal": "Not credited: the order carried no promo code, no tracked click and no influencer's ref.",
        "no_eligible_signal": "Not credited: none of the order's signals could count. Each one says why below.",
        None: "The connector has seen this order but not decided on it yet.",
    }.get(outcome, f"Not credited ({outcome}).")
