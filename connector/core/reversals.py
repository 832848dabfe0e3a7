"""Reversals (pure): what a refund, a cancellation or an edit takes from (or adds to) a credited purchase.

Whatever order they come in, the purchase, its adjustments, its refunds and its cancellation add up to what the
order finally earns, and never to less than zero: each reversal is capped at what the backend still holds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from connector.core import items as lines
from connector.core import payload
from connector.core.platform import LineItem, Money, RefundEvent


@dataclass(frozen=True)
class Purchase:
    """An order's credited purchase, as much as reversing it needs."""

    #: None: the purchase this same decision makes (its id is given when it is written)
    conversion_id: str | None
    amount: Decimal
    #: what refunds have reversed of it so far
    reversed: Decimal = Decimal(0)
    #: what edits have added to it (negative: taken off) so far, in conversion.adjustment
    adjusted: Decimal = Decimal(0)
    #: the platform's update time of the order state it (or its last adjustment) was made from
    base_as_of: datetime | None = None
    #: its lines as the backend holds them (purchase and adjustments), by items.line_key; None: not read
    items: dict[str, LineItem] | None = None

    @property
    def held(self) -> Decimal:
        """What the backend holds of the order before reversals: the purchase and its adjustments."""
        return self.amount + self.adjusted

    @property
    def remaining(self) -> Decimal:
        """What the backend still holds of it: never below zero."""
        return max(self.held - self.reversed, Decimal(0))


@dataclass(frozen=True)
class Reversal:
    """A refund or cancellation to send against the order's purchase, carrying the purchase's attribution."""

    kind: str
    dedupe_key: str
    amount: Decimal
    occurred_at: datetime
    presentment: Money | None = None
    refund_id: str | None = None
    #: the lines it concerns, adding up to `amount`
    items: tuple[LineItem, ...] = ()

    def note(self, purchase_id: str) -> str:
        if self.kind == payload.CANCELLATION:
            return f"cancelled: voids {purchase_id}"
        if self.kind == payload.ADJUSTMENT:
            return f"edited: adjusts {purchase_id} by {self.amount}"
        return f"refund {self.refund_id}: reverses {self.amount} of {purchase_id}"


def cancellation(purchase: Purchase | None, already_cancelled: bool, order_id: str,
                 occurred_at: datetime) -> tuple[Reversal | None, str | None]:
    """A cancelled (or deleted) order voids what the backend still holds of its purchase, once."""
    if purchase is None or already_cancelled:
        return None, "already cancelled" if already_cancelled else "cancelled; nothing credited to reverse"
    # What the backend still holds for this purchase: the amount and adjustments less what refunds reversed.
    remaining = purchase.remaining
    return Reversal(payload.CANCELLATION, f"cancellation:{order_id}", remaining, occurred_at,
                    items=lines.share_out(remaining, _held_items(purchase))), None


def _held_items(purchase: Purchase) -> list[LineItem]:
    """The purchase's lines that still hold something, to share an amount out over."""
    return [item for item in (purchase.items or {}).values() if item.amount > 0]


def refund_items(refund: RefundEvent, amount: Decimal, purchase: Purchase) -> tuple[LineItem, ...]:
    """The refunded lines, adding up to `amount`: the refund's own, else the purchase's sharing it."""
    own = [item for item in refund.items if item.amount > 0]
    if own:
        return lines.share_out(amount, own)
    return lines.share_out(amount, _held_items(purchase))


def taxed_out(refund: RefundEvent, taxes_included: bool) -> RefundEvent:
    """A refund with the tax its lines hold taken out, where the shop's prices include tax (as the purchase did)."""
    if not taxes_included or not refund.included_tax:
        return refund
    tax = sum(refund.included_tax.values(), Decimal(0))
    base = replace(refund.commission_base, amount=refund.commission_base.amount - tax)
    presentment = None  # the tax is in shop money: the presentment side can no longer be stated exactly
    return replace(refund, commission_base=base, presentment_base=presentment,
                   items=lines.without_tax(refund.items, refund.included_tax), included_tax={})


def refund_reversal(purchase: Purchase | None, cancelled: bool, refund: RefundEvent,
                    sent: frozenset[str]) -> tuple[Reversal | None, str | None]:
    """A refund reverses its commission base, never more than the purchase still holds."""
    if purchase is None:
        return None, f"refund {refund.refund_id}: the order was never credited, nothing to reverse"
    if cancelled:
        return None, f"refund {refund.refund_id}: the purchase was already cancelled"
    dedupe_key = f"refund:{refund.refund_id}"
    if dedupe_key in sent:
        return None, f"refund {refund.refund_id}: already sent"
    # Never reverse more than the backend still holds: refunds of shipping or tax, rounding, or an edit that
    # took the goods off first must not take it below zero.
    amount = min(refund.commission_base.amount, purchase.remaining)
    if amount <= 0:
        return None, f"refund {refund.refund_id}: no commission base refunded"
    presentment = refund.presentment_base if amount == refund.commission_base.amount else None
    return Reversal(payload.REFUND, dedupe_key, amount, refund.occurred_at, presentment, refund.refund_id,
                    refund_items(refund, amount, purchase)), None


def refund_reversals(purchase: Purchase, cancelled: bool, refunds: Sequence[RefundEvent],
                     sent: frozenset[str], taxes_included: bool = False) -> tuple[Reversal, ...]:
    """The reversals for refunds an order shows at once; each one lowers what the next may reverse."""
    made: list[Reversal] = []
    for refund in refunds:
        reversal, _ = refund_reversal(purchase, cancelled, taxed_out(refund, taxes_included), sent)
        if reversal is not None:
            made.append(reversal)
            purchase = replace(purchase, reversed=purchase.reversed + reversal.amount)
            sent = sent | {reversal.dedupe_key}
    return tuple(made)
