"""GET /metrics, parsed with prometheus-client's own parser, its numbers checked against what the test did."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from connector import create_app
from connector.db import transaction
from connector.models import Event
from standins.shopify import samples

from .helpers import drain, post_shopify


def scrape(client, **headers) -> dict[str, float]:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    found = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def test_the_numbers_are_the_databases_and_the_edges(client, settings, sessions, store, delivering_settings, backend):
    before = scrape(client)
    assert before["connector_events_pending"] == 0 and before['connector_stores{status="active"}'] == 1
    post_shopify(client, "orders/paid", samples.order(order_id=1, codes=("ALICE15",)))
    post_shopify(client, "orders/paid", samples.order(order_id=2, codes=("CAROL10",)))
    post_shopify(client, "orders/paid", samples.order(order_id=3), secret="forged-secret-0123456789abcdef")
    with transaction(sessions) as session:  # the first waited ten minutes
        session.execute(update(Event).where(Event.delivery_id.is_not(None)).values(
            received_at=datetime.now(timezone.utc) - timedelta(minutes=10)))
    waiting = scrape(client)
    assert waiting["connector_events_pending"] == 2
    assert 590 <= waiting["connector_oldest_pending_event_seconds"] <= 700
    seconds = 'connector_webhook_seconds_count{platform="shopify",status="%s"}'
    assert waiting[seconds % "200"] - before.get(seconds % "200", 0) == 2
    assert waiting[seconds % "401"] - before.get(seconds % "401", 0) == 1
    drain(delivering_settings, sessions)
    done = scrape(client)
    assert done["connector_events_pending"] == 0 and done["connector_oldest_pending_event_seconds"] == 0
    assert done['connector_conversions{status="delivered"}'] == 2
    assert done['connector_delivery_attempts_total{outcome="delivered"}'] == 2
    assert done["connector_reconciled_orders_total"] == 0


def test_with_a_token_metrics_need_it(settings, engine):
    client = create_app(settings.with_overrides(metrics_token="metrics-token-0123456789"), engine=engine).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert "connector_events_pending" in scrape(client, Authorization="Bearer metrics-token-0123456789")


def test_made_up_platforms_add_no_series(client, store):
    for n in range(5):
        client.post(f"/webhooks/made-up-{n}", data=b"{}")
    names = [name for name in scrape(client) if name.startswith("connector_webhook_seconds_count")]
    assert all('platform="made-up' not in name for name in names)
    assert any('platform="unknown"' in name for name in names)
