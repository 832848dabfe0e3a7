"""GET/POST /admin/api/orders/<id>/credit: the merchant credits by hand an order of their own store no signal credited.

The store is the session token's, and nothing in the request can name another: an order id of another store is
an order this store never saw (404). The credit goes through the one function the backend's API uses
(connector.crediting.manual), with who did it: the merchant, and the staff member's Shopify user id (`sub`).
Shares are given here as percentages, the way the page shows them; the API takes them as decimals.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from decimal import Decimal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select

from connector.core import manual
from connector.core.manual import Asked, Refused
from connector.crediting.manual import credit_by_hand
from connector.db import transaction
from connector.models import Influencer, utcnow
from connector.web import services
from connector.web.app.auth import merchant_store
from connector.web.app.blueprint import PREFIX, AppError, bp

#: how many of the store's influencers the form suggests at a time (it asks again as the merchant types)
SUGGESTED = 20
PERCENT = re.compile(r"(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)")
USER = re.compile(r"[0-9A-Za-z_-]{1,64}")
SHARE_MESSAGE = "A share is a percentage more than 0 and at most 100, with at most two decimals (e.g. 50 or 33.33)."
NOTE_MESSAGE = f"A note is at most {manual.MAX_NOTE} characters, with no control characters."


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    tracking_id: str = Field(min_length=1, max_length=manual.MAX_TRACKING_ID)
    #: a percentage ("50", "33.33"); every influencer has one, or none has (equal shares)
    percent: str | None = Field(default=None, max_length=10)


class CreditIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    credits: list[ShareIn] = Field(min_length=1, max_length=manual.MAX_CREDITS)
    note: str | None = Field(default=None, max_length=manual.MAX_NOTE)


def staff_user() -> str | None:
    """The session token's `sub`: the Shopify staff member who is using the app.

    Only after merchant_store has checked the token (signature, audience, times, shop): this reads one claim of the
    very bytes it checked, and keeps it only when it looks like Shopify's user ids.
    """
    token = (request.headers.get("Authorization") or "").partition(" ")[2].strip()
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return str(sub) if isinstance(sub, (str, int)) and not isinstance(sub, bool) and USER.fullmatch(str(sub)) else None


def _share(index: int, percent: str | None) -> str | None:
    if percent is None or not percent.strip():
        return None
    if not PERCENT.fullmatch(percent.strip()):
        raise AppError(422, "validation_error", SHARE_MESSAGE, f"credits.{index}.percent")
    return f"{(Decimal(percent.strip()) / 100).normalize():f}"


def _percent(share: str) -> str:
    return f"{(Decimal(share) * 100).normalize():f}"


def _body_refusal(exc: ValidationError) -> AppError:
    first = exc.errors()[0]
    if first["type"] in ("json_invalid", "json_type", "model_type"):
        return AppError(400, "bad_request", "the body must be a JSON object")
    loc = [str(part) for part in first["loc"]]
    field = ".".join(loc) or None
    if first["type"] == "extra_forbidden":
        return AppError(422, "validation_error", f"{field}: unknown field", field)
    if loc[:1] == ["note"]:
        return AppError(422, "validation_error", NOTE_MESSAGE, "note")
    if len(loc) == 3 and loc[2] == "percent":
        return AppError(422, "validation_error", SHARE_MESSAGE, field)
    if len(loc) == 3 and loc[2] == "tracking_id":
        return AppError(422, "validation_error", "Choose one of the store's influencers.", field)
    return AppError(422, "validation_error", f"Choose from 1 to {manual.MAX_CREDITS} influencers, each with a share "
                                             "or none.", "credits")


def _said(refused: Refused) -> AppError:
    """A refusal in the merchant's words, beside the field it is about."""
    who, values = refused.values.get("tracking_id", ""), refused.values
    words = {
        manual.UNKNOWN_ORDER: "The connector has not seen this order.",
        manual.ALREADY_CREDITED: "This order is already credited, so it cannot be credited by hand: "
                                 + refused.message + ".",
        manual.CANCELLED: "The order was cancelled: a cancelled order is never credited.",
        manual.TEST_ORDER: "It is a test order, and this store does not credit test orders (Settings).",
        manual.UNPAID: "The order is not paid yet, and this store credits orders once they are paid (Settings). "
                       "Credit it by hand once it is paid.",
        manual.UNKNOWN_INFLUENCER: f"No influencer of this store is called “{who}”.",
        manual.INACTIVE_INFLUENCER: f"{who} is no longer one of this store's influencers.",
        manual.DUPLICATE_INFLUENCER: f"{who} is chosen twice: choose each influencer once.",
        manual.SHARES_NOT_ONE: f"The shares add up to {_percent(values['total'])}%, not 100%."
        if "total" in values else "The shares must add up to 100%.",
        manual.BAD_SHARE: SHARE_MESSAGE, manual.BAD_NOTE: NOTE_MESSAGE,
    }
    message = words.get(refused.reason) or (refused.message[:1].upper() + refused.message[1:] + ".")
    field = refused.field.replace(".share", ".percent") if refused.field else None
    status = 404 if refused.reason == manual.UNKNOWN_ORDER else 409 if refused.reason in manual.ORDER_STATES else 422
    code = {404: "not_found", 409: "conflict", 422: "validation_error"}[status]
    return AppError(status, code, message, field, extra={"reason": refused.reason})


@bp.get(f"{PREFIX}/orders/<order_id>/credit")
def credit_choices(order_id: str):
    """The store's active influencers the form suggests, those matching what the merchant typed first."""
    with services().sessions() as session:
        store = merchant_store(session)
        q = (request.args.get("q") or "").strip()[:manual.MAX_TRACKING_ID].lower()
        where = [Influencer.store_id == store.id, Influencer.active.is_(True)]
        if q:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(Influencer.tracking_key.like(f"%{escaped}%", escape="\\"))
        total = session.scalar(select(func.count()).select_from(Influencer).where(*where))
        found = session.execute(select(Influencer.tracking_id, Influencer.campaign_id).where(*where)
                                .order_by(Influencer.tracking_key).limit(SUGGESTED)).all()
        return jsonify(order_id=order_id[:64], q=q, total=total,
                       influencers=[{"tracking_id": t, "campaign_id": c} for t, c in found])


@bp.post(f"{PREFIX}/orders/<order_id>/credit")
def credit_order(order_id: str):
    with transaction(services().sessions) as session:
        store = merchant_store(session)  # before reading the request: without a token, 401 and nothing else
        try:
            body = CreditIn.model_validate_json(request.get_data(cache=False) or b"")
        except ValidationError as exc:
            raise _body_refusal(exc) from None
        credits = tuple((c.tracking_id, _share(i, c.percent)) for i, c in enumerate(body.credits))
        asked = Asked(credits, manual.BY_MERCHANT, staff_user(), body.note)
        try:
            credited = credit_by_hand(session, store, order_id[:65], asked, utcnow())
        except Refused as refused:
            raise _said(refused) from None
        names = ", ".join(c["tracking_id"] for c in json.loads(credited.purchase.body)["data"]["credits"])
        return jsonify(message=f"Credited by hand to {names}", conversion_id=credited.purchase.id), 201
