"""GET /healthz: 200 when the database answers."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from connector.web import services

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
