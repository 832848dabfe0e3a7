"""Fixtures for the end-to-end tests: the app under gunicorn exactly as the Procfile runs it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench._common import Gunicorn, free_port, procfile_web_argv

from ..conftest import SHOPIFY_SECRET

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn(settings, store, tmp_path):
    """The app under the Procfile's gunicorn command (2 workers × 8 threads), on the test database."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONNECTOR_", "TRACKING_", "SHOPIFY_")) and k != "DATABASE_URL"}
    env.update(DATABASE_URL=settings.database_url, CONNECTOR_ENV="development", SHOPIFY_API_SECRET=SHOPIFY_SECRET,
               WOOCOMMERCE_ALLOW_PRIVATE_URLS="1", CONNECTOR_PUBLIC_URL=f"http://127.0.0.1:{port}",
               CONNECTOR_HTTP_TIMEOUT="4", PYTHONUNBUFFERED="1")
    server = Gunicorn(procfile_web_argv("connector:create_app()", port, env), env, ROOT, tmp_path / "gunicorn.log",
                      port, access_log=tmp_path / "access.log").start()
    yield server
    server.stop()
