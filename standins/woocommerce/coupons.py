"""WooCommerce's coupon rules, as the stand-in keeps them: saving a coupon from a request's fields, and its REST view.

Plain functions over a `Site`, no HTTP: the caller holds `Sites.lock`. They follow the v2/v3 coupons controller
and WC_Coupon (PLATFORMS.md B6): codes are stored lower-cased and unique among published coupons; an amount that
is not a number is 0, and a percent over 100 is refused; `date_expires` is read in the site's timezone unless it
carries an offset, and `date_expires_gmt` is ignored on writes (WC_Coupon has no setter for it).
"""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Callable

from standins.woocommerce.sites import Site, now
from standins.woocommerce.wordpress import item_error

DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")
# WC_Data::set_date_prop: an ISO 8601 time to the second, with Z or an offset, or without (site time)
WC_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:\d{2})?")


def save_coupon(site: Site, coupon_id: int | None, data: dict,
                new_id: Callable[[], int]) -> tuple[dict | None, dict | None]:
    """Create (no id) or update a coupon from a request's fields, as WooCommerce does: (coupon, None) or (None, error)."""
    creating = coupon_id is None
    if creating and not data.get("code"):
        return None, item_error("woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty.")
    coupon = copy.deepcopy(site.coupons[coupon_id]) if not creating else _blank()
    error = _set_checked_fields(site, coupon_id, coupon, data)
    if error:
        return None, error
    _set_plain_fields(coupon, data, new_id)
    if creating:
        coupon["id"] = new_id()
    else:
        site.coupon_codes.pop(site.coupons[coupon_id]["code"], None)
    coupon["date_modified_gmt"] = now()
    site.coupons[coupon["id"]] = coupon
    if coupon["status"] == "publish":
        site.coupon_codes[coupon["code"]] = coupon["id"]
    return coupon, None


def _blank() -> dict:
    """A new coupon before the request's fields are set: WC_Coupon's defaults."""
    return {"id": None, "code": "", "amount": Decimal(0), "status": "publish", "date_created_gmt": now(),
            "discount_type": "fixed_cart", "description": "", "date_expires": None, "usage_count": 0,
            "individual_use": False, "usage_limit": 0, "usage_limit_per_user": 0, "free_shipping": False,
            "minimum_amount": "", "maximum_amount": "", "email_restrictions": [], "meta_data": []}


def _set_checked_fields(site: Site, coupon_id: int | None, coupon: dict, data: dict) -> dict | None:
    """Set the fields WooCommerce validates (code, discount type, amount, expiry); the first error, if any."""
    if data.get("code") is not None:
        code = str(data["code"]).strip().lower()  # the woocommerce_coupon_code filter: wc_strtolower
        holder = site.coupon_codes.get(code)
        if holder is not None and holder != coupon_id:
            return item_error("woocommerce_rest_coupon_code_already_exists", "The coupon code already exists")
        coupon["code"] = code
    if data.get("discount_type") is not None:
        if data["discount_type"] not in DISCOUNT_TYPES:
            return item_error("coupon_invalid_discount_type", "Invalid discount type.")
        coupon["discount_type"] = data["discount_type"]
    if data.get("amount") is not None:
        try:
            amount = Decimal(str(data["amount"]))
        except InvalidOperation:
            amount = Decimal(0)  # set_amount: not numeric → 0
        if not amount.is_finite() or amount < 0 or (coupon["discount_type"] == "percent" and amount > 100):
            return item_error("coupon_invalid_amount", "Invalid discount amount.")
        coupon["amount"] = amount
    if "date_expires" in data and data["date_expires"] is not None:  # a null is skipped, "" clears
        expires, ok = _expiry(data["date_expires"], site.utc_offset)
        if not ok:
            return item_error("coupon_invalid_date_expires", "Invalid expiry date.")
        coupon["date_expires"] = expires
    return None


def _set_plain_fields(coupon: dict, data: dict, new_id: Callable[[], int]) -> None:
    """Set the fields taken as given (limits, flags, texts) and merge the meta rows."""
    for field in ("usage_limit", "usage_limit_per_user"):
        if data.get(field) is not None:
            coupon[field] = abs(to_int(data[field]) or 0)  # absint
    for field in ("individual_use", "free_shipping"):
        if data.get(field) is not None:
            coupon[field] = bool(data[field])
    for field in ("description", "status"):
        if data.get(field) is not None:
            coupon[field] = str(data[field])
    for row in data.get("meta_data") or []:
        if isinstance(row, dict) and isinstance(row.get("key"), str):
            same = [m for m in coupon["meta_data"] if m["key"] == row["key"]]  # update_meta_data replaces
            if same:
                same[0]["value"] = row.get("value")
            else:
                coupon["meta_data"].append({"id": new_id(), "key": row["key"], "value": row.get("value")})


def coupon_view(site: Site, coupon: dict) -> dict:
    """A stored coupon as the REST API shows it (WC_REST_Coupons_V2_Controller::get_formatted_item_data)."""
    offset = site.utc_offset
    created = datetime.fromisoformat(coupon["date_created_gmt"])
    modified = datetime.fromisoformat(coupon["date_modified_gmt"])
    expires = coupon["date_expires"].replace(tzinfo=None) if coupon["date_expires"] else None
    return {
        "id": coupon["id"], "code": coupon["code"], "amount": f"{coupon['amount']:.2f}", "status": coupon["status"],
        "date_created": _wc_time(created, offset), "date_created_gmt": _wc_time(created),
        "date_modified": _wc_time(modified, offset), "date_modified_gmt": _wc_time(modified),
        "discount_type": coupon["discount_type"], "description": coupon["description"],
        "date_expires": _wc_time(expires, offset), "date_expires_gmt": _wc_time(expires),
        "usage_count": coupon["usage_count"], "individual_use": coupon["individual_use"],
        "product_ids": [], "excluded_product_ids": [],
        "usage_limit": coupon["usage_limit"] or None, "usage_limit_per_user": coupon["usage_limit_per_user"] or None,
        "limit_usage_to_x_items": None, "free_shipping": coupon["free_shipping"], "product_categories": [],
        "excluded_product_categories": [], "exclude_sale_items": False,
        "minimum_amount": "0.00", "maximum_amount": "0.00", "email_restrictions": [], "used_by": [],
        "meta_data": copy.deepcopy(coupon["meta_data"]),
    }


def coupon_applies(site: Site, code: str, moment: datetime) -> bool:
    """Whether a shopper could use `code` at `moment`: it exists, is published and has not expired."""
    coupon = site.coupons.get(site.coupon_codes.get(code.lower(), 0))
    # WC_Discounts::validate_coupon_expiry_date: expired once now is past the expiry time
    return coupon is not None and coupon["status"] == "publish" and (
        coupon["date_expires"] is None or moment <= coupon["date_expires"])


def to_int(value) -> int | None:
    """An id or count from a request, or None when it is not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _wc_time(moment: datetime | None, offset: timedelta = timedelta(0)) -> str | None:
    return (moment + offset).strftime("%Y-%m-%dT%H:%M:%S") if moment is not None else None


def _expiry(value, utc_offset: timedelta) -> tuple[datetime | None, bool]:
    """WC_Data::set_date_prop: empty clears; a number is a UTC timestamp; a time without offset is site time."""
    if value in ("", 0, "0", False):
        return None, True
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value), timezone.utc), True
    match = WC_DATE.fullmatch(str(value))
    if not match:
        return None, False
    zone = match.group(7)
    if zone is None:
        tz = timezone(utc_offset)
    elif zone == "Z":
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        local = datetime(*(int(match.group(i)) for i in range(1, 7)), tzinfo=tz)
    except ValueError:
        return None, False
    return local.astimezone(timezone.utc), True
