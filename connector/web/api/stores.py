"""/stores: the installed stores, their state, and the attribution settings the backend chooses for each."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import jsonify
from pydantic import BaseModel, Field
from sqlalchemy import select

from connector.campaigns import influencers as registrations
from connector.core.attribution import SIGNAL_KINDS
from connector.db import transaction
from connector.errors import ConnectorError
from connector.models import Store
from connector.web import services
from connector.web.api.blueprint import bp
from connector.web.api.describe import STORE_ID, error_responses, json_response, request_body
from connector.web.api.errors import ApiError
from connector.web.api.fields import Strict, whole
from connector.web.api.formats import format_time
from connector.web.api.inputs import find_store
from connector.web.api.paging import PAGE, by_id
from connector.web.api.validation import read_body
from connector.web.app.snippet import snippet


class AttributionIn(Strict):
    model: Literal["last_click", "first_click", "linear", "time_decay"] = "last_click"
    window_days: whole(1, 365) = 30
    half_life_days: whole(1, 365) = 7
    #: strongest first: which kind of signal wins when an order carries several (code-vs-link precedence)
    precedence: list[Literal["renewal", "promo_code", "click", "landing_page", "customer"]] = Field(
        default=list(SIGNAL_KINDS), min_length=1, max_length=len(SIGNAL_KINDS),
        json_schema_extra={"uniqueItems": True})
    #: a returning customer's orders go to the influencers of their first credited order for this many days (0: off)
    lifetime_days: whole(0, 3650) = 0
    #: subscription renewals: credited to the influencers of the order that started the subscription, or ignored
    renewals: Literal["credit", "ignore"] = "credit"


class AttributionOut(BaseModel):
    model: str
    window_days: int
    half_life_days: int
    precedence: list[str]
    lifetime_days: int
    renewals: str


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
    next_cursor: str | None


def store_out(store: Store) -> dict:
    return {
        "id": store.id, "platform": store.platform, "domain": store.domain, "status": store.status,
        "status_reason": store.status_reason, "installed_at": format_time(store.installed_at),
        "storefront_url": store.storefront_url, "currency": store.currency,
        "attribution": {"model": store.attribution_model, "window_days": store.attribution_window_days,
                        "half_life_days": store.half_life_days, "precedence": store.precedence.split(","),
                        "lifetime_days": store.lifetime_days, "renewals": store.renewals},
        "storefront_script": snippet(services().settings, store) if store.platform == "woocommerce" else None,
    }


@bp.get("/stores")
def list_stores():
    with services().sessions() as session:
        stores, next_cursor = by_id(session, select(Store), Store.id)
        return jsonify(stores=[store_out(s) for s in stores], next_cursor=next_cursor)


@bp.get("/stores/<store_id>")
def get_store(store_id: str):
    with services().sessions() as session:
        return jsonify(store_out(find_store(session, store_id)))


@bp.put("/stores/<store_id>/attribution")
def set_attribution(store_id: str):
    with transaction(services().sessions) as session:
        store = find_store(session, store_id)
        body = read_body(AttributionIn)
        try:
            registrations.set_attribution(store, model=body.model, window_days=body.window_days,
                                          half_life_days=body.half_life_days, precedence=",".join(body.precedence),
                                          lifetime_days=body.lifetime_days, renewals=body.renewals)
        except ConnectorError as exc:
            raise ApiError(422, "validation_error", str(exc), getattr(exc, "field", "precedence")) from None
        return jsonify(StoreOut.model_validate(store_out(store)).model_dump(mode="json"))


_common = error_responses(401)
OPERATIONS = {
    "/stores": {"get": {"operationId": "listStores", "summary": "Installed stores and their state, a page at a time",
                        "parameters": PAGE,
                        "responses": {"200": json_response(StoreList, "The stores"), **_common,
                                      **error_responses(422)}}},
    "/stores/{store_id}": {"get": {
        "operationId": "getStore", "parameters": [STORE_ID],
        "responses": {"200": json_response(StoreOut, "The store"), **_common, **error_responses(404)}}},
    "/stores/{store_id}/attribution": {"put": {
        "operationId": "setAttribution", "summary": "The store's attribution model, window, precedence, customer lifetime and renewals",
        "parameters": [STORE_ID], "requestBody": request_body(AttributionIn),
        "responses": {"200": json_response(StoreOut, "The store"), **_common, **error_responses(400, 404, 422)}}},
}
REQUESTS = [AttributionIn]
RESPONSES = [StoreList, StoreOut]
