"""The backend's other events (CONNECTOR_BACKEND_EVENTS) as rows of the conversions' outbox: the setting, what is
queued and when (in the transaction of the change, once per happening, nothing with the setting off), the same
delivery (signature, retries, failed, replay, `webhook-id`), what shop/redact keeps, and the readers that must not
count them as conversions (metrics, the merchant app's deliveries, `connector conversions list`).

tests/e2e/test_backend_events_flows.py has each event from the real flow that causes it.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from connector import backend_events, create_app
from connector.core import backend_events as told
from connector.db import transaction
from connector.installs.setup import mark_needs_reauth, mark_reauthorized, record_install
from connector.models import Conversion, ConversionCredit, DeliveryAttempt, Event, Store
from connector.settings import load_settings
from connector.worker import Worker
from standins.backend import Behaviour

from .conftest import SHOP
from .helpers import drain
from .test_backend_events_schema import check_sent
from .test_lifecycle import CLAIRE_EMAIL, CLAIRE_ID, deliver, redact_request
from adapters.shopify.compliance import normalise_lifecycle
from connector.installs.lifecycle import apply_lifecycle
from .test_merchant_app import bearer
from .test_metrics import scrape

ALL = frozenset(told.TYPES)


def rows(sessions, *, events_only: bool = True) -> list[Conversion]:
    with sessions() as session:
        found = session.scalars(select(Conversion).order_by(Conversion.created_at, Conversion.id)).all()
    return [c for c in found if not events_only or not told.is_conversion(c.type)]


def kinds(sessions) -> list[str]:
    return [c.type for c in rows(sessions)]


def apply(sessions, event_id: int, enabled=ALL, *, times: int = 1) -> str:
    """What the worker does with a stored lifecycle delivery (tests/test_lifecycle.py's way: the uninstall's
    confirmation with Shopify is the e2e tests'); `times` > 1: the same delivery applied again, as a replay does."""
    with sessions() as session:
        row = session.get(Event, event_id)
        store_id, event = row.store_id, normalise_lifecycle(row.topic, row.body)
    for _ in range(times):
        with transaction(sessions) as session:
            note = apply_lifecycle(session, session.get(Store, store_id), event, now=datetime.now(timezone.utc),
                                   current_event_id=event_id, secret_key="unused", backend_events=enabled)
            session.get(Event, event_id).status = "handled"
    return note


def queue(sessions, store_id: int, kind: str = told.STORE_NEEDS_REAUTH, **details) -> str:
    if kind == told.STORE_NEEDS_REAUTH:
        details.setdefault("reason", "HTTP 401")
    with transaction(sessions) as session:
        return backend_events.queue(session, session.get(Store, store_id), kind, ALL, **details)


# -- the setting ----------------------------------------------------------------------------------


def test_the_setting_takes_types_or_all_and_is_none_by_default():
    env = {"CONNECTOR_ENV": "development"}
    assert load_settings(env, read_dotenv=False).backend_events == frozenset()
    assert load_settings({**env, "CONNECTOR_BACKEND_EVENTS": "all"}, read_dotenv=False).backend_events == ALL
    chosen = load_settings({**env, "CONNECTOR_BACKEND_EVENTS": " store.installed, code.failed ,"}, read_dotenv=False)
    assert chosen.backend_events == {"store.installed", "code.failed"}


def test_an_unknown_type_stops_start_up_with_one_line_naming_it(monkeypatch, capsys):
    for name in ("CONNECTOR_SECRET_KEY", "TRACKING_BACKEND_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONNECTOR_ENV", "development")
    monkeypatch.setenv("CONNECTOR_BACKEND_EVENTS", "store.installed,store.deleted")
    with pytest.raises(SystemExit) as stopped:
        create_app()
    assert stopped.value.code == 3
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "CONNECTOR_BACKEND_EVENTS" in line and "'store.deleted'" in line and "store.installed" in line
    monkeypatch.setenv("CONNECTOR_BACKEND_EVENTS", "all,code.created")
    with pytest.raises(SystemExit):
        create_app()
    assert "`all` alone" in capsys.readouterr().err


def test_a_body_has_the_envelope_and_exactly_its_types_fields():
    now = datetime(2026, 12, 8, 9, 30, 15, 123, tzinfo=timezone.utc)
    body = json.loads(told.event_body(told.CODE_FAILED, event_id="ev_1", created_at=now, platform="woocommerce",
                                      store="https://shop.example", store_id=3, occurred_at=now - timedelta(hours=1),
                                      tracking_id="erin", campaign_id=None, code="ERIN10", action="create",
                                      reason="x" * 900))
    assert body == {"type": "code.failed", "timestamp": "2026-12-08T09:30:15Z", "data": {
        "event_id": "ev_1", "platform": "woocommerce", "store": "https://shop.example", "store_id": 3,
        "occurred_at": "2026-12-08T08:30:15Z", "tracking_id": "erin", "campaign_id": None, "code": "ERIN10",
        "action": "create", "reason": "x" * told.REASON_CHARS}}
    with pytest.raises(ValueError, match="carries"):
        told.event_body(told.STORE_INSTALLED, event_id="ev_1", created_at=now, platform="p", store="s", store_id=1,
                        occurred_at=now, reason="not one of its fields")
    with pytest.raises(ValueError, match="not a backend event"):
        told.event_body("conversion.purchase", event_id="ev_1", created_at=now, platform="p", store="s", store_id=1,
                        occurred_at=now)


# -- what is queued, and when ---------------------------------------------------------------------


def test_with_the_setting_off_nothing_is_written(engine, settings, sessions, store):
    """The default: a backend written against today's contract receives conversions only."""
    for topic, body in (("customers/redact", redact_request()), ("app/uninstalled", {"id": 1}),
                        ("shop/redact", {"shop_id": 1, "shop_domain": SHOP})):
        apply(sessions, deliver(engine, store.id, topic, body), settings.backend_events)
    with transaction(sessions) as session:
        record_install(session, "shopify", SHOP, datetime.now(timezone.utc))
        mark_needs_reauth(session.get(Store, store.id), "refused")
    assert rows(sessions) == []


def test_only_the_types_asked_for_are_queued(engine, settings, sessions, store):
    chosen = frozenset({told.CUSTOMER_REDACTED})
    apply(sessions, deliver(engine, store.id, "customers/redact", redact_request()), chosen)
    apply(sessions, deliver(engine, store.id, "app/uninstalled", {"id": 1}), chosen)
    [redacted] = rows(sessions)
    data = json.loads(redacted.body)["data"]
    assert redacted.type == "customer.redacted" and data["customer_id"] == str(CLAIRE_ID)
    assert CLAIRE_EMAIL not in redacted.body and len(data["email_sha256"]) == 64


def test_an_event_row_is_no_conversion_to_what_counts_them(sessions, store):
    event_id = queue(sessions, store.id)
    [row] = rows(sessions)
    assert (row.id, row.type, row.amount, row.currency, row.order_id, row.reverses) == (
        event_id, "store.needs_reauth", 0, "", None, None)
    assert row.dedupe_key == f"store.needs_reauth:{event_id}" and row.status == "pending"
    with sessions() as session:
        assert session.scalars(select(ConversionCredit)).all() == []  # the figures never see it


def test_a_change_rolled_back_tells_nothing(sessions, store):
    with pytest.raises(RuntimeError):
        with transaction(sessions) as session:
            mark_needs_reauth(session.get(Store, store.id), "refused", ALL)
            raise RuntimeError("the transaction that changed the store fails")
    assert rows(sessions) == []
    with sessions() as session:
        assert session.get(Store, store.id).status == "active"


def test_needs_reauth_and_reauthorized_are_told_on_the_change_only(sessions, store):
    for _ in range(2):  # refused again while it needs authorising: nothing new happened
        with transaction(sessions) as session:
            mark_needs_reauth(session.get(Store, store.id), "HTTP 401: Invalid API key or access token", ALL)
    with transaction(sessions) as session:
        mark_reauthorized(session.get(Store, store.id), ALL)
        mark_reauthorized(session.get(Store, store.id), ALL)  # active already
    with transaction(sessions) as session:
        row = session.get(Store, store.id)
        row.status = "uninstalled"
        mark_needs_reauth(row, "refused", ALL)  # an uninstalled store has nothing to authorise again
    assert kinds(sessions) == ["store.needs_reauth", "store.reauthorized"]
    assert json.loads(rows(sessions)[0].body)["data"]["reason"] == "HTTP 401: Invalid API key or access token"


def test_installs_tell_installed_or_reauthorized_and_a_reinstall_of_an_active_store_nothing(sessions, store):
    now = datetime.now(timezone.utc)
    with transaction(sessions) as session:
        record_install(session, "woocommerce", "https://new-shop.example", now, backend_events=ALL)
        record_install(session, "shopify", SHOP, now + timedelta(seconds=1), backend_events=ALL)  # active already
        mark_needs_reauth(session.get(Store, store.id), "refused")  # told nothing: not asked to
        record_install(session, "shopify", SHOP, now + timedelta(seconds=2), backend_events=ALL)
        session.get(Store, store.id).status = "uninstalled"
        record_install(session, "shopify", SHOP, now + timedelta(seconds=3), backend_events=ALL)
    assert [(c.type, json.loads(c.body)["data"]["store"]) for c in rows(sessions)] == [
        ("store.installed", "https://new-shop.example"), ("store.reauthorized", SHOP), ("store.installed", SHOP)]


def test_lifecycle_deliveries_replayed_tell_the_backend_once(engine, sessions, store):
    ids = [deliver(engine, store.id, "customers/redact", redact_request()),
           deliver(engine, store.id, "app/uninstalled", {"id": 1}),
           deliver(engine, store.id, "app/uninstalled", {"id": 1}),  # Shopify sent it twice
           deliver(engine, store.id, "shop/redact", {"shop_id": 1, "shop_domain": SHOP})]
    for event_id in ids[:3]:
        apply(sessions, event_id, times=2)
    assert kinds(sessions) == ["customer.redacted", "store.uninstalled"]
    with sessions() as session:
        caused = {c.type: c.dedupe_key for c in session.scalars(select(Conversion))}
    assert caused == {"customer.redacted": f"customer.redacted:event:{ids[0]}",
                      "store.uninstalled": f"store.uninstalled:event:{ids[1]}"}
    apply(sessions, ids[3], times=2)
    # The customer's event went with the store's data; the store's own stay, and the redaction is told once.
    assert kinds(sessions) == ["store.uninstalled", "store.redacted"]


def test_shop_redact_keeps_the_stores_own_events_and_erases_the_others(engine, settings, sessions, store):
    delivered = queue(sessions, store.id, told.STORE_INSTALLED)
    queue(sessions, store.id, told.CODE_CREATED, tracking_id="alice", campaign_id="spring-26", code="ALICE15",
          requested_code="ALICE15")
    with transaction(sessions) as session:
        session.get(Conversion, delivered).status = "delivered"
        session.add(DeliveryAttempt(conversion_id=delivered, status_code=200, duration_ms=3))
    apply(sessions, deliver(engine, store.id, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}))
    assert kinds(sessions) == ["store.installed", "store.redacted"]  # the code (an influencer's) is gone
    with sessions() as session:
        assert session.scalars(select(DeliveryAttempt.conversion_id)).all() == [delivered]


# -- delivered as conversions are -----------------------------------------------------------------


def test_an_event_is_signed_retried_failed_and_replayed_as_a_conversion_is(
        sessions, store, delivering_settings, backend, cli):
    backend.behaviour = Behaviour(status_for=lambda number, _id: 200 if number > 4 else 503)
    event_id = queue(sessions, store.id)
    worker = Worker(delivering_settings, sessions, rng=random.Random(1))
    for _ in range(4):  # the schedule's three waits: four attempts, then failed
        worker.deliver_due()
        with transaction(sessions) as session:
            session.get(Conversion, event_id).next_attempt_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    [row] = rows(sessions)
    assert row.status == "failed" and row.attempts == 4 and "503" in row.last_error
    listed = json.loads(cli("conversions", "list", "--json"))
    assert [(c["id"], c["type"], c["amount"], c["currency"]) for c in listed] == [
        (event_id, "store.needs_reauth", None, None)]
    assert "store.needs_reauth" in cli("conversions", "list")
    cli("conversions", "replay", "--failed")
    worker.deliver_due()
    assert rows(sessions)[0].status == "delivered"
    assert [r.webhook_id for r in backend.received] == [event_id] * 5  # the same id on every attempt ...
    assert len({json.dumps(r.body) for r in backend.received if r.body}) == 1  # ... and the same body
    [received] = backend.delivered()
    assert received.verified and received.body == json.loads(row.body)
    assert received.body["data"]["event_id"] == event_id
    check_sent([received.body])


def test_metrics_and_the_merchant_app_count_events_apart_from_conversions(
        client, shop_client, sessions, store, delivering_settings, backend):
    from standins.shopify import samples
    from .helpers import post_shopify

    post_shopify(client, "orders/paid", samples.order(order_id=9301, codes=("ALICE15",)))
    queue(sessions, store.id, told.STORE_REAUTHORIZED)
    drain(delivering_settings, sessions)
    queue(sessions, store.id)  # still pending
    numbers = scrape(client)
    assert numbers['connector_conversions{status="delivered"}'] == 1
    assert 'connector_conversions{status="pending"}' not in numbers
    assert numbers['connector_backend_events{status="delivered"}'] == 1
    assert numbers['connector_backend_events{status="pending"}'] == 1
    listed = shop_client.get("/admin/api/deliveries", headers=bearer()).json
    assert listed["counts"] == {"failed": 0, "pending": 1, "delivered": 2}  # what was sent to the backend
    texts = {d["type"]: (d["type_text"], d["amount"], d["currency"]) for d in listed["deliveries"]}
    assert texts["store.reauthorized"] == ("Store authorised again", None, None)
    assert texts["store.needs_reauth"] == ("Store needs authorising again", None, None)
    assert texts["conversion.purchase"][0] == "Purchase" and texts["conversion.purchase"][1] is not None
