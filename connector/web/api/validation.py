"""A request body read into its pydantic model, and pydantic's complaint said as the API's 422 (or 400)."""

from __future__ import annotations

from flask import request
from pydantic import BaseModel, ValidationError

from connector.web.api.errors import ApiError
from connector.web.api.fields import DISCOUNT_TYPES

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


def _said(error: dict) -> tuple[str | None, str]:
    """One of pydantic's complaints as (field, message for people)."""
    field = _field(error["loc"])
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return (f"{field}.type" if field else "type"), f"type must be one of {', '.join(DISCOUNT_TYPES)}"
    if error["type"] == "extra_forbidden":
        return field, "unknown field"
    if error["type"] == "string_pattern_mismatch" and field in PATTERN_MESSAGES:
        return field, PATTERN_MESSAGES[field]
    if error["type"] == "string_pattern_mismatch" and field and field.endswith(".tracking_id"):
        return field, PATTERN_MESSAGES["tracking_id"]
    return field, error["msg"]


def validation_error(exc: ValidationError) -> ApiError:
    """The first wrong field as the error's own field and message (as before), and every wrong field in
    `errors`, so a client fixes them all in one go."""
    found = exc.errors()
    if found[0]["type"] in ("json_invalid", "json_type"):
        return ApiError(400, "bad_request", "the body must be a JSON object")
    every: list[dict] = []
    for error in found:
        field, message = _said(error)
        if {"field": field, "message": message} not in every:
            every.append({"field": field, "message": message})
    first = every[0]
    return ApiError(422, "validation_error", f"{first['field'] or 'body'}: {first['message']}", first["field"],
                    errors=every)


def read_body(model: type[BaseModel]):
    raw = request.get_data(cache=False)
    try:
        return model.model_validate_json(raw or b"")
    except ValidationError as exc:
        raise validation_error(exc) from None
