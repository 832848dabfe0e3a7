"""The worker woken by PostgreSQL's LISTEN/NOTIFY: a stored event is handled at once, not at the next poll; the
listener survives its connection being killed and stops with the worker. SQLite keeps polling."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text

from standins.shopify import samples
from connector.db import make_engine
from connector.intake import inbox
from connector.models import Event
from connector.worker import Worker
from connector.worker.wake import Listener, listen

from .helpers import post_shopify

#: far longer than any wait below: an event handled sooner was not found by the poll
LONG_POLL = 30.0


def _order(number: int) -> dict:
    return samples.order(order_id=50_000 + number, name=f"#{50_000 + number}", codes=("ALICE15",),
                         cart_ref="", landing_site="/", landing_site_ref="")


def _handled(sessions) -> int:
    with sessions() as session:
        return len(session.scalars(select(Event.id).where(Event.status == "handled")).all())


def _wait(condition, timeout: float) -> float | None:
    """Seconds until condition() held, or None if it did not within timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.01)
    return None


class _Running:
    """A Worker's run() in a thread, stopped (and joined) on exit."""

    def __init__(self, settings, sessions):
        self.worker = Worker(settings, sessions, worker_id="wake-test")
        self.thread = threading.Thread(target=self.worker.run, name="worker-under-test")

    def __enter__(self) -> "_Running":
        self.thread.start()
        return self

    def listening(self, timeout: float = 10.0) -> Listener:
        assert _wait(lambda: self.worker.listener is not None and self.worker.listener.listening.is_set(), timeout)
        return self.worker.listener

    def __exit__(self, *_exc) -> None:
        self.worker.stop()
        self.thread.join(30)


def _idle(running: _Running, sessions, handled: int) -> None:
    """Wait until the worker has looked once and sits in its poll's wait."""
    time.sleep(0.5)
    assert _handled(sessions) == handled


@pytest.mark.only_database("postgresql")
def test_a_stored_event_wakes_a_worker_with_a_long_poll_at_once(client, settings, sessions, store):
    with _Running(settings.with_overrides(poll_interval=LONG_POLL), sessions) as running:
        running.listening()
        _idle(running, sessions, 0)
        assert post_shopify(client, "orders/paid", _order(1)).json["outcome"] == "stored"
        took = _wait(lambda: _handled(sessions) == 1, 5.0)
    assert took is not None and took < 1.0, f"handled after {took} s: the NOTIFY did not wake the worker"


@pytest.mark.only_database("sqlite")
def test_on_sqlite_nothing_listens_and_the_poll_finds_the_event(client, settings, sessions, store):
    poll = 1.0
    with _Running(settings.with_overrides(poll_interval=poll), sessions) as running:
        _idle(running, sessions, 0)
        assert running.worker.listener is None
        post_shopify(client, "orders/paid", _order(1))
        took = _wait(lambda: _handled(sessions) == 1, poll + 5.0)
    assert took is not None and took < poll + 2.0, f"handled after {took} s"


@pytest.mark.only_database("postgresql")
def test_the_listener_reconnects_after_its_connection_is_killed(client, settings, sessions, store, engine, caplog):
    caplog.set_level(logging.INFO, logger="connector.worker")
    with _Running(settings.with_overrides(poll_interval=LONG_POLL), sessions) as running:
        killed = running.listening().backend_pid
        with engine.begin() as connection:
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": killed})
        assert _wait(lambda: running.worker.listener.backend_pid != killed
                     and running.worker.listener.listening.is_set(), 10.0) is not None
        _idle(running, sessions, 0)
        post_shopify(client, "orders/paid", _order(2))
        took = _wait(lambda: _handled(sessions) == 1, 5.0)
        assert running.thread.is_alive()
    assert took is not None and took < 1.0, f"handled after {took} s: the listener did not come back"
    assert any(r.levelno == logging.WARNING and "not listening for work" in r.getMessage() for r in caplog.records)


@pytest.mark.only_database("postgresql")
def test_stopping_the_worker_stops_the_listener_promptly(settings, sessions, engine):
    running = _Running(settings.with_overrides(poll_interval=LONG_POLL), sessions).__enter__()
    listener = running.listening()
    started = time.monotonic()
    running.__exit__(None, None, None)
    assert not running.thread.is_alive() and not listener.alive
    assert time.monotonic() - started < 5.0

    def gone() -> bool:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                     {"pid": listener.backend_pid}) == 0

    assert _wait(gone, 5.0) is not None, "the listener's connection was closed"


@pytest.mark.only_database("postgresql")
def test_only_an_event_that_went_in_is_announced(engine, store):
    woken = threading.Event()
    listener = listen(engine, {inbox.EVENTS_CHANNEL: [woken]})
    try:
        assert listener.listening.wait(10)
        time.sleep(0.1)
        woken.clear()  # set once on subscribing, for what came before
        row = dict(store_id=store.id, platform="shopify", delivery_id="wake-1", topic="orders/paid", body=b"{}",
                   now=datetime.now(timezone.utc))
        assert inbox.store_delivery(engine, **row) == inbox.STORED
        assert woken.wait(2)
        woken.clear()
        assert inbox.store_delivery(engine, **row) == inbox.DUPLICATE
        assert not woken.wait(0.5), "a redelivery stored nothing and announced nothing"
    finally:
        listener.stop()


@pytest.mark.only_database("postgresql")
def test_a_database_that_cannot_be_reached_is_retried_without_ending_anything(caplog):
    caplog.set_level(logging.WARNING, logger="connector.worker")
    unreachable = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/test")
    listener = listen(unreachable, {inbox.EVENTS_CHANNEL: [threading.Event()]})
    try:
        assert _wait(lambda: any("not listening for work" in r.getMessage() for r in caplog.records), 5.0) is not None
        assert listener.alive and not listener.listening.is_set()
    finally:
        started = time.monotonic()
        listener.stop()
        unreachable.dispose()
    assert not listener.alive and time.monotonic() - started < 2.0


def test_nothing_listens_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert listen(engine, {inbox.EVENTS_CHANNEL: [threading.Event()]}) is None
    engine.dispose()


@pytest.mark.only_database("postgresql")
def test_another_schema_in_the_same_database_wakes_nothing(engine):
    woken = threading.Event()
    listener = listen(engine, {inbox.EVENTS_CHANNEL: [woken]})
    try:
        assert listener.listening.wait(10)
        time.sleep(0.1)
        woken.clear()
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_notify(:channel, 'some_other_deployment')"),
                               {"channel": inbox.EVENTS_CHANNEL})
        assert not woken.wait(0.5)
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_notify(:channel, current_schema())"), {"channel": inbox.EVENTS_CHANNEL})
        assert woken.wait(2)
    finally:
        listener.stop()
