"""/api/v1: what the tracking backend calls. Bearer token, JSON in and out, errors with a stable code.

Codes are never created here: a PUT records what is wanted and the worker makes it so in the store
(`promo_code.status` moves from pending to active or failed).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from connector.campaigns import influencers as campaigns
from connector.delivery import outbox
from connector.core.attribution import match_key
from connector.campaigns.influencers import Conflict, InfluencerSpec, InvalidField
from connector.db import transaction
from connector.errors import ConnectorError
from connector.models import (AttributionRecord, Campaign, Conversion, ConversionCredit, DeliveryAttempt, Influencer, Order,
                      Store, StorefrontReport, utcnow)
from connector.core.payload import format_amount, format_share
from connector.campaigns.stats import influencer_stats
from connector.web import services
from connector.web.api_schema import (DISCOUNT_TYPES, MAX_ID, TRACKING_ID_PATTERN, AttributionIn, BatchEnvelope, CampaignIn,
                         InfluencerBatchItem, InfluencerIn, StoreOut, openapi_document)
from connector.web.app.snippet import snippet

bp = Blueprint("api", __name__)
DEFAULT_PAGE, MAX_PAGE = 100, 500
PREFIX = "/api/v1"
CONVERSION_TYPES = ("conversion.purchase", "conversion.lead", "conversion.refund", "conversion.cancellation")
CONVERSION_STATUSES = ("pending", "delivered", "failed")


class TrackingIdConverter(BaseConverter):
    """A path segment other than "batch": /influencers/batch is the batch endpoint, never an influencer.

    Without this, /influencers/batch matched both rules: GET and DELETE looked for an influencer called
    "batch" and OPTIONS advertised methods the batch endpoint does not have.
    """

    regex = r"(?!batch(?![^/]))[^/]+"


@bp.record_once
def _register_converter(state):
    state.app.url_map.converters["tracking_id"] = TrackingIdConverter


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    answer = jsonify(error={"code": exc.code, "message": exc.message, "field": exc.field})
    return answer, exc.status


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    return _api_error(ApiError(413, "too_large", "the request body is too large"))


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _no_route(exc: HTTPException):
    """Under /api/v1, an unknown path or method answers in the API's own error shape; elsewhere as before."""
    if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return exc
    code = "not_found" if exc.code == 404 else "method_not_allowed"
    answer = _api_error(ApiError(exc.code, code, exc.description or code))[0]
    if exc.code == 405:
        answer.headers["Allow"] = exc.get_response().headers.get("Allow", "")
    return answer, exc.code


@bp.before_request
def _authenticate():
    if request.endpoint == "api.openapi":
        return None
    token = services().settings.api_token
    if not token:
        raise ApiError(404, "api_disabled", "set CONNECTOR_API_TOKEN to enable /api/v1")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise ApiError(401, "unauthorized", "a valid bearer token is required")
    # A misspelt filter (?tracking=alice) would otherwise answer every row as if none had been asked for.
    known = _query_names(request.url_rule.rule, request.method)
    for name in request.args:
        if name not in known:
            raise ApiError(422, "validation_error", f"unknown query parameter {name!r}", name or None)
    # Nothing the API stores or looks up holds a NUL, and PostgreSQL refuses one in any text parameter.
    for name, value in request.args.items(multi=True):
        if "\x00" in value:
            raise _bad_cursor() if name == "cursor" else ApiError(
                422, "validation_error", f"{name} holds a NUL character", name)
    if "\x00" in request.path:
        raise ApiError(404, "not_found", "no such resource")
    return None


@lru_cache(maxsize=None)
def _query_names(rule: str, method: str) -> frozenset[str]:
    """The query parameters the OpenAPI document gives this route: the document is the one list of them."""
    path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.removeprefix(PREFIX))
    operation = openapi_document()["paths"].get(path, {}).get(method.lower(), {})
    return frozenset(p["name"] for p in operation.get("parameters", ()) if p["in"] == "query")


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


# -- helpers -------------------------------------------------------------------------------------------


#: what a field that did not match its pattern must look like, said for people (pydantic quotes the regex)
PATTERN_MESSAGES = {
    "tracking_id": "a tracking id is 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit",
    "campaign_id": "a campaign id is 1 to 100 letters, digits, '.', ':', '_' or '-', starting with a letter or digit",
    "promo_code": "a promo code is 2 to 50 letters (A-Z), digits, '-' or '_', starting with a letter or digit: "
                  "Shopify refuses spaces and WooCommerce changes other characters",
    "discount.value": "a percentage is a decimal string above 0 and at most 100, a fixed amount one above 0 and "
                      "below 1000000, with at most two decimal places (e.g. \"15\" or \"10.50\")",
    "customer_id": "a customer id is 1 to 64 letters, digits, '_' or '-'",
    "name": "a name holds no control characters",
}


def _field(loc: tuple) -> str | None:
    """The error's field as a dotted path, without the discount type pydantic puts in (discount.value)."""
    parts = [str(part) for i, part in enumerate(loc)
             if not (i and loc[i - 1] == "discount" and part in DISCOUNT_TYPES)]
    return ".".join(parts) or None


def _validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    if first["type"] in ("json_invalid", "json_type"):
        return ApiError(400, "bad_request", "the body must be a JSON object")
    field = _field(first["loc"])
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        field = f"{field}.type" if field else "type"
        message = f"type must be one of {', '.join(DISCOUNT_TYPES)}"
    elif first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "string_pattern_mismatch" and field in PATTERN_MESSAGES:
        message = PATTERN_MESSAGES[field]
    elif first["type"] == "string_pattern_mismatch" and field and field.endswith(".tracking_id"):
        message = PATTERN_MESSAGES["tracking_id"]
    else:
        message = first["msg"]
    return ApiError(422, "validation_error", f"{field or 'body'}: {message}", field)


def _body(model: type[BaseModel]):
    raw = request.get_data(cache=False)
    try:
        return model.model_validate_json(raw or b"")
    except ValidationError as exc:
        raise _validation_error(exc) from None


def _whole_number(raw: str) -> int | None:
    """A plain decimal number, or None ("²" and "٣" are digits to str.isdigit, not to int())."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _store_id(raw: str) -> int:
    number = _whole_number(raw)
    if number is None or not 1 <= number <= MAX_ID:
        raise ApiError(404, "not_found", "no such store")
    return number


def _store(session, raw: str) -> Store:
    store = session.get(Store, _store_id(raw))
    if store is None:
        raise ApiError(404, "not_found", "no such store")
    return store


def _influencer(session, store: Store, tracking_id: str) -> Influencer:
    # Looked up by any name up to the column's size: influencers added by hand (CLI) may not match the pattern.
    found = campaigns.find_influencer(session, store, tracking_id) if len(tracking_id) <= 100 else None
    if found is None:
        raise ApiError(404, "not_found", f"no influencer {tracking_id!r} in this store")
    return found


def _time_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not RFC3339.fullmatch(raw):
        raise ApiError(422, "validation_error", f"{name} must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z", name)
    try:
        moment = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
        # UTC from here on: the answer echoes it in the documented form, and the database compares in UTC
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ApiError(422, "validation_error", f"{name} is not a time that exists", name) from None


#: the date-time format the document promises (RFC 3339 section 5.6), nothing looser
RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                     r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


def _limit() -> int:
    number = _whole_number(request.args.get("limit", str(DEFAULT_PAGE)))
    if number is None or not 1 <= number <= MAX_PAGE:
        raise ApiError(422, "validation_error", f"limit is 1 to {MAX_PAGE}", "limit")
    return number


def _bad_cursor() -> ApiError:
    return ApiError(422, "validation_error", "cursor is not one this API gave", "cursor")


def _cursor() -> str | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    try:
        value = base64.urlsafe_b64decode(raw.encode() + b"==").decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor() from None
    if not value or "\x00" in value:
        raise _bad_cursor()
    return value


def _query_choice(name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw is not None and raw not in choices:
        raise ApiError(422, "validation_error", f"{name} is one of {', '.join(choices)}", name)
    return raw


def _next_cursor(value) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def _time(moment: datetime | None) -> str | None:
    # In UTC always: a time just written still carries the offset it was sent with (+01:00), the same
    # time read back is UTC, and the two answers must be the same.
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def _store_out(store: Store) -> dict:
    return {
        "id": store.id, "platform": store.platform, "domain": store.domain, "status": store.status,
        "status_reason": store.status_reason, "installed_at": _time(store.installed_at),
        "storefront_url": store.storefront_url, "currency": store.currency,
        "attribution": {"model": store.attribution_model, "window_days": store.attribution_window_days,
                        "half_life_days": store.half_life_days, "precedence": store.precedence.split(",")},
        "storefront_script": snippet(services().settings, store) if store.platform == "woocommerce" else None,
    }


def _influencer_out(store: Store, influencer: Influencer) -> dict:
    discount = None
    if influencer.discount_kind is not None:
        value = influencer.discount_value
        # An amount as money ("10.50", as sent), a percentage as the number it is ("15", "12.5")
        shown = format_amount(value) if influencer.discount_kind == "fixed_amount" else f"{value.normalize():f}"
        discount = {"type": influencer.discount_kind, "value": shown,
                    "starts_at": _time(influencer.discount_starts_at), "ends_at": _time(influencer.discount_ends_at),
                    "usage_limit": influencer.usage_limit, "once_per_customer": influencer.once_per_customer}
    return {
        "store_id": store.id, "tracking_id": influencer.tracking_id, "campaign_id": influencer.campaign_id,
        "has_email": influencer.email_sha256 is not None, "customer_id": influencer.customer_id,
        "promo_code": {"status": influencer.code_status, "code": influencer.promo_code,
                       "requested": influencer.requested_code, "error": influencer.code_error,
                       "synced_at": _time(influencer.code_synced_at)},
        "discount": discount, "active": influencer.active, "removed_at": _time(influencer.removed_at),
        "tracking_url": f"{services().settings.public_url}/t/{influencer.tracking_id}?s={store.id}",
        "created_at": _time(influencer.created_at), "updated_at": _time(influencer.updated_at),
    }


def _spec(tracking_id: str, body: InfluencerIn) -> InfluencerSpec:
    terms = None
    if body.discount is not None:
        d = body.discount
        terms = campaigns.discount_terms(d.type, d.value, starts_at=d.starts_at, ends_at=d.ends_at,
                                         usage_limit=d.usage_limit, once_per_customer=d.once_per_customer)
    return InfluencerSpec(tracking_id=tracking_id, campaign_id=body.campaign_id, email=body.email,
                          promo_code=body.promo_code, discount=terms, customer_id=body.customer_id)


def _upsert(session, store: Store, tracking_id: str, body: InfluencerIn):
    try:
        return campaigns.upsert_influencer(session, store, _spec(tracking_id, body), utcnow())
    except InvalidField as exc:
        raise ApiError(422, "validation_error", str(exc), exc.field) from None
    except Conflict as exc:
        raise ApiError(409, "conflict", str(exc), exc.field) from None
    except IntegrityError:
        # Two requests made the same tracking id or code at the same moment: the database kept one.
        raise ApiError(409, "conflict", "another request changed this influencer or its code at the same moment; "
                                        "send it again") from None


# -- stores ----------------------------------------------------------------------------------------------


@bp.get("/stores")
def list_stores():
    with services().sessions() as session:
        stores = session.scalars(select(Store).order_by(Store.id)).all()
        return jsonify(stores=[_store_out(s) for s in stores])


@bp.get("/stores/<store_id>")
def get_store(store_id: str):
    with services().sessions() as session:
        return jsonify(_store_out(_store(session, store_id)))


@bp.put("/stores/<store_id>/attribution")
def set_attribution(store_id: str):
    with transaction(services().sessions) as session:
        store = _store(session, store_id)
        body = _body(AttributionIn)
        try:
            campaigns.set_attribution(store, model=body.model, window_days=body.window_days,
                                      half_life_days=body.half_life_days, precedence=",".join(body.precedence))
        except ConnectorError as exc:
            raise ApiError(422, "validation_error", str(exc), "precedence") from None
        return jsonify(StoreOut.model_validate(_store_out(store)).model_dump(mode="json"))


# -- campaigns -------------------------------------------------------------------------------------------


def _campaign_out(campaign: Campaign) -> dict:
    return {"campaign_id": campaign.campaign_id, "name": campaign.name, "starts_at": _time(campaign.starts_at),
            "ends_at": _time(campaign.ends_at), "created_at": _time(campaign.created_at),
            "updated_at": _time(campaign.updated_at)}


@bp.get("/stores/<store_id>/campaigns")
def list_campaigns(store_id: str):
    with services().sessions() as session:
        store = _store(session, store_id)
        rows = session.scalars(select(Campaign).where(Campaign.store_id == store.id).order_by(Campaign.id))
        return jsonify(campaigns=[_campaign_out(c) for c in rows])


@bp.put("/stores/<store_id>/campaigns/<campaign_id>")
def put_campaign(store_id: str, campaign_id: str):
    with transaction(services().sessions) as session:
        store = _store(session, store_id)
        body = _body(CampaignIn)
        try:
            campaigns.check_campaign_id(campaign_id)  # before it reaches a query: it may be 10,000 characters
        except InvalidField as exc:
            raise ApiError(422, "validation_error", str(exc), exc.field) from None
        existed = session.scalar(select(Campaign.id).where(Campaign.store_id == store.id,
                                                           Campaign.campaign_id == campaign_id)) is not None
        try:
            campaign, _ = campaigns.upsert_campaign(session, store, campaign_id, name=body.name,
                                                    starts_at=body.starts_at, ends_at=body.ends_at, now=utcnow())
        except InvalidField as exc:
            raise ApiError(422, "validation_error", str(exc), exc.field) from None
        return jsonify(_campaign_out(campaign)), 200 if existed else 201


# -- influencers -----------------------------------------------------------------------------------------


@bp.get("/stores/<store_id>/influencers")
def list_influencers(store_id: str):
    limit, cursor = _limit(), _cursor()
    with services().sessions() as session:
        store = _store(session, store_id)
        query = select(Influencer).where(Influencer.store_id == store.id)
        if cursor is not None:
            after = _whole_number(cursor)
            if after is None or after > MAX_ID:
                raise _bad_cursor()
            query = query.where(Influencer.id > after)
        rows = list(session.scalars(query.order_by(Influencer.id).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return jsonify(influencers=[_influencer_out(store, i) for i in rows],
                       next_cursor=_next_cursor(rows[-1].id) if more else None)


@bp.put("/stores/<store_id>/influencers/<tracking_id:tracking_id>")
def put_influencer(store_id: str, tracking_id: str):
    with transaction(services().sessions) as session:
        store = _store(session, store_id)
        body = _body(InfluencerIn)
        influencer, outcome = _upsert(session, store, tracking_id, body)
        return jsonify(_influencer_out(store, influencer)), 201 if outcome == "created" else 200


def _batch_item(entry) -> InfluencerBatchItem:
    """One entry, validated on its own (JSON again, so its times are read as in a PUT body)."""
    if not isinstance(entry, dict):
        raise ApiError(422, "validation_error", "an entry is a JSON object", None)
    try:
        return InfluencerBatchItem.model_validate_json(json.dumps(entry))
    except ValidationError as exc:
        raise _validation_error(exc) from None


@bp.post("/stores/<store_id>/influencers/batch")
def put_influencers(store_id: str):
    """Each influencer validated and stored in its own savepoint: one bad entry is reported, the others go in.

    Only the envelope ({"influencers": [...]}, 1 to 1,000 entries) fails the whole request.
    """
    with transaction(services().sessions) as session:
        store = _store(session, store_id)
        body = _body(BatchEnvelope)
        results = []
        for entry in body.influencers:
            named = entry.get("tracking_id") if isinstance(entry, dict) else None
            tracking_id = named if isinstance(named, str) else None
            try:
                item = _batch_item(entry)
                with session.begin_nested():
                    influencer, outcome = _upsert(session, store, item.tracking_id, item)
                results.append({"tracking_id": tracking_id, "outcome": outcome,
                                "influencer": _influencer_out(store, influencer)})
            except ApiError as exc:
                results.append({"tracking_id": tracking_id, "outcome": "error",
                                "error": {"code": exc.code, "message": exc.message, "field": exc.field}})
        return jsonify(results=results)


@bp.get("/stores/<store_id>/influencers/<tracking_id:tracking_id>")
def get_influencer(store_id: str, tracking_id: str):
    with services().sessions() as session:
        store = _store(session, store_id)
        return jsonify(_influencer_out(store, _influencer(session, store, tracking_id)))


@bp.delete("/stores/<store_id>/influencers/<tracking_id:tracking_id>")
def remove_influencer(store_id: str, tracking_id: str):
    with transaction(services().sessions) as session:
        store = _store(session, store_id)
        influencer = _influencer(session, store, tracking_id)
        campaigns.remove_influencer(session, store, influencer, utcnow())
        return jsonify(_influencer_out(store, influencer))


@bp.get("/stores/<store_id>/influencers/<tracking_id:tracking_id>/stats")
def stats(store_id: str, tracking_id: str):
    since, until = _time_arg("since"), _time_arg("until")
    with services().sessions() as session:
        store = _store(session, store_id)
        influencer = _influencer(session, store, tracking_id)
        figures = influencer_stats(session, store.id, influencer.tracking_key, since, until)
        rate = figures.conversion_rate
        return jsonify(tracking_id=influencer.tracking_id, since=_time(since), until=_time(until),
                       clicks=figures.clicks, orders=figures.orders, leads=figures.leads,
                       revenue=[{"currency": c, "amount": format_amount(a)} for c, a in sorted(figures.revenue.items())],
                       conversion_rate=f"{rate:f}" if rate is not None else None,
                       promo_code_uses=figures.promo_code_uses)


# -- conversions and attribution records ----------------------------------------------------------------


def _conversion_out(conversion: Conversion) -> dict:
    body = json.loads(conversion.body)
    return {
        "id": conversion.id, "store_id": conversion.store_id, "type": conversion.type,
        "order_id": body["data"].get("order_id"), "tracking_id": conversion.tracking_id,
        "amount": format_amount(conversion.amount), "currency": conversion.currency,
        "reverses": conversion.reverses, "test": conversion.test, "created_at": _time(conversion.created_at),
        "status": conversion.status, "attempts": conversion.attempts,
        "next_attempt_at": _time(conversion.next_attempt_at) if conversion.status == "pending" else None,
        "delivered_at": _time(conversion.delivered_at), "last_error": conversion.last_error, "payload": body,
    }


def _detail(session, conversion: Conversion) -> dict:
    attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.conversion_id == conversion.id)
                               .order_by(DeliveryAttempt.id))
    return {**_conversion_out(conversion), "delivery_attempts": [
        {"attempted_at": _time(a.attempted_at), "status_code": a.status_code, "error": a.error,
         "duration_ms": a.duration_ms} for a in attempts]}


@bp.get("/conversions")
def list_conversions():
    limit, cursor = _limit(), _cursor()
    since, until = _time_arg("since"), _time_arg("until")
    query = select(Conversion)
    if "store_id" in request.args:
        store_id = _whole_number(request.args["store_id"])
        if store_id is None or not 1 <= store_id <= MAX_ID:
            raise ApiError(422, "validation_error", f"store_id is a store id, 1 to {MAX_ID}", "store_id")
        query = query.where(Conversion.store_id == store_id)
    if "tracking_id" in request.args:
        if not re.fullmatch(TRACKING_ID_PATTERN, request.args["tracking_id"]):
            raise ApiError(422, "validation_error", PATTERN_MESSAGES["tracking_id"], "tracking_id")
        # Any conversion the influencer has a share of, not only those naming them as the winner.
        shared = select(ConversionCredit.conversion_id).where(
            ConversionCredit.tracking_key == match_key(request.args["tracking_id"]))
        query = query.where(Conversion.id.in_(shared))
    for name, column, choices in (("type", Conversion.type, CONVERSION_TYPES),
                                  ("status", Conversion.status, CONVERSION_STATUSES)):
        value = _query_choice(name, choices)
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(Conversion.created_at >= since)
    if until is not None:
        query = query.where(Conversion.created_at < until)
    if cursor is not None:
        query = query.where(Conversion.id < cursor[:40])
    with services().sessions() as session:
        rows = list(session.scalars(query.order_by(Conversion.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return jsonify(conversions=[_conversion_out(c) for c in rows],
                       next_cursor=_next_cursor(rows[-1].id) if more else None)


def _conversion(session, conversion_id: str) -> Conversion:
    conversion = session.get(Conversion, conversion_id[:40])
    if conversion is None:
        raise ApiError(404, "not_found", "no such conversion")
    return conversion


@bp.get("/conversions/<conversion_id>")
def get_conversion(conversion_id: str):
    with services().sessions() as session:
        return jsonify(_detail(session, _conversion(session, conversion_id)))


@bp.post("/conversions/<conversion_id>/replay")
def replay_conversion(conversion_id: str):
    with transaction(services().sessions) as session:
        conversion = _conversion(session, conversion_id)
        outbox.replay(session, [conversion.id], utcnow())
        session.flush()
        return jsonify(_detail(session, conversion)), 202


@bp.get("/stores/<store_id>/orders/<order_id>/attribution")
def order_attribution(store_id: str, order_id: str):
    with services().sessions() as session:
        store = _store(session, store_id)
        order = session.scalar(select(Order).where(Order.store_id == store.id,
                                                   Order.platform_order_id == order_id[:64]))
        record = session.get(AttributionRecord, order.id) if order is not None else None
        if record is None:
            raise ApiError(404, "not_found", "the connector has no attribution record for this order")
        found = session.scalars(select(StorefrontReport).where(
            StorefrontReport.store_id == store.id, StorefrontReport.platform_order_id == order.platform_order_id)
            .order_by(StorefrontReport.id))
        return jsonify(
            store_id=store.id, order_id=order.platform_order_id, order_name=order.order_name,
            decided_at=_time(record.decided_at), outcome=record.outcome, method=record.method,
            credits=[{"tracking_id": c["tracking_id"], "share": format_share(Decimal(c["share"]))}
                     for c in record.credits],
            signals=record.signals,
            reports=[{"id": r.id, "status": r.status, "received_at": _time(r.received_at),
                      "touches": len(r.touches or []), "note": r.note} for r in found],
            purchase_conversion_id=order.purchase_conversion_id,
        )
