"""The edge: POST /webhooks/<platform>. Verify on raw bytes, store the raw event, answer. Nothing else."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import RequestEntityTooLarge

from connector import registry
from connector.crypto import DecryptionError
from connector.errors import BadHeader, MissingHeader, StorageUnavailable, UnknownPlatform, VerificationError
from connector.intake.inbox import store_delivery
from connector.web import services

bp = Blueprint("webhooks", __name__)
log = logging.getLogger("connector.edge")

# The one place verification failures become HTTP statuses. A body that is signed but belongs to another
# shop or topic fails authentication of what the headers claim: 401, like a bad signature.
STATUS_FOR_REASON = {"missing_header": 400, "bad_header": 400, "bad_signature": 401, "no_secret": 401,
                     "wrong_shop": 401, "not_topic_body": 401}
REFUSED_BODIES = ("wrong_shop", "not_topic_body")
MAX_DELIVERY_ID = 255  # the column's width
DELIVERY_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_DELIVERY_ID}}}")


def _answer(status: int, outcome: str, **extra):
    return jsonify(outcome=outcome, **extra), status


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    log.warning("webhook refused: body over %d bytes", services().settings.max_webhook_bytes)
    return _answer(413, "too_large", limit=services().settings.max_webhook_bytes)


@bp.errorhandler(DBAPIError)
@bp.errorhandler(StorageUnavailable)
@bp.errorhandler(DecryptionError)
def _cannot_store_now(exc: Exception):
    # Not stored, so not acknowledged: the platform sends it again. A dead connection is dropped by the
    # pool; a store secret that will not decrypt means CONNECTOR_SECRET_KEY changed (the operator's fix).
    log.error("webhook not stored: %s", getattr(exc, "orig", None) or exc)
    answer, status = _answer(503, "unavailable")
    answer.headers["Retry-After"] = "5"
    return answer, status


@bp.post("/webhooks/<platform>")
def receive(platform: str):
    svc = services()
    try:
        adapter = registry.get(platform)
    except UnknownPlatform:
        return _answer(404, "unknown_platform")
    # Read the raw bytes before anything parses them: the signature is over exactly these.
    body = request.get_data(cache=False)
    if len(body) > svc.settings.max_webhook_bytes:  # a chunked body, cut at the limit's one byte more
        return _too_large(None)
    try:
        delivery = adapter.read_headers(request.headers, body)
        if delivery is None:
            log.info("%s ping acknowledged, not stored", platform)
            return _answer(200, "ping")
        if not DELIVERY_ID.fullmatch(delivery.delivery_id):
            raise BadHeader(f"delivery id must be 1 to {MAX_DELIVERY_ID} printable ASCII characters")
        domain = adapter.normalise_store_key(delivery.store_key)
        store = svc.stores.get(platform, domain) if domain else None
        adapter.verify(body, delivery.signature, adapter.webhook_secrets(svc.settings, store))
        if delivery.topic in adapter.handled_topics:
            # Checked for unknown stores too, so the answer never tells which stores the connector holds.
            adapter.check_body(delivery.topic, body, domain, store)
    except VerificationError as exc:
        status = STATUS_FOR_REASON.get(exc.reason, 401)
        if exc.reason in REFUSED_BODIES:
            log.warning("%s webhook refused, a signed body under headers it does not match (%s; shop %r, topic "
                        "%r): %s", platform, exc.reason, delivery.store_key, delivery.topic, exc)
        else:
            log.warning("%s webhook refused (%s): %s", platform, exc.reason, exc)
        extra = {"header": exc.header} if isinstance(exc, MissingHeader) else {}
        return _answer(status, exc.reason, **extra)

    # One answer for both: signed bytes of any kind (an OAuth query the attacker's own shop got) under an
    # unused topic pass every check above, and two answers would tell them which shops use the connector.
    if store is None:
        log.info("%s webhook for unknown store %r (%s) acknowledged, not stored", platform, delivery.store_key, delivery.topic)
        return _answer(200, "ignored")
    if delivery.topic not in adapter.handled_topics:
        log.info("%s webhook topic %s from %s acknowledged, not used", platform, delivery.topic, store.domain)
        return _answer(200, "ignored")
    outcome = store_delivery(
        svc.engine,
        store_id=store.id,
        platform=platform,
        delivery_id=delivery.delivery_id,
        topic=delivery.topic,
        body=body,
        now=datetime.now(timezone.utc),
        triggered_at=delivery.triggered_at,
    )
    return _answer(200, outcome)
