"""GET /readyz and the workers' heartbeats (`connector workers`), on a real database."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from connector import create_app, liveness, migrate
from connector.db import make_sessionmaker, transaction
from connector.models import WorkerBeat
from connector.worker import Worker

from .helpers import drain


def _ready(client) -> tuple[int, dict]:
    answer = client.get("/readyz")
    return answer.status_code, answer.json


def test_ready_at_head_and_it_says_when_no_worker_runs(client, settings, sessions):
    status, body = _ready(client)
    assert status == 200 and body["status"] == "ready" and body["schema"] == migrate.head_revision()
    assert body["workers"]["running"] == 0 and "start `connector worker`" in body["workers"]["warning"]
    drain(settings, sessions)  # a worker ran (burst): it beat, then said it stopped
    status, body = _ready(client)
    assert status == 200 and body["workers"]["running"] == 0 and body["workers"]["last_seen"]


def test_a_running_worker_is_seen_and_one_silent_for_five_minutes_is_gone(client, settings, sessions):
    worker = Worker(settings, sessions, worker_id="w-test-1")
    worker.heartbeat()
    status, body = _ready(client)
    assert status == 200 and body["workers"]["running"] == 1 and "warning" not in body["workers"]
    with transaction(sessions) as session:
        session.get(WorkerBeat, "w-test-1").last_seen_at = datetime.now(timezone.utc) - timedelta(minutes=6)
    assert _ready(client)[1]["workers"]["running"] == 0
    with sessions() as session:
        assert [w.state for w in liveness.workers(session, datetime.now(timezone.utc))] == ["gone"]


def test_a_worker_beats_at_most_every_heartbeat_and_says_when_it_stops(settings, sessions):
    worker = Worker(settings, sessions, worker_id="w-test-2")
    worker.heartbeat()
    with sessions() as session:
        first = session.get(WorkerBeat, "w-test-2").last_seen_at
    worker.heartbeat()  # within HEARTBEAT seconds: nothing written
    with sessions() as session:
        assert session.get(WorkerBeat, "w-test-2").last_seen_at == first
    worker.stopped_beating()
    with sessions() as session:
        row = session.get(WorkerBeat, "w-test-2")
        assert row.stopped_at is not None and liveness.workers(session, datetime.now(timezone.utc))[0].state == \
            "stopped"


def test_workers_not_seen_for_a_week_are_forgotten(settings, sessions):
    now = datetime.now(timezone.utc)
    with transaction(sessions) as session:
        liveness.beat(session, "old", now - timedelta(days=8), now - timedelta(days=9))
        liveness.beat(session, "new", now, now)
    with sessions() as session:
        assert [w.worker_id for w in liveness.workers(session, now)] == ["new"]


@pytest.fixture
def unmigrated(tmp_path, database_kind, settings):
    """An empty database (SQLite) or one a migration behind (PostgreSQL: the session's schema, put back after)."""
    if database_kind == "sqlite":
        yield settings.with_overrides(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
        return
    migrate.downgrade(settings.database_url, "-1")
    try:
        yield settings
    finally:
        migrate.upgrade(settings.database_url)


def test_not_ready_on_a_database_not_at_the_codes_schema(unmigrated):
    engine = create_engine(unmigrated.database_url)
    try:
        client = create_app(unmigrated, engine=engine).test_client()
        status, body = _ready(client)
        assert status == 503 and body["status"] == "not_ready" and body["expected"] == migrate.head_revision()
        assert body["action"] == "run `connector db upgrade`" and migrate.head_revision() not in body["schema"]
        assert client.get("/healthz").status_code == 200  # alive all the same: only not ready
    finally:
        engine.dispose()


def test_not_ready_when_the_database_is_down(settings):
    down = settings.with_overrides(database_url="postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1")
    client = create_app(down).test_client()
    status, body = _ready(client)
    assert status == 503 and body == {"status": "unavailable", "database": "down"}


def test_connector_workers_lists_them_with_when_each_was_last_seen(cli, settings, sessions):
    assert "no worker has run in the last week" in cli("workers")
    Worker(settings, sessions, worker_id="host-a:1:1").heartbeat()
    listed = json.loads(cli("workers", "--json"))
    assert [(w["worker"], w["state"]) for w in listed] == [("host-a:1:1", "running")]
    assert listed[0]["last_seen_at"].endswith("Z") and listed[0]["pid"] > 0
    assert "host-a:1:1" in cli("workers") and "running" in cli("workers")
