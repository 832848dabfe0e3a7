"""/stores/{store_id}/influencers: the influencers the backend registers, one by PUT or many in a batch.

Codes are never created here: a PUT records what is wanted and the worker makes it so in the store
(`promo_code.status` moves from pending to active or failed).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal, Union

from flask import jsonify
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connector.campaigns import influencers as registrations
from connector.campaigns.batch import register_batch
from connector.campaigns.influencers import Conflict, InfluencerSpec, InvalidField
from connector.campaigns.stats import influencer_stats
from connector.core.payload import format_amount
from connector.db import transaction
from connector.models import Influencer, Store, utcnow
from connector.web import services
from connector.web.api.blueprint import bp
from connector.web.api.describe import STORE_ID, TIME, error_responses, json_response, query_param, request_body
from connector.web.api.errors import ApiError, ErrorBody
from connector.web.api.fields import (CAMPAIGN_ID_PATTERN, MAX_ID, NOT_RESERVED, TRACKING_ID_PATTERN, Strict,
                                      whole)
from connector.web.api.formats import format_time
from connector.web.api.inputs import find_store, time_arg
from connector.web.api.paging import PAGE, by_id
from connector.web.api.validation import read_body, validation_error

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,49}$"
# Positive, at most two decimal places, no leading zeros: what campaigns.discount_terms takes. A
# percentage is at most 100, an amount below 1,000,000 (the bound there), so a value the document
# allows is never refused.
_CENTS = r"0\.([1-9][0-9]?|0[1-9])"
PERCENT_PATTERN = rf"^(100(\.00?)?|[1-9][0-9]?(\.[0-9]{{1,2}})?|{_CENTS})$"
AMOUNT_PATTERN = rf"^([1-9][0-9]{{0,5}}(\.[0-9]{{1,2}})?|{_CENTS})$"


# -- what the backend sends ------------------------------------------------------------------------------


class _DiscountTerms(Strict):
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = Field(default=None, description="after starts_at")
    usage_limit: whole(1, MAX_ID) | None = None
    once_per_customer: bool = False


class PercentageDiscountIn(_DiscountTerms):
    """Percent off: more than 0, at most 100."""

    type: Literal["percentage"]
    value: str = Field(pattern=PERCENT_PATTERN, description='decimal string, e.g. "15" or "12.5"')


class FixedAmountDiscountIn(_DiscountTerms):
    """An amount off the order, in the store's currency."""

    type: Literal["fixed_amount"]
    value: str = Field(pattern=AMOUNT_PATTERN, description='decimal string, e.g. "10" or "10.50"')


#: What the influencer's code gives the shopper; `type` says which (fields.DISCOUNT_TYPES).
DiscountIn = Annotated[Union[PercentageDiscountIn, FixedAmountDiscountIn], Field(discriminator="type")]


#: a discount is given by a code: with a discount, promo_code is required (and not null)
NEEDS_CODE = {"if": {"required": ["discount"], "properties": {"discount": {"type": "object"}}},
              "then": {"required": ["promo_code"], "properties": {"promo_code": {"type": "string"}}}}


class InfluencerIn(Strict):
    """PUT body: the influencer as the backend wants it. Missing fields are cleared (a PUT replaces)."""

    model_config = ConfigDict(json_schema_extra=NEEDS_CODE)

    campaign_id: str | None = Field(default=None, pattern=CAMPAIGN_ID_PATTERN)
    email: str | None = Field(default=None, max_length=320, description="kept only as a SHA-256 hash")
    promo_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    discount: DiscountIn | None = Field(default=None, description="needs promo_code; null: the code exists in "
                                                                  "the store already")
    customer_id: str | None = Field(default=None, max_length=64, pattern=r"^[0-9A-Za-z_-]{1,64}$")


class InfluencerBatchItem(InfluencerIn):
    tracking_id: str = Field(pattern=TRACKING_ID_PATTERN, json_schema_extra=NOT_RESERVED)


class InfluencerBatchIn(Strict):
    """Each entry is validated and stored on its own: a bad one is reported in its result, the others stored."""

    influencers: list[InfluencerBatchItem] = Field(min_length=1, max_length=1000)


class BatchEnvelope(Strict):
    """What the batch endpoint checks of the whole body before looking at the entries one by one."""

    influencers: list[object] = Field(min_length=1, max_length=1000)


# -- what it gets back -----------------------------------------------------------------------------------


class DiscountOut(BaseModel):
    type: str
    value: str
    starts_at: datetime | None
    ends_at: datetime | None
    usage_limit: int | None
    once_per_customer: bool


class CodeOut(BaseModel):
    #: none, existing, pending, active, failed, removing, removed
    status: str
    #: the code live in the store (the collision policy may have changed what was asked for)
    code: str | None
    requested: str | None
    error: str | None
    synced_at: datetime | None


class InfluencerOut(BaseModel):
    store_id: int
    tracking_id: str
    campaign_id: str | None
    has_email: bool
    customer_id: str | None
    promo_code: CodeOut
    discount: DiscountOut | None
    active: bool
    removed_at: datetime | None
    tracking_url: str
    created_at: datetime
    updated_at: datetime | None


class InfluencerPage(BaseModel):
    influencers: list[InfluencerOut]
    next_cursor: str | None


class BatchResult(BaseModel):
    #: null when the entry had no tracking_id string
    tracking_id: str | None
    #: created, updated, unchanged, or error
    outcome: str
    influencer: InfluencerOut | None = None
    error: ErrorBody | None = None


class BatchOut(BaseModel):
    results: list[BatchResult]


class RevenueOut(BaseModel):
    currency: str
    #: the commission base credited (shares applied), less refunds and cancellations
    amount: str


class StatsOut(BaseModel):
    tracking_id: str
    since: datetime | None
    until: datetime | None
    clicks: int
    orders: int
    leads: int
    revenue: list[RevenueOut]
    #: orders / clicks as a decimal string; null when there were no clicks
    conversion_rate: str | None
    promo_code_uses: int


# -- the routes ------------------------------------------------------------------------------------------


def _influencer(session, store: Store, tracking_id: str) -> Influencer:
    # Looked up by any name up to the column's size: influencers added by hand (CLI) may not match the pattern.
    found = registrations.find_influencer(session, store, tracking_id) if len(tracking_id) <= 100 else None
    if found is None:
        raise ApiError(404, "not_found", f"no influencer {tracking_id!r} in this store")
    return found


def _influencer_out(store: Store, influencer, public_url: str | None = None) -> dict:
    """The influencer as the API shows it (the model, or a batch's row: campaigns.batch.Draft). A batch passes
    the public URL once rather than looking it up for each of its entries."""
    discount = None
    if influencer.discount_kind is not None:
        value = influencer.discount_value
        # An amount as money ("10.50", as sent), a percentage as the number it is ("15", "12.5")
        shown = format_amount(value) if influencer.discount_kind == "fixed_amount" else f"{value.normalize():f}"
        discount = {"type": influencer.discount_kind, "value": shown,
                    "starts_at": format_time(influencer.discount_starts_at),
                    "ends_at": format_time(influencer.discount_ends_at),
                    "usage_limit": influencer.usage_limit, "once_per_customer": influencer.once_per_customer}
    return {
        "store_id": store.id, "tracking_id": influencer.tracking_id, "campaign_id": influencer.campaign_id,
        "has_email": influencer.email_sha256 is not None, "customer_id": influencer.customer_id,
        "promo_code": {"status": influencer.code_status, "code": influencer.promo_code,
                       "requested": influencer.requested_code, "error": influencer.code_error,
                       "synced_at": format_time(influencer.code_synced_at)},
        "discount": discount, "active": influencer.active, "removed_at": format_time(influencer.removed_at),
        "tracking_url": f"{public_url or services().settings.public_url}/t/{influencer.tracking_id}?s={store.id}",
        "created_at": format_time(influencer.created_at), "updated_at": format_time(influencer.updated_at),
    }


@lru_cache(maxsize=1024)
def _terms(kind: str, value: str, starts_at, ends_at, usage_limit, once_per_customer: bool):
    """discount_terms, remembered (a pure function of these): a batch's entries mostly share their terms."""
    return registrations.discount_terms(kind, value, starts_at=starts_at, ends_at=ends_at, usage_limit=usage_limit,
                                        once_per_customer=once_per_customer)


def _spec(tracking_id: str, body: InfluencerIn) -> InfluencerSpec:
    d = body.discount
    terms = None if d is None else _terms(d.type, d.value, d.starts_at, d.ends_at, d.usage_limit, d.once_per_customer)
    return InfluencerSpec(tracking_id=tracking_id, campaign_id=body.campaign_id, email=body.email,
                          promo_code=body.promo_code, discount=terms, customer_id=body.customer_id)


def _refusal(exc: Exception) -> ApiError:
    """What registering an influencer refused, as the API says it."""
    if isinstance(exc, InvalidField):
        return ApiError(422, "validation_error", str(exc), exc.field)
    if isinstance(exc, Conflict):
        return ApiError(409, "conflict", str(exc), exc.field)
    if isinstance(exc, IntegrityError):
        # Two requests made the same tracking id or code at the same moment: the database kept one.
        return ApiError(409, "conflict", "another request changed this influencer or its code at the same moment; "
                                         "send it again")
    raise exc


def _upsert(session, store: Store, tracking_id: str, body: InfluencerIn):
    try:
        return registrations.upsert_influencer(session, store, _spec(tracking_id, body), utcnow())
    except (InvalidField, Conflict, IntegrityError) as exc:
        raise _refusal(exc) from None


@bp.get("/stores/<store_id>/influencers")
def list_influencers(store_id: str):
    with services().sessions() as session:
        store = find_store(session, store_id)
        rows, next_cursor = by_id(session, select(Influencer).where(Influencer.store_id == store.id), Influencer.id)
        return jsonify(influencers=[_influencer_out(store, i) for i in rows], next_cursor=next_cursor)


@bp.put("/stores/<store_id>/influencers/<tracking_id:tracking_id>")
def put_influencer(store_id: str, tracking_id: str):
    with transaction(services().sessions) as session:
        store = find_store(session, store_id)
        body = read_body(InfluencerIn)
        influencer, outcome = _upsert(session, store, tracking_id, body)
        return jsonify(_influencer_out(store, influencer)), 201 if outcome == "created" else 200


def _batch_item(entry) -> InfluencerBatchItem:
    """One entry, validated on its own (JSON again, so its times are read as in a PUT body)."""
    if not isinstance(entry, dict):
        raise ApiError(422, "validation_error", "an entry is a JSON object", None)
    try:
        return InfluencerBatchItem.model_validate_json(json.dumps(entry))
    except ValidationError as exc:
        raise validation_error(exc) from None


@bp.post("/stores/<store_id>/influencers/batch")
def put_influencers(store_id: str):
    """Each influencer validated and stored as a PUT would: one bad entry is reported, the others go in.

    Only the envelope ({"influencers": [...]}, 1 to 1,000 entries) fails the whole request. The entries that
    pass the checks here are registered together, in a few statements (campaigns.batch).
    """
    with transaction(services().sessions) as session:
        store = find_store(session, store_id)
        body = read_body(BatchEnvelope)
        results, specs, places = [], [], []
        for entry in body.influencers:
            named = entry.get("tracking_id") if isinstance(entry, dict) else None
            tracking_id = named if isinstance(named, str) else None
            try:
                item = _batch_item(entry)
                specs.append(_spec(item.tracking_id, item))
                places.append(len(results))
                results.append({"tracking_id": tracking_id})
            except InvalidField as exc:
                results.append({"tracking_id": tracking_id, "outcome": "error", "error": _refusal(exc).body()})
            except ApiError as exc:
                results.append({"tracking_id": tracking_id, "outcome": "error", "error": exc.body()})
        public_url = services().settings.public_url
        for place, registered in zip(places, register_batch(session, store, specs, utcnow())):
            if registered.error is not None:
                results[place].update(outcome="error", error=_refusal(registered.error).body())
            else:
                results[place].update(outcome=registered.outcome,
                                      influencer=_influencer_out(store, registered.influencer, public_url))
        return jsonify(results=results)


@bp.get("/stores/<store_id>/influencers/<tracking_id:tracking_id>")
def get_influencer(store_id: str, tracking_id: str):
    with services().sessions() as session:
        store = find_store(session, store_id)
        return jsonify(_influencer_out(store, _influencer(session, store, tracking_id)))


@bp.delete("/stores/<store_id>/influencers/<tracking_id:tracking_id>")
def remove_influencer(store_id: str, tracking_id: str):
    with transaction(services().sessions) as session:
        store = find_store(session, store_id)
        influencer = _influencer(session, store, tracking_id)
        registrations.remove_influencer(session, store, influencer, utcnow())
        return jsonify(_influencer_out(store, influencer))


@bp.get("/stores/<store_id>/influencers/<tracking_id:tracking_id>/stats")
def stats(store_id: str, tracking_id: str):
    since, until = time_arg("since"), time_arg("until")
    with services().sessions() as session:
        store = find_store(session, store_id)
        influencer = _influencer(session, store, tracking_id)
        figures = influencer_stats(session, store.id, influencer.tracking_key, since, until)
        rate = figures.conversion_rate
        return jsonify(tracking_id=influencer.tracking_id, since=format_time(since), until=format_time(until),
                       clicks=figures.clicks, orders=figures.orders, leads=figures.leads,
                       revenue=[{"currency": c, "amount": format_amount(a)}
                                for c, a in sorted(figures.revenue.items())],
                       conversion_rate=f"{rate:f}" if rate is not None else None,
                       promo_code_uses=figures.promo_code_uses)


# -- in the document -------------------------------------------------------------------------------------


TRACKING = {"name": "tracking_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": TRACKING_ID_PATTERN, **NOT_RESERVED}}
_common = error_responses(401)
OPERATIONS = {
    "/stores/{store_id}/influencers": {"get": {
        "operationId": "listInfluencers", "parameters": [STORE_ID, *PAGE],
        "responses": {"200": json_response(InfluencerPage, "A page of influencers"), **_common,
                      **error_responses(404, 422)}}},
    "/stores/{store_id}/influencers/batch": {"post": {
        "operationId": "putInfluencers", "summary": "Create or update up to 1,000 influencers (each like PUT)",
        "parameters": [STORE_ID], "requestBody": request_body(InfluencerBatchIn),
        "responses": {"200": json_response(BatchOut, "One result per influencer, in order"), **_common,
                      **error_responses(400, 404, 413, 422)}}},
    "/stores/{store_id}/influencers/{tracking_id}": {
        "get": {"operationId": "getInfluencer", "parameters": [STORE_ID, TRACKING],
                "responses": {"200": json_response(InfluencerOut, "The influencer"), **_common,
                              **error_responses(404)}},
        "put": {"operationId": "putInfluencer",
                "summary": "Create or update an influencer (idempotent); a new code is created in the store "
                           "by the worker: promo_code.status is pending until then",
                "parameters": [STORE_ID, TRACKING], "requestBody": request_body(InfluencerIn),
                "responses": {"200": json_response(InfluencerOut, "Updated or unchanged"),
                              "201": json_response(InfluencerOut, "Created"), **_common,
                              **error_responses(400, 404, 409, 422)}},
        "delete": {"operationId": "removeInfluencer",
                   "summary": "Stop crediting the influencer; their code is deactivated in the store; history kept",
                   "parameters": [STORE_ID, TRACKING],
                   "responses": {"200": json_response(InfluencerOut, "Removed"), **_common,
                                 **error_responses(404)}}},
    "/stores/{store_id}/influencers/{tracking_id}/stats": {"get": {
        "operationId": "influencerStats",
        "parameters": [STORE_ID, TRACKING, query_param("since", TIME), query_param("until", TIME)],
        "responses": {"200": json_response(StatsOut, "Clicks, orders, revenue, conversion rate, code uses"),
                      **_common, **error_responses(404, 422)}}},
}
REQUESTS = [InfluencerIn, InfluencerBatchIn]
RESPONSES = [InfluencerPage, InfluencerOut, BatchOut, StatsOut]
