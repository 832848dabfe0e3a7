"""`connector privacy`: listing privacy requests and handing over a data request's export."""

from __future__ import annotations

import json
import os
import stat
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from standins.shopify import samples
from adapters.shopify.compliance import normalise_lifecycle
from connector.campaigns import directory
from connector.db import transaction
from connector.intake.inbox import store_delivery
from connector.installs.lifecycle import apply_lifecycle
from connector.models import Event, PrivacyRequest, Store

from .conftest import SHOP
from .helpers import drain, post_shopify

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
OTHER_SHOP = "other-shop.myshopify.com"
CUSTOMER = {"id": 7064055069302, "email": "claire.martin@example.com", "phone": "+33 6 12 34 56 78"}


def lifecycle(engine, sessions, settings, store_id: int, topic: str, body: dict) -> None:
    """Store a lifecycle delivery and apply it, as the worker does."""
    delivery_id = str(uuid.uuid4())
    raw = samples.encode(body)
    store_delivery(engine, store_id=store_id, platform="shopify", delivery_id=delivery_id, topic=topic, body=raw,
                   now=NOW)
    with transaction(sessions) as session:
        row = session.scalar(select(Event).where(Event.delivery_id == delivery_id))
        apply_lifecycle(session, session.get(Store, store_id), normalise_lifecycle(topic, raw), now=NOW,
                        current_event_id=row.id, secret_key=settings.secret_key)
        row.status = "handled"


@pytest.fixture
def requests(client, engine, settings, sessions, store):
    """Claire's order, her data request (9999) in the test shop, and one for someone else in another shop."""
    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    drain(settings, sessions)
    with transaction(sessions) as session:
        other = directory.add_store(session, settings.secret_key, "shopify", OTHER_SHOP, access_token="t")
    lifecycle(engine, sessions, settings, store.id, "customers/data_request",
              {"customer": CUSTOMER, "orders_requested": [], "data_request": {"id": 9999}})
    lifecycle(engine, sessions, settings, other.id, "customers/data_request",
              {"customer": {"id": 5, "email": "someone@example.org"}, "data_request": {"id": 7777}})
    with sessions() as session:
        return {row.request_id: row for row in session.scalars(select(PrivacyRequest))}


def test_privacy_help_needs_no_configuration(cli, monkeypatch):
    monkeypatch.delenv("DATABASE_URL")
    for args in (["privacy", "--help"], ["privacy", "requests", "--help"], ["privacy", "export", "--help"]):
        assert "Usage" in cli(*args)


def test_requests_are_listed_with_their_store_kind_and_summary(cli, requests):
    ours, theirs = requests["9999"], requests["7777"]
    listing = cli("privacy", "requests")
    lines = listing.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:3] == [str(ours.id), SHOP, "data_request"]
    assert "1 orders, 1 events, 1 conversions" in lines[0] and "export ready" in lines[0]
    assert lines[1].split()[:2] == [str(theirs.id), OTHER_SHOP]

    only_ours = cli("privacy", "requests", "--store", SHOP)
    assert SHOP in only_ours and OTHER_SHOP not in only_ours
    [row] = json.loads(cli("privacy", "requests", "--store", OTHER_SHOP, "--json"))
    assert (row["id"], row["kind"], row["request_id"], row["export"]) == (theirs.id, "data_request", "7777", True)
    assert row["summary"] == {"orders": 0, "events": 0, "conversions": 0}
    assert "no store" in cli("privacy", "requests", "--store", "nowhere.myshopify.com", code=1)


def test_no_requests(cli):
    assert cli("privacy", "requests").strip() == "no privacy requests"


def test_export_prints_or_writes_the_export(cli, requests, tmp_path):
    ours = requests["9999"]
    printed = json.loads(cli("privacy", "export", str(ours.id)))
    assert printed == ours.export
    assert printed["customer_id"] == "7064055069302" and printed["orders"][0]["order_id"] == "820982911946154508"
    assert printed["events"][0]["body"]["customer"]["email"] == "claire.martin@example.com"

    target = tmp_path / "export.json"
    target.write_text("old")
    os.chmod(target, 0o644)
    cli("privacy", "export", str(ours.id), "--output", str(target))
    assert json.loads(target.read_text()) == ours.export
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600  # personal data: the owner's eyes only


def test_export_refuses_clearly_when_there_is_none(cli, engine, sessions, settings, store, requests):
    assert "no privacy request 999" in cli("privacy", "export", "999", code=1)
    lifecycle(engine, sessions, settings, store.id, "customers/redact",
              {"customer": CUSTOMER, "orders_to_redact": []})
    with sessions() as session:
        redact = session.scalar(select(PrivacyRequest).where(PrivacyRequest.kind == "customer_redact"))
    assert "only data requests have an export" in cli("privacy", "export", str(redact.id), code=1)
    output = cli("privacy", "export", str(requests["9999"].id), code=1)
    assert "erased since" in output and "Traceback" not in output
    assert "export erased" in cli("privacy", "requests", "--store", SHOP)
