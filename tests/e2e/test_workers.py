"""Real `connector worker` processes: two draining one queue on PostgreSQL, one killed mid-delivery, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from standins.shopify import samples
from connector.models import Conversion, Event
from standins.backend import Behaviour, StandinBackend

from ..conftest import BACKEND_SECRET
from ..helpers import post_shopify


def _env(settings, backend_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTOR_", "TRACKING_", "SHOPIFY_"))}
    env.update(
        DATABASE_URL=settings.database_url,
        CONNECTOR_ENV="development",
        SHOPIFY_API_SECRET=",".join(settings.shopify_api_secrets),
        TRACKING_BACKEND_URL=backend_url,
        TRACKING_BACKEND_SECRET=BACKEND_SECRET,
        CONNECTOR_POLL_INTERVAL="0.05",
        CONNECTOR_RETRY_SCHEDULE="0.2,0.2,0.2",
    )
    env.update(extra)
    return env


def _worker(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "connector.cli", "worker", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _send_orders(client, count: int) -> None:
    for number in range(count):
        order = samples.order(order_id=10_000 + number, name=f"#{10_000 + number}", codes=("ALICE15",),
                              cart_ref="", landing_site="/", landing_site_ref="")
        assert post_shopify(client, "orders/paid", order).status_code == 200


def _count(sessions, *where) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Conversion).where(*where))


@pytest.mark.only_database("postgresql")
def test_two_workers_drain_one_queue_with_nothing_twice_and_nothing_left(client, settings, sessions, store):
    orders = 120
    _send_orders(client, orders)
    with StandinBackend(BACKEND_SECRET, behaviour=Behaviour(hold=lambda *_: 0.005)) as backend:
        env = _env(settings, backend.url)
        workers = [_worker(env, "--burst"), _worker(env, "--burst")]
        outputs = [w.communicate(timeout=120)[0] for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        received = Counter(r.webhook_id for r in backend.delivered())
    assert len(received) == orders, "every order's conversion arrived"
    assert max(received.values()) == 1, "no conversion was sent twice"
    assert _count(sessions, Conversion.status == "delivered") == orders
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event).where(Event.status != "handled")) == 0


@pytest.mark.only_database("postgresql")
def test_a_worker_killed_mid_delivery_loses_nothing(client, settings, sessions, store):
    _send_orders(client, 1)
    arrived = []
    behaviour = Behaviour(hold=lambda number, webhook_id: (arrived.append(webhook_id), 5.0 if number == 1 else 0)[1])
    with StandinBackend(BACKEND_SECRET, behaviour=behaviour) as backend:
        env = _env(settings, backend.url, CONNECTOR_LEASE_SECONDS="1")
        victim = _worker(env)
        deadline = time.monotonic() + 30
        while not arrived and time.monotonic() < deadline:
            time.sleep(0.02)
        assert arrived, "the first worker started delivering"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert _count(sessions, Conversion.status == "delivered") == 0
        time.sleep(1.2)  # the killed worker's one-second lease runs out
        rescuer = _worker(env, "--burst")
        output = rescuer.communicate(timeout=60)[0]
        assert rescuer.returncode == 0, output
        delivered = backend.wait_for(1, timeout=10)
    with sessions() as session:
        [conversion] = session.scalars(select(Conversion)).all()
    assert conversion.status == "delivered"
    assert {r.webhook_id for r in delivered} == {conversion.id}


def test_sigterm_finishes_the_delivery_in_hand_and_exits_0(client, settings, sessions, store):
    _send_orders(client, 1)
    arrived = []
    behaviour = Behaviour(hold=lambda number, webhook_id: (arrived.append(webhook_id), 1.0)[1])
    with StandinBackend(BACKEND_SECRET, behaviour=behaviour) as backend:
        worker = _worker(_env(settings, backend.url))
        deadline = time.monotonic() + 30
        while not arrived and time.monotonic() < deadline:
            time.sleep(0.02)
        assert arrived
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0]
        assert worker.returncode == 0, output
        assert len(backend.delivered()) == 1
    with sessions() as session:
        [conversion] = session.scalars(select(Conversion)).all()
    assert conversion.status == "delivered" and conversion.claimed_by is None
