"""Long work from the command line: a progress bar on a terminal (and nothing extra on a pipe), and replays of
many queued in batches that each commit, without taking up what changed meanwhile."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from connector.campaigns import directory
from connector.campaigns import influencers as campaigns
from connector.cli.shared import REPLAY_BATCH, progress
from connector.db import transaction
from connector.intake import inbox
from connector.intake.reconcile import reconcile_store
from connector.core.platform import PERCENTAGE
from connector.models import Event, Store
from connector.worker import retention
from standins.woocommerce import samples as woo_samples

SITE = "progress-site"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_is_drawn_on_a_terminal_and_nothing_on_a_pipe(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with progress("erasing", 4) as advance:
        advance(3)
        advance(1)
    drawn = terminal.getvalue()
    assert "erasing" in drawn and "3/4" in drawn and drawn.rstrip().endswith("4/4\x1b[?25h")
    counting = Terminal()
    monkeypatch.setattr("sys.stderr", counting)
    with progress("reading orders") as advance:  # length unknown: it counts
        for _ in range(7):
            advance(1)
    assert "reading orders" in counting.getvalue() and "7" in counting.getvalue()
    pipe = io.StringIO()
    monkeypatch.setattr("sys.stderr", pipe)
    with progress("erasing", 4) as advance:
        advance(4)
    assert pipe.getvalue() == ""


def _stored_events(sessions, engine, store_id: int, count: int, status: str) -> list[int]:
    now = datetime.now(timezone.utc)
    for number in range(count):
        inbox.store_delivery(engine, store_id=store_id, platform="shopify", delivery_id=f"wh-many-{number}",
                             topic="orders/paid", body=b'{"id": %d}' % number, now=now)
    with transaction(sessions) as session:
        session.execute(update(Event).values(status=status, handled_at=now))
        return list(session.scalars(select(Event.id).order_by(Event.id)))


def test_a_replay_of_many_events_is_queued_in_batches(cli, sessions, engine, store):
    count = 2 * REPLAY_BATCH + 1
    _stored_events(sessions, engine, store.id, count, "failed")
    assert f"queued {count} events" in cli("events", "replay", "--failed")
    with sessions() as session:
        assert session.scalar(select(func.count()).where(Event.status == "pending")) == count


def test_a_batch_of_a_replay_skips_an_event_handled_since_the_ids_were_read(sessions, engine, store):
    first, second = _stored_events(sessions, engine, store.id, 2, "failed")
    with transaction(sessions) as session:
        session.get(Event, second).status = "handled"  # replayed and handled by someone else meanwhile
    with transaction(sessions) as session:
        assert inbox.replay_events(session, [first, second], ("failed",), datetime.now(timezone.utc)) == [first]
    with sessions() as session:
        assert session.get(Event, second).status == "handled"


def test_prune_reports_each_batch_to_its_bar(sessions, engine, store):
    _stored_events(sessions, engine, store.id, 5, "handled")
    with transaction(sessions) as session:
        session.execute(update(Event).values(received_at=datetime.now(timezone.utc) - timedelta(days=40)))
    advanced: list[int] = []
    erased = retention.erase(sessions, datetime.now(timezone.utc), 30, progress=advanced.append)
    assert erased.bodies == 5 and sum(advanced) == 5


@pytest.fixture
def woo_store(sessions, woo_settings, woo):
    key, secret = woo.add_keys(SITE)
    with transaction(sessions) as session:
        store = directory.add_store(session, woo_settings.secret_key, "woocommerce", woo.site_url(SITE),
                                    access_token=f"{key}:{secret}", webhook_secret="s3cret")
        return store.id


def test_reconcile_advances_its_bar_once_per_order_read(sessions, woo_settings, woo, woo_store):
    now = datetime.now(timezone.utc)
    modified = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    for number in range(3):
        woo.place_order(SITE, woo_samples.order(order_id=900 + number, date_modified_gmt=modified), deliver=False)
    advanced: list[int] = []
    result = reconcile_store(woo_settings, sessions, woo_store, now, since=now - timedelta(days=1),
                             progress=advanced.append)
    assert result.fetched == 3 and advanced == [1, 1, 1]


def test_influencers_sync_makes_the_waiting_codes_now(cli, sessions, woo_settings, woo, woo_store, monkeypatch):
    monkeypatch.setenv("WOOCOMMERCE_ALLOW_PRIVATE_URLS", "1")
    site = woo.site_url(SITE)
    cli("influencers", "add", site, "dana", "--code", "DANA10", "--discount", "10%", "--no-setup")
    with transaction(sessions) as session:  # registered through the API: its code waits for the worker
        campaigns.upsert_influencer(session, session.get(Store, woo_store), campaigns.InfluencerSpec(
            "erin", None, None, "ERIN10", campaigns.discount_terms(PERCENTAGE, "10")), datetime.now(timezone.utc))
    answer = cli("influencers", "sync", site)
    assert "1 created" in answer and [c["code"] for c in woo.coupons(SITE)] == ["erin10"]  # WooCommerce keeps codes lower-case
    assert "0 created" in cli("influencers", "sync", site)
