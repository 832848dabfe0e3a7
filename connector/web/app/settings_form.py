"""GET/PUT /admin/api/settings: the store's attribution settings, as the merchant sets them in the app.

Saved through the one function the CLI and /api/v1 use (campaigns.influencers.set_attribution), so the web
pixel's settings follow a new window here as they do there.
"""

from __future__ import annotations

from typing import Literal

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector.campaigns import influencers as registrations
from connector.core.attribution import SIGNAL_KINDS, ordered_kinds
from connector.core.rules import CREDIT_ON
from connector.db import transaction
from connector.errors import ConnectorError
from connector.models import Store
from connector.web import services
from connector.web.app.auth import merchant_store
from connector.web.app.blueprint import PREFIX, AppError, bp

MODELS = {
    "last_click": ("Last click", "The influencer whose link was clicked last before the order gets all of it."),
    "first_click": ("First click", "The influencer whose link was clicked first in the window gets all of it."),
    "linear": ("Shared equally", "Every influencer whose link was clicked in the window gets an equal share."),
    "time_decay": ("Time decay", "Every influencer gets a share; recent clicks weigh more (see half-life)."),
}
#: the kinds of signal in the signal order's selects (short, for a phone; the field's help says what the two
#: that go by an earlier order take from it)
KINDS = {"renewal": "Subscription renewal", "promo_code": "Promo code", "click": "Click on a link",
         "landing_page": "Ref in the landing page", "customer": "Returning customer"}
RENEWAL_LABELS = {"credit": ("Credit renewals", "A renewal goes to the influencers of the order that started it."),
                  "ignore": ("Ignore renewals", "Only a subscription's first order is credited.")}
CREDIT_ON_LABELS = {"paid": ("When the order is paid", "An unpaid order waits; most stores want this."),
                    "creation": ("When the order is placed", "Also credits orders paid later, or never.")}
FIELD_NAMES = {"model": "Attribution model", "window_days": "Attribution window",
               "half_life_days": "Half-life", "precedence": "Signal order", "forward_test_orders": "Test orders",
               "credit_on": "Credit orders", "lifetime_days": "Returning customers", "renewals": "Renewals"}


PRECEDENCE_MESSAGE = ("Put each kind of signal once: renewal, promo code, click, landing page ref and returning "
                      "customer.")


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    model: Literal["last_click", "first_click", "linear", "time_decay"]
    window_days: int = Field(ge=1, le=365)
    half_life_days: int = Field(ge=1, le=365)
    precedence: list[Literal["renewal", "promo_code", "click", "landing_page", "customer"]] = Field(
        min_length=len(SIGNAL_KINDS), max_length=len(SIGNAL_KINDS))
    forward_test_orders: bool
    credit_on: Literal["paid", "creation"]
    lifetime_days: int = Field(ge=0, le=3650)
    renewals: Literal["credit", "ignore"]


def settings_of(store: Store) -> dict:
    """The store's settings as the form shows them; a precedence saved with fewer kinds (before renewals and
    returning customers, or by the CLI) is shown as attribution applies it: the kinds it leaves out after it."""
    return {"model": store.attribution_model, "window_days": store.attribution_window_days,
            "half_life_days": store.half_life_days, "precedence": ordered_kinds(store.precedence.split(",")),
            "forward_test_orders": store.forward_test_orders, "credit_on": store.credit_on,
            "lifetime_days": store.lifetime_days, "renewals": store.renewals}


def _choices() -> dict:
    return {
        "model": [{"value": v, "label": label, "help": help_} for v, (label, help_) in MODELS.items()],
        "precedence": [{"value": v, "label": label} for v, label in KINDS.items()],
        "credit_on": [{"value": v, "label": label, "help": help_} for v, (label, help_) in CREDIT_ON_LABELS.items()
                      if v in CREDIT_ON],
        "renewals": [{"value": v, "label": label, "help": help_} for v, (label, help_) in RENEWAL_LABELS.items()],
    }


def _refusal(exc: ValidationError) -> AppError:
    first = exc.errors()[0]
    if first["type"] in ("json_invalid", "json_type", "model_type"):
        return AppError(400, "bad_request", "the body must be a JSON object")
    field = str(first["loc"][0]) if first["loc"] else None
    label = FIELD_NAMES.get(field or "", field or "The settings")
    messages = {
        "window_days": "The attribution window is a whole number of days from 1 to 365.",
        "half_life_days": "The half-life is a whole number of days from 1 to 365.",
        "precedence": PRECEDENCE_MESSAGE,
        "lifetime_days": "A whole number of days from 0 (off) to 3650.",
        "renewals": "Choose whether renewals are credited or ignored.",
        "model": f"Choose one of: {', '.join(label for label, _help in MODELS.values())}.",
        "credit_on": "Choose when orders are credited: when paid, or when placed.",
        "forward_test_orders": "Test orders are either credited or not.",
    }
    # Shown beside its field, so the message does not repeat the field's name
    message = messages.get(field or "", f"{label}: unknown field" if first["type"] == "extra_forbidden"
                           else f"{label}: {first['msg']}")
    return AppError(422, "validation_error", message, field)


@bp.get(f"{PREFIX}/settings")
def get_settings():
    with services().sessions() as session:
        return jsonify(settings=settings_of(merchant_store(session)), choices=_choices())


@bp.put(f"{PREFIX}/settings")
def put_settings():
    with transaction(services().sessions) as session:
        store = merchant_store(session)
        try:
            body = SettingsIn.model_validate_json(request.get_data(cache=False) or b"")
        except ValidationError as exc:
            raise _refusal(exc) from None
        if len(set(body.precedence)) != len(body.precedence):
            raise AppError(422, "validation_error", PRECEDENCE_MESSAGE, "precedence")
        try:
            registrations.set_attribution(store, model=body.model, window_days=body.window_days,
                                          half_life_days=body.half_life_days, precedence=",".join(body.precedence),
                                          forward_test_orders=body.forward_test_orders, credit_on=body.credit_on,
                                          lifetime_days=body.lifetime_days, renewals=body.renewals)
        except ConnectorError as exc:
            raise AppError(422, "validation_error", str(exc)) from None
        return jsonify(settings=settings_of(store), message="Settings saved")
