"""Backfill of a WooCommerce store through real HTTP: a store installed by wc-auth, orders placed before it (their
webhooks never came), `connector backfill` reading them in REST pages of 100 by modification time.

A dry run sends and keeps nothing that changes crediting (an order's later webhook credits it as usual); a commit
credits exactly the dry run's orders, oldest first, with `data.backfill: true`; run again it credits nothing; an
order's webhook after its backfill changes nothing; a run killed half-way (while reading, while crediting) goes on
where it stopped and credits exactly the rest."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import func, select

from connector.backfill import engine, runs
from connector.campaigns import directory
from connector.db import transaction
from connector.models import AttributionRecord, BackfillOrder, BackfillRun, Conversion, Order, Store
from connector.worker import Worker
from standins.woocommerce import samples


SITE = "backfill-woo"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _gmt(days_ago: float, minutes: int = 0) -> str:
    return (NOW - timedelta(days=days_ago) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def installed(live, woo, sessions, cli, monkeypatch):
    """The store installed through wc-auth, with dana (code DANA20) and erin (a link), and its past orders."""
    server, settings = live
    page = requests.get(f"{server.url}/woocommerce/install", params={"store_url": woo.site_url(SITE) + "/"}, timeout=20)
    assert page.status_code == 200
    with transaction(sessions) as session:
        store = directory.find_store(session, woo.site_url(SITE))
        directory.add_influencer(session, store, "dana", code="DANA20", campaign_id="spring-26")
        directory.add_influencer(session, store, "erin", campaign_id="spring-26")
    past = [
        samples.order(order_id=101, number="101", codes=("dana20",), date_created_gmt=_gmt(20), total="59.50"),
        samples.order(order_id=102, number="102", codes=(), landing_url="https://shop.example/?ref=erin",
                      date_created_gmt=_gmt(10)),
        samples.order(order_id=103, number="103", codes=(), date_created_gmt=_gmt(9)),
        samples.order(order_id=104, number="104", codes=("dana20",), status="pending", date_created_gmt=_gmt(8)),
        samples.order(order_id=105, number="105", codes=("dana20",), status="cancelled", date_created_gmt=_gmt(7)),
        # placed before the window, modified in it: not one of the window's orders
        samples.order(order_id=106, number="106", codes=("dana20",), date_created_gmt=_gmt(45),
                      date_modified_gmt=_gmt(2)),
    ]
    for index, order in enumerate(past):
        order.setdefault("date_modified_gmt", None)
        order["date_modified_gmt"] = order["date_modified_gmt"] or _gmt(6, minutes=index)
        woo.place_order(SITE, order, deliver=False)
    monkeypatch.setenv("WOOCOMMERCE_ALLOW_PRIVATE_URLS", "1")
    return settings


def _drain(settings, sessions) -> None:
    worker = Worker(settings, sessions, worker_id="e2e-backfill")
    while worker.handle_events() + worker.deliver_due():
        pass


def _count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _store_id(sessions) -> int:
    with sessions() as session:
        return session.scalars(select(Store.id).where(Store.platform == "woocommerce")).one()


def test_a_dry_run_sends_and_keeps_nothing_and_the_order_webhook_still_credits(installed, woo, sessions, backend,
                                                                               cli):
    calls = woo.calls("orders")
    output = cli("backfill", woo.site_url(SITE), "--days", "30")
    assert "5 orders read; 2 would be credited" in output
    assert "dana: 1 order\n    promo_code: 1 order, 59.50 EUR" in output
    assert "erin: 1 order\n    landing_page: 1 order, 59.50 EUR" in output
    assert "1: not paid; e.g. #104" in output and "1: cancelled; e.g. #105" in output
    assert "e.g. #103" in output and "#106" not in output
    assert woo.calls("orders") - calls == 1  # five orders: one page
    for model in (Conversion, Order, AttributionRecord):
        assert _count(sessions, model) == 0
    _drain(installed, sessions)
    assert backend.delivered() == []

    # The order's own webhook, later, credits it as if there had been no dry run.
    woo.update_order(SITE, 101, {"customer_note": "hello"})
    _drain(installed, sessions)
    [purchase] = backend.delivered()
    assert purchase.body["data"]["order_id"] == "101" and purchase.body["data"]["backfill"] is False


def test_a_commit_credits_exactly_the_dry_runs_orders_once(installed, woo, sessions, backend, cli):
    cli("backfill", woo.site_url(SITE), "--days", "30")
    with sessions() as session:
        dry = session.scalars(select(BackfillRun)).one()
        said = dry.figures
    calls = woo.calls("orders")
    output = cli("backfill", woo.site_url(SITE), "--days", "30", "--commit")
    assert woo.calls("orders") == calls  # the dry run's orders, not read again
    assert "5 orders read; 2 credited" in output and "the dry run it commits said: 2 orders" in output
    _drain(installed, sessions)
    delivered = sorted((r.body["data"]["order_id"], r.body["data"]["tracking_id"], r.body["data"]["method"],
                        r.body["data"]["backfill"]) for r in backend.delivered())
    assert delivered == [("101", "dana", "promo_code", True), ("102", "erin", "landing_page", True)]
    assert all(r.verified for r in backend.delivered())
    with sessions() as session:
        commit = session.scalars(select(BackfillRun).where(BackfillRun.mode == runs.COMMIT)).one()
        assert commit.figures["influencers"] == said["influencers"]
        assert commit.figures["not_credited"] == said["not_credited"]
        assert session.scalar(select(func.count()).select_from(BackfillOrder)) == 0  # erased when done
    # Oldest first: 101 (20 days ago) was credited before 102 (10 days ago).
    with sessions() as session:
        order_ids = [c.body for c in session.scalars(select(Conversion).order_by(Conversion.id))]
    assert '"order_id":"101"' in order_ids[0]

    # Run again: a fresh read of the store, and nothing credited twice.
    again = cli("backfill", woo.site_url(SITE), "--days", "30", "--commit")
    assert "0 credited" in again and "2: already credited" in again
    # The orders' own webhooks, after their backfill: nothing more either.
    woo.update_order(SITE, 101, {"customer_note": "late webhook"})
    woo.update_order(SITE, 102, {"customer_note": "late webhook"})
    _drain(installed, sessions)
    assert len(backend.delivered()) == 2
    assert _count(sessions, Conversion) == 2


def _many(woo, count: int, start: int = 1000) -> None:
    for index in range(count):
        woo.place_order(SITE, samples.order(order_id=start + index, number=str(start + index), codes=("dana20",),
                                            date_created_gmt=_gmt(25, minutes=index),
                                            date_modified_gmt=_gmt(24, minutes=index)), deliver=False)


class _Killed(BaseException):
    """The process dies here (the progress callback is the last thing it runs after a batch is kept)."""


def _kill_after(batches: int):
    seen = []

    def bars(_label, _length):
        import contextlib

        @contextlib.contextmanager
        def bar():
            def advance(n=1):
                seen.append(n)
                if len(seen) >= batches:
                    raise _Killed()
            yield advance
        return bar()
    return bars


def test_a_commit_killed_half_way_goes_on_and_credits_exactly_the_rest(installed, woo, sessions, backend):
    _many(woo, 250)
    store_id = _store_id(sessions)
    clock = lambda: datetime.now(timezone.utc)  # noqa: E731
    view = engine.begin(sessions, store_id, days=30, mode=runs.COMMIT, runner=runs.CLI, now=clock())
    # Killed while reading: after the first page of 100 was kept.
    with pytest.raises(_Killed):
        engine.drive(installed, sessions, view.id, "cli:dead-1", clock, bars=_kill_after(1))
    assert engine.current(sessions, view.id).status == runs.READING
    assert engine.current(sessions, view.id).orders_read == 100
    # Its lease runs out; another process goes on, and is killed after crediting one batch of 100.
    later = lambda: datetime.now(timezone.utc) + runs.LEASE + timedelta(seconds=1)  # noqa: E731
    with pytest.raises(_Killed):
        engine.drive(installed, sessions, view.id, "cli:dead-2", later, bars=_kill_after(3))
    stopped = engine.current(sessions, view.id)
    assert (stopped.status, stopped.orders_read, stopped.orders_done) == (runs.CREDITING, 255, 100)
    assert _count(sessions, Conversion) == 100
    much_later = lambda: datetime.now(timezone.utc) + 2 * runs.LEASE + timedelta(seconds=2)  # noqa: E731
    done = engine.drive(installed, sessions, view.id, "cli:third", much_later)
    assert (done.status, done.orders_done) == (runs.DONE, 255)
    assert done.figures["credited"] == 252 and done.figures["orders"] == 255
    # (Its clock is ahead, so its conversions are due then: read from the outbox rather than the backend.)
    with sessions() as session:
        ids = [json.loads(body)["data"]["order_id"] for body in session.scalars(select(Conversion.body))]
    assert len(ids) == len(set(ids)) == 252
    assert set(ids) == {str(n) for n in range(1000, 1250)} | {"101", "102"}


def test_a_second_backfill_of_a_store_waits_for_the_first(installed, woo, sessions):
    store_id = _store_id(sessions)
    now = datetime.now(timezone.utc)
    view = engine.begin(sessions, store_id, days=30, mode=runs.DRY_RUN, runner=runs.CLI, now=now)
    with transaction(sessions) as session:
        assert runs.claim(session, view.id, "someone", now, 300)
    with pytest.raises(runs.BackfillBusy):
        engine.begin(sessions, store_id, days=7, mode=runs.DRY_RUN, runner=runs.WORKER, now=now)
    # A commit half-way is never replaced by another backfill, even once its process is gone.
    with transaction(sessions) as session:
        runs.release(session, view.id, "someone")
    engine.begin(sessions, store_id, days=7, mode=runs.COMMIT, runner=runs.CLI, now=now)
    with pytest.raises(runs.BackfillBusy, match="--days 7 --commit"):
        engine.begin(sessions, store_id, days=30, mode=runs.DRY_RUN, runner=runs.CLI, now=now)
