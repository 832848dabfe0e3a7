"""An order's lines in conversions (pure): each line's part of an amount, adding up to that amount exactly.

The backend pays per product from `data.items`, so every conversion's lines must add up to its `amount` to the
last minor unit: a purchase's are the order's own; a refund's are the refunded lines (or, for an amount refunded
alone, the purchase's lines sharing it); an adjustment's are the lines an edit changed. Where an amount is capped
(a refund never reverses more than the purchase still holds) the lines are scaled down with it.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal
from typing import Iterable, Mapping, Sequence

from connector.core.platform import LineItem


def total(items: Iterable[LineItem]) -> Decimal:
    return sum((item.amount for item in items), Decimal(0))


def places(items: Iterable[LineItem], amount: Decimal) -> int:
    """The decimal places the amounts are given in (at least those of `amount`): the unit shares are cut to."""
    exponents = [item.amount.as_tuple().exponent for item in items] + [amount.as_tuple().exponent]
    return max(0, -min(e for e in exponents if isinstance(e, int)))


def share_out(amount: Decimal, items: Sequence[LineItem]) -> tuple[LineItem, ...]:
    """`items` scaled so their amounts add up to `amount` exactly, each in proportion to its own.

    Cut to the finest unit the amounts are given in, the rest handed out a unit at a time to the lines that lost
    most to the cut (largest remainder), so no line gets more than its exact part plus one unit. Lines whose
    weights add up to zero share `amount` equally; no lines at all stay none (the caller says what that means).
    """
    if not items:
        return ()
    current = total(items)
    if current == amount:
        return tuple(items)
    unit = Decimal(1).scaleb(-places(items, amount))
    weights = [item.amount for item in items] if current != 0 else [Decimal(1)] * len(items)
    weight_sum = sum(weights, Decimal(0))
    exact = [amount * weight / weight_sum for weight in weights]
    cut = [(part / unit).to_integral_value(rounding=ROUND_FLOOR) * unit for part in exact]
    left = int(((amount - sum(cut, Decimal(0))) / unit).to_integral_value())
    # The lines that lost most to the cut get a unit each; the first listed wins a tie, so results repeat.
    order = sorted(range(len(items)), key=lambda i: (-(exact[i] - cut[i]), i))
    for index in order[:left]:
        cut[index] += unit
    return tuple(replace(item, amount=part) for item, part in zip(items, cut))


def without_tax(items: Sequence[LineItem], tax: Mapping[str, Decimal]) -> tuple[LineItem, ...]:
    """Each line less the tax its amount holds (by line id): a tax-inclusive shop's refund lines, as its purchase."""
    return tuple(replace(item, amount=item.amount - tax.get(item.line_id or "", Decimal(0))) for item in items)


def line_key(item: LineItem) -> str:
    """What identifies a line across an order's states: its platform id, else what it sells."""
    if item.line_id:
        return f"line:{item.line_id}"
    return f"product:{item.product_id or '-'}:{item.variant_id or '-'}:{item.sku or '-'}:{item.title or '-'}"


def held(lines: Iterable[Sequence[LineItem]]) -> dict[str, LineItem]:
    """The lines as the backend holds them after a purchase and its adjustments: amounts and quantities summed."""
    merged: dict[str, LineItem] = {}
    for items in lines:
        for item in items:
            key = line_key(item)
            before = merged.get(key)
            merged[key] = item if before is None else replace(
                item, quantity=before.quantity + item.quantity, amount=before.amount + item.amount)
    return merged


def changes(before: Mapping[str, LineItem], after: Sequence[LineItem]) -> tuple[LineItem, ...]:
    """What an edit changed, line by line (signed): lines added, removed, or with another amount or quantity."""
    now = held([after])
    changed = []
    for key in [*before, *(k for k in now if k not in before)]:
        old, new = before.get(key), now.get(key)
        if new is None:
            changed.append(replace(old, quantity=-old.quantity, amount=-old.amount))
        elif old is None:
            changed.append(new)
        elif (new.amount, new.quantity) != (old.amount, old.quantity):
            changed.append(replace(new, quantity=new.quantity - old.quantity, amount=new.amount - old.amount))
    return tuple(changed)
