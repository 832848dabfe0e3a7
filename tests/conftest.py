"""Fixtures: every database test runs on SQLite and on the PostgreSQL at 127.0.0.1:5432.

The schema comes from the real Alembic migrations. Only the outside world (Shopify, the tracking
backend) is stood in for; the project's own database and code are never mocked.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from connector import create_app
from connector.cli import main
from connector.db import make_engine, make_sessionmaker, transaction
from connector.campaigns import directory
from connector.migrate import upgrade
from connector.models import Base
from connector.settings import Settings
from standins.backend import StandinBackend
from standins.live_server import LiveServer
from standins.woocommerce.store import StandinWooCommerce

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Several runs may share the database at once (one per checkout or session), each in its own schema.
# Under pytest-xdist each worker process takes a schema of its own too.
PG_SCHEMA = os.environ.get("TEST_PG_SCHEMA", "connector_test") + (
    f"_{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else ""
)
SHOP = "test-shop.myshopify.com"
SHOPIFY_SECRET = "test-shopify-secret-0123456789abcdef"
#: the Shopify app's client id in tests that install through the app or open the merchant app
API_KEY = "test-api-key"
OLD_SHOPIFY_SECRET = "previous-shopify-secret-0123456789abc"
BACKEND_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def pytest_addoption(parser):
    parser.addoption("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")


def pytest_generate_tests(metafunc):
    if "database_kind" in metafunc.fixturenames:
        kinds = [k.strip() for k in metafunc.config.getoption("databases").split(",") if k.strip()]
        marker = metafunc.definition.get_closest_marker("only_database")
        if marker:
            kinds = [k for k in kinds if k in marker.args]
        metafunc.parametrize("database_kind", kinds, scope="session")


def pytest_configure(config):
    config.addinivalue_line("markers", "only_database(*kinds): run only on these databases")


def _schema_url() -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{PG_SCHEMA}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A fresh schema in the test database, migrated to head once per session."""
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    admin.dispose()
    url = _schema_url()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(request, database_kind, tmp_path) -> str:
    if database_kind == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(
        database_url=database_url,
        shopify_api_secrets=(SHOPIFY_SECRET, OLD_SHOPIFY_SECRET),
        retry_schedule=(0.05, 0.05, 0.05),
        lease_seconds=30,
        poll_interval=0.05,
        delivery_concurrency=4,
        # Orders without a code are credited at once; the tests of the wait for a browser report set it.
        report_grace_seconds=0,
    )


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture
def app(settings, engine):
    app = create_app(settings, engine=engine)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def shop_settings(settings):
    """A Shopify app's settings (its client id, a public URL): what installs and the merchant app need."""
    return settings.with_overrides(shopify_api_key=API_KEY, public_url="https://connector.example")


@pytest.fixture
def shop_client(shop_settings, engine):
    app = create_app(shop_settings, engine=engine)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture
def store(sessions, settings):
    """A Shopify store with three influencers: alice (code ALICE15), bob (no code), carol (CAROL10)."""
    with transaction(sessions) as session:
        store = directory.add_store(session, settings.secret_key, "shopify", SHOP, access_token="shpat_test")
        directory.add_influencer(session, store, "alice", code="ALICE15", campaign_id="spring-26",
                                 email="Alice@Creators.example")
        directory.add_influencer(session, store, "bob", campaign_id="spring-26", customer_id="4242")
        directory.add_influencer(session, store, "carol", code="CAROL10", campaign_id="autumn-26")
    return store


@pytest.fixture
def backend():
    with StandinBackend(BACKEND_SECRET) as backend:
        yield backend


@pytest.fixture
def delivering_settings(settings, backend) -> Settings:
    return settings.with_overrides(tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET)


@pytest.fixture
def woo():
    """The WooCommerce stand-in: one local server playing any number of sites."""
    with StandinWooCommerce() as standin:
        yield standin


@pytest.fixture
def live(settings, engine, backend):
    """The app on a live port (the WooCommerce stand-in's store URLs are private ones, allowed), delivering to the
    stand-in backend: (the server, its settings). A module whose tests need another app defines its own."""
    server = LiveServer()
    live_settings = settings.with_overrides(public_url=server.url, woocommerce_allow_private=True,
                                            tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET)
    server.start(create_app(live_settings, engine=engine))
    yield server, live_settings
    server.stop()


@pytest.fixture
def woo_settings(settings) -> Settings:
    """Settings that let the connector call the stand-in's sites, which are on 127.0.0.1."""
    return settings.with_overrides(woocommerce_allow_private=True)


@pytest.fixture
def cli(settings, monkeypatch):
    """`connector ARGS…` against the test database with nothing else configured; asserts the exit code."""
    for name in list(os.environ):
        if name.startswith(("CONNECTOR_", "TRACKING_", "SHOPIFY_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CONNECTOR_ENV", "development")

    def run(*args, code=0):
        result = CliRunner().invoke(main, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return run

