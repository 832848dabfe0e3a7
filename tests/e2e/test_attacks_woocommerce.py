"""Attacks on WooCommerce webhooks over real HTTP: a captured delivery re-sent under another topic, a deletion
the store contradicts, and the answers an outsider gets for stores the connector does or does not hold."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import select

from standins.woocommerce import samples
from connector import create_app
from connector.campaigns import directory
from connector.db import transaction
from standins.live_server import LiveServer
from connector.models import Conversion, Event, Store
from connector.worker import Worker

from ..conftest import BACKEND_SECRET

SITE = "attack-woo"
ORDER = 4101


@pytest.fixture
def live(settings, engine, backend, woo, sessions):
    server = LiveServer()
    live_settings = settings.with_overrides(public_url=server.url, woocommerce_allow_private=True,
                                            tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET)
    server.start(create_app(live_settings, engine=engine))
    page = requests.get(f"{server.url}/woocommerce/install", params={"store_url": woo.site_url(SITE)}, timeout=20)
    assert page.status_code == 200
    with transaction(sessions) as session:
        directory.add_influencer(session, directory.find_store(session, woo.site_url(SITE)), "dana", code="DANA20")
    yield server, live_settings
    server.stop()


def _drain(settings, sessions) -> None:
    worker = Worker(settings, sessions, worker_id="attack-woo")
    while worker.handle_events() + worker.deliver_due():
        pass


def _credited_order(woo, settings, sessions, backend) -> dict:
    order = samples.order(order_id=ORDER, number=str(ORDER), status="processing", codes=("dana20",))
    woo.place_order(SITE, order)
    _drain(settings, sessions)
    assert [r.body["type"] for r in backend.delivered()] == ["conversion.purchase"]
    return woo.order(SITE, ORDER)


def _resend(server, woo, body: bytes, topic: str) -> requests.Response:
    """A captured delivery's exact bytes and signature, sent again with another topic (a new delivery id)."""
    [hook] = [h for h in woo.webhooks(SITE) if h["topic"] == "order.created"]
    headers = samples.headers(body, source=woo.site_url(SITE) + "/", topic=topic, secret=hook["secret"],
                              delivery_id="resent-1", webhook_id=hook["id"])
    return requests.post(f"{server.url}/webhooks/woocommerce", data=body, headers=headers, timeout=10)


def _types(backend) -> list[str]:
    return [r.body["type"] for r in backend.delivered()]


def test_an_order_created_re_sent_as_a_deletion_is_refused(live, woo, sessions, backend):
    server, settings = live
    order = _credited_order(woo, settings, sessions, backend)
    answer = _resend(server, woo, samples.encode(order), "order.deleted")
    assert answer.status_code == 401 and answer.json()["outcome"] == "not_topic_body"
    answer = _resend(server, woo, samples.encode(order), "customer.created")
    assert answer.status_code == 401 and answer.json()["outcome"] == "not_topic_body"
    _drain(settings, sessions)
    assert _types(backend) == ["conversion.purchase"]
    with sessions() as session:
        assert session.scalars(select(Event.topic)).all() == ["order.created"]


def test_a_deletion_the_store_contradicts_is_kept_rejected_and_a_real_one_cancels(live, woo, sessions, backend):
    """A genuine-looking {"id": N} (say, captured from a deletion later undone) while the order is still there."""
    server, settings = live
    _credited_order(woo, settings, sessions, backend)
    woo.deliver(SITE, "order.deleted", samples.deleted(ORDER))  # the store still has the order, processing
    _drain(settings, sessions)
    with sessions() as session:
        [event] = session.scalars(select(Event).where(Event.topic == "order.deleted")).all()
    assert event.status == "rejected" and "still has order" in event.error
    assert _types(backend) == ["conversion.purchase"]

    # WooCommerce's delivery id is the webhook's id and the second: the same body in the same second would
    # be a duplicate, as it is from a real store.
    time.sleep(1.1)
    woo.delete_order(SITE, ORDER)  # the merchant trashes it: order.deleted, and the order loads as trash
    _drain(settings, sessions)
    assert _types(backend) == ["conversion.purchase", "conversion.cancellation"]


def test_an_order_deleted_for_good_is_confirmed_by_the_store_not_finding_it(live, woo, sessions, backend):
    server, settings = live
    _credited_order(woo, settings, sessions, backend)
    woo.delete_order(SITE, ORDER, force=True)
    _drain(settings, sessions)
    assert _types(backend) == ["conversion.purchase", "conversion.cancellation"]


def test_an_unknown_source_gets_the_answer_of_a_wrong_signature(live, woo, sessions):
    server, _settings = live
    body = samples.encode(samples.order(order_id=1, status="processing"))
    answers = []
    for source, secret in ((woo.site_url(SITE) + "/", "not-the-secret"), ("https://nobody.example/", "anything")):
        headers = samples.headers(body, source=source, topic="order.created", secret=secret, delivery_id="d",
                                  webhook_id=1)
        answer = requests.post(f"{server.url}/webhooks/woocommerce", data=body, headers=headers, timeout=10)
        answers.append((answer.status_code, answer.json()))
    assert answers == [(401, {"outcome": "bad_signature"})] * 2
    with sessions() as session:
        assert session.scalars(select(Event)).all() == [] and session.scalars(select(Conversion)).all() == []
        assert session.scalars(select(Store.status)).all() == ["active"]
