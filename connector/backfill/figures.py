"""A backfill's figures: per influencer the orders and amounts credited (or that would be), by method; the orders
not credited, grouped by why, with a few of their names; what was reversed; the totals.

Kept as one JSON value on the run's row and added to in the transaction that did the work it counts, so a run
resumed after a crash counts each order once. Amounts are decimal strings per currency, never floats; an order
shared among influencers adds each one's share of its amount to that influencer (shares add up to exactly 1).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from connector.core import payload

#: the order names kept per reason, for the merchant to look one up
EXAMPLES = 5

#: why an order is not credited, in the merchant's words (keys are the decision's outcomes and the backfill's own)
REASONS = {
    "already_credited": "already credited (by its webhooks or an earlier backfill): nothing is sent twice",
    "no_signal": "no promo code, link or landing page of an influencer",
    "no_eligible_signal": "its codes or links name no influencer who may be credited (unknown, inactive, "
                          "out of the attribution window, or the influencer's own order)",
    "test_order": "a test order (this store does not forward them)",
    "wait": "not paid",
    "cancelled": "cancelled",
    "waiting": "placed minutes ago: left to its own webhooks, which credit it",
    "unreadable": "could not be read (kept out; the order's webhooks still count)",
}


@dataclass(frozen=True)
class OrderOutcome:
    """What one order came to: credited (credits and method) or not (reason), and the reversals it sent."""

    order_name: str
    reason: str | None = None
    method: str | None = None
    amount: Decimal = Decimal(0)
    currency: str | None = None
    #: (tracking id, share) of each credited influencer
    credits: tuple[tuple[str, Decimal], ...] = ()
    #: conversion types of refunds, cancellations and adjustments the order also sent (or would send)
    reversals: tuple[str, ...] = ()
    detail: str | None = None


def empty() -> dict:
    return {"orders": 0, "credited": 0, "amount": {}, "influencers": {}, "not_credited": {}, "reversals": {}}


def _add_amount(amounts: dict, currency: str, amount: Decimal) -> None:
    amounts[currency] = payload.format_amount(Decimal(amounts.get(currency, "0")) + amount)


def add(figures: dict | None, outcomes: Iterable[OrderOutcome]) -> dict:
    """The figures with these orders counted in (a new value: the JSON column is seen as changed)."""
    result = copy.deepcopy(figures) if figures else empty()
    for outcome in outcomes:
        result["orders"] += 1
        for kind in outcome.reversals:
            result["reversals"][kind] = result["reversals"].get(kind, 0) + 1
        if outcome.reason is not None:
            group = result["not_credited"].setdefault(outcome.reason, {"orders": 0, "examples": []})
            group["orders"] += 1
            if len(group["examples"]) < EXAMPLES:
                group["examples"].append(outcome.order_name)
            if outcome.detail and "detail" not in group:
                group["detail"] = outcome.detail[:300]
            continue
        result["credited"] += 1
        _add_amount(result["amount"], outcome.currency, outcome.amount)
        for tracking_id, share in outcome.credits:
            methods = result["influencers"].setdefault(tracking_id, {})
            entry = methods.setdefault(outcome.method or "unknown", {"orders": 0, "amount": {}})
            entry["orders"] += 1
            _add_amount(entry["amount"], outcome.currency, share * outcome.amount)
    return result


def reason_text(reason: str) -> str:
    return REASONS.get(reason, reason.replace("_", " "))


def amounts_text(amounts: dict) -> str:
    """{"EUR": "12.00", "USD": "3.50"} → "12.00 EUR + 3.50 USD" (nothing: "0.00")."""
    return " + ".join(f"{value} {currency}" for currency, value in sorted(amounts.items())) or "0.00"


def orders(count: int) -> str:
    return f"{count} order{'' if count == 1 else 's'}"


def lines(figures: dict | None, committed: bool) -> list[str]:
    """The figures as a report for the command line: per influencer, the orders not credited, the totals."""
    figures = figures or empty()
    verb = "credited" if committed else "would be credited"
    out = [f"{orders(figures['orders'])} read; {figures['credited']} {verb}: {amounts_text(figures['amount'])}"]
    for tracking_id, methods in sorted(figures["influencers"].items()):
        total = sum(entry["orders"] for entry in methods.values())
        out.append(f"  {tracking_id}: {orders(total)}")
        for method, entry in sorted(methods.items()):
            out.append(f"    {method}: {orders(entry['orders'])}, {amounts_text(entry['amount'])}")
    not_credited = figures["not_credited"]
    if not_credited:
        out.append(f"{orders(sum(g['orders'] for g in not_credited.values()))} not credited:")
        for reason, group in sorted(not_credited.items(), key=lambda item: -item[1]["orders"]):
            detail = f" ({group['detail']})" if group.get("detail") else ""
            out.append(f"  {group['orders']}: {reason_text(reason)}{detail}; e.g. {', '.join(group['examples'])}")
    for kind, count in sorted(figures["reversals"].items()):
        out.append(f"{count} {kind.removeprefix('conversion.')}s {'sent' if committed else 'would be sent'} "
                   "for orders the platform shows refunded, edited or cancelled")
    return out
