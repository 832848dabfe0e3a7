"""Slow, huge and redirecting peers, over real sockets: the web tier under gunicorn exactly as the Procfile
runs it, and the worker's deliveries. Nobody at the other end of a call can stall the connector, fill its
memory, or have a signed conversion sent somewhere else."""

from __future__ import annotations

import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import select

from standins.shopify import samples
from connector.delivery.forwarder import Sender
from connector.models import Conversion, DeliveryAttempt, Event
from standins.backend import StandinBackend
from connector.worker import Worker

from ..conftest import BACKEND_SECRET, SHOP, SHOPIFY_SECRET
from ..helpers import post_shopify
from ..hostile import HostileServer, answer, drip, drip_body, huge, redirect


def _user_id(url: str, store_url: str) -> str:
    answer = requests.get(f"{url}/woocommerce/install", params={"store_url": store_url}, allow_redirects=False,
                          timeout=10)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query)["user_id"][0]


def _keys(user_id: str) -> dict:
    return {"key_id": 1, "user_id": user_id, "consumer_key": "ck_" + "a" * 40, "consumer_secret": "cs_" + "b" * 40,
            "key_permissions": "read_write"}


def test_sixteen_slow_stores_cannot_stall_webhooks_or_health_checks(gunicorn, sessions):
    """Sixteen installs whose store drips one byte every half second: as many as gunicorn has threads."""
    stop = threading.Event()
    with HostileServer(drip(0.5, stop)) as slow_store:
        user_ids = [_user_id(gunicorn.url, slow_store.url) for _ in range(16)]
        with ThreadPoolExecutor(16) as pool:
            started = time.monotonic()
            callbacks = [pool.submit(requests.post, f"{gunicorn.url}/woocommerce/callback", json=_keys(u), timeout=60)
                         for u in user_ids]
            time.sleep(1.0)  # the callbacks are all in, waiting on the store or turned away
            waits = []
            for n in range(10):
                began = time.monotonic()
                assert requests.get(f"{gunicorn.url}/healthz", timeout=5).status_code == 200
                order = samples.encode(samples.order(shop=SHOP, order_id=9_100_000 + n, codes=("ALICE15",)))
                headers = samples.headers(order, shop=SHOP, topic="orders/paid", secret=SHOPIFY_SECRET)
                assert requests.post(f"{gunicorn.url}/webhooks/shopify", data=order, headers=headers,
                                     timeout=5).status_code == 200
                waits.append(time.monotonic() - began)
            statuses = sorted(c.result().status_code for c in callbacks)
            took = time.monotonic() - started
        stop.set()
    assert max(waits) < 2.0, waits  # webhooks and /healthz kept finding a free thread
    # At most 4 callbacks per process waited on the store, each for its 4 s deadline; the rest were told to
    # come back (503), none waited longer than the deadline allows.
    assert statuses.count(503) >= 8 and set(statuses) <= {400, 503}, statuses
    assert took < 12, took
    with sessions() as session:
        assert len(session.scalars(select(Event)).all()) == 10


# -- the backend ----------------------------------------------------------------------------------


def _one_conversion(client, settings, sessions) -> str:
    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    Worker(settings, sessions).handle_events()
    with sessions() as session:
        return session.scalars(select(Conversion.id)).one()


def _attempts(sessions, conversion_id: str) -> list[DeliveryAttempt]:
    with sessions() as session:
        return list(session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.conversion_id == conversion_id)
                                    .order_by(DeliveryAttempt.id)))


def test_a_backend_redirect_is_a_failed_attempt_and_the_body_goes_nowhere_else(client, settings, sessions, store):
    with StandinBackend(BACKEND_SECRET) as elsewhere, \
            HostileServer(redirect(elsewhere.url, status=307)) as backend:
        conversion_id = _one_conversion(client, settings, sessions)
        delivering = settings.with_overrides(tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET)
        for _ in range(100):  # every retry of the schedule (0.05 s apart in the tests)
            Worker(delivering, sessions).run(burst=True)
            with sessions() as session:
                if session.get(Conversion, conversion_id).status != "pending":
                    break
            time.sleep(0.05)
        assert elsewhere.delivered() == []  # the signed body was never re-sent to where the 307 pointed
    attempts = _attempts(sessions, conversion_id)
    assert [a.status_code for a in attempts] == [307] * (len(delivering.retry_schedule) + 1)
    with sessions() as session:
        assert session.get(Conversion, conversion_id).status == "failed"  # retried as a failure, never "delivered"


def test_a_backend_dripping_one_answer_holds_up_no_other_delivery(client, settings, sessions, store):
    for n in range(6):
        post_shopify(client, "orders/paid", samples.order(order_id=9_200_000 + n, codes=("ALICE15",)))
    Worker(settings, sessions).handle_events()
    with sessions() as session:
        slow_id = session.scalars(select(Conversion.id).order_by(Conversion.id)).first()

    def play(conn, seen):
        if seen.headers.get("webhook-id") == slow_id:
            return drip_body(0.2)(conn, seen)
        return answer(200, b"ok")(conn, seen)

    with HostileServer(play) as backend:
        delivering = settings.with_overrides(tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET,
                                             http_timeout=3.0, retry_schedule=(60,))
        worker = Worker(delivering, sessions)
        runner = threading.Thread(target=worker.run)
        runner.start()
        try:
            deadline = time.monotonic() + 2.0
            delivered = 0
            while time.monotonic() < deadline and delivered < 5:
                time.sleep(0.05)
                with sessions() as session:
                    delivered = len(session.scalars(select(Conversion).where(Conversion.status == "delivered")).all())
            assert delivered == 5  # well before the slow one's 3 s deadline
            time.sleep(2.0)
        finally:
            worker.stop()
            runner.join(timeout=20)
    [attempt] = _attempts(sessions, slow_id)
    assert attempt.status_code is None and "took longer than 3.0 s" in attempt.error
    assert 2900 <= attempt.duration_ms < 4500


def test_a_huge_error_page_is_read_only_as_far_as_its_excerpt(client, settings, sessions, store):
    conversion_id = _one_conversion(client, settings, sessions)
    with HostileServer(huge(300 * 1024 * 1024, status=500)) as backend:
        sender = Sender(backend.url, BACKEND_SECRET, timeout=10)
        with sessions() as session:
            body = session.get(Conversion, conversion_id).body
        tracemalloc.start()
        try:
            result = sender.send(conversion_id, body)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert result.status_code == 500 and not result.ok
    assert len(result.excerpt) <= 300
    assert peak < 5 * 1024 * 1024  # 300 MB offered; a few KiB read
