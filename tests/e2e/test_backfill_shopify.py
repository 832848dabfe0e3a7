"""Backfill of a Shopify shop through real HTTP: an OAuth install at the stand-in Shopify, orders placed before it
(their webhooks never came), `connector backfill` reading them with one bulk operation (bulkOperationRunQuery,
polls of node(id:), the JSONL file downloaded and put back together).

A dry run sends and keeps nothing that changes crediting; a commit credits exactly its orders (`data.backfill:
true`), run again nothing; an order's webhook after its backfill changes nothing; a run killed while Shopify works
polls the same operation again, one killed while crediting credits exactly the rest; more than 60 days without
read_all_orders is refused with what to do; a failed operation is started anew next time."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, select

from adapters.shopify.app_config import app_toml
from connector import create_app
from connector.backfill import engine, runs
from connector.campaigns import directory
from connector.db import transaction
from connector.models import AttributionRecord, Conversion, Order, Store
from connector.worker import Worker
from standins.live_server import LiveServer
from standins.shopify import bulk, journeys, samples
from standins.shopify.store import DEFAULT_SCOPE, StandinShopify, query_hmac  # noqa: F401

from ..conftest import BACKEND_SECRET, SHOPIFY_SECRET

API_KEY = "backfill-api-key"
SHOP = "backfill-boutique.myshopify.com"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _iso(days_ago: float, minutes: int = 0) -> str:
    return (NOW - timedelta(days=days_ago) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def _order(order_id: int, days_ago: float, **fields) -> dict:
    """The sample order without the template's landing page and cart `_ref`: only what `fields` give it counts."""
    fields = {"landing_site": "", "landing_site_ref": "", "cart_ref": "", **fields}
    body = samples.order(shop=SHOP, order_id=order_id, name=f"#{order_id}", **fields)
    body["created_at"] = body["processed_at"] = _iso(days_ago)
    return body


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET, scope=DEFAULT_SCOPE) as standin:
        yield standin


def _install(settings, engine, sessions, shopify, backend, all_orders: bool = False):
    server = LiveServer()
    live = settings.with_overrides(public_url=server.url, shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url,
                                   tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET,
                                   shopify_scopes=settings.shopify_scopes + (("read_all_orders",) if all_orders else ()))
    server.start(create_app(live, engine=engine))
    shopify.deploy_app_config(app_toml(live))
    params = {"shop": SHOP, "timestamp": str(int(time.time()))}
    requests.get(f"{server.url}/shopify/install?{urlencode({**params, 'hmac': query_hmac(params, SHOPIFY_SECRET)})}",
                 timeout=10)
    worker = Worker(live, sessions, worker_id="backfill-setup")
    while _store(sessions).setup_pending and worker.maintain():
        pass
    with transaction(sessions) as session:
        store = session.scalars(select(Store).where(Store.domain == SHOP)).one()
        directory.add_influencer(session, store, "alice", code="ALICE15", campaign_id="spring-26")
        directory.add_influencer(session, store, "bob", campaign_id="spring-26")
    return server, live


@pytest.fixture
def shop(settings, engine, sessions, shopify, backend, cli, monkeypatch):
    """The app installed in the stand-in shop (read_orders, not read_all_orders), with its past orders."""
    server, live = _install(settings, engine, sessions, shopify, backend)
    shopify.place_order(SHOP, _order(2001, 20, codes=("ALICE15",)), deliver=False)
    shopify.place_order(SHOP, _order(2002, 12, codes=()), deliver=False)  # bob's visit, below
    shopify.set_journey(SHOP, 2002, journeys.summary(first=journeys.visit(_iso(12.1), f"https://{SHOP}/?ref=bob")))
    shopify.place_order(SHOP, _order(2003, 9, codes=()), deliver=False)  # no signal
    shopify.place_order(SHOP, _order(2004, 8, codes=("ALICE15",), financial_status="pending"), deliver=False)
    shopify.place_order(SHOP, _order(2005, 7, codes=("ALICE15",), test=True), deliver=False)
    shopify.place_order(SHOP, _order(2006, 40, codes=("ALICE15",)), deliver=False)  # before the 30-day window
    monkeypatch.setenv("SHOPIFY_ADMIN_URL", shopify.admin_url)
    monkeypatch.setenv("SHOPIFY_API_KEY", API_KEY)
    monkeypatch.setenv("SHOPIFY_API_SECRET", SHOPIFY_SECRET)
    yield live
    server.stop()


def _store(sessions) -> Store:
    with sessions() as session:
        return session.scalars(select(Store).where(Store.domain == SHOP)).one()


def _drain(settings, sessions) -> None:
    worker = Worker(settings, sessions, worker_id="e2e-backfill")
    while worker.handle_events() + worker.deliver_due():
        pass


def _count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _calls(shopify) -> dict:
    counts = shopify.graphql_counts(SHOP)
    files = sum(1 for call in shopify.calls if call.kind == "bulk_file")
    return {"bulk": counts["bulkOperationRunQuery"], "polls": counts["node"], "files": files,
            "orders": counts["orders"] + counts["order"]}


def test_a_dry_run_reads_one_bulk_operation_and_sends_and_keeps_nothing(shop, shopify, sessions, backend, cli):
    output = cli("backfill", SHOP, "--days", "30")
    assert "5 orders read; 2 would be credited" in output
    assert "alice: 1 order\n    promo_code: 1 order" in output
    assert "bob: 1 order\n" in output  # from Shopify's visits, read in the same bulk query
    assert "1: not paid; e.g. #2004" in output and "1: a test order" in output and "#2006" not in output
    # One bulk query, one poll (it completes at once here), one download: no page of orders, no order read alone.
    assert _calls(shopify) == {"bulk": 1, "polls": 1, "files": 1, "orders": 0}
    assert "calls to the store while reading: 3" in output
    for model in (Conversion, Order, AttributionRecord):
        assert _count(sessions, model) == 0
    _drain(shop, sessions)
    assert backend.delivered() == []
    # The order's own webhook, later, credits it as if there had been no dry run.
    shopify.send_webhook(SHOP, "orders/paid", shopify.order(SHOP, 2001))
    _drain(shop, sessions)
    [purchase] = backend.delivered()
    assert (purchase.body["data"]["order_id"], purchase.body["data"]["backfill"]) == ("2001", False)


def test_a_commit_credits_exactly_the_dry_runs_orders_once(shop, shopify, sessions, backend, cli):
    cli("backfill", SHOP, "--days", "30")
    before = _calls(shopify)
    output = cli("backfill", SHOP, "--days", "30", "--commit")
    assert _calls(shopify) == before  # the dry run's orders: Shopify is not asked again
    assert "2 credited" in output and "the dry run it commits said: 2 orders" in output
    _drain(shop, sessions)
    got = sorted((r.body["data"]["order_id"], r.body["data"]["tracking_id"], r.body["data"]["backfill"])
                 for r in backend.delivered())
    assert got == [("2001", "alice", True), ("2002", "bob", True)]
    assert all(r.verified for r in backend.delivered())

    again = cli("backfill", SHOP, "--days", "30", "--commit")  # a new bulk operation, nothing credited twice
    assert "0 credited" in again and "2: already credited" in again
    assert _calls(shopify)["bulk"] == 2
    shopify.send_webhook(SHOP, "orders/updated", shopify.order(SHOP, 2001))
    shopify.send_webhook(SHOP, "orders/paid", shopify.order(SHOP, 2002))
    _drain(shop, sessions)
    assert len(backend.delivered()) == 2 and _count(sessions, Conversion) == 2


class _Killed(BaseException):
    pass


def _kill_after(calls: int):
    seen = []

    def bars(_label, _length):
        @contextlib.contextmanager
        def bar():
            def advance(n=1):
                seen.append(n)
                if len(seen) >= calls:
                    raise _Killed()
            yield advance
        return bar()
    return bars


def test_a_run_killed_while_shopify_works_and_while_crediting_goes_on_with_exactly_the_rest(shop, shopify, sessions):
    for index in range(150):
        shopify.place_order(SHOP, _order(3000 + index, 25, codes=("ALICE15",)) | {"created_at": _iso(25, index)},
                            deliver=False)
    bulk.set_polls(shopify, SHOP, 1)
    store_id = _store(sessions).id
    view = engine.begin(sessions, store_id, days=30, mode=runs.COMMIT, runner=runs.CLI, now=NOW)
    # Stopped (as if killed) while Shopify gathers the orders: the operation's id is kept at the first checkpoint.
    kept = engine.drive(shop, sessions, view.id, "cli:dead-1", lambda: datetime.now(timezone.utc),
                        deadline=time.monotonic())
    assert kept.status == runs.READING and kept.orders_read == 0 and "Shopify" in kept.read_note
    later = lambda: datetime.now(timezone.utc) + runs.LEASE + timedelta(seconds=1)  # noqa: E731
    with pytest.raises(_Killed):
        engine.drive(shop, sessions, view.id, "cli:dead-2", later, bars=_kill_after(2))
    assert _calls(shopify)["bulk"] == 1  # polled again, not started again
    half = engine.current(sessions, view.id)
    assert (half.status, half.orders_read, half.orders_done) == (runs.CREDITING, 155, 100)
    much_later = lambda: datetime.now(timezone.utc) + 2 * runs.LEASE + timedelta(seconds=2)  # noqa: E731
    done = engine.drive(shop, sessions, view.id, "cli:third", much_later)
    assert (done.status, done.orders_done, done.figures["credited"]) == (runs.DONE, 155, 152)
    with sessions() as session:
        ids = [json.loads(body)["data"]["order_id"] for body in session.scalars(select(Conversion.body))]
    assert len(ids) == len(set(ids)) == 152


def test_more_than_60_days_needs_read_all_orders_and_says_so(shop, shopify, sessions, cli):
    output = cli("backfill", SHOP, "--days", "90", code=1)
    assert "read_all_orders" in output and "60 days or fewer" in output and "Partner Dashboard" in output
    assert _calls(shopify)["bulk"] == 0  # refused before anything was asked of Shopify
    # 60 days is fine (it reaches the order of 40 days ago too).
    assert "6 orders read" in cli("backfill", SHOP, "--days", "60")


def test_with_read_all_orders_a_long_backfill_reads_older_orders(settings, engine, sessions, shopify, backend, cli,
                                                                   monkeypatch):
    server, live = _install(settings, engine, sessions, shopify, backend, all_orders=True)
    try:
        shopify.place_order(SHOP, _order(4001, 75, codes=("ALICE15",)), deliver=False)
        shopify.place_order(SHOP, _order(4002, 5, codes=("ALICE15",)), deliver=False)
        for name, value in (("SHOPIFY_ADMIN_URL", shopify.admin_url), ("SHOPIFY_API_KEY", API_KEY),
                            ("SHOPIFY_API_SECRET", SHOPIFY_SECRET)):
            monkeypatch.setenv(name, value)
        output = cli("backfill", SHOP, "--days", "90", "--commit")
        assert "2 orders read; 2 credited" in output
    finally:
        server.stop()


def test_a_failed_bulk_operation_is_started_anew(shop, shopify, cli):
    bulk.set_polls(shopify, SHOP, 0, fail_next=True)
    output = cli("backfill", SHOP, "--days", "30", code=1)
    assert "bulk operation ended failed (INTERNAL_SERVER_ERROR)" in output and "run the same command again" in output
    assert "5 orders read" in cli("backfill", SHOP, "--days", "30")
    assert _calls(shopify)["bulk"] == 2


def test_a_token_added_by_hand_has_its_scopes_asked_before_a_long_backfill(settings, sessions, shopify, cli,
                                                                          monkeypatch):
    """A custom app's token (`stores add shopify --access-token`) has no grant on record: the shop is asked."""
    hand = "by-hand-boutique.myshopify.com"
    shopify.grant_token(hand, "shpat_by_hand")
    with transaction(sessions) as session:
        directory.add_store(session, settings.secret_key, "shopify", hand, access_token="shpat_by_hand")
    for name, value in (("SHOPIFY_ADMIN_URL", shopify.admin_url), ("SHOPIFY_API_KEY", API_KEY),
                        ("SHOPIFY_API_SECRET", SHOPIFY_SECRET)):
        monkeypatch.setenv(name, value)
    output = cli("backfill", hand, "--days", "90", code=1)
    assert "read_all_orders" in output
    counts = shopify.graphql_counts(hand)
    assert (counts["currentAppInstallation"], counts["bulkOperationRunQuery"]) == (1, 0)
