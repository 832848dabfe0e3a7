"""Forwarding to a real local backend: signed, retried with the same id and body, failed, replayed."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from sqlalchemy import select
from standardwebhooks import Webhook

from standins.shopify import samples
from connector.cli import main
from connector.delivery.forwarder import Sender
from connector.models import DeliveryAttempt
from standins.backend import Behaviour, StandinBackend
from connector.worker import Worker

from .conftest import BACKEND_SECRET
from .helpers import conversions, drain, post_shopify


def _code_order(order_id=820982911946154508):
    return samples.order(order_id=order_id, codes=("ALICE15",), cart_ref="", landing_site="/", landing_site_ref="")


def _attempts(sessions, conversion_id):
    with sessions() as session:
        return list(session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.conversion_id == conversion_id)
                                    .order_by(DeliveryAttempt.id)))


def test_a_conversion_reaches_the_backend_signed_and_is_marked_delivered(client, delivering_settings, sessions, store, backend):
    post_shopify(client, "orders/paid", _code_order())
    drain(delivering_settings, sessions)
    [received] = backend.delivered()
    [conversion] = conversions(sessions)
    assert received.verified and received.webhook_id == conversion.id
    assert received.body == json.loads(conversion.body)
    assert conversion.status == "delivered" and conversion.delivered_at is not None
    [attempt] = _attempts(sessions, conversion.id)
    assert attempt.status_code == 200 and attempt.duration_ms >= 0 and '"ok": true' in attempt.excerpt


def test_the_signature_verifies_with_the_official_library_over_the_stored_body():
    sender = Sender("http://127.0.0.1:9/unused", BACKEND_SECRET)
    body = '{"type":"conversion.purchase","data":{"amount":"59.50"}}'
    headers = sender.headers("cv_123", body)
    assert Webhook(BACKEND_SECRET).verify(body, headers) == json.loads(body)
    assert headers["webhook-id"] == "cv_123"


def test_failures_are_retried_with_the_same_id_and_body_then_delivered(client, delivering_settings, sessions, store, backend):
    backend.behaviour = Behaviour(status_for=lambda number, _id: 503 if number <= 2 else 200)
    post_shopify(client, "orders/paid", _code_order())
    worker = Worker(delivering_settings, sessions)
    deadline = time.monotonic() + 10
    while not backend.delivered() and time.monotonic() < deadline:
        worker.handle_events()
        worker.deliver_due()
        time.sleep(0.02)
    worker.release()
    [conversion] = conversions(sessions)
    assert conversion.status == "delivered"
    ids = {r.webhook_id for r in backend.received}
    assert ids == {conversion.id} and len(backend.received) == 3
    assert len({json.dumps(r.body, sort_keys=True) for r in backend.received}) == 1
    assert [a.status_code for a in _attempts(sessions, conversion.id)] == [503, 503, 200]


def test_after_the_schedule_the_conversion_is_failed_and_replay_sends_it_again(client, delivering_settings, sessions, store, backend, monkeypatch):
    backend.behaviour = Behaviour(status_for=lambda number, _id: 500)
    post_shopify(client, "orders/paid", _code_order())
    clock = [datetime.now(timezone.utc)]
    worker = Worker(delivering_settings, sessions, clock=lambda: clock[0], rng=random.Random(1))
    for _ in range(10):  # the schedule has three waits: four attempts, then failed
        worker.handle_events()
        worker.deliver_due()
        clock[0] += timedelta(seconds=1)
    [conversion] = conversions(sessions)
    assert conversion.status == "failed" and conversion.attempts == 4
    assert "HTTP 500" in conversion.last_error
    assert len(_attempts(sessions, conversion.id)) == 4

    backend.behaviour = Behaviour()
    monkeypatch.setenv("DATABASE_URL", delivering_settings.database_url)
    monkeypatch.setenv("CONNECTOR_ENV", "development")
    result = CliRunner().invoke(main, ["conversions", "replay", "--failed"])
    assert result.exit_code == 0, result.output
    assert f"queued {conversion.id}" in result.output
    drain(delivering_settings, sessions)
    [conversion] = conversions(sessions)
    assert conversion.status == "delivered"
    assert {r.webhook_id for r in backend.delivered()} == {conversion.id}


def test_a_backend_that_does_not_answer_in_time_is_a_failed_attempt(client, delivering_settings, sessions, store):
    with StandinBackend(BACKEND_SECRET, behaviour=Behaviour(hold=lambda number, _id: 1.0 if number == 1 else 0)) as slow:
        post_shopify(client, "orders/paid", _code_order())
        settings = delivering_settings.with_overrides(tracking_backend_url=slow.url)
        worker = Worker(settings, sessions, sender=Sender(slow.url, BACKEND_SECRET, timeout=0.3))
        worker.handle_events()
        worker.deliver_due()
        [conversion] = conversions(sessions)
        [attempt] = _attempts(sessions, conversion.id)
        assert attempt.status_code is None and "took longer than 0.3 s" in attempt.error
        assert conversion.status == "pending" and conversion.next_attempt_at > attempt.attempted_at
        time.sleep(0.1)
        worker.deliver_due()
        assert conversions(sessions)[0].status == "delivered"
        worker.release()


def test_an_unreachable_backend_is_retried_not_fatal(client, delivering_settings, sessions, store):
    # A long first wait, so the burst ends before the retry is due however slow this machine is.
    settings = delivering_settings.with_overrides(tracking_backend_url="http://127.0.0.1:9/closed", retry_schedule=(60,))
    post_shopify(client, "orders/paid", _code_order())
    drain(settings, sessions)
    [conversion] = conversions(sessions)
    assert conversion.status == "pending" and conversion.attempts == 1
    assert "ConnectionError" in conversion.last_error


def test_without_a_backend_conversions_queue_up_undelivered(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _code_order())
    drain(settings, sessions)
    [conversion] = conversions(sessions)
    assert conversion.status == "pending" and conversion.attempts == 0


def test_a_conversion_claimed_by_another_worker_is_not_sent_twice(client, delivering_settings, sessions, store, backend):
    post_shopify(client, "orders/paid", _code_order())
    first = Worker(delivering_settings, sessions, worker_id="first")
    first.handle_events()
    from connector.delivery import outbox
    from connector.db import transaction

    with transaction(sessions) as session:  # "first" claims it and is slow to send
        claimed = outbox.claim_due(session, "first", datetime.now(timezone.utc), 30, 10)
    assert len(claimed) == 1
    second = Worker(delivering_settings, sessions, worker_id="second")
    assert second.deliver_due() == 0
    assert backend.received == []


def test_a_worker_outlives_a_database_that_goes_away(settings):
    """The worker keeps retrying instead of dying while the database does not answer; SIGTERM still stops it."""
    import threading

    from connector.db import make_engine, make_sessionmaker

    dead = make_sessionmaker(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pre_ping=False))
    worker = Worker(settings, dead)
    thread = threading.Thread(target=worker.run)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()
    worker.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_a_slow_backend_does_not_hold_up_new_events(client, delivering_settings, sessions, store):
    """Deliveries have their own loop: while one hangs on the backend, a new order is still handled at once."""
    import threading

    from .helpers import events

    arrived = threading.Event()
    release = threading.Event()

    def hold(number, _id):
        arrived.set()
        release.wait(10)
        return 0.0

    with StandinBackend(BACKEND_SECRET, behaviour=Behaviour(hold=hold)) as slow:
        settings = delivering_settings.with_overrides(tracking_backend_url=slow.url)
        worker = Worker(settings, sessions)
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            post_shopify(client, "orders/paid", _code_order(order_id=1))
            assert arrived.wait(10), "the first conversion is being delivered (and held)"
            post_shopify(client, "orders/paid", _code_order(order_id=2))
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and events(sessions)[-1].status != "handled":
                time.sleep(0.05)
            assert events(sessions)[-1].status == "handled"
            assert not release.is_set()
        finally:
            release.set()
            worker.stop()
            thread.join(timeout=20)
    assert not thread.is_alive()


def test_a_reversal_reaches_the_backend_only_after_its_purchase(client, delivering_settings, sessions, store, backend):
    order = _code_order()
    order["financial_status"] = "partially_refunded"
    order["refunds"] = [samples.refund()]
    post_shopify(client, "orders/updated", order)  # purchase and refund are created in one go
    drain(delivering_settings, sessions)
    assert [r.body["type"] for r in backend.delivered()] == ["conversion.purchase", "conversion.refund"]


def test_a_reversal_of_an_undelivered_purchase_waits(client, delivering_settings, sessions, store, backend):
    backend.behaviour = Behaviour(status_for=lambda number, _id: 500)
    order = _code_order()
    order["refunds"] = [samples.refund()]
    post_shopify(client, "orders/updated", order)
    drain(delivering_settings, sessions)
    assert {r.body["type"] for r in backend.received} == {"conversion.purchase"}
