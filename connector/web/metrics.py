"""GET /metrics: the operator's numbers in Prometheus' text format (prometheus-client).

What lives in the database (events waiting and the oldest one's age, conversions by status, delivery attempts
by outcome, stores by status, orders states reconciliation brought, webhook subscriptions the daily check mended)
is read from it at scrape time, so every web and worker process reports the same numbers. The webhook edge's
latency is this process's own: under gunicorn, set PROMETHEUS_MULTIPROC_DIR (an empty directory) and the
processes' histograms are added up.
CONNECTOR_METRICS_TOKEN, when set, is required as a bearer token.
"""

from __future__ import annotations

import hmac
import os
import time
from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import case, func, select

from connector import registry
from connector.core.backend_events import is_conversion
from connector.models import Conversion, DeliveryAttempt, Event, Store
from connector.models.events import RECONCILE_TOPIC
from connector.models.operations import ALERT_KINDS, Alert
from connector.web import services

bp = Blueprint("metrics", __name__)
WEBHOOK_SECONDS = Histogram("connector_webhook_seconds", "Time to verify and store a webhook delivery, by platform "
                            "and answer", ["platform", "status"], registry=None,
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))


class DatabaseNumbers:
    """A collector reading the deployment's state from the database at each scrape."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        now = datetime.now(timezone.utc)
        with self.engine.connect() as connection:
            pending, oldest = connection.execute(select(func.count(), func.min(Event.received_at)).where(
                Event.status == "pending")).one()
            # By type too, so the backend's other events (CONNECTOR_BACKEND_EVENTS) are not counted as conversions.
            by_type = connection.execute(select(Conversion.type, Conversion.status, func.count())
                                         .group_by(Conversion.type, Conversion.status)).all()
            outcome = case((DeliveryAttempt.status_code.between(200, 299), "delivered"),
                           (DeliveryAttempt.status_code.is_(None), "unreachable"), else_="refused")
            attempts = connection.execute(select(outcome, func.count()).group_by(outcome)).all()
            stores = connection.execute(select(Store.status, func.count()).group_by(Store.status)).all()
            reconciled = connection.scalar(select(func.count(Event.id)).where(RECONCILE_TOPIC))
            repaired = dict(connection.execute(select(Store.platform, func.sum(Store.webhooks_repaired))
                                               .group_by(Store.platform)).all())
            alerts = connection.execute(select(Alert.kind, func.count(), func.count(Alert.id).filter(
                Alert.resolved_at.is_(None))).group_by(Alert.kind)).all()
        yield GaugeMetricFamily("connector_events_pending", "Stored webhook events waiting for a worker", value=pending)
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily("connector_oldest_pending_event_seconds", "Age of the oldest waiting event",
                                value=max(age, 0.0))
        conversions, told = _by_kind(by_type)
        yield _by("connector_conversions", "Conversions by delivery status", "status", conversions, gauge=True)
        yield _by("connector_backend_events", "The backend's store, code and privacy events by delivery status",
                  "status", told, gauge=True)
        yield _by("connector_delivery_attempts", "Delivery attempts to the tracking backend by outcome", "outcome",
                  attempts)
        yield _by("connector_stores", "Stores by status", "status", stores, gauge=True)
        counter = CounterMetricFamily("connector_reconciled_orders", "Order states reconciliation read that no "
                                      "webhook had brought (webhook gaps healed)")
        counter.add_metric([], reconciled or 0)
        yield counter
        yield _webhooks_repaired(repaired)
        yield from _alerts(alerts)


def _webhooks_repaired(totals: dict):
    """Subscriptions the daily check mended, by platform: one series per adapter, at zero when none (no store's
    value can add a label)."""
    family = CounterMetricFamily("connector_webhooks_repaired", "Webhook subscriptions the daily check found "
                                 "missing, disabled or pointing elsewhere, and mended", labels=["platform"])
    for platform in sorted(registry.adapters()):
        family.add_metric([platform], int(totals.get(platform) or 0))
    return family


def _by_kind(rows) -> tuple[list, list]:
    """(status, count) of the conversions, and of the other events for the backend, from (type, status, count)."""
    conversions: dict[str, int] = {}
    told: dict[str, int] = {}
    for kind, status, count in rows:
        totals = conversions if is_conversion(kind) else told
        totals[status] = totals.get(status, 0) + count
    return sorted(conversions.items()), sorted(told.items())


def _by(name: str, documentation: str, label: str, rows, *, gauge: bool = False):
    family = (GaugeMetricFamily if gauge else CounterMetricFamily)(name, documentation, labels=[label])
    for value, count in rows:
        family.add_metric([str(value)], count)
    return family


def _alerts(rows):
    """Open alerts and alerts ever raised, by kind; every kind is listed, at zero when none was raised."""
    counts = {kind: (raised, still_open) for kind, raised, still_open in rows}
    open_now = GaugeMetricFamily("connector_alerts_open", "Alerts whose condition still holds (connector alerts)",
                                 labels=["kind"])
    raised = CounterMetricFamily("connector_alerts_raised", "Alerts raised (each also an ERROR log line)",
                                 labels=["kind"])
    for kind in ALERT_KINDS:
        total, still_open = counts.get(kind, (0, 0))
        open_now.add_metric([kind], still_open)
        raised.add_metric([kind], total)
    yield open_now
    yield raised


def registry_for(engine) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseNumbers(engine))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(WEBHOOK_SECONDS)
    return registry


def install(app, engine) -> None:
    """The /metrics route, its registry for this app's database, and the timing of the webhook edge."""
    app.extensions["connector_metrics"] = registry_for(engine)
    app.register_blueprint(bp)
    _time_webhooks(app)


def _time_webhooks(app) -> None:
    """Observe every POST /webhooks/<platform>, whatever it answered."""

    @app.before_request
    def _started():
        if request.path.startswith("/webhooks/"):
            g.webhook_started = time.perf_counter()

    @app.after_request
    def _observed(response):
        started = g.pop("webhook_started", None)
        if started is not None:
            # Only the platforms there are: a label per made-up path would grow the series without bound.
            platform = (request.view_args or {}).get("platform")
            platform = platform if platform in registry.adapters() else "unknown"
            WEBHOOK_SECONDS.labels(platform, str(response.status_code)).observe(time.perf_counter() - started)
        return response


@bp.get("/metrics")
def metrics():
    svc = services()
    token = svc.settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return Response("metrics need the bearer token (CONNECTOR_METRICS_TOKEN)\n", status=401,
                            mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
    return Response(generate_latest(current_app.extensions["connector_metrics"]), mimetype=CONTENT_TYPE_LATEST)
