"""Settings: the contract's defaults, and one clear ConfigurationError naming any malformed setting."""

from __future__ import annotations

import base64

import pytest

from connector.errors import ConfigurationError
from connector.settings import DEFAULT_RETRY_SCHEDULE, load_settings

BACKEND_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BACKEND = {"TRACKING_BACKEND_URL": "https://backend.example/conversions", "TRACKING_BACKEND_SECRET": BACKEND_SECRET}


def load(**env: str):
    """Settings from exactly this environment, in development unless it says otherwise."""
    return load_settings({"CONNECTOR_ENV": "development", **env}, read_dotenv=False)


def test_without_a_secret_key_the_connector_refuses_to_start_unless_in_development():
    with pytest.raises(ConfigurationError, match="CONNECTOR_SECRET_KEY"):
        load_settings({}, read_dotenv=False)
    assert load_settings({"CONNECTOR_SECRET_KEY": "k" * 32}, read_dotenv=False).environment == "production"


def test_defaults_are_the_contracts():
    settings = load()
    assert settings.database_url == "sqlite:///connector.db"
    assert settings.environment == "development"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.api_token is None
    assert (settings.shopify_api_key, settings.shopify_api_secrets) == (None, ())
    assert (settings.tracking_backend_url, settings.tracking_backend_secret) == (None, None)
    assert not settings.delivery_enabled
    assert settings.lease_seconds == 60
    assert settings.max_webhook_bytes == 2097152
    assert settings.report_grace_seconds == 30
    assert settings.retry_schedule == DEFAULT_RETRY_SCHEDULE
    assert settings.secret_key  # a development key stands in outside production


def test_default_retry_schedule_meets_the_contract():
    assert DEFAULT_RETRY_SCHEDULE[0] <= 10
    assert sum(DEFAULT_RETRY_SCHEDULE) >= 24 * 3600


def test_blank_values_fall_back_to_defaults():
    settings = load(DATABASE_URL=" ", CONNECTOR_LEASE_SECONDS="", CONNECTOR_RETRY_SCHEDULE="  ")
    assert settings.database_url == "sqlite:///connector.db"
    assert settings.lease_seconds == 60
    assert settings.retry_schedule == DEFAULT_RETRY_SCHEDULE


@pytest.mark.parametrize(
    "raw, secrets",
    [
        ("current", ("current",)),
        ("current,previous", ("current", "previous")),
        (" current , previous ,", ("current", "previous")),
    ],
)
def test_shopify_api_secret_is_comma_separated_current_first(raw, secrets):
    assert load(SHOPIFY_API_SECRET=raw).shopify_api_secrets == secrets


def test_values_are_read():
    settings = load(
        **BACKEND,
        CONNECTOR_PUBLIC_URL="https://connector.example/",
        CONNECTOR_API_TOKEN=" token ",
        CONNECTOR_RETRY_SCHEDULE="1, 2.5,3",
        CONNECTOR_LEASE_SECONDS="15",
        CONNECTOR_MAX_WEBHOOK_BYTES="1024",
        CONNECTOR_REPORT_GRACE_SECONDS="0.5",
        SHOPIFY_SCOPES="read_orders, write_discounts",
    )
    assert settings.delivery_enabled
    assert settings.tracking_backend_secret == BACKEND_SECRET
    assert settings.public_url == "https://connector.example"
    assert settings.api_token == "token"
    assert settings.retry_schedule == (1.0, 2.5, 3.0)
    assert (settings.lease_seconds, settings.max_webhook_bytes, settings.report_grace_seconds) == (15, 1024, 0.5)
    assert settings.shopify_scopes == ("read_orders", "write_discounts")


def test_production_with_a_long_secret_key_loads():
    key = "k" * 40
    settings = load(CONNECTOR_ENV="production", CONNECTOR_SECRET_KEY=key)
    assert (settings.environment, settings.secret_key) == ("production", key)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgres://u:p@db.example:5432/connector", "postgresql+psycopg://u:p@db.example:5432/connector"),
        ("postgresql://u:p@db.example/connector", "postgresql+psycopg://u:p@db.example/connector"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////var/lib/connector.db", "sqlite:////var/lib/connector.db"),
    ],
)
def test_database_url_is_rewritten_for_psycopg3(url, expected):
    assert load(DATABASE_URL=url).database_url == expected


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"CONNECTOR_LEASE_SECONDS": "soon"}, "CONNECTOR_LEASE_SECONDS"),
        ({"CONNECTOR_LEASE_SECONDS": "0"}, "CONNECTOR_LEASE_SECONDS"),
        ({"CONNECTOR_LEASE_SECONDS": "-5"}, "CONNECTOR_LEASE_SECONDS"),
        ({"CONNECTOR_MAX_WEBHOOK_BYTES": "2MB"}, "CONNECTOR_MAX_WEBHOOK_BYTES"),
        ({"CONNECTOR_MAX_WEBHOOK_BYTES": "1.5"}, "CONNECTOR_MAX_WEBHOOK_BYTES"),
        ({"CONNECTOR_REPORT_GRACE_SECONDS": "half a minute"}, "CONNECTOR_REPORT_GRACE_SECONDS"),
        ({"CONNECTOR_REPORT_GRACE_SECONDS": "-1"}, "CONNECTOR_REPORT_GRACE_SECONDS"),
        ({"CONNECTOR_LEASE_SECONDS": "0"}, "CONNECTOR_LEASE_SECONDS"),
        ({"CONNECTOR_RETRY_SCHEDULE": "5,ten,60"}, "CONNECTOR_RETRY_SCHEDULE"),
        ({"CONNECTOR_RETRY_SCHEDULE": "5,-1"}, "CONNECTOR_RETRY_SCHEDULE"),
        ({"TRACKING_BACKEND_URL": "https://backend.example/c"}, "TRACKING_BACKEND_SECRET"),
        ({**BACKEND, "TRACKING_BACKEND_URL": "backend.example/c"}, "TRACKING_BACKEND_URL"),
        ({**BACKEND, "TRACKING_BACKEND_SECRET": "whsec_not base64!"}, "TRACKING_BACKEND_SECRET"),
        ({**BACKEND, "TRACKING_BACKEND_SECRET": "whsec_" + base64.b64encode(b"short").decode()}, "TRACKING_BACKEND_SECRET"),
        ({"CONNECTOR_ENV": "production", "CONNECTOR_SECRET_KEY": ""}, "CONNECTOR_SECRET_KEY"),
        ({"CONNECTOR_ENV": "production", "CONNECTOR_SECRET_KEY": "short"}, "CONNECTOR_SECRET_KEY"),
        ({"CONNECTOR_ENV": "staging"}, "CONNECTOR_ENV"),
        ({"CONNECTOR_PUBLIC_URL": "connector.example"}, "CONNECTOR_PUBLIC_URL"),
    ],
)
def test_malformed_setting_raises_one_line_naming_it(env, variable):
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"CONNECTOR_SECRET_KEY": "k" * 32, **env}, read_dotenv=False)
    message = str(caught.value)
    assert variable in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"CONNECTOR_LEASE_SECONDS": "nan"}, "CONNECTOR_LEASE_SECONDS"),
        ({"CONNECTOR_REPORT_GRACE_SECONDS": "inf"}, "CONNECTOR_REPORT_GRACE_SECONDS"),
        ({"CONNECTOR_RETRY_SCHEDULE": "5,nan"}, "CONNECTOR_RETRY_SCHEDULE"),
        ({"CONNECTOR_RETRY_SCHEDULE": "5,inf"}, "CONNECTOR_RETRY_SCHEDULE"),
    ],
)
def test_non_finite_numbers_are_malformed(env, variable):
    with pytest.raises(ConfigurationError, match=variable):
        load(**env)


PRODUCTION = {"CONNECTOR_ENV": "production", "CONNECTOR_SECRET_KEY": "k" * 32}


def test_stand_in_stores_are_refused_in_production_unless_explicitly_allowed():
    standin = {"SHOPIFY_ADMIN_URL": "http://127.0.0.1:9000/{shop}"}
    with pytest.raises(ConfigurationError, match="SHOPIFY_ADMIN_URL"):
        load_settings({**PRODUCTION, **standin}, read_dotenv=False)
    with pytest.raises(ConfigurationError, match="WOOCOMMERCE_ALLOW_PRIVATE_URLS"):
        load_settings({**PRODUCTION, "WOOCOMMERCE_ALLOW_PRIVATE_URLS": "1"}, read_dotenv=False)
    allowed = load_settings({**PRODUCTION, **standin, "WOOCOMMERCE_ALLOW_PRIVATE_URLS": "true",
                             "CONNECTOR_ALLOW_STANDINS": "1"}, read_dotenv=False)
    assert allowed.shopify_admin_url == "http://127.0.0.1:9000/{shop}" and allowed.woocommerce_allow_private
    production = load_settings(PRODUCTION, read_dotenv=False)
    assert production.shopify_admin_url == "https://{shop}" and not production.woocommerce_allow_private
    assert load(**standin).shopify_admin_url == "http://127.0.0.1:9000/{shop}"  # development may


@pytest.mark.parametrize("env, name", [
    ({"SHOPIFY_ADMIN_URL": "http://127.0.0.1:9000"}, "SHOPIFY_ADMIN_URL"),  # no {shop}
    ({"SHOPIFY_ADMIN_URL": "ftp://{shop}"}, "SHOPIFY_ADMIN_URL"),
    ({"SHOPIFY_API_VERSION": "latest"}, "SHOPIFY_API_VERSION"),
    ({"CONNECTOR_RECONCILE_INTERVAL": "0"}, "CONNECTOR_RECONCILE_INTERVAL"),
])
def test_malformed_install_settings_are_named(env, name):
    with pytest.raises(ConfigurationError, match=name):
        load(**env)


def test_install_defaults():
    settings = load()
    assert settings.shopify_api_version == "2026-10"
    assert settings.shopify_scopes == ("read_orders", "read_customers", "write_discounts", "write_pixels",
                                       "read_customer_events")
    assert settings.reconcile_interval == 3600
    assert load(CONNECTOR_APP_NAME="Acme Creators").app_name == "Acme Creators"


def test_trusted_proxies_decide_whose_address_the_app_sees(database_url):
    """With none trusted (the default) a forged X-Forwarded-For changes nothing; with one, its last hop counts."""
    from connector import create_app
    from connector.settings import Settings, load_settings

    assert load_settings({"CONNECTOR_ENV": "development"}).trusted_proxies == 0
    assert load_settings({"CONNECTOR_ENV": "development", "CONNECTOR_TRUSTED_PROXIES": "1"}).trusted_proxies == 1
    with pytest.raises(ConfigurationError, match="CONNECTOR_TRUSTED_PROXIES"):
        load_settings({"CONNECTOR_ENV": "development", "CONNECTOR_TRUSTED_PROXIES": "all"})
    seen = {}
    for proxies in (0, 1):
        app = create_app(Settings(database_url=database_url, trusted_proxies=proxies))
        app.add_url_rule("/whoami", "whoami", lambda: __import__("flask").request.remote_addr)
        seen[proxies] = app.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"},
                                              environ_base={"REMOTE_ADDR": "10.0.0.2"}).text
    assert seen == {0: "10.0.0.2", 1: "203.0.113.9"}


# -- production refuses what would put stores or conversions at risk --------------------------------

LONG_TOKEN = "t" * 32


@pytest.mark.parametrize("env, variable", [
    ({"CONNECTOR_API_TOKEN": "short-token"}, "CONNECTOR_API_TOKEN"),
    ({**BACKEND, "TRACKING_BACKEND_URL": "http://backend.example/conversions"}, "TRACKING_BACKEND_URL"),
    ({"CONNECTOR_PUBLIC_URL": "http://connector.example"}, "CONNECTOR_PUBLIC_URL"),
    ({"CONNECTOR_SECRET_KEY": "dev-only-insecure-secret-key"}, "CONNECTOR_SECRET_KEY"),
    ({"CONNECTOR_SECRET_KEY": "k" * 32 + ",short"}, "CONNECTOR_SECRET_KEY"),
    ({"CONNECTOR_SECRET_KEY": "k" * 32 + "," + "k" * 32}, "CONNECTOR_SECRET_KEY"),
])
def test_production_refuses_to_start(env, variable):
    with pytest.raises(ConfigurationError, match=variable):
        load_settings({**PRODUCTION, **env}, read_dotenv=False)


def test_the_development_key_is_refused_in_production_by_name():
    with pytest.raises(ConfigurationError, match="development key"):
        load_settings({**PRODUCTION, "CONNECTOR_SECRET_KEY": "dev-only-insecure-secret-key," + "k" * 32},
                      read_dotenv=False)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/conversions", "http://localhost/c", "http://[::1]:8080/c",
                                 "https://backend.example/conversions"])
def test_loopback_or_https_backends_are_fine_in_production(url):
    settings = load_settings({**PRODUCTION, **BACKEND, "TRACKING_BACKEND_URL": url, "CONNECTOR_API_TOKEN": LONG_TOKEN},
                             read_dotenv=False)
    assert settings.tracking_backend_url == url and settings.api_token == LONG_TOKEN


def test_development_may_use_plain_http_and_short_tokens():
    settings = load(**{**BACKEND, "TRACKING_BACKEND_URL": "http://backend.example/c"}, CONNECTOR_API_TOKEN="short",
                    CONNECTOR_PUBLIC_URL="http://connector.example")
    assert settings.api_token == "short"


def test_secret_keys_and_backend_secrets_are_lists_current_first():
    other = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
    settings = load_settings({**PRODUCTION, "CONNECTOR_SECRET_KEY": "n" * 32 + ", " + "o" * 32, **BACKEND,
                              "TRACKING_BACKEND_SECRET": f"{BACKEND_SECRET},{other}"}, read_dotenv=False)
    assert settings.secret_key == "n" * 32 and settings.secret_keys == ("n" * 32, "o" * 32)
    assert settings.tracking_backend_secrets == (BACKEND_SECRET, other)


def test_outbound_call_settings():
    assert (load().http_timeout, load().inline_calls) == (10.0, 4)
    settings = load(CONNECTOR_HTTP_TIMEOUT="2.5", CONNECTOR_INLINE_CALLS="2")
    assert (settings.http_timeout, settings.inline_calls, settings.request_budget) == (2.5, 2, 5.0)
    with pytest.raises(ConfigurationError, match="CONNECTOR_INLINE_CALLS"):
        load(CONNECTOR_INLINE_CALLS="0")


def test_a_report_grace_of_zero_means_no_wait_as_the_contract_says():
    assert load(CONNECTOR_REPORT_GRACE_SECONDS="0").report_grace_seconds == 0


def test_retention_days_default_to_the_contracts_30_and_must_be_a_whole_number_of_days():
    assert load().retention_days == 30
    assert load(CONNECTOR_RETENTION_DAYS="90").retention_days == 90
    for raw in ("0", "-3", "1.5", "a month"):
        with pytest.raises(ConfigurationError, match="CONNECTOR_RETENTION_DAYS"):
            load(CONNECTOR_RETENTION_DAYS=raw)
