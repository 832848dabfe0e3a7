"""The merchant page's "Past orders" panel (/admin/api/backfill) behind the session token: the store's own orders
only; a POST answers at once and the worker's maintenance loop does the work; the button's commit names the dry run
it restates and is refused when those figures are not the latest; the onboarding checklist offers it after setup."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from connector.backfill import engine, runs
from connector.campaigns import directory
from connector.db import transaction
from connector.models import BackfillRun, Conversion, Store
from connector.worker import Worker
from standins.shopify import samples
from standins.shopify.store import StandinShopify

from .conftest import SHOP, SHOPIFY_SECRET
from .helpers import API_KEY, session_token

OTHER = "other-boutique.myshopify.com"


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        standin.grant_token(SHOP, "shpat_test")
        yield standin


@pytest.fixture
def live(shop_settings, shopify):
    return shop_settings.with_overrides(shopify_admin_url=shopify.admin_url)


@pytest.fixture
def merchant(live, engine):
    from connector import create_app

    app = create_app(live, engine=engine)
    app.config["TESTING"] = True
    return app.test_client()


def bearer(**claims) -> dict:
    return {"Authorization": f"Bearer {session_token(**claims)}"}


def post(client, path: str, body, **claims):
    return client.post(path, headers=bearer(**claims), data=json.dumps(body), content_type="application/json")


def _past(shopify, order_id: int, days_ago: float, **fields) -> None:
    body = samples.order(shop=SHOP, order_id=order_id, name=f"#{order_id}", landing_site="", landing_site_ref="",
                         cart_ref="", **fields)
    body["created_at"] = (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat()
    shopify.place_order(SHOP, body, deliver=False)


def _work(settings, sessions) -> None:
    worker = Worker(settings, sessions, worker_id="panel-worker")
    for _ in range(20):
        if not worker.maintain():
            return


def test_the_panel_needs_the_session_token_and_sees_only_its_store(merchant, store, sessions, settings):
    for method, path in (("get", "/admin/api/backfill"), ("post", "/admin/api/backfill"),
                         ("post", "/admin/api/backfill/commit")):
        assert getattr(merchant, method)(path).status_code == 401
    with transaction(sessions) as session:
        other = directory.add_store(session, settings.secret_key, "shopify", OTHER, access_token="shpat_other")
    other_run = engine.begin(sessions, other.id, days=30, mode=runs.DRY_RUN, runner=runs.CLI,
                             now=datetime.now(timezone.utc))
    answer = merchant.get("/admin/api/backfill", headers=bearer())
    assert answer.status_code == 200 and answer.json["run"] is None and answer.json["default_days"] == 30
    # Another store's dry run cannot be committed from this store's page.
    refused = post(merchant, "/admin/api/backfill/commit", {"dry_run": other_run.id, "orders": 0})
    assert refused.status_code == 409 and refused.json["error"] == "stale"


@pytest.mark.parametrize("body", [{"days": 0}, {"days": 366}, {"days": "30"}, {"days": 30, "store": OTHER}, [1]])
def test_a_dry_run_request_out_of_bounds_is_refused_with_what_is_wanted(merchant, store, body):
    answer = post(merchant, "/admin/api/backfill", body)
    assert answer.status_code == 422 and answer.json["error"] == "validation_error"


def test_dry_run_then_the_button_credits_exactly_those_orders_in_the_worker(merchant, store, shopify, live, sessions):
    _past(shopify, 9001, 12, codes=("ALICE15",))
    _past(shopify, 9002, 10, codes=("CAROL10",))
    _past(shopify, 9003, 9, codes=())
    asked = post(merchant, "/admin/api/backfill", {"days": 30})
    assert asked.status_code == 202 and asked.json["run"]["status"] == "reading"
    assert shopify.graphql_counts(SHOP)["bulkOperationRunQuery"] == 0  # the request itself calls no one
    assert post(merchant, "/admin/api/backfill", {"days": 30}).status_code == 202  # the same run, not a second
    _work(live, sessions)
    shown = merchant.get("/admin/api/backfill", headers=bearer()).json
    run = shown["run"]
    assert (run["mode"], run["status"], run["figures"]["credited"], shown["committable"]) == ("dry_run", "done", 2, True)
    assert set(run["figures"]["influencers"]) == {"alice", "carol"}
    assert "no promo code" in run["reasons"]["no_signal"]
    with sessions() as session:
        assert session.scalars(select(Conversion)).all() == []

    # The button restates what it credits: other figures are refused.
    assert post(merchant, "/admin/api/backfill/commit", {"dry_run": run["id"], "orders": 3}).status_code == 409
    started = post(merchant, "/admin/api/backfill/commit", {"dry_run": run["id"], "orders": 2})
    assert started.status_code == 202 and started.json["run"]["mode"] == "commit"
    _work(live, sessions)
    done = merchant.get("/admin/api/backfill", headers=bearer()).json["run"]
    assert (done["status"], done["figures"]["credited"], done["of_dry_run"]) == ("done", 2, run["id"])
    with sessions() as session:
        bodies = [json.loads(c.body)["data"] for c in session.scalars(select(Conversion))]
    assert sorted((b["order_id"], b["tracking_id"], b["backfill"]) for b in bodies) == [
        ("9001", "alice", True), ("9002", "carol", True)]
    assert shopify.graphql_counts(SHOP)["bulkOperationRunQuery"] == 1  # the commit read nothing again


def test_a_backfill_running_elsewhere_is_said_and_not_doubled(merchant, store, sessions):
    now = datetime.now(timezone.utc)
    view = engine.begin(sessions, store.id, days=7, mode=runs.DRY_RUN, runner=runs.CLI, now=now)
    with transaction(sessions) as session:
        runs.claim(session, view.id, "cli:elsewhere:1", now, 300)
    answer = post(merchant, "/admin/api/backfill", {"days": 30})
    assert answer.status_code == 409 and answer.json["error"] == "busy" and "7 days" in answer.json["message"]
    with sessions() as session:
        assert len(session.scalars(select(BackfillRun)).all()) == 1


def test_the_checklist_offers_it_after_setup_and_says_what_was_done(merchant, store, shopify, live, sessions):
    assert "past_orders" not in {s["key"] for s in merchant.get("/admin/api/onboarding", headers=bearer()).json["steps"]}
    with transaction(sessions) as session:
        session.get(Store, store.id).setup_at = datetime.now(timezone.utc)

    def offer() -> dict:
        steps = merchant.get("/admin/api/onboarding", headers=bearer()).json["steps"]
        return next(s for s in steps if s["key"] == "past_orders")

    assert offer()["state"] == "todo" and "30 days" in offer()["action"]
    _past(shopify, 9101, 3, codes=("ALICE15",))
    post(merchant, "/admin/api/backfill", {"days": 30})
    assert offer()["state"] == "working"
    _work(live, sessions)
    assert offer()["state"] == "done" and "1 order would be credited" in offer()["detail"]
