"""/stores/{store_id}/campaigns: the campaigns the backend runs in a store, created or updated by PUT."""

from __future__ import annotations

from datetime import datetime

from flask import jsonify
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from connector.campaigns import influencers as registrations
from connector.campaigns.influencers import InvalidField
from connector.db import transaction
from connector.models import Campaign, utcnow
from connector.web import services
from connector.web.api.blueprint import bp
from connector.web.api.describe import STORE_ID, error_responses, json_response, request_body
from connector.web.api.errors import ApiError
from connector.web.api.fields import CAMPAIGN_ID_PATTERN, Strict
from connector.web.api.formats import format_time
from connector.web.api.inputs import find_store
from connector.web.api.paging import PAGE, by_id
from connector.web.api.validation import read_body

#: free text stored as is: no control characters (PostgreSQL cannot store NUL in text at all)
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"


class CampaignIn(Strict):
    name: str | None = Field(default=None, max_length=200, pattern=TEXT_PATTERN)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = Field(default=None, description="after starts_at")


class CampaignOut(BaseModel):
    campaign_id: str
    name: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime
    updated_at: datetime | None


class CampaignList(BaseModel):
    campaigns: list[CampaignOut]
    next_cursor: str | None


def _campaign_out(campaign: Campaign) -> dict:
    return {"campaign_id": campaign.campaign_id, "name": campaign.name,
            "starts_at": format_time(campaign.starts_at), "ends_at": format_time(campaign.ends_at),
            "created_at": format_time(campaign.created_at), "updated_at": format_time(campaign.updated_at)}


@bp.get("/stores/<store_id>/campaigns")
def list_campaigns(store_id: str):
    with services().sessions() as session:
        store = find_store(session, store_id)
        rows, next_cursor = by_id(session, select(Campaign).where(Campaign.store_id == store.id), Campaign.id)
        return jsonify(campaigns=[_campaign_out(c) for c in rows], next_cursor=next_cursor)


@bp.put("/stores/<store_id>/campaigns/<campaign_id>")
def put_campaign(store_id: str, campaign_id: str):
    with transaction(services().sessions) as session:
        store = find_store(session, store_id)
        body = read_body(CampaignIn)
        try:
            registrations.check_campaign_id(campaign_id)  # before it reaches a query: it may be 10,000 characters
        except InvalidField as exc:
            raise ApiError(422, "validation_error", str(exc), exc.field) from None
        existed = session.scalar(select(Campaign.id).where(Campaign.store_id == store.id,
                                                           Campaign.campaign_id == campaign_id)) is not None
        try:
            campaign, _ = registrations.upsert_campaign(session, store, campaign_id, name=body.name,
                                                        starts_at=body.starts_at, ends_at=body.ends_at, now=utcnow())
        except InvalidField as exc:
            raise ApiError(422, "validation_error", str(exc), exc.field) from None
        return jsonify(_campaign_out(campaign)), 200 if existed else 201


_common = error_responses(401)
OPERATIONS = {
    "/stores/{store_id}/campaigns": {"get": {
        "operationId": "listCampaigns", "parameters": [STORE_ID, *PAGE],
        "responses": {"200": json_response(CampaignList, "The campaigns"), **_common,
                      **error_responses(404, 422)}}},
    "/stores/{store_id}/campaigns/{campaign_id}": {"put": {
        "operationId": "putCampaign", "summary": "Create or update a campaign (idempotent)",
        "parameters": [STORE_ID, {"name": "campaign_id", "in": "path", "required": True,
                                  "schema": {"type": "string", "pattern": CAMPAIGN_ID_PATTERN}}],
        "requestBody": request_body(CampaignIn),
        "responses": {"200": json_response(CampaignOut, "Updated or unchanged"),
                      "201": json_response(CampaignOut, "Created"), **_common, **error_responses(400, 404, 422)}}},
}
REQUESTS = [CampaignIn]
RESPONSES = [CampaignList, CampaignOut]
