"""What else an order's decision went by, in the merchant's words: new or returning and what said so, a returning
customer's first credited order, a renewal's start (or why there is none), Shopify's visits and which of them won,
the edits that adjusted the credit, and the lines each conversion concerns.

Read from the attribution record's `details` and the conversions' own bodies (`data.items`): what the page shows
is what the backend was sent. A value this module does not know is shown as it was recorded.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from connector.core.payload import format_amount, format_share
from connector.web.app import explain

#: what said whether the customer is new (the record's first_order.source)
FIRST_ORDER_SOURCES = {
    "platform: the customer's order count": "Shopify: the customer's number of orders",
    "platform: the order's place among the customer's orders": "Shopify: this order's place among the customer's "
                                                                "orders",
    "connector: an earlier order of this customer was seen in this store": "The connector saw an earlier order of "
                                                                           "this customer in this store",
    "unknown: the order names no customer": "The order names no customer",
    "unknown: the platform does not say, and the connector has seen no earlier order of this customer":
        "Shopify does not say, and the connector has seen no earlier order of this customer (it knows only the "
        "orders since the app was installed)",
    "platform": "Shopify",
}
CUSTOMER_TEXT = {True: "New customer", False: "Returning customer", None: "Not known"}
FOUND_BY_CUSTOMER = {"customer_id": "found by the same customer account", "email_sha256": "found by the same email "
                                                                                          "address"}
#: how a renewal's start was found: named by the order itself, by the platform's subscription record (Shopify's
#: contract, WooCommerce Subscriptions' parent order), searched among the customer's orders at Shopify, or by the
#: connector among the orders it saw
FOUND_BY_START = {"origin": "The order names the order that started its subscription",
                  "subscription": "The subscription's own record names it (its first order)",
                  "customer_orders": "Found among the customer's orders at the store: their latest earlier order "
                                     "that started a subscription like this one",
                  "customer_subscription": "The store does not name it: it is the customer's latest earlier order in "
                                           "this store that started a subscription"}
_MARKERS = (
    (re.compile(r"source_name (.+)"), lambda v: f"Made by the subscription's billing (the order's source is “{v}”)"),
    (re.compile(r"tag (.+)"), lambda v: f"The order's tag “{v}”, which the subscription app sets"),
    (re.compile(r"meta (.+)"), lambda v: f"The order's field {v}, which the subscription plugin sets"),
    (re.compile(r"created_via (.+)"), lambda v: f"The order was created by “{v}”"),
)
_FLOOR = re.compile(r"the order now earns (\S+), but refunds already reversed (\S+): never below zero")


def customer_kind(details: dict) -> dict | None:
    """New, returning or not known, and what said so."""
    first = details.get("first_order")
    if not first:
        return None
    source = str(first.get("source") or "")
    return {"value": first.get("value"), "text": CUSTOMER_TEXT.get(first.get("value"), "Not known"),
            "said_by": FIRST_ORDER_SOURCES.get(source, explain.reason_text(source))}


def _signal_state(signals: list[dict], kind: str) -> str | None:
    """won, lost, ignored, out_of_window: what became of the order's signals of this kind (the best of them)."""
    states = [s.get("status") for s in signals if s.get("kind") == kind]
    return next((state for state in ("won", "lost", "out_of_window", "ignored") if state in states), None)


def returning(details: dict, signals: list[dict]) -> dict | None:
    """The store's returning-customer rule as it applied to this order (None: off when it was decided)."""
    link = details.get("customer")
    if not link or details.get("renewal"):
        return None  # a renewal goes by its subscription, never as a returning customer
    days, first = link.get("lifetime_days"), link.get("first_credited_order")
    found_by = FOUND_BY_CUSTOMER.get(link.get("found_by"), link.get("found_by") or "")
    state = _signal_state(signals, "customer")
    if not first:
        text = "This customer had no earlier credited order in this store, so nothing carried over."
    elif state == "won":
        text = (f"Their first credited order, {first}, was within the {days} days this store gives returning "
                "customers: this order goes to the same influencers, in the same shares.")
    elif state == "out_of_window":
        text = f"Their first credited order, {first}, was more than {days} days before this one: too old to carry over."
    elif state == "lost":
        text = (f"Their first credited order was {first}, but this order carried a signal that counts before a "
                "returning customer in this store's signal order (Settings).")
    else:
        text = f"Their first credited order was {first}, but its influencers cannot be credited here (see Signals)."
    return {"lifetime_days": days, "first_order": first, "found_by_text": found_by if first else None,
            "text": text}


def _marker_text(marker: str) -> str:
    for pattern, say in _MARKERS:
        match = pattern.fullmatch(marker.strip())
        if match:
            return say(match[1])
    return marker


def renewal(details: dict, signals: list[dict]) -> dict | None:
    """The subscription a renewal belongs to: the marker read, its start, or why it cannot be credited."""
    found = details.get("renewal")
    if not found:
        return None
    marker, start = str(found.get("marker") or ""), found.get("start")
    name = found.get("start_name") or start
    if found.get("policy") == "ignore":
        text, tone = "Renewals are ignored in this store (Settings): only the order that starts a subscription is " \
                     "credited.", "neutral"
    elif start:
        text, tone = (f"It goes to the influencers of {name}, the order that started the subscription, in the same "
                      "shares."), "success"
        if _signal_state(signals, "renewal") == "lost":
            text, tone = (f"The order that started it is {name}, but this order carried a signal that counts before "
                          "a renewal in this store's signal order (Settings)."), "warning"
    else:
        text, tone = f"It cannot be credited: {explain.missing_text(found.get('missing'))}.", "warning"
    return {"marker": marker, "marker_text": _marker_text(marker), "policy": found.get("policy"),
            "start_id": start, "start_name": name, "found_by_text": FOUND_BY_START.get(found.get("found_by") or ""),
            "text": text, "tone": tone}


def _utm(utm: dict) -> list[str]:
    """The visit's UTM parameters as they were in its address (Shopify names them without utm_)."""
    return [f"{k if str(k).startswith('utm_') else 'utm_' + str(k)}={v}" for k, v in sorted((utm or {}).items()) if v]


def _visit_signal(visit: dict, signals: list[dict]) -> dict | None:
    """The landing signal a visit became: its own, or the first visit's when both are one session."""
    ref = (visit.get("ref") or "").strip().lower()
    same = [s for s in signals if str(s.get("source", "")).startswith("journey.") and s.get("at") == visit.get("at")
            and str(s.get("value") or "").strip().lower() == ref]
    own = [s for s in same if s.get("source") == f"journey.{visit.get('position')}_visit"]
    return (own or same or [None])[0]


def _visit_row(visit: dict, signals: list[dict], provisional: bool) -> dict:
    signal = _visit_signal(visit, signals) if visit.get("ref") else None
    row = {"position": visit.get("position"), "position_text": f"{str(visit.get('position')).capitalize()} visit",
           "at": visit.get("at"), "ref": visit.get("ref"), "source": visit.get("source"), "utm": _utm(visit.get("utm")),
           "tracking_id": None}
    if signal is None:
        return {**row, "status_text": "No ref", "tone": "neutral",
                "reason_text": "This visit carried no influencer's ref, so it points to no one."}
    said = explain.signal_text(signal, provisional=provisional)
    return {**row, "tracking_id": said["tracking_id"], "status_text": said["status_text"], "tone": said["tone"],
            "reason_text": said["reason_text"]}


def _sessions(found: list[dict]) -> list[dict]:
    """The visits, one a session: Shopify gives a shopper who came once the same visit as first and last."""
    shown: list[dict] = []
    for visit in found:
        same = next((v for v in shown if all(v.get(k) == visit.get(k) for k in ("at", "ref", "source", "utm"))), None)
        if same is None:
            shown.append(dict(visit))
        else:
            same["position"] = f"{same.get('position')} and {visit.get('position')}"
    return shown


def visits(details: dict, signals: list[dict], outcome: str | None) -> dict | None:
    """Shopify's record of the shopper's first and last visits, each with what became of its ref."""
    journey = details.get("journey")
    if journey is None:
        return None
    rows = [_visit_row(v, signals, outcome in explain.PROVISIONAL) for v in _sessions(journey.get("visits") or [])]
    if journey.get("error"):
        note = (f"Shopify's record of the shopper's visits could not be read ({journey['error']}). The order was "
                "decided from what Shopify sent with it.")
    elif not journey.get("ready"):
        note = "Shopify had not finished its record of the shopper's visits when the order was looked at" + (
            ": the connector looks again every 30 seconds, for up to 5 minutes." if outcome == "awaiting_visits"
            else "; the order was decided without it.")
    elif not rows:
        note = "Shopify recorded no visit before this order (it was not placed in an online session)."
    else:
        note = ("Shopify records the shopper's first and last visits before the order. A visit with an influencer's "
                "ref counts as a landing page ref, weighed by this store's attribution model (Settings) as clicks are.")
    return {"ready": bool(journey.get("ready")), "note": note, "rows": rows}


def adjustments(details: dict, currency: str | None) -> list[dict]:
    """Each edit of the credited order: when, the amount before and after, the difference sent, and the floor."""
    made = []
    for adjustment in details.get("adjustments") or []:
        floor = _FLOOR.fullmatch(str(adjustment.get("floor") or ""))
        made.append({
            "at": adjustment.get("at"), "from": adjustment.get("from"), "to": adjustment.get("to"),
            "amount": adjustment.get("amount"), "currency": currency,
            "floor_text": (f"The edit brought the order to {floor[1]} {currency}, but refunds had already taken back "
                           f"{floor[2]} {currency}: the credit never goes below what refunds took, so it stops there.")
            if floor else adjustment.get("floor"),
        })
    return made


def items_of(body: str | None) -> list[dict]:
    """The lines a conversion concerns (its `data.items`), each with its part of the conversion's amount."""
    document = json.loads(body) if body else {}
    data = document.get("data") if isinstance(document, dict) else None
    data = data if isinstance(data, dict) else {}
    total = Decimal(str(data.get("amount") or "0"))
    lines = []
    for item in data.get("items") or []:
        amount = Decimal(str(item.get("amount") or "0"))
        percent = (amount / total * 100).quantize(Decimal("0.1")) if total else None
        lines.append({"title": item.get("title") or item.get("sku") or item.get("product_id") or "A line",
                      "sku": item.get("sku"), "quantity": item.get("quantity"), "amount": format_amount(amount),
                      "percent": format_share(percent) if percent is not None else None})
    return lines


def describe(details: dict | None, signals: list[dict], outcome: str | None, currency: str | None) -> dict:
    """Everything above, as the order's page shows it."""
    details = details or {}
    return {"customer": customer_kind(details), "returning": returning(details, signals),
            "renewal": renewal(details, signals), "visits": visits(details, signals, outcome),
            "adjustments": adjustments(details, currency)}
