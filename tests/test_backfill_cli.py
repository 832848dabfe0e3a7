"""`connector backfill` itself: its report and --json, its refusals as one clear line, and a run whose process was
killed (its lease still held by a pid that is gone) taken up again by the same command on the same machine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from connector.backfill import engine, runs
from connector.campaigns import directory
from connector.db import transaction
from standins.woocommerce import samples

from .adapters.woocommerce_helpers import add_woocommerce_store

SITE = "cli-backfill"


def _gmt(days_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def shop(woo, sessions, settings, monkeypatch):
    keys = ":".join(woo.add_keys(SITE))
    store_id = add_woocommerce_store(sessions, settings, woo.site_url(SITE), keys)
    with transaction(sessions) as session:
        store = directory.find_store(session, woo.site_url(SITE))
        directory.add_influencer(session, store, "dana", code="DANA20", campaign_id="spring-26")
    for n in range(3):
        woo.place_order(SITE, samples.order(order_id=801 + n, codes=("dana20",), date_created_gmt=_gmt(3 + n),
                                            date_modified_gmt=_gmt(3 + n)), deliver=False)
    monkeypatch.setenv("WOOCOMMERCE_ALLOW_PRIVATE_URLS", "1")
    return store_id


def _dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_the_report_and_its_json(cli, woo, shop):
    text = cli("backfill", woo.site_url(SITE), "--days", "30")
    assert "3 orders read; 3 would be credited: 178.50 EUR" in text and "dana: 3 orders" in text
    document = json.loads(cli("backfill", woo.site_url(SITE), "--days", "30", "--commit", "--json"))
    assert (document["mode"], document["status"], document["figures"]["credited"]) == ("commit", "done", 3)
    assert document["restated"]["credited"] == 3 and document["store"] == woo.site_url(SITE)


def test_refusals_are_one_line(cli, woo, shop):
    assert "no store 'https://nowhere.example'" in cli("backfill", "https://nowhere.example", code=1)
    assert "Invalid value for '--days'" in cli("backfill", woo.site_url(SITE), "--days", "0", code=2)


def test_a_killed_command_is_taken_up_again_where_it_stopped(cli, woo, shop, sessions, settings):
    now = datetime.now(timezone.utc)
    view = engine.begin(sessions, shop, days=30, mode=runs.COMMIT, runner=runs.CLI, now=now)
    gone = f"cli:{socket.gethostname()}:{_dead_pid()}"
    with transaction(sessions) as session:
        assert runs.claim(session, view.id, gone, now, 300)  # as the killed process left it
    text = cli("backfill", woo.site_url(SITE), "--days", "30", "--commit")
    assert "3 credited" in text
    # One held by a process that is alive (this test's parent) is not taken over.
    other = engine.begin(sessions, shop, days=7, mode=runs.DRY_RUN, runner=runs.CLI, now=now)
    with transaction(sessions) as session:
        assert runs.claim(session, other.id, f"cli:{socket.gethostname()}:{os.getppid()}", now, 300)
    assert "another process is working on this backfill" in cli("backfill", woo.site_url(SITE), "--days", "7",
                                                                 code=1)
