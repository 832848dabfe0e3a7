"""What happens to an order in the stand-in when its merchant refunds or edits it, the way WooCommerce does it.

Plain functions over order and refund dicts, no HTTP: the caller holds `Sites.lock`.

- A refund (`wc_create_refund`) is an object of its own: each refunded line is a copy of the order's line with
  negative quantity, total and tax and meta `_refunded_item_id` (the line's id); its `amount` is the lines' total
  and tax unless one is given (an amount alone has no lines). The admin fills a line's refund as the line's total
  and tax per unit times the units refunded. The order's `line_items` stay as they were; its `refunds` gets
  `{id, reason, total: "-amount"}` (newest first, as `WC_Order::get_refunds` lists them) and its status becomes
  `refunded` once the refunds reach its total (`wc_order_fully_refunded`).
- An edit changes `line_items` in place and recalculates the order (`WC_Abstract_Order::calculate_totals`): each
  changed line's tax at the order's rate, then the cart tax, discounts and total.
- Every change moves `date_modified_gmt`, at least a second past the last one, so two states never share a time.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Mapping, Sequence

CENT = Decimal("0.01")
REFUNDED_ITEM_KEY = "_refunded_item_id"
WC_TIME = "%Y-%m-%dT%H:%M:%S"


def money(value) -> Decimal:
    return Decimal(str(value or "0"))


def cents(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _raw(value: Decimal) -> str:
    """A tax as WooCommerce keeps it in a line's `taxes` (unformatted: "6.8", "8")."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def json_number(value: Decimal) -> int | float:
    """A line's `price` as WooCommerce writes it, a JSON number (PHP float); nothing reads it as money."""
    return int(value) if value == value.to_integral_value() else float(value)


def stamp(moment: datetime, utc_offset: timedelta) -> tuple[str, str]:
    """A moment as WooCommerce's (site time, GMT) pair of fields."""
    return (moment + utc_offset).strftime(WC_TIME), moment.strftime(WC_TIME)


def touch(order: dict, utc_offset: timedelta, at: datetime | None = None) -> str:
    """Move the order's modification time to now (or `at`), at least a second past the last; the new GMT time."""
    moment = (at or datetime.now(timezone.utc)).replace(microsecond=0)
    try:
        last = datetime.fromisoformat(order.get("date_modified_gmt") or "").replace(tzinfo=timezone.utc)
    except ValueError:
        last = None
    if last is not None and moment <= last:
        moment = last + timedelta(seconds=1)
    order["date_modified"], order["date_modified_gmt"] = stamp(moment, utc_offset)
    return order["date_modified_gmt"]


def _rate(order: dict) -> tuple[int, Decimal]:
    """The order's tax rate (its first tax line's id and percent), (0, 0) for an order without tax."""
    for line in order.get("tax_lines") or []:
        return int(line.get("rate_id") or 0), money(line.get("rate_percent")) / 100
    return 0, Decimal(0)


# --- refunds -------------------------------------------------------------------------------------


def refund(order: dict, lines: Mapping[int, int], amount: str | None, reason: str, *, refund_id: int,
           new_item_id: Callable[[], int], utc_offset: timedelta, refunded_by: int = 1) -> dict:
    """Make a refund of `lines` (order line id → units back) or of `amount` alone; record it on the order."""
    if not lines and amount is None:
        raise ValueError("a refund needs lines or an amount")
    by_id = {int(line["id"]): line for line in order.get("line_items") or []}
    refund_lines = []
    for line_id, units in lines.items():
        if line_id not in by_id or not 0 < units <= by_id[line_id]["quantity"]:
            raise ValueError(f"order {order['id']} has no line {line_id} with {units} units to refund")
        refund_lines.append(_refund_line(by_id[line_id], units, new_item_id))
    given = sum((-money(line["total"]) - money(line["total_tax"]) for line in refund_lines), Decimal(0))
    refunded = money(amount) if amount is not None else given
    created, created_gmt = stamp(datetime.now(timezone.utc).replace(microsecond=0), utc_offset)
    answer = {
        "id": refund_id, "date_created": created, "date_created_gmt": created_gmt, "amount": cents(refunded),
        "reason": reason, "refunded_by": refunded_by, "refunded_payment": False, "meta_data": [],
        "line_items": refund_lines, "shipping_lines": [], "tax_lines": _refund_tax_lines(order, refund_lines),
        "fee_lines": [],
    }
    order.setdefault("refunds", []).insert(0, {"id": refund_id, "reason": reason, "total": f"-{cents(refunded)}"})
    _refresh_status(order)
    touch(order, utc_offset)
    return answer


def forget_refund(order: dict, refund_id: int, utc_offset: timedelta) -> None:
    """Take a deleted refund off the order (the merchant's "delete refund"), as WooCommerce does."""
    order["refunds"] = [entry for entry in order.get("refunds") or [] if entry.get("id") != refund_id]
    if order.get("status") == "refunded":
        order["status"] = "processing"
    touch(order, utc_offset)


def _refund_line(line: dict, units: int, new_item_id: Callable[[], int]) -> dict:
    """The refund's copy of `line` for `units` of it: the line's total and tax per unit, times the units, negative."""
    share = Decimal(units) / Decimal(line["quantity"])
    total = -money(cents(money(line["total"]) * share))
    tax = -money(cents(money(line["total_tax"]) * share))
    rate_ids = [tax_line.get("id") for tax_line in line.get("taxes") or []][:1]  # the shop has one rate
    copied = copy.deepcopy(line)
    copied.update(
        id=new_item_id(), quantity=-units, subtotal=cents(total), subtotal_tax=cents(tax), total=cents(total),
        total_tax=cents(tax), taxes=[{"id": rate_id, "total": _raw(tax), "subtotal": _raw(tax)} for rate_id in rate_ids],
        meta_data=[{"id": new_item_id(), "key": REFUNDED_ITEM_KEY, "value": str(line["id"]),
                    "display_key": REFUNDED_ITEM_KEY, "display_value": str(line["id"])}],
        price=json_number(total / units),
    )
    return copied


def _refund_tax_lines(order: dict, refund_lines: Sequence[dict]) -> list[dict]:
    tax = sum((money(line["total_tax"]) for line in refund_lines), Decimal(0))
    if not tax or not order.get("tax_lines"):
        return []
    first = order["tax_lines"][0]
    return [{**copy.deepcopy(first), "tax_total": cents(tax), "shipping_tax_total": "0.00"}]


def _refresh_status(order: dict) -> None:
    refunded = sum((-money(entry["total"]) for entry in order.get("refunds") or []), Decimal(0))
    if refunded >= money(order.get("total")) > 0:
        order["status"] = "refunded"


# --- edits ---------------------------------------------------------------------------------------


def edit_lines(order: dict, changes: Mapping[int, Mapping | None], added: Sequence[Mapping],
               new_item_id: Callable[[], int], utc_offset: timedelta) -> None:
    """Change lines (id → new quantity, total, subtotal or name; None removes it), add lines, recalculate."""
    lines = []
    for line in order.get("line_items") or []:
        if int(line["id"]) not in changes:
            lines.append(line)
        elif changes[int(line["id"])] is not None:
            lines.append(_changed(line, changes[int(line["id"])]))
    unknown = set(changes) - {int(line["id"]) for line in order.get("line_items") or []}
    if unknown:
        raise ValueError(f"order {order['id']} has no lines {sorted(unknown)}")
    for fields in added:
        total = money(fields["total"])
        lines.append({
            "id": new_item_id(), "name": fields.get("name", "Added item"), "product_id": fields.get("product_id", 0),
            "variation_id": fields.get("variation_id", 0), "quantity": fields.get("quantity", 1), "tax_class": "",
            "subtotal": cents(money(fields.get("subtotal", total))), "subtotal_tax": "0.00", "total": cents(total),
            "total_tax": "0.00", "taxes": [], "meta_data": [], "sku": fields.get("sku", ""), "price": 0,
            "image": {"id": "", "src": ""}, "parent_name": None, "_retax": True,
        })
    order["line_items"] = lines
    recalculate(order)
    touch(order, utc_offset)


def _changed(line: dict, fields: Mapping) -> dict:
    changed = copy.deepcopy(line)
    if "quantity" in fields:
        share = Decimal(fields["quantity"]) / Decimal(line["quantity"])
        changed["quantity"] = fields["quantity"]
        changed["total"] = cents(money(line["total"]) * share)
        changed["subtotal"] = cents(money(line["subtotal"]) * share)
    for key in ("total", "subtotal"):
        if key in fields:
            changed[key] = cents(money(fields[key]))
    if "name" in fields:
        changed["name"] = fields["name"]
    changed["_retax"] = True
    return changed


def recalculate(order: dict) -> None:
    """The totals of an order whose marked lines changed: their tax at the order's rate, then the order's sums."""
    rate_id, rate = _rate(order)
    for line in order.get("line_items") or []:
        if line.pop("_retax", False):
            tax, subtotal_tax = money(cents(money(line["total"]) * rate)), money(cents(money(line["subtotal"]) * rate))
            line["total_tax"], line["subtotal_tax"] = cents(tax), cents(subtotal_tax)
            line["taxes"] = [{"id": rate_id, "total": _raw(tax), "subtotal": _raw(subtotal_tax)}] if rate_id else []
            line["price"] = json_number(money(line["total"]) / Decimal(line["quantity"])) if line["quantity"] else 0
    lines = order.get("line_items") or []
    items_total = sum((money(line["total"]) for line in lines), Decimal(0))
    cart_tax = sum((money(line["total_tax"]) for line in lines), Decimal(0))
    fees = sum((money(fee.get("total")) + money(fee.get("total_tax")) for fee in order.get("fee_lines") or []),
               Decimal(0))
    shipping, shipping_tax = money(order.get("shipping_total")), money(order.get("shipping_tax"))
    order["discount_total"] = cents(sum((money(l["subtotal"]) - money(l["total"]) for l in lines), Decimal(0)))
    order["discount_tax"] = cents(sum((money(l["subtotal_tax"]) - money(l["total_tax"]) for l in lines), Decimal(0)))
    order["cart_tax"] = cents(cart_tax)
    order["total_tax"] = cents(cart_tax + shipping_tax)
    order["total"] = cents(items_total + cart_tax + shipping + shipping_tax + fees)
    for tax_line in order.get("tax_lines") or []:
        tax_line["tax_total"] = cents(cart_tax)
