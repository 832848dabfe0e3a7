"""Influencers' promo codes as WooCommerce coupons, created and expired in batches (PLATFORMS.md B6).

- One coupon per code (WooCommerce has no discount shared by many codes), written with
  `POST coupons/batch`, at most 100 items per call (WooCommerce's limit). A store that filters the limit
  lower answers 413: the batch is halved, and later batches keep the smaller size.
- Each coupon carries the influencer's tracking id in the meta row `_connector_tracking_id`. A code the
  store already has is looked up (`GET coupons?code=`): ours (same tracking id) is adopted, and brought
  back in line with the terms if it drifted (adopting a code that was removed un-expires it); anyone
  else's follows settings.code_collision: "suffix" tries CODE-2 … CODE-9, each in the next batch call
  with other pending codes, "refuse" fails the code.
- WooCommerce stores codes lower-cased and matches them case-insensitively at checkout; results give
  the code in the case the influencer asked for.
- Expiry is written as `date_expires` with an explicit UTC offset. The REST controller silently drops
  `date_expires_gmt` on writes (WC_Coupon has no setter for it: only `date_expires` is writable), and a
  `date_expires` without an offset is read in the site's timezone.
- Removal expires the coupon now (an `update` batch): an expired coupon no longer applies and keeps its
  history in the store. Batch deletes always force-delete, so they are not used.
- Repeating a call whose answer was lost is safe: the coupons it made come back as "already exists",
  carry our tracking id, and are adopted. That is why the client retries these calls.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Sequence

from connector.errors import PlatformAuthError, PlatformError
from connector.core.platform import FIXED_AMOUNT, PERCENTAGE, CodeBatch, CodeRemoval, CodeRequest, CodeResult, DiscountTerms

from .rest_api import BatchTooLarge, WooCommerceClient

BATCH_LIMIT = 100  # woocommerce_rest_batch_items_limit's default: creates, updates and deletes together
TRACKING_META = "_connector_tracking_id"
LAST_SUFFIX = 9  # CODE-2 … CODE-9
ALREADY_EXISTS = "woocommerce_rest_coupon_code_already_exists"
INVALID_ID = "woocommerce_rest_shop_coupon_invalid_id"  # the coupon is gone (deleted for good)
DISCOUNT_TYPES = {PERCENTAGE: "percent", FIXED_AMOUNT: "fixed_cart"}
MAX_ERROR = 300


@dataclass(frozen=True)
class _Item:
    """One entry of a batch: a create, or (with `coupon_id`) an update of an existing coupon."""

    #: the request's or removal's position, so results keep the caller's order
    index: int
    body: dict
    #: the code is CODE-<suffix> above 1
    suffix: int = 1
    coupon_id: int | None = None


class _Batches:
    """Sends items in as few batch calls as the store takes, halving the size if it answers 413."""

    def __init__(self, client: WooCommerceClient):
        self.client = client
        self.limit = BATCH_LIMIT

    def send(self, items: list[_Item]) -> list[tuple[_Item, dict]]:
        creates = [item for item in items if item.coupon_id is None]
        updates = [item for item in items if item.coupon_id is not None]
        try:
            answer = self.client.coupon_batch(create=[i.body for i in creates], update=[i.body for i in updates])
        except BatchTooLarge:
            if len(items) == 1:
                raise
            half = len(items) // 2
            self.limit = min(self.limit, half)
            return self.send(items[:half]) + self.send(items[half:])
        return list(zip(creates, answer.get("create", []))) + list(zip(updates, answer.get("update", [])))

    def drain(self, queue: deque[_Item]) -> Iterable[tuple[_Item, dict]]:
        """Every item of the queue with its answer; items appended while iterating go in later batches."""
        while queue:
            chunk = [queue.popleft() for _ in range(min(self.limit, len(queue)))]
            yield from self.send(chunk)


# --- creating -------------------------------------------------------------------------------------


def create(client: WooCommerceClient, requests: Sequence[CodeRequest], *, app_name: str,
           collision: str) -> CodeBatch:
    """Make each requested code a coupon in the store (or adopt ours); one result per request, in order."""
    start = client.calls
    results: dict[int, CodeResult] = {}
    queue: deque[_Item] = deque()
    for index, request in enumerate(requests):
        try:
            queue.append(_Item(index, {"code": request.code, **coupon_fields(request, app_name)}))
        except ValueError as exc:
            results[index] = _failed(request.influencer_id, str(exc), retryable=False)
    answered = False
    try:
        for item, answer in _Batches(client).drain(queue):
            answered = True
            outcome = _settle_create(client, requests[item.index], item, answer, collision)
            if isinstance(outcome, _Item):
                queue.append(outcome)  # a suffix to try, or an adopted coupon to bring in line
            else:
                results[item.index] = outcome
    except PlatformAuthError:
        raise  # the merchant must authorise again: that matters more than what was done
    except PlatformError as exc:
        if not answered:
            raise
        for index, request in enumerate(requests):
            results.setdefault(index, _failed(request.influencer_id, f"not done: {exc}", retryable=True))
    return CodeBatch(results=tuple(results[i] for i in range(len(requests))), calls=client.calls - start)


def coupon_fields(request: CodeRequest, app_name: str) -> dict[str, Any]:
    """The coupon for a request, code aside; ValueError when the terms cannot be a WooCommerce coupon."""
    terms = request.terms
    discount_type = DISCOUNT_TYPES.get(terms.kind)
    if discount_type is None:
        raise ValueError(f"WooCommerce coupons cannot give a {terms.kind!r} discount")
    campaign = f", campaign {request.campaign_id}" if request.campaign_id else ""
    fields: dict[str, Any] = {
        "discount_type": discount_type,
        "amount": _amount(terms.value),
        "individual_use": False,
        "description": f"{app_name}: promo code of influencer {request.tracking_id}{campaign}",
        "meta_data": [{"key": TRACKING_META, "value": request.tracking_id}],
    }
    if terms.ends_at is not None:
        fields["date_expires"] = wc_time(terms.ends_at)
    if terms.usage_limit:
        fields["usage_limit"] = terms.usage_limit
    if terms.once_per_customer:
        fields["usage_limit_per_user"] = 1
    return fields


def _settle_create(client: WooCommerceClient, request: CodeRequest, item: _Item, answer: dict,
                   collision: str) -> CodeResult | _Item:
    code = candidate(request.code, item.suffix)
    error = answer.get("error")
    if item.coupon_id is not None:  # our coupon, updated to match the terms
        if error is not None:
            return _failed_by_store(request.influencer_id, error)
        return _active(request, code, item.coupon_id, adopted=True)
    if error is None:
        coupon_id = _coupon_id(answer)
        if coupon_id is None:
            return _failed(request.influencer_id, "the store created the coupon but gave no id", retryable=True)
        stored = answer.get("code")
        # A plugin may rewrite codes beyond lower-casing: then the store's code is the one that works.
        shown = stored if isinstance(stored, str) and stored and stored.lower() != code.lower() else code
        return _active(request, shown, coupon_id)
    if not isinstance(error, dict) or error.get("code") != ALREADY_EXISTS:
        return _failed_by_store(request.influencer_id, error)

    existing = find_coupon(client.coupons_by_code(code), code)
    if existing is None:  # deleted meanwhile, or a draft the lookup does not show: another run may do better
        return _failed(request.influencer_id, f"the store says {code} exists but does not list it", retryable=True)
    existing_id = _coupon_id(existing)
    if tracking_id(existing) == request.tracking_id and existing_id is not None:
        changes = drift(existing, request.terms)
        if changes:
            return _Item(item.index, {"id": existing_id, **changes}, suffix=item.suffix, coupon_id=existing_id)
        return _active(request, code, existing_id, adopted=True)
    if collision == "suffix" and item.suffix < LAST_SUFFIX:
        following = item.suffix + 1
        return _Item(item.index, {**item.body, "code": candidate(request.code, following)}, suffix=following)
    if collision == "suffix":
        reason = (f"{request.code} and {candidate(request.code, 2)} … {candidate(request.code, LAST_SUFFIX)} "
                  f"are all taken in the store by coupons the connector did not make for {request.tracking_id}")
    else:
        reason = (f"{code} is taken in the store by a coupon the connector did not make for "
                  f"{request.tracking_id} (code collision policy: {collision})")
    return _failed(request.influencer_id, reason, retryable=False)


def candidate(code: str, suffix: int) -> str:
    """The code as asked (suffix 1), or CODE-<suffix>."""
    return code if suffix <= 1 else f"{code}-{suffix}"


def drift(coupon: dict, terms: DiscountTerms) -> dict[str, Any]:
    """The fields to write so that our existing coupon gives `terms` (empty when it already does)."""
    changes: dict[str, Any] = {}
    discount_type = DISCOUNT_TYPES[terms.kind]
    if coupon.get("discount_type") != discount_type:
        changes["discount_type"] = discount_type
    if _decimal(coupon.get("amount")) != terms.value:
        changes["amount"] = _amount(terms.value)
    wanted = terms.ends_at.astimezone(timezone.utc).replace(microsecond=0) if terms.ends_at else None
    if _gmt(coupon.get("date_expires_gmt")) != wanted:
        # "" clears an expiry (a null is ignored by the REST controller).
        changes["date_expires"] = wc_time(wanted) if wanted else ""
    if (coupon.get("usage_limit") or None) != (terms.usage_limit or None):
        changes["usage_limit"] = terms.usage_limit or 0  # 0 is unlimited
    per_customer = 1 if terms.once_per_customer else None
    if (coupon.get("usage_limit_per_user") or None) != per_customer:
        changes["usage_limit_per_user"] = per_customer or 0
    return changes


# --- removing -------------------------------------------------------------------------------------


def remove(client: WooCommerceClient, removals: Sequence[CodeRemoval], now: datetime) -> CodeBatch:
    """Expire each code's coupon now; a coupon already gone counts as removed. One result per removal."""
    start = client.calls
    results: dict[int, CodeResult] = {}
    expires = wc_time(now)
    answered = False
    try:
        queue: deque[_Item] = deque()
        for index, removal in enumerate(removals):
            coupon_id = _int_id(removal.remote_id) or _int_id(removal.discount_id)
            if coupon_id is None:  # never recorded (a lost answer): find it by its code
                found = find_coupon(client.coupons_by_code(removal.code), removal.code)
                answered = True
                if found is None or _coupon_id(found) is None:
                    results[index] = _removed(removal, None)
                    continue
                if tracking_id(found) is None:
                    results[index] = _failed(removal.influencer_id, f"{removal.code} in the store is not a coupon "
                                             "the connector made: it was left alone", retryable=False)
                    continue
                coupon_id = _coupon_id(found)
            queue.append(_Item(index, {"id": coupon_id, "date_expires": expires}, coupon_id=coupon_id))
        for item, answer in _Batches(client).drain(queue):
            answered = True
            removal = removals[item.index]
            error = answer.get("error")
            if error is None or (isinstance(error, dict) and error.get("code") == INVALID_ID):
                results[item.index] = _removed(removal, item.coupon_id)
            else:
                results[item.index] = _failed_by_store(removal.influencer_id, error)
    except PlatformAuthError:
        raise
    except PlatformError as exc:
        if not answered:
            raise
        for index, removal in enumerate(removals):
            results.setdefault(index, _failed(removal.influencer_id, f"not done: {exc}", retryable=True))
    return CodeBatch(results=tuple(results[i] for i in range(len(removals))), calls=client.calls - start)


# --- reading the store's coupons ------------------------------------------------------------------


def find_coupon(coupons: Sequence[dict], code: str) -> dict | None:
    """The coupon with this code, compared case-insensitively as WooCommerce does."""
    wanted = code.lower()
    return next((c for c in coupons if isinstance(c.get("code"), str) and c["code"].lower() == wanted), None)


def tracking_id(coupon: dict) -> str | None:
    """The tracking id the connector stamped on the coupon, or None when it is not ours."""
    for row in coupon.get("meta_data") or ():
        if isinstance(row, dict) and row.get("key") == TRACKING_META and isinstance(row.get("value"), str):
            return row["value"]
    return None


def wc_time(moment: datetime) -> str:
    """An aware time as WooCommerce reads it whatever the site's timezone: to the second, with +00:00."""
    if moment.tzinfo is None:
        raise ValueError("coupon times must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _gmt(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _amount(value: Decimal) -> str:
    return f"{value.normalize():f}"  # "15", "12.5": never an exponent


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _int_id(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def _coupon_id(coupon: dict) -> int | None:
    value = coupon.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


# --- results --------------------------------------------------------------------------------------


def _active(request: CodeRequest, code: str, coupon_id: int, *, adopted: bool = False) -> CodeResult:
    return CodeResult(influencer_id=request.influencer_id, status="active", code=code, remote_id=str(coupon_id),
                      discount_id=str(coupon_id), adopted=adopted)


def _removed(removal: CodeRemoval, coupon_id: int | None) -> CodeResult:
    remote_id = str(coupon_id) if coupon_id is not None else removal.remote_id
    return CodeResult(influencer_id=removal.influencer_id, status="removed", code=removal.code,
                      remote_id=remote_id, discount_id=remote_id)


def _failed(influencer_id: int, error: str, *, retryable: bool) -> CodeResult:
    return CodeResult(influencer_id=influencer_id, status="failed", error=error[:MAX_ERROR], retryable=retryable)


def _failed_by_store(influencer_id: int, error: Any) -> CodeResult:
    """A per-item error object ({code, message, data: {status}}): retryable unless the store refused the item."""
    if not isinstance(error, dict):
        return _failed(influencer_id, f"the store answered an error that is not an object: {error!r}", retryable=True)
    data = error.get("data")
    status = data.get("status") if isinstance(data, dict) else None
    refused = isinstance(status, int) and 400 <= status < 500 and status != 429
    return _failed(influencer_id, f"{error.get('code')}: {error.get('message')}", retryable=not refused)
