"""An order's lines as the commission base counts them, after edits: shared by the webhook and GraphQL normalisers.

Each normaliser reads its payload's lines into `Line` values (the same numbers under other names); this module
turns them into LineItems whose amounts add up to the commission base exactly, so an order seen by webhook and by
reconciliation gives the same items and the same base.

A line's part of the base is price × quantity less its discount allocations (less its tax lines when prices
include tax), as it has always been. Shopify reports those amounts for `quantity`, the units ever on the line,
refunded and removed ones included; `current_quantity` leaves both out (REST since 2024-01, GraphQL
`currentQuantity`). The base is "the lines as they stand after edits, refunds not taken out" (refunds are reversed
on their own), so a line counts `current_quantity` plus its refunded units, and its amount is scaled to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Mapping, Sequence

from connector.core.platform import LineItem

#: (shop amount, presentment amount or None): one signed part of a line's amount
Term = tuple[Decimal, Decimal | None]


@dataclass(frozen=True)
class Line:
    """One order line as a normaliser read it."""

    line_id: str | None
    product_id: str | None
    variant_id: str | None
    sku: str | None
    title: str | None
    #: units ever on the line, refunded and removed ones included
    quantity: int
    #: units on it now, refunded and removed ones out; None when the payload predates the field
    current_quantity: int | None
    #: price × quantity, then each allocation and (prices with tax) each tax line negated
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Lines:
    items: tuple[LineItem, ...]
    #: Σ item amounts: the commission base in shop currency
    shop_total: Decimal
    #: the same in presentment currency; None when a line lacks a presentment amount
    presentment_total: Decimal | None


def effective_quantity(line: Line, refunded: int) -> int:
    """The units the base counts: those on the line now, plus those refunded (reversed separately).

    Removed units are quantity − current − refunded, which cannot be negative: a payload saying more than
    `quantity` (a refund sample that forgot to lower current_quantity) is read as nothing removed.
    """
    if line.current_quantity is None:
        return line.quantity
    return min(line.current_quantity + refunded, line.quantity)


def exponent(amounts: Sequence[Decimal]) -> int:
    """The currency's minor unit as the line's own amounts write it: -2 for "40.00", 0 for JPY's "4000"."""
    found = [a.as_tuple().exponent for a in amounts if isinstance(a.as_tuple().exponent, int)]
    return min([0, *found])


def scaled(amount: Decimal, units: int, quantity: int, places: int) -> Decimal:
    """`amount` (for `quantity` units) for `units` of them, rounded half-even to the minor unit."""
    if units == quantity:
        return amount
    return (amount * units / quantity).quantize(Decimal(1).scaleb(places), rounding=ROUND_HALF_EVEN)


def order_lines(lines: Sequence[Line], refunded: Mapping[str, int]) -> Lines:
    """The items of an order and their totals, each line scaled to the units it counts."""
    items: list[LineItem] = []
    shop_total, present_total = Decimal(0), Decimal(0)
    every_presentment = True
    for line in lines:
        units = effective_quantity(line, refunded.get(line.line_id, 0) if line.line_id else 0)
        shop = scaled(sum((s for s, _ in line.terms), Decimal(0)), units, line.quantity,
                      exponent([s for s, _ in line.terms]))
        presents = [p for _, p in line.terms]
        if all(p is not None for p in presents):
            present_total += scaled(sum(presents, Decimal(0)), units, line.quantity, exponent(presents))
        else:
            every_presentment = False
        shop_total += shop
        items.append(LineItem(line_id=line.line_id, product_id=line.product_id, variant_id=line.variant_id,
                              sku=line.sku, title=line.title, quantity=Decimal(units), amount=shop))
    return Lines(tuple(items), shop_total, present_total if every_presentment else None)
