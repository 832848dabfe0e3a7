"""The OpenAPI document's `webhooks` against what the connector really sends: one entry per `type`, with the
Standard Webhooks headers, and every body the tests' flows deliver valid against its entry's schema (`check_sent`,
which the flow tests call on what the stand-in backend received). A field the connector sends that the document does
not describe, or one it describes that is not sent, fails.

jsonschema_rs (the validator schemathesis itself uses) checks the bodies, draft 2020-12 as OpenAPI 3.1 says.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache

import jsonschema_rs
import pytest

from connector.core import backend_events as told
from connector.core import payload
from connector.web.api.openapi import openapi_document
from connector.web.api.outgoing import CONVERSION_TYPES
from standins.shopify import samples

from .helpers import drain, post_shopify
from .test_leads import report_signup, sign_up

EVERY_TYPE = (*CONVERSION_TYPES, *told.TYPES)
NOW = datetime(2026, 12, 8, 9, 30, tzinfo=timezone.utc)


@lru_cache(maxsize=None)
def _validator(kind: str):
    document = openapi_document()
    schema = document["webhooks"][kind]["post"]["requestBody"]["content"]["application/json"]["schema"]
    # The entry's $ref points into the document's components: validated with them at hand, as the document is.
    return jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})


def problems(body: dict) -> list[str]:
    kind = body.get("type")
    if kind not in openapi_document()["webhooks"]:
        return [f"no webhook in the document for type {kind!r}"]
    return [str(error).splitlines()[0] for error in _validator(kind).iter_errors(body)]


def check_sent(bodies) -> set[str]:
    """Every body valid against the document's entry for its type; returns the types seen."""
    bodies = list(bodies)
    wrong = {body.get("type"): problems(body) for body in bodies if problems(body)}
    assert not wrong, json.dumps(wrong, indent=2)
    return {body["type"] for body in bodies}


def test_the_document_has_a_webhook_for_every_body_the_backend_receives_with_its_headers():
    hooks = openapi_document()["webhooks"]
    assert list(hooks) == list(EVERY_TYPE)
    for kind, item in hooks.items():
        post = item["post"]
        assert {p["name"] for p in post["parameters"] if p["in"] == "header" and p["required"]} == {
            "webhook-id", "webhook-timestamp", "webhook-signature"}, kind
        assert post["requestBody"]["required"] and "2XX" in post["responses"]
        opt_in = "CONNECTOR_BACKEND_EVENTS" in post["description"]
        assert opt_in == (kind in told.TYPES), kind  # the events say they are sent only when asked for


@pytest.mark.parametrize("kind", told.TYPES)
def test_each_event_body_the_core_builds_matches_its_entry_and_a_changed_one_does_not(kind):
    details = {name: {"store_id": None}.get(name, "x") for name in told.FIELDS[kind]}
    if kind == told.CODE_FAILED:
        details["action"] = "create"
    if kind == told.CUSTOMER_REDACTED:
        details["email_sha256"] = "0" * 64
    body = json.loads(told.event_body(kind, event_id=told.new_event_id(), created_at=NOW, platform="shopify",
                                      store="shop.myshopify.com", store_id=7, occurred_at=NOW, **details))
    assert problems(body) == []
    assert problems({**body, "data": {**body["data"], "extra": 1}})  # one field more
    assert problems({**body, "type": "conversion.purchase"})  # another type's entry
    shorter = dict(body["data"])
    shorter.pop("event_id")
    assert problems({**body, "data": shorter})  # one field less


def test_a_body_with_a_raw_email_where_the_hash_goes_is_refused():
    body = json.loads(told.event_body(told.CUSTOMER_REDACTED, event_id=told.new_event_id(), created_at=NOW,
                                      platform="shopify", store="s", store_id=1, occurred_at=NOW, customer_id="1",
                                      email_sha256="jane@example.com"))
    assert problems(body)


def test_conversions_really_sent_match_their_entries(client, delivering_settings, sessions, store, backend):
    """A purchase, a refund and a cancellation of one order, and a lead, as the connector sends them."""
    order = samples.order(order_id=7101, codes=("ALICE15",))
    post_shopify(client, "orders/paid", order)
    post_shopify(client, "refunds/create", samples.refund(order_id=7101))
    post_shopify(client, "orders/cancelled", {**order, "cancelled_at": "2026-12-08T10:00:00Z"})
    report_signup(client, store, customer_id="7102", email="lead@shopper.example")
    drain(delivering_settings, sessions)
    sign_up(sessions, store, "7102", "lead@shopper.example")
    drain(delivering_settings, sessions)
    sent = [r.body for r in backend.delivered()]
    assert check_sent(sent) == {payload.PURCHASE, payload.REFUND, payload.CANCELLATION, payload.LEAD}
