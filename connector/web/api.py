"""/api/v1: what the tracking backend calls. Bearer token, JSON in and out, errors with a stable code.

Codes are never created here: a PUT records what is wanted and the worker makes it so in the store
(`promo_code.status` moves from pending to active or failed).
"""

from __future__ import annotations

import base64
import hmac
import json
from datetime import datetime
from decimal import Decimal

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from .. import campaigns, outbox
from ..attribution import match_key
from ..campaigns import Conflict, InfluencerSpec, InvalidField
from ..db import transaction
from ..directory import parse_precedence
from ..errors import ConnectorError
from ..models import (AttributionRecord, Campaign, Conversion, ConversionCredit, DeliveryAttempt, Influencer, Order,
                      Store, StorefrontReport, utcnow)
from ..payload import format_amount, format_share
from ..stats import influencer_stats
from . import services
from .api_schema import (MAX_ID, AttributionIn, CampaignIn, InfluencerBatchIn, InfluencerIn, StoreOut,
                         openapi_document)
from .storefront_snippet import snippet

bp = Blueprint("api", __name__)
DEFAULT_PAGE, MAX_PAGE = 100, 500


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
    return None


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


# -- helpers -------------------------------------------------------------------------------------------


def _body(model: type[BaseModel]):
    raw = request.get_data(cache=False)
    try:
        return model.model_validate_json(raw or b"")
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] in ("json_invalid", "json_type"):
            raise ApiError(400, "bad_request", "the body must be a JSON object") from None
        field = ".".join(str(part) for part in first["loc"]) or None
        raise ApiError(422, "validation_error", f"{field or 'body'}: {first['msg']}", field) from None


def _store_id(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise ApiError(404, "not_found", "no such store")
    return int(raw)


def _store(session, raw: str) -> Store:
    store = session.get(Store, _store_id(raw))
    if store is None:
        raise ApiError(404, "not_found", "no such store")
    return store


def _influencer(session, store: Store, tracking_id: str) -> Influencer:
    found = campaigns.find_influencer(session, store, tracking_id) if len(tracking_id) <= 100 else None
    if found is None:
        raise ApiError(404, "not_found", f"no influencer {tracking_id!r} in this store")
    return found


def _time_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, "validation_error", f"{name} must be an ISO 8601 time", name) from None
    if moment.tzinfo is None:
        raise ApiError(422, "validation_error", f"{name} needs a time zone", name)
    return moment


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(422, "validation_error", f"limit is 1 to {MAX_PAGE}", "limit")
    return int(raw)


def _cursor() -> str | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    try:
        return base64.urlsafe_b64decode(raw.encode() + b"==").decode()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "validation_error", "cursor is not one this API gave", "cursor") from None


def _next_cursor(value) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


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
        discount = {"type": influencer.discount_kind, "value": f"{influencer.discount_value.normalize():f}",
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
            precedence = parse_precedence(",".join(body.precedence))
        except ConnectorError as exc:
            raise ApiError(422, "validation_error", str(exc), "precedence") from None
        window_changed = store.attribution_window_days != body.window_days
        store.attribution_model, store.attribution_window_days = body.model, body.window_days
        store.half_life_days, store.precedence = body.half_life_days, precedence
        if window_changed and store.platform == "shopify" and store.setup_at is not None:
            store.setup_pending = True  # the web pixel keeps touches for the window: update its settings
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
            if not cursor.isdigit() or int(cursor) > MAX_ID:
                raise ApiError(422, "validation_error", "cursor is not one this API gave", "cursor")
            query = query.where(Influencer.id > int(cursor))
        rows = list(session.scalars(query.order_by(Influencer.id).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return jsonify(influencers=[_influencer_out(store, i) for i in rows],
                       next_cursor=_next_cursor(rows[-1].id) if more else None)


@bp.put("/stores/<store_id>/influencers/<tracking_id>")
def put_influencer(store_id: str, tracking_id: str):
    with transaction(services().sessions) as session:
        store = _store(session, store_id)
        body = _body(InfluencerIn)
        influencer, outcome = _upsert(session, store, tracking_id, body)
        return jsonify(_influencer_out(store, influencer)), 201 if outcome == "created" else 200


@bp.post("/stores/<store_id>/influencers/batch")
def put_influencers(store_id: str):
    """Each influencer in its own savepoint: one bad entry is reported and the others go in."""
    with transaction(services().sessions) as session:
        store = _store(session, store_id)
        body = _body(InfluencerBatchIn)
        results = []
        for item in body.influencers:
            try:
                with session.begin_nested():
                    influencer, outcome = _upsert(session, store, item.tracking_id, item)
                results.append({"tracking_id": item.tracking_id, "outcome": outcome,
                                "influencer": _influencer_out(store, influencer)})
            except ApiError as exc:
                results.append({"tracking_id": item.tracking_id, "outcome": "error",
                                "error": {"code": exc.code, "message": exc.message, "field": exc.field}})
        return jsonify(results=results)


@bp.get("/stores/<store_id>/influencers/<tracking_id>")
def get_influencer(store_id: str, tracking_id: str):
    with services().sessions() as session:
        store = _store(session, store_id)
        return jsonify(_influencer_out(store, _influencer(session, store, tracking_id)))


@bp.delete("/stores/<store_id>/influencers/<tracking_id>")
def remove_influencer(store_id: str, tracking_id: str):
    with transaction(services().sessions) as session:
        store = _store(session, store_id)
        influencer = _influencer(session, store, tracking_id)
        campaigns.remove_influencer(session, store, influencer, utcnow())
        return jsonify(_influencer_out(store, influencer))


@bp.get("/stores/<store_id>/influencers/<tracking_id>/stats")
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
        query = query.where(Conversion.store_id == _store_id(request.args["store_id"]))
    if "tracking_id" in request.args:
        # Any conversion the influencer has a share of, not only those naming them as the winner.
        shared = select(ConversionCredit.conversion_id).where(
            ConversionCredit.tracking_key == match_key(request.args["tracking_id"][:100]))
        query = query.where(Conversion.id.in_(shared))
    for name, column in (("type", Conversion.type), ("status", Conversion.status)):
        if name in request.args:
            query = query.where(column == request.args[name][:40])
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
