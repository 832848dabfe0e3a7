"""The /api/v1 request and response shapes (pydantic), and the OpenAPI document built from them.

The same models validate requests and describe them, so the document cannot drift from the code;
schemathesis runs against it in the tests.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.json_schema import models_json_schema

MAX_ID = 2_147_483_647  # store ids are 32-bit integers on every database
TRACKING_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
#: "batch" is no tracking id, in any case (ids match case-insensitively): /influencers/batch is the batch
#: endpoint (campaigns.RESERVED_TRACKING_IDS)
NOT_RESERVED = {"not": {"pattern": "^[Bb][Aa][Tt][Cc][Hh]$"}}
CAMPAIGN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,49}$"
# Positive, at most two decimal places, no leading zeros: what campaigns.discount_terms takes. A
# percentage is at most 100, an amount below 1,000,000 (the bound there), so a value the document
# allows is never refused.
_CENTS = r"0\.([1-9][0-9]?|0[1-9])"
PERCENT_PATTERN = rf"^(100(\.00?)?|[1-9][0-9]?(\.[0-9]{{1,2}})?|{_CENTS})$"
AMOUNT_PATTERN = rf"^([1-9][0-9]{{0,5}}(\.[0-9]{{1,2}})?|{_CENTS})$"
#: free text stored as is: no control characters (PostgreSQL cannot store NUL in text at all)
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"


def _integral(value):
    """58.0 is the integer 58 to JSON Schema (and to some JSON encoders): take it as one; 58.5 stays refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def whole(low: int, high: int):
    """An integer as JSON Schema means it (58 or 58.0, never "58" or true) from low to high.

    The bounds come before the validator: after it, pydantic writes them into the document as "ge"/"le".
    """
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_integral)]


class Strict(BaseModel):
    # strict: JSON numbers are not times (pydantic would read 0 as 1970-01-01), strings not numbers
    model_config = ConfigDict(extra="forbid", strict=True)


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


#: What the influencer's code gives the shopper; `type` says which.
DiscountIn = Annotated[Union[PercentageDiscountIn, FixedAmountDiscountIn], Field(discriminator="type")]
DISCOUNT_TYPES = ("percentage", "fixed_amount")


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


class CampaignIn(Strict):
    name: str | None = Field(default=None, max_length=200, pattern=TEXT_PATTERN)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = Field(default=None, description="after starts_at")


class AttributionIn(Strict):
    model: Literal["last_click", "first_click", "linear", "time_decay"] = "last_click"
    window_days: whole(1, 365) = 30
    half_life_days: whole(1, 365) = 7
    #: strongest first: which kind of signal wins when an order carries several (code-vs-link precedence)
    precedence: list[Literal["promo_code", "click", "landing_page"]] = Field(
        default=["promo_code", "click", "landing_page"], min_length=1, max_length=3,
        json_schema_extra={"uniqueItems": True})


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class Error(BaseModel):
    error: ErrorBody


class AttributionOut(BaseModel):
    model: str
    window_days: int
    half_life_days: int
    precedence: list[str]


class StoreOut(BaseModel):
    id: int
    platform: str
    domain: str
    status: str
    status_reason: str | None
    installed_at: datetime | None
    storefront_url: str | None
    currency: str | None
    attribution: AttributionOut
    #: the one line a WooCommerce merchant adds to the theme (null for Shopify: its web pixel is automatic)
    storefront_script: str | None


class StoreList(BaseModel):
    stores: list[StoreOut]


class CampaignOut(BaseModel):
    campaign_id: str
    name: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime
    updated_at: datetime | None


class CampaignList(BaseModel):
    campaigns: list[CampaignOut]


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


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class ConversionOut(BaseModel):
    id: str
    store_id: int
    type: str
    order_id: str | None
    tracking_id: str | None
    amount: str
    currency: str
    reverses: str | None
    test: bool
    created_at: datetime
    #: pending, delivered, failed
    status: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    #: the exact body sent to the backend
    payload: dict


class ConversionDetail(ConversionOut):
    delivery_attempts: list[AttemptOut]


class ConversionPage(BaseModel):
    conversions: list[ConversionOut]
    next_cursor: str | None


class SignalOut(BaseModel):
    kind: str
    source: str
    #: null once a self-referral's details were erased (customers/redact)
    value: str | None
    tracking_id: str | None
    click_id: str | None = None
    at: str | None = None
    status: str
    reason: str


class CreditOut(BaseModel):
    tracking_id: str
    share: str


class ReportOut(BaseModel):
    id: int
    status: str
    received_at: datetime
    touches: int
    note: str | None


class AttributionRecordOut(BaseModel):
    store_id: int
    order_id: str
    order_name: str | None
    decided_at: datetime
    #: credit, wait, awaiting_report, test_order, cancelled, no_signal, no_eligible_signal, ...
    outcome: str
    method: str | None
    credits: list[CreditOut]
    signals: list[SignalOut]
    reports: list[ReportOut]
    purchase_conversion_id: str | None


RESPONSES = [StoreList, StoreOut, CampaignList, CampaignOut, InfluencerPage, InfluencerOut, BatchOut, StatsOut,
             ConversionPage, ConversionDetail, AttributionRecordOut, Error]
REQUESTS = [InfluencerIn, InfluencerBatchIn, CampaignIn, AttributionIn]


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*statuses: int) -> dict:
    words = {400: "Malformed request", 401: "Missing or wrong bearer token", 404: "Not found",
             409: "Conflicts with what the store holds", 413: "Body too large", 422: "A field is not valid"}
    return {str(s): _json(Error, words[s]) for s in statuses}


STORE_ID = {"name": "store_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
TRACKING = {"name": "tracking_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": TRACKING_ID_PATTERN, **NOT_RESERVED}}


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


TIME = {"type": "string", "format": "date-time"}
PAGE = [_query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size (default 100)"),
        _query("cursor", {"type": "string", "maxLength": 200}, "next_cursor of the previous page")]


def _body(model: type[BaseModel]) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}


def _paths() -> dict:
    """Every operation, with the errors any of them may answer added by _every_error."""
    return _every_error(_operations())


def _every_error(paths: dict) -> dict:
    """Errors that do not depend on the operation: an unknown query parameter (422) anywhere, an unknown
    or NUL-holding path parameter (404), and for a body, malformed JSON (400) and a body over the limit (413)."""
    for operations in paths.values():
        for operation in operations.values():
            extra = [422]
            if operation.get("parameters") and any(p["in"] == "path" for p in operation["parameters"]):
                extra.append(404)
            if "requestBody" in operation:
                extra += [400, 413]
            operation["responses"] = {**operation["responses"], **_errors(*extra)}
    return paths


def _operations() -> dict:
    common = _errors(401)
    return {
        "/stores": {"get": {"operationId": "listStores", "summary": "Installed stores and their state",
                            "responses": {"200": _json(StoreList, "The stores"), **common}}},
        "/stores/{store_id}": {"get": {
            "operationId": "getStore", "parameters": [STORE_ID],
            "responses": {"200": _json(StoreOut, "The store"), **common, **_errors(404)}}},
        "/stores/{store_id}/attribution": {"put": {
            "operationId": "setAttribution", "summary": "The store's attribution model, window and precedence",
            "parameters": [STORE_ID], "requestBody": _body(AttributionIn),
            "responses": {"200": _json(StoreOut, "The store"), **common, **_errors(400, 404, 422)}}},
        "/stores/{store_id}/campaigns": {"get": {
            "operationId": "listCampaigns", "parameters": [STORE_ID],
            "responses": {"200": _json(CampaignList, "The campaigns"), **common, **_errors(404)}}},
        "/stores/{store_id}/campaigns/{campaign_id}": {"put": {
            "operationId": "putCampaign", "summary": "Create or update a campaign (idempotent)",
            "parameters": [STORE_ID, {"name": "campaign_id", "in": "path", "required": True,
                                      "schema": {"type": "string", "pattern": CAMPAIGN_ID_PATTERN}}],
            "requestBody": _body(CampaignIn),
            "responses": {"200": _json(CampaignOut, "Updated or unchanged"), "201": _json(CampaignOut, "Created"),
                          **common, **_errors(400, 404, 422)}}},
        "/stores/{store_id}/influencers": {"get": {
            "operationId": "listInfluencers", "parameters": [STORE_ID, *PAGE],
            "responses": {"200": _json(InfluencerPage, "A page of influencers"), **common, **_errors(404, 422)}}},
        "/stores/{store_id}/influencers/batch": {"post": {
            "operationId": "putInfluencers", "summary": "Create or update up to 1,000 influencers (each like PUT)",
            "parameters": [STORE_ID], "requestBody": _body(InfluencerBatchIn),
            "responses": {"200": _json(BatchOut, "One result per influencer, in order"), **common,
                          **_errors(400, 404, 413, 422)}}},
        "/stores/{store_id}/influencers/{tracking_id}": {
            "get": {"operationId": "getInfluencer", "parameters": [STORE_ID, TRACKING],
                    "responses": {"200": _json(InfluencerOut, "The influencer"), **common, **_errors(404)}},
            "put": {"operationId": "putInfluencer",
                    "summary": "Create or update an influencer (idempotent); a new code is created in the store "
                               "by the worker: promo_code.status is pending until then",
                    "parameters": [STORE_ID, TRACKING], "requestBody": _body(InfluencerIn),
                    "responses": {"200": _json(InfluencerOut, "Updated or unchanged"),
                                  "201": _json(InfluencerOut, "Created"), **common,
                                  **_errors(400, 404, 409, 422)}},
            "delete": {"operationId": "removeInfluencer",
                       "summary": "Stop crediting the influencer; their code is deactivated in the store; history kept",
                       "parameters": [STORE_ID, TRACKING],
                       "responses": {"200": _json(InfluencerOut, "Removed"), **common, **_errors(404)}}},
        "/stores/{store_id}/influencers/{tracking_id}/stats": {"get": {
            "operationId": "influencerStats", "parameters": [STORE_ID, TRACKING, _query("since", TIME),
                                                             _query("until", TIME)],
            "responses": {"200": _json(StatsOut, "Clicks, orders, revenue, conversion rate, code uses"), **common,
                          **_errors(404, 422)}}},
        "/stores/{store_id}/orders/{order_id}/attribution": {"get": {
            "operationId": "orderAttribution", "summary": "Every signal of an order, the winner, why the others lost",
            "parameters": [STORE_ID, {"name": "order_id", "in": "path", "required": True,
                                      "schema": {"type": "string", "pattern": r"^[0-9A-Za-z_-]{1,64}$"}}],
            "responses": {"200": _json(AttributionRecordOut, "The attribution record"), **common,
                          **_errors(404)}}},
        "/conversions": {"get": {
            "operationId": "listConversions", "summary": "Conversions with their delivery state, newest first",
            "parameters": [_query("store_id", STORE_ID["schema"]),
                           _query("tracking_id", {"type": "string", "pattern": TRACKING_ID_PATTERN}),
                           _query("type", {"type": "string", "enum": ["conversion.purchase", "conversion.lead",
                                                                      "conversion.refund",
                                                                      "conversion.cancellation"]}),
                           _query("status", {"type": "string", "enum": ["pending", "delivered", "failed"]}),
                           _query("since", TIME), _query("until", TIME), *PAGE],
            "responses": {"200": _json(ConversionPage, "A page of conversions"), **common, **_errors(422)}}},
        "/conversions/{conversion_id}": {"get": {
            "operationId": "getConversion",
            "parameters": [{"name": "conversion_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": r"^cv_[0-9a-f]{28}$"}}],
            "responses": {"200": _json(ConversionDetail, "The conversion and its delivery attempts"), **common,
                          **_errors(404)}}},
        "/conversions/{conversion_id}/replay": {"post": {
            "operationId": "replayConversion",
            "summary": "Send the conversion again (same id and body), e.g. after it was marked failed",
            "parameters": [{"name": "conversion_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": r"^cv_[0-9a-f]{28}$"}}],
            "responses": {"202": _json(ConversionDetail, "Queued for delivery"), **common, **_errors(404)}}},
    }


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    """OpenAPI 3.1 for /api/v1; the components are the pydantic models' own JSON schemas."""
    _, definitions = models_json_schema(
        [(m, "validation") for m in REQUESTS] + [(m, "serialization") for m in RESPONSES],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Influencer connector API", "version": "1.0.0",
                 "description": "For the tracking backend: stores, campaigns, influencers and their promo codes, "
                                "conversions and their delivery, attribution records and stats. Every call but "
                                "this document needs `Authorization: Bearer <CONNECTOR_API_TOKEN>`. Errors are "
                                "`{\"error\": {\"code\", \"message\", \"field\"}}`; `field` names what "
                                "was not valid (e.g. `discount.value`). Unknown body fields and query "
                                "parameters are refused (422) rather than ignored."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {"schemas": definitions["$defs"],
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
