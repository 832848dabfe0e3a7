"""/conversions and an order's attribution record: what the connector sent the backend, and why.

Read-only but for replay, which queues a conversion to be sent again (same id and body).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal

from flask import jsonify, request
from pydantic import BaseModel, Field
from sqlalchemy import select

from connector.core.attribution import match_key
from connector.core.payload import format_amount, format_share
from connector.db import transaction
from connector.delivery import outbox
from connector.models import (AttributionRecord, Conversion, ConversionCredit, DeliveryAttempt, Order,
                              StorefrontReport, utcnow)
from connector.web import services
from connector.web.api.blueprint import bp
from connector.web.api.describe import STORE_ID, TIME, error_responses, json_response, query_param
from connector.web.api.errors import ApiError
from connector.web.api.fields import MAX_ID, TRACKING_ID_PATTERN
from connector.web.api.formats import format_time
from connector.web.api.inputs import find_store, query_choice, time_arg, whole_number
from connector.web.api.paging import PAGE, cursor_after, page_cursor, page_limit
from connector.web.api.validation import PATTERN_MESSAGES

CONVERSION_TYPES = ("conversion.purchase", "conversion.lead", "conversion.refund", "conversion.cancellation")
CONVERSION_STATUSES = ("pending", "delivered", "failed")


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
    #: customer and renewal signals: the influencer's share of the earlier order they inherit from
    share: str | None = None
    status: str
    reason: str
    #: the order was credited by hand afterwards: what this signal decided no longer stands
    superseded: bool = False


class CreditOut(BaseModel):
    tracking_id: str
    share: str


class ReportOut(BaseModel):
    id: int
    status: str
    received_at: datetime
    touches: int
    note: str | None


class FirstOrderOut(BaseModel):
    #: true (new), false (returning), null (unknown)
    value: bool | None
    #: what said so: the platform, or the connector's own sightings of the customer's earlier orders
    source: str


class RenewalOut(BaseModel):
    #: what marked the order as a renewal (a tag, source_name, the renewal-order meta)
    marker: str
    #: credit or ignore: the store's setting when it was decided
    policy: str
    #: the order that started the subscription (platform id and name), and how it was found
    start: str | None
    start_name: str | None
    found_by: str | None
    #: why no credited start was found
    missing: str | None


class CustomerLinkOut(BaseModel):
    lifetime_days: int
    #: the customer's first credited order in the store, if any: its name, and its platform id
    first_credited_order: str | None
    first_credited_order_id: str | None = None
    #: customer_id or email_sha256
    found_by: str | None


class VisitOut(BaseModel):
    position: str
    at: str
    ref: str | None
    source: str | None
    utm: dict[str, str]


class JourneyOut(BaseModel):
    #: false when Shopify had not built the order's sessions yet
    ready: bool
    error: str | None
    visits: list[VisitOut]


class AdjustmentOut(BaseModel):
    #: the order state's update time, the commission base before and after, and the signed difference sent
    at: str
    #: "from" in the JSON
    from_: str = Field(alias="from")
    to: str
    amount: str
    #: set when the edit would have taken the order below what refunds already reversed
    floor: str | None = None


class SupersededOut(BaseModel):
    outcome: str | None
    method: str | None
    credits: list[CreditOut]
    decided_at: str | None


class ManualOut(BaseModel):
    #: backend (the API token) or merchant (the merchant page)
    by: str
    #: the merchant's staff user id (Shopify's session token `sub`), when the merchant did it
    user: str | None = None
    at: str
    #: erased with the customer's data on customers/redact
    note: str | None = None
    #: what the signals had decided before the credit by hand
    superseded: SupersededOut | None = None


class RecordDetails(BaseModel):
    first_order: FirstOrderOut | None = None
    renewal: RenewalOut | None = None
    customer: CustomerLinkOut | None = None
    journey: JourneyOut | None = None
    adjustments: list[AdjustmentOut] = []
    #: the order was credited by hand (method manual): who, when, the note
    manual: ManualOut | None = None


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
    #: what else the decision went by: new or returning, a renewal's start, a returning customer's first
    #: credited order, Shopify's visits, and the edits that adjusted the purchase since
    details: RecordDetails


def _conversion_out(conversion: Conversion) -> dict:
    body = json.loads(conversion.body)
    return {
        "id": conversion.id, "store_id": conversion.store_id, "type": conversion.type,
        "order_id": body["data"].get("order_id"), "tracking_id": conversion.tracking_id,
        "amount": format_amount(conversion.amount), "currency": conversion.currency,
        "reverses": conversion.reverses, "test": conversion.test, "created_at": format_time(conversion.created_at),
        "status": conversion.status, "attempts": conversion.attempts,
        "next_attempt_at": format_time(conversion.next_attempt_at) if conversion.status == "pending" else None,
        "delivered_at": format_time(conversion.delivered_at), "last_error": conversion.last_error, "payload": body,
    }


def _detail(session, conversion: Conversion) -> dict:
    attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.conversion_id == conversion.id)
                               .order_by(DeliveryAttempt.id))
    return {**_conversion_out(conversion), "delivery_attempts": [
        {"attempted_at": format_time(a.attempted_at), "status_code": a.status_code, "error": a.error,
         "duration_ms": a.duration_ms} for a in attempts]}


@bp.get("/conversions")
def list_conversions():
    limit, cursor = page_limit(), page_cursor()
    since, until = time_arg("since"), time_arg("until")
    query = select(Conversion)
    if "store_id" in request.args:
        store_id = whole_number(request.args["store_id"])
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
        value = query_choice(name, choices)
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
                       next_cursor=cursor_after(rows[-1].id) if more else None)


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
        store = find_store(session, store_id)
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
            decided_at=format_time(record.decided_at), outcome=record.outcome, method=record.method,
            credits=[{"tracking_id": c["tracking_id"], "share": format_share(Decimal(c["share"]))}
                     for c in record.credits],
            signals=record.signals,
            reports=[{"id": r.id, "status": r.status, "received_at": format_time(r.received_at),
                      "touches": len(r.touches or []), "note": r.note} for r in found],
            purchase_conversion_id=order.purchase_conversion_id,
            details=record.details or {},
        )


_common = error_responses(401)
CONVERSION_ID = {"name": "conversion_id", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": r"^cv_[0-9a-f]{28}$"}}
OPERATIONS = {
    "/stores/{store_id}/orders/{order_id}/attribution": {"get": {
        "operationId": "orderAttribution", "summary": "Every signal of an order, the winner, why the others lost",
        "parameters": [STORE_ID, {"name": "order_id", "in": "path", "required": True,
                                  "schema": {"type": "string", "pattern": r"^[0-9A-Za-z_-]{1,64}$"}}],
        "responses": {"200": json_response(AttributionRecordOut, "The attribution record"), **_common,
                      **error_responses(404)}}},
    "/conversions": {"get": {
        "operationId": "listConversions", "summary": "Conversions with their delivery state, newest first",
        "parameters": [query_param("store_id", STORE_ID["schema"]),
                       query_param("tracking_id", {"type": "string", "pattern": TRACKING_ID_PATTERN}),
                       query_param("type", {"type": "string", "enum": list(CONVERSION_TYPES)}),
                       query_param("status", {"type": "string", "enum": list(CONVERSION_STATUSES)}),
                       query_param("since", TIME), query_param("until", TIME), *PAGE],
        "responses": {"200": json_response(ConversionPage, "A page of conversions"), **_common,
                      **error_responses(422)}}},
    "/conversions/{conversion_id}": {"get": {
        "operationId": "getConversion", "parameters": [CONVERSION_ID],
        "responses": {"200": json_response(ConversionDetail, "The conversion and its delivery attempts"),
                      **_common, **error_responses(404)}}},
    "/conversions/{conversion_id}/replay": {"post": {
        "operationId": "replayConversion",
        "summary": "Send the conversion again (same id and body), e.g. after it was marked failed",
        "parameters": [CONVERSION_ID],
        "responses": {"202": json_response(ConversionDetail, "Queued for delivery"), **_common,
                      **error_responses(404)}}},
}
REQUESTS: list = []
RESPONSES = [ConversionPage, ConversionDetail, AttributionRecordOut]
