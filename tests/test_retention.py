"""Retention (CONNECTOR_RETENTION_DAYS): raw webhook bodies and attempt excerpts erased once past keeping, the
delivery ids kept, so a redelivery of an erased event is still a duplicate; `connector prune [--dry-run]`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update

from connector.db import transaction
from connector.models import Conversion, DeliveryAttempt, Event
from connector.worker import retention
from standins.shopify import samples

from .helpers import drain, post_shopify

OLD = timedelta(days=31)


def _age(sessions, model, column, by: timedelta) -> None:
    """Every row of `model` as if written `by` ago."""
    with transaction(sessions) as session:
        session.execute(update(model).values({column: datetime.now(timezone.utc) - by}))


def test_old_bodies_are_erased_and_a_redelivery_of_one_is_still_a_duplicate(client, settings, sessions, store):
    body = samples.order(codes=("ALICE15",))
    first = post_shopify(client, "orders/paid", body, webhook_id="wh-retained-1")
    assert first.status_code == 200
    drain(settings, sessions)
    post_shopify(client, "orders/paid", samples.order(order_id=42, codes=("CAROL10",)), webhook_id="wh-pending")
    _age(sessions, Event, "received_at", OLD)  # both a month old; the second still waits for a worker
    now = datetime.now(timezone.utc)
    with sessions() as session:
        assert retention.due(session, now, 30) == retention.Erased(1, 0)
    assert retention.erase(sessions, now, 30) == retention.Erased(1, 0)
    with sessions() as session:
        bodies = dict(session.execute(select(Event.delivery_id, Event.body)).all())
        assert bodies["wh-retained-1"] == retention.EXPIRED
        assert json.loads(bodies["wh-pending"])["id"] == 42  # pending: kept, whatever its age
        conversions = session.scalar(select(func.count()).select_from(Conversion))
    again = post_shopify(client, "orders/paid", body, webhook_id="wh-retained-1")
    assert again.status_code == 200 and again.json["outcome"] == "duplicate"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 2
        assert session.scalar(select(func.count()).select_from(Conversion)) == conversions
    assert retention.erase(sessions, now, 30) == retention.Erased(0, 0)  # nothing twice


def test_excerpts_of_old_attempts_go_and_recent_ones_stay(client, delivering_settings, sessions, store):
    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    drain(delivering_settings, sessions)
    with sessions() as session:
        assert session.scalar(select(DeliveryAttempt.excerpt)) is not None
    now = datetime.now(timezone.utc)
    assert retention.erase(sessions, now, 30).excerpts == 0
    _age(sessions, DeliveryAttempt, "attempted_at", OLD)
    assert retention.erase(sessions, now, 30).excerpts == 1
    with sessions() as session:
        attempt = session.scalars(select(DeliveryAttempt)).one()
        assert attempt.excerpt is None and attempt.status_code == 200  # the attempt itself is kept


def test_connector_prune_says_what_would_go_then_erases_it(cli, client, settings, sessions, store):
    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    drain(settings, sessions)
    _age(sessions, Event, "received_at", OLD)
    said = cli("prune", "--dry-run")
    assert "1 event bodies" in said and "nothing erased" in said
    with sessions() as session:
        assert session.scalar(select(Event.body)) != retention.EXPIRED
    erased = cli("prune")
    assert erased.startswith("erased: ") and "1 event bodies" in erased
    with sessions() as session:
        assert session.scalar(select(Event.body)) == retention.EXPIRED
    assert "0 event bodies" in cli("prune", "--dry-run")



def test_an_erased_event_is_not_replayed(cli, client, settings, sessions, store):
    """A skipped or failed event past retention has nothing left to handle: replay says so, queues nothing."""
    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    with transaction(sessions) as session:
        session.execute(update(Event).values(status="skipped"))
    _age(sessions, Event, "received_at", OLD)
    retention.erase(sessions, datetime.now(timezone.utc), 30)
    with sessions() as session:
        event_id = session.scalar(select(Event.id))
    assert "queued 0 events" in cli("events", "replay", "--skipped")
    refused = cli("events", "replay", str(event_id), code=1)
    assert "body was erased" in refused
    with sessions() as session:
        assert session.get(Event, event_id).status == "skipped"
