"""WooCommerce webhook headers and signatures: base64 HMAC-SHA256 of the raw body with the webhook's secret.

Each store's webhooks are signed with the secret the connector gave them when it created them, so the
store (found by `X-WC-Webhook-Source`) must be known before a delivery can be verified.
"""

from __future__ import annotations

import hashlib
import re
from typing import Mapping, Sequence

from connector.errors import BadSignature, MissingHeader
from connector.core import body_hmac
from connector.core.body_hmac import sign  # noqa: F401 - what the platform puts in its signature header
from connector.core.platform import DeliveryHeaders

SOURCE_HEADER = "X-WC-Webhook-Source"
TOPIC_HEADER = "X-WC-Webhook-Topic"
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
DELIVERY_ID_HEADER = "X-WC-Webhook-Delivery-ID"
# The ping WooCommerce sends when a webhook is created: a form body and none of the X-WC headers.
PING_BODY = re.compile(rb"webhook_id=[0-9]+")


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    # Header names are case-insensitive; werkzeug's Headers knows that, a plain dict does not.
    return {str(name).lower(): value for name, value in headers.items()}


def _header(headers: dict[str, str], name: str) -> str | None:
    value = headers.get(name.lower())
    return value.strip() if isinstance(value, str) and value.strip() else None


def read_headers(headers: Mapping[str, str], body: bytes) -> DeliveryHeaders | None:
    """The delivery's source, topic, delivery id and signature; None for the creation ping.

    MissingHeader names the first required header that is absent.
    """
    found = _lowered(headers)
    signature = _header(found, SIGNATURE_HEADER)
    delivery = _header(found, DELIVERY_ID_HEADER)
    if signature is None and delivery is None and PING_BODY.fullmatch(body):
        return None
    values = {}
    for name in (SIGNATURE_HEADER, TOPIC_HEADER, SOURCE_HEADER, DELIVERY_ID_HEADER):
        value = _header(found, name)
        if value is None:
            raise MissingHeader(name)
        values[name] = value
    # WooCommerce's delivery id is wp_hash(webhook id . time()): two different deliveries of one webhook
    # in the same second share it (and there are no retries to dedupe), so the body's hash is added. A
    # resend of the very same body in that second is still recognised as a duplicate.
    body_hash = hashlib.sha256(body).hexdigest()[:16]
    return DeliveryHeaders(
        store_key=values[SOURCE_HEADER],
        topic=values[TOPIC_HEADER].lower(),
        delivery_id=f"{values[DELIVERY_ID_HEADER]}.{body_hash}",
        signature=values[SIGNATURE_HEADER],
    )


#: stands in for the secret of a store the connector does not hold, so its answer is a bad signature too
UNKNOWN_SOURCE_SECRET = "connector: no store has this source"


def verify(body: bytes, signature: str, secrets: Sequence[str]) -> None:
    """Raise BadSignature unless the signature matches the body under one of the secrets.

    A source the connector does not hold gets the same answer as a wrong signature (after the same
    work), so nobody can learn from it which stores are installed.
    """
    if not secrets:
        try:
            body_hmac.verify(body, signature, (UNKNOWN_SOURCE_SECRET,), no_secret="")
        except BadSignature:
            pass
        raise BadSignature("no store has this X-WC-Webhook-Source")
    body_hmac.verify(body, signature, secrets, no_secret="no webhook secret for this store")
