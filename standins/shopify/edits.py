"""Order edits in the Shopify stand-in (PLATFORMS-2.md H): what a committed edit leaves in the REST order that
orders/updated then carries.

Removing units lowers a line's `current_quantity` and keeps its `quantity` (GraphQL LineItem.quantity counts
"refunded and removed units", currentQuantity excludes both); adding a product makes a new line, as
orderEditAddVariant does. Raising an existing line's quantity is refused: how REST writes that is not documented.
The order's own totals (subtotal_price, current_subtotal_price, total_tax, ...) are not recomputed; the connector
reads the lines.
"""

from __future__ import annotations

import copy


def _line(order: dict, line_id: int | str) -> dict:
    for line in order.get("line_items") or []:
        if str(line.get("id")) == str(line_id):
            return line
    raise ValueError(f"order {order.get('id')} has no line {line_id}")


def set_quantity(order: dict, line_id: int | str, units: int) -> None:
    """orderEditSetQuantity lowering a line to `units` (0 removes it; the line stays, with nothing on it)."""
    line = _line(order, line_id)
    current = line.get("current_quantity", line.get("quantity"))
    if not 0 <= units <= current:
        raise ValueError(f"line {line_id} has {current} units: the stand-in removes units, and adds a product as a "
                         "new line (add_line)")
    line["current_quantity"] = units
    line["fulfillable_quantity"] = min(line.get("fulfillable_quantity", units), units)


def add_line(order: dict, line: dict) -> None:
    """orderEditAddVariant: a new line on the order (standins/shopify/samples.line_item makes one)."""
    if any(str(existing.get("id")) == str(line.get("id")) for existing in order.get("line_items") or []):
        raise ValueError(f"order {order.get('id')} already has a line {line.get('id')}")
    order.setdefault("line_items", []).append(copy.deepcopy(line))
