"""GET /healthz (liveness: the database answers) and GET /readyz (the database answers at the schema the code
expects; and whether any worker has been seen lately, said without failing)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.orm import Session

from connector import liveness, migrate
from connector.web import services
from connector.web.api.formats import format_time

bp = Blueprint("health", __name__)
log = logging.getLogger("connector.health")


@bp.get("/healthz")
def healthz():
    try:
        with services().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any database failure means unhealthy
        log.warning("health check failed: %s", exc)
        return jsonify(status="unavailable", database="down"), 503
    return jsonify(status="ok", database="up")


def _workers(connection) -> dict:
    now = datetime.now(timezone.utc)
    with Session(bind=connection) as session:
        seen = liveness.workers(session, now)
    running = [w for w in seen if w.state == "running"]
    answer = {"running": len(running), "last_seen": format_time(seen[0].last_seen_at) if seen else None}
    if not running:
        # Not a reason to take the web out of the load balancer (webhooks are still stored), but nothing is
        # credited or sent until a worker runs: say so where deploys and operators look.
        answer["warning"] = "no worker seen in the last five minutes: events are stored but not handled, and " \
                            "nothing is sent to the tracking backend; start `connector worker`"
    return answer


@bp.get("/readyz")
def readyz():
    try:
        with services().engine.connect() as connection:
            current = migrate.current_revisions(connection)
            workers = _workers(connection) if current == (migrate.head_revision(),) else None
    except Exception as exc:  # noqa: BLE001 - any database failure means not ready
        log.warning("readiness check failed: %s", exc)
        return jsonify(status="unavailable", database="down"), 503
    if current != (migrate.head_revision(),):
        log.warning("not ready: the database is at %s, the code expects %s", current or "no schema", migrate.head_revision())
        return jsonify(status="not_ready", database="up", schema=list(current), expected=migrate.head_revision(),
                       action="run `connector db upgrade`"), 503
    return jsonify(status="ready", database="up", schema=migrate.head_revision(), workers=workers)
