"""Alerts an operator cannot miss, through the real worker: deliveries failing too long, a store needing
re-authorisation, events set aside. Each is one ERROR line saying what to do, a metric, and a signed notice to
CONNECTOR_ALERT_URL (raised, then resolved), retried like a conversion and never sent twice at once."""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from connector import logs
from connector.alerts import conditions, notices
from connector.db import transaction
from connector.delivery.forwarder import Sender
from connector.errors import ConfigurationError
from connector.installs.setup import mark_needs_reauth
from connector.models import Alert, DeliveryAttempt, Event, Store
from connector.settings import load_settings
from standins.backend import Behaviour, StandinBackend
from standins.shopify import samples

from .conftest import BACKEND_SECRET
from .hostile import HostileServer, answer, drip, redirect
from .helpers import drain, post_shopify
from .test_metrics import scrape

ALERT_SECRET = "whsec_" + base64.b64encode(b"alerts-alerts-alerts-alerts-0001").decode()


@pytest.fixture
def receiver():
    """The operator's alert endpoint: verifies the Standard Webhooks signature with the alert secret."""
    with StandinBackend(ALERT_SECRET) as standin:
        yield standin


@pytest.fixture
def failing_backend():
    answers = {"status": 503}
    with StandinBackend(BACKEND_SECRET, behaviour=Behaviour(status_for=lambda *_: answers["status"])) as standin:
        standin.answers = answers
        yield standin


@pytest.fixture
def alerting(settings, failing_backend, receiver):
    return settings.with_overrides(tracking_backend_url=failing_backend.url, tracking_backend_secret=BACKEND_SECRET,
                                   alert_url=receiver.url, alert_secrets=(ALERT_SECRET,), alert_after_seconds=900,
                                   # many short retries: a slow burst must never spend them all (given up)
                                   retry_schedule=(0.05,) * 200)


def _alerts(sessions) -> list[Alert]:
    with sessions() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def _age_attempts(sessions, by: timedelta) -> None:
    with transaction(sessions) as session:
        session.execute(update(DeliveryAttempt).values(attempted_at=datetime.now(timezone.utc) - by))


def test_a_backend_failing_longer_than_the_threshold_is_one_alert_then_resolved(
        client, alerting, sessions, store, failing_backend, receiver, caplog):
    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    drain(alerting, sessions)
    assert failing_backend.received and not failing_backend.delivered()
    assert _alerts(sessions) == []  # failing for a moment only: under the threshold
    _age_attempts(sessions, timedelta(minutes=20))
    with caplog.at_level(logging.ERROR, logger="connector.alerts"):
        drain(alerting, sessions)
        drain(alerting, sessions)  # a second watch raises nothing more
    [alert] = _alerts(sessions)
    assert (alert.kind, alert.subject, alert.resolved_at, alert.noticed) == ("deliveries_failing", "backend", None,
                                                                           "raised")
    assert "failing since" in alert.message and "1 conversions waiting" in alert.message
    assert "HTTP 503" in alert.message
    [line] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert line.getMessage().startswith("ALERT deliveries_failing") and "What to do" in line.getMessage()
    assert "connector conversions replay --failed" in line.getMessage()
    numbers = scrape(client)
    assert numbers['connector_alerts_open{kind="deliveries_failing"}'] == 1
    assert numbers['connector_alerts_raised_total{kind="deliveries_failing"}'] == 1
    assert numbers['connector_alerts_open{kind="store_needs_reauth"}'] == 0

    failing_backend.answers["status"] = 200
    time.sleep(0.2)  # the retry falls due
    drain(alerting, sessions)
    assert failing_backend.delivered()
    [alert] = _alerts(sessions)
    assert alert.resolved_at is not None and alert.noticed == "resolved" and alert.notice_due_at is None
    raised, resolved = receiver.delivered()
    assert raised.webhook_id == f"alert_{alert.id}_raised" and resolved.webhook_id == f"alert_{alert.id}_resolved"
    assert raised.body["type"] == "alert.raised" and resolved.body["type"] == "alert.resolved"
    assert raised.body["data"]["alert_id"] == resolved.body["data"]["alert_id"] == f"al_{alert.id}"
    assert raised.body["data"]["message"] == alert.message and resolved.body["data"]["resolved_at"]
    assert scrape(client)['connector_alerts_open{kind="deliveries_failing"}'] == 0


def test_conversions_given_up_keep_the_alert_open_until_replayed(client, alerting, sessions, store, failing_backend):
    given_up = alerting.with_overrides(retry_schedule=(), alert_url=None)
    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    drain(given_up, sessions)
    [alert] = _alerts(sessions)
    assert alert.kind == "deliveries_failing" and "1 conversions given up" in alert.message
    assert alert.notice_due_at is None  # no CONNECTOR_ALERT_URL: the log line and the metric only


def test_a_store_needing_reauthorisation_is_alerted_with_its_store_and_resolved_when_it_is_back(
        client, settings, sessions, store, receiver, capsys):
    watching = settings.with_overrides(alert_url=receiver.url, alert_secrets=(ALERT_SECRET,))
    logs.configure(load_settings({"CONNECTOR_ENV": "development", "CONNECTOR_LOG_FORMAT": "json"},
                                 read_dotenv=False), force=True)
    try:
        with transaction(sessions) as session:
            mark_needs_reauth(session.get(Store, store.id), "HTTP 401: Invalid API key or access token")
        capsys.readouterr()
        drain(watching, sessions)
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        logging.getLogger("connector").handlers.clear()
        logs._configured = False
    [line] = [line for line in lines if line["level"] == "ERROR"]
    assert line["logger"] == "connector.alerts" and line["alert"] == "store_needs_reauth"
    assert line["store"] == store.id and "authorise the app again" in line["message"]
    assert "shpat_" not in json.dumps(lines)
    [alert] = _alerts(sessions)
    assert alert.store_id == store.id and alert.subject == str(store.id)
    [notice] = receiver.delivered()
    assert notice.body["data"]["store"] == {"id": store.id, "platform": "shopify", "domain": store.domain}
    assert scrape(client)['connector_alerts_open{kind="store_needs_reauth"}'] == 1
    with transaction(sessions) as session:
        session.get(Store, store.id).status = "active"
    drain(watching, sessions)
    assert _alerts(sessions)[0].resolved_at is not None
    assert [r.body["type"] for r in receiver.delivered()] == ["alert.raised", "alert.resolved"]


def test_events_set_aside_are_told_once_per_batch(client, settings, sessions, store):
    for number in (1, 2, 3):
        post_shopify(client, "orders/paid", samples.order(order_id=number, codes=("ALICE15",)))

    def fail(*order_ids):
        with transaction(sessions) as session:  # what the worker leaves after MAX_EVENT_ATTEMPTS errors
            session.execute(update(Event).where(Event.id.in_(order_ids)).values(status="failed", error="boom"))

    fail(1, 2)
    drain(settings, sessions)
    drain(settings, sessions)
    [first] = _alerts(sessions)
    assert first.kind == "events_failed" and first.subject == "2" and "2 events set aside" in first.message
    assert "ids 1, 2" in first.message and first.resolved_at is not None  # a one-off: nothing stays open
    fail(3)
    drain(settings, sessions)
    assert [a.subject for a in _alerts(sessions)] == ["2", "3"]
    assert "1 events set aside" in _alerts(sessions)[1].message
    numbers = scrape(client)
    assert numbers['connector_alerts_raised_total{kind="events_failed"}'] == 2
    assert numbers['connector_alerts_open{kind="events_failed"}'] == 0


def test_two_workers_watching_at_once_raise_one_alert(settings, sessions, store):
    with transaction(sessions) as session:
        mark_needs_reauth(session.get(Store, store.id), "refused")
    now = datetime.now(timezone.utc)
    first_watched, results = threading.Event(), {}

    def first():
        with transaction(sessions) as session:
            results["first"] = conditions.watch(session, now, settings)
            first_watched.set()
            time.sleep(0.3)  # the second watches meanwhile, and waits for this commit (index or write lock)

    thread = threading.Thread(target=first)
    thread.start()
    first_watched.wait(5)
    with transaction(sessions) as session:
        results["second"] = conditions.watch(session, now, settings)
    thread.join()
    assert len(results["first"].raised) == 1 and results["second"].raised == ()
    assert len(_alerts(sessions)) == 1


def test_the_alert_endpoint_down_is_retried_with_the_same_id_then_given_up(settings, sessions, store, caplog):
    answers = {"status": 500}
    with StandinBackend(ALERT_SECRET, behaviour=Behaviour(status_for=lambda *_: answers["status"])) as down:
        watching = settings.with_overrides(alert_url=down.url, alert_secrets=(ALERT_SECRET,),
                                           retry_schedule=(0.0, 0.0))
        with transaction(sessions) as session:
            mark_needs_reauth(session.get(Store, store.id), "refused")
        with caplog.at_level(logging.WARNING, logger="connector.alerts"):
            for _ in range(4):
                drain(watching, sessions)
        ids = {r.webhook_id for r in down.received}
        assert len(down.received) == 3 and len(ids) == 1  # the first try and the schedule's two retries
        [alert] = _alerts(sessions)
        assert alert.noticed is None and alert.notice_due_at is None and "HTTP 500" in alert.notice_error
        assert any(r.levelno == logging.ERROR and "giving up" in r.getMessage() for r in caplog.records)


def test_a_notice_racing_a_resolve_still_sends_the_resolve(settings, sessions, store, receiver):
    watching = settings.with_overrides(alert_url=receiver.url, alert_secrets=(ALERT_SECRET,))
    now = datetime.now(timezone.utc)
    with transaction(sessions) as session:
        mark_needs_reauth(session.get(Store, store.id), "refused")
        conditions.watch(session, now, watching)
    with transaction(sessions) as session:
        [claimed] = notices.claim_due(session, now, 30)
    with transaction(sessions) as session:  # resolved while the raise is on its way
        session.get(Store, store.id).status = "active"
        conditions.watch(session, now, watching)
    sender = Sender(receiver.url, (ALERT_SECRET,))
    with transaction(sessions) as session:
        notices.record(session, claimed, sender.send(claimed.webhook_id, claimed.body), now, (1.0,), None)
    [alert] = _alerts(sessions)
    assert alert.noticed == "raised" and alert.notice_due_at == now  # the resolve is due at once
    notices.send_due(watching, sessions, sender, lambda: now, random.Random(1))
    assert [r.body["type"] for r in receiver.delivered()] == ["alert.raised", "alert.resolved"]


@pytest.mark.parametrize("peer", ["redirect", "drip"])
def test_a_hostile_alert_endpoint_costs_one_bounded_attempt(settings, sessions, store, peer):
    with HostileServer(answer(200)) as elsewhere, HostileServer(
            redirect(elsewhere.url + "/collect") if peer == "redirect" else drip(0.2)) as hostile:
        watching = settings.with_overrides(alert_url=hostile.url, alert_secrets=(ALERT_SECRET,), http_timeout=1.0)
        with transaction(sessions) as session:
            mark_needs_reauth(session.get(Store, store.id), "refused")
        started = time.monotonic()
        drain(watching, sessions)
        assert time.monotonic() - started < 5  # the deadline, not the peer, decides
        assert len(hostile.seen) == 1 and elsewhere.seen == []  # never followed
    [alert] = _alerts(sessions)
    assert alert.noticed is None and alert.notice_error and alert.notice_due_at is not None


@pytest.mark.parametrize("env, message", [
    ({"CONNECTOR_ALERT_URL": "https://alerts.example/hook"}, "CONNECTOR_ALERT_SECRET"),
    ({"CONNECTOR_ALERT_URL": "ftp://alerts.example/"}, "http(s) URL"),
    ({"CONNECTOR_ALERT_URL": "https://alerts.example/hook", "CONNECTOR_ALERT_SECRET": "whsec_###"}, "base64"),
    ({"CONNECTOR_ALERT_AFTER_SECONDS": "soon"}, "must be a number"),
])
def test_alert_settings_that_cannot_work_stop_start_up(env, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings({"CONNECTOR_ENV": "development", **env}, read_dotenv=False)


def test_alerts_are_signed_with_the_backend_secret_when_they_have_none_of_their_own():
    settings = load_settings({"CONNECTOR_ENV": "development", "CONNECTOR_ALERT_URL": "https://alerts.example/hook",
                              "TRACKING_BACKEND_URL": "https://backend.example/c",
                              "TRACKING_BACKEND_SECRET": BACKEND_SECRET}, read_dotenv=False)
    assert settings.alert_secrets == (BACKEND_SECRET,) and settings.alert_after_seconds == 900

    with pytest.raises(ConfigurationError, match="https URL in production"):
        load_settings({"CONNECTOR_ALERT_URL": "http://alerts.example/hook", "CONNECTOR_ALERT_SECRET": ALERT_SECRET,
                       "CONNECTOR_SECRET_KEY": "k" * 40}, read_dotenv=False)
