"""What the tracking backend receives from the connector: every body POSTed to TRACKING_BACKEND_URL, as models.

The OpenAPI document's `webhooks` section is written from these (one entry per `type`, with the Standard Webhooks
headers), and the tests check the bodies the connector really sends against it. The bodies themselves are built in
connector/core/payload.py (conversions) and connector/core/backend_events.py (the other events); a field added there
and not here fails those tests.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from connector.core import backend_events as told
from connector.core import payload

Time = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                            json_schema_extra={"format": "date-time"}, description="UTC, to the second")]
AMOUNT_PATTERN = r"^-?[0-9]+\.[0-9]{2,}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
CONVERSION_TYPES = (payload.PURCHASE, payload.LEAD, payload.REFUND, payload.CANCELLATION, payload.ADJUSTMENT)
METHODS = Literal["promo_code", "click", "landing_page", "customer", "renewal", "manual"]


class Sent(BaseModel):
    """Exactly these fields: the tests refuse a body with one more or one less."""

    model_config = ConfigDict(extra="forbid")


class SentCredit(Sent):
    tracking_id: str
    share: str = Field(pattern=r"^[0-9]+(\.[0-9]+)?$", description="a decimal string; the shares add up to 1")


class SentCustomer(Sent):
    email_sha256: str | None = Field(pattern=SHA256_PATTERN, description="SHA-256 hex of the trimmed, lower-cased "
                                     "email; null when the order had none or the customer was erased since")
    first_order: bool | None


class SentItem(Sent):
    line_id: str | None
    product_id: str | None
    variant_id: str | None
    sku: str | None
    title: str | None
    quantity: int | str = Field(description="whole units as an integer; a fraction (sold by weight) as a string")
    amount: str = Field(pattern=AMOUNT_PATTERN, description="this line's part of `amount`")


class SentPresentment(Sent):
    amount: str = Field(pattern=AMOUNT_PATTERN)
    currency: str = Field(pattern=CURRENCY_PATTERN)


class ConversionData(Sent):
    conversion_id: str = Field(pattern=r"^cv_[0-9a-f]+$", description="also the `webhook-id`, the same on every try")
    platform: str = Field(description="shopify or woocommerce")
    store: str = Field(description="the shop domain (Shopify) or the store URL (WooCommerce)")
    order_id: str | None
    order_name: str | None
    occurred_at: Time
    amount: str = Field(pattern=AMOUNT_PATTERN, description="a decimal string in the order's currency: the "
                        "commission base (purchase), what is taken back (refund, cancellation), the signed change "
                        "(adjustment), 0 (lead)")
    currency: str = Field(pattern=CURRENCY_PATTERN)
    tracking_id: str | None
    campaign_id: str | None
    method: METHODS | None
    promo_code: str | None
    click_id: str | None
    credits: list[SentCredit]
    customer: SentCustomer
    reverses: str | None = Field(description="the purchase a refund, cancellation or adjustment concerns; else null")
    test: bool
    items: list[SentItem]
    renewal_of: str | None = Field(description="the platform id of the order that started a renewal's subscription")
    backfill: bool = Field(description="true only for a purchase a backfill credited")
    presentment: SentPresentment | None = Field(description="the amount in the shopper's currency, when it differs")


class EventData(Sent):
    """What every store, code and privacy event carries."""

    event_id: str = Field(pattern=r"^ev_[0-9a-f]+$", description="also the `webhook-id`, the same on every try")
    platform: str = Field(description="shopify or woocommerce")
    store: str = Field(description="the shop domain (Shopify) or the store URL (WooCommerce)")
    store_id: int = Field(description="the store's id in /api/v1")
    occurred_at: Time


class StoreNeedsReauthData(EventData):
    reason: str = Field(description="what the platform answered")


class CustomerRedactedData(EventData):
    customer_id: str | None = Field(description="the platform's customer id, when the request named one")
    email_sha256: str | None = Field(pattern=SHA256_PATTERN, description="SHA-256 hex of the trimmed, lower-cased "
                                     "email (never the email), when the request named one")


class CodeData(EventData):
    tracking_id: str
    campaign_id: str | None


class CodeCreatedData(CodeData):
    code: str = Field(description="the code as it now works in the store")
    requested_code: str | None = Field(description="the code asked for (the collision policy may have changed it)")


class CodeFailedData(CodeData):
    code: str | None = Field(description="the code asked for, or the one that would not be taken down")
    action: Literal["create", "remove"]
    reason: str = Field(description="what the store answered")


class CodeRemovedData(CodeData):
    code: str = Field(description="the code that no longer works in the store")


EVENT_DATA: dict[str, type[EventData]] = {
    told.STORE_INSTALLED: EventData, told.STORE_UNINSTALLED: EventData, told.STORE_NEEDS_REAUTH: StoreNeedsReauthData,
    told.STORE_REAUTHORIZED: EventData, told.STORE_REDACTED: EventData, told.CUSTOMER_REDACTED: CustomerRedactedData,
    told.CODE_CREATED: CodeCreatedData, told.CODE_FAILED: CodeFailedData, told.CODE_REMOVED: CodeRemovedData,
}
WHEN = {
    payload.PURCHASE: "An order was credited to one or more influencers.",
    payload.LEAD: "A sign-up after an influencer's click (`amount` 0).",
    payload.REFUND: "Part or all of a credited order was refunded; `reverses` names the purchase.",
    payload.CANCELLATION: "A credited order was cancelled or deleted; `reverses` names the purchase.",
    payload.ADJUSTMENT: "An edit changed a credited order's commission base; `amount` is signed.",
    told.STORE_INSTALLED: "A store installed the app (new, or again after an uninstall or an erasure).",
    told.STORE_UNINSTALLED: "The merchant uninstalled the app; conversions already queued are still sent.",
    told.STORE_NEEDS_REAUTH: "The platform refused the store's credentials: webhooks are still handled, calls into "
                             "the store (codes, reconciliation) wait until the merchant authorises again.",
    told.STORE_REAUTHORIZED: "The store's credentials work again.",
    told.STORE_REDACTED: "The platform asked for the store's data to be erased (shop/redact): the connector has "
                         "erased it, and the backend must erase what it holds of the store.",
    told.CUSTOMER_REDACTED: "The platform asked for a customer's data to be erased (customers/redact): the "
                            "connector has erased it, and the backend must erase what it holds of that customer.",
    told.CODE_CREATED: "An influencer's promo code now works in the store.",
    told.CODE_FAILED: "The store would not make an influencer's code, or would not take it down; retries are over.",
    told.CODE_REMOVED: "An influencer's promo code no longer works in the store.",
}


def _name(kind: str) -> str:
    """conversion.purchase → ConversionPurchaseWebhook."""
    return "".join(part.capitalize() for part in kind.replace("_", ".").split(".")) + "Webhook"


def _envelope(kind: str, data: type[Sent]) -> type[Sent]:
    return create_model(_name(kind), __base__=Sent, type=(Literal[kind], ...), timestamp=(Time, ...),
                        data=(data, ...))


#: the body of each `type`, in the document's order
BODIES: dict[str, type[Sent]] = {
    **{kind: _envelope(kind, ConversionData) for kind in CONVERSION_TYPES},
    **{kind: _envelope(kind, EVENT_DATA[kind]) for kind in told.TYPES},
}
MODELS = list(BODIES.values())
HEADERS = [
    {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "`data.conversion_id` or `data.event_id`: the same on every attempt, the idempotency key"},
    {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"},
     "description": "Unix seconds of this attempt"},
    {"name": "webhook-signature", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "`v1,<base64 HMAC-SHA256>`, one per TRACKING_BACKEND_SECRET, space-separated: any one that "
                    "verifies is enough (Standard Webhooks)"},
]


def webhooks() -> dict:
    """The document's `webhooks`: one POST to TRACKING_BACKEND_URL per `type`."""
    opt_in = " Sent only when CONNECTOR_BACKEND_EVENTS names this type (or is `all`)."
    return {kind: {"post": {
        "summary": kind,
        "description": WHEN[kind] + ("" if told.is_conversion(kind) else opt_in),
        "operationId": f"receive_{kind.replace('.', '_')}",
        "parameters": HEADERS,
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}},
        "responses": {"2XX": {"description": "Taken: not sent again. Any other answer, or none within "
                                             "CONNECTOR_HTTP_TIMEOUT, is retried with the same id and body."}},
    }} for kind, model in BODIES.items()}
