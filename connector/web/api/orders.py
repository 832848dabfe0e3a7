"""/stores/{store_id}/orders/{order_id}/credit: the backend credits by hand an order no signal credited.

The order must be one the connector has seen (its own event gives the amount and lines). The credit is a
`conversion.purchase` with `method` "manual", sent like any other, and its refunds, edits and cancellation are
reversed like any other purchase's. An order already credited is refused (409) with what credited it, never
overwritten: the same PUT sent twice gets 409 and the id of the purchase the first one made.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import jsonify
from pydantic import BaseModel, Field

from connector.core import manual
from connector.core.manual import Asked, Refused
from connector.core.payload import format_amount
from connector.crediting.manual import credit_by_hand
from connector.db import transaction
from connector.models import utcnow
from connector.web import services
from connector.web.api.blueprint import bp
from connector.web.api.describe import STORE_ID, error_responses, json_response, ref, request_body
from connector.web.api.errors import ApiError, ErrorBody
from connector.web.api.fields import TRACKING_ID_PATTERN, Strict
from connector.web.api.formats import format_time
from connector.web.api.inputs import find_store
from connector.web.api.validation import read_body

ORDER_ID = {"name": "order_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": r"^[0-9A-Za-z_-]{1,64}$"}}


class ManualShareIn(Strict):
    tracking_id: str = Field(pattern=TRACKING_ID_PATTERN, description="an active influencer of the store")
    #: a decimal string with at most four places; every credit has one, or none has (equal shares)
    share: str | None = Field(default=None, pattern=manual.SHARE_PATTERN,
                              description='more than 0, at most 1, four places at most (e.g. "0.5"); the shares add '
                                          "up to exactly 1. Leave every share out for equal shares.")


class ManualCreditIn(Strict):
    credits: list[ManualShareIn] = Field(min_length=1, max_length=manual.MAX_CREDITS,
                                         description="each influencer once (tracking ids match case-insensitively)")
    note: str | None = Field(default=None, max_length=manual.MAX_NOTE, pattern=manual.NOTE_PATTERN,
                             description="why it was credited by hand, kept in the order's attribution record")


class ShareOut(BaseModel):
    tracking_id: str
    share: str


class ReversalOut(BaseModel):
    conversion_id: str
    type: str
    amount: str


class ManualOut(BaseModel):
    #: backend (this API) or merchant (the merchant app)
    by: str
    #: the merchant's staff member (Shopify's user id) when the merchant app credited it
    user: str | None
    at: datetime
    note: str | None


class ManualCreditOut(BaseModel):
    conversion_id: str
    store_id: int
    order_id: str
    type: str
    #: always "manual"
    method: str
    amount: str
    currency: str
    tracking_id: str
    credits: list[ShareOut]
    #: pending: queued for the backend, like any conversion
    status: str
    created_at: datetime
    #: refunds that came before the credit, reversed with it
    reversals: list[ReversalOut]
    #: the order's last event lists refunds: it is handled again by the worker, which reverses them exactly
    refunds_queued: bool
    manual: ManualOut
    #: the exact body the backend will receive
    payload: dict


class RefusalBody(ErrorBody):
    """A refusal of the credit by hand (409; a 404 or 422 of it carries `reason` too)."""

    #: already_credited, cancelled, test_order, unpaid, no_order_event, store_not_active, unknown_order,
    #: unknown_influencer, inactive_influencer, duplicate_influencer, bad_credits, bad_share, shares_not_one, bad_note
    reason: str
    #: already_credited: the purchase that credited the order (the first PUT's, when the same PUT comes twice)
    conversion_id: str | None = None


class Refusal(BaseModel):
    error: RefusalBody


class RefusedCredit(ApiError):
    """A refusal of the credit by hand: the API's error with its reason (and the existing purchase's id)."""

    def __init__(self, refused: Refused):
        status, code = (404, "not_found") if refused.reason == manual.UNKNOWN_ORDER else \
            (409, "conflict") if refused.reason in manual.ORDER_STATES else (422, "validation_error")
        super().__init__(status, code, refused.message, refused.field)
        self.reason, self.conversion_id = refused.reason, refused.conversion_id

    def body(self) -> dict:
        return {**super().body(), "reason": self.reason, "conversion_id": self.conversion_id}


def _out(store_id: int, order_id: str, credited) -> dict:
    purchase = credited.purchase
    payload = json.loads(purchase.body)
    data = payload["data"]
    return {
        "conversion_id": purchase.id, "store_id": store_id, "order_id": order_id, "type": purchase.type,
        "method": data["method"], "amount": format_amount(purchase.amount), "currency": purchase.currency,
        "tracking_id": purchase.tracking_id, "credits": data["credits"], "status": purchase.status,
        "created_at": format_time(purchase.created_at),
        "reversals": [{"conversion_id": r.id, "type": r.type, "amount": format_amount(r.amount)}
                      for r in credited.reversals],
        "refunds_queued": credited.refunds_queued,
        "manual": {key: credited.manual[key] for key in ("by", "user", "at", "note")},
        "payload": payload,
    }


@bp.put("/stores/<store_id>/orders/<order_id>/credit")
def credit_order(store_id: str, order_id: str):
    with transaction(services().sessions) as session:
        store = find_store(session, store_id)
        body = read_body(ManualCreditIn)
        asked = Asked(tuple((c.tracking_id, c.share) for c in body.credits), manual.BY_BACKEND, None, body.note)
        try:
            credited = credit_by_hand(session, store, order_id, asked, utcnow())
        except Refused as refused:
            raise RefusedCredit(refused) from None
        return jsonify(_out(store.id, order_id, credited)), 201


def _refusal(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref(Refusal)}}}


OPERATIONS = {
    "/stores/{store_id}/orders/{order_id}/credit": {"put": {
        "operationId": "creditOrder",
        "summary": "Credit by hand an order the connector saw and no signal credited",
        "description": (
            "The order's amount and lines are those of its last event the connector handled. The purchase is "
            "`conversion.purchase` with `method` `manual`, sent to the backend like any other; refunds that came "
            "before it are reversed with it, and its later refunds, edits and cancellation like any purchase's. "
            "The attribution record keeps what the signals had decided (marked superseded) and says who credited "
            "the order, when, and the note (`details.manual`). Checked in this order: the store (404), the body "
            "(422), the order (404 when never seen), its state (409: already credited, with `conversion_id`; "
            "cancelled; a test order the store does not credit; not paid while the store credits paid orders; its "
            "event no longer kept), then the credits (422: each an active influencer of the store, once; shares "
            "all given and adding up to exactly 1, or none for equal shares). Idempotent: the same PUT sent again "
            "answers 409 `already_credited` with the `conversion_id` of the purchase the first one made, and "
            "writes nothing."),
        "parameters": [STORE_ID, ORDER_ID], "requestBody": request_body(ManualCreditIn),
        "responses": {"201": json_response(ManualCreditOut, "Credited: the purchase made"),
                      "409": _refusal("The order's state does not allow it; `reason` says which"),
                      **error_responses(401)}}},
}
REQUESTS = [ManualCreditIn]
RESPONSES = [ManualCreditOut, Refusal]
