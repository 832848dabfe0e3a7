"""Fixtures for the end-to-end tests: the app under gunicorn exactly as the Procfile runs it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.shopify.app_config import app_toml
from bench._common import Gunicorn, free_port, procfile_web_argv

from connector.models import Store
from connector.worker import Worker

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


def deploy_app(standin, settings) -> None:
    """`shopify app deploy` of the configuration `connector shopify app-config` writes: the stand-in admin then
    opens the app at its URL, and sends app/uninstalled to it."""
    standin.deploy_app_config(app_toml(settings))


def set_up_stores(settings, sessions) -> None:
    """The worker's maintenance, until no store's setup is pending (installs queue it for the worker)."""
    worker = Worker(settings, sessions, worker_id="e2e-setup")
    for _ in range(20):
        with sessions() as session:
            pending = session.scalar(select(func.count()).select_from(Store).where(
                Store.setup_pending.is_(True), Store.status == "active"))
        if not pending or not worker.maintain():
            return
