"""One frozen Settings, read from the environment (and a .env file) once, validated at start-up."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import os
import re
from dataclasses import dataclass, replace
from typing import Mapping
from urllib.parse import urlsplit

from connector.core.backend_events import parse_types
from connector.errors import ConfigurationError

# First wait 5 s (the contract wants the first retry within 10 s); the waits add up to about 27.7 h
# (the contract wants at least 24 h before a conversion is marked failed).
DEFAULT_RETRY_SCHEDULE = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200)
DEV_SECRET_KEY = "dev-only-insecure-secret-key"
DEFAULT_SHOPIFY_ADMIN_URL = "https://{shop}"
TRUE = ("1", "true", "yes", "on")
ENVIRONMENTS = ("development", "production")
CODE_COLLISION_POLICIES = ("suffix", "refuse")
MIN_SECRET = 32  # characters, for CONNECTOR_SECRET_KEY and CONNECTOR_API_TOKEN in production


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///connector.db"
    environment: str = "development"
    #: the current key: it encrypts and signs; the previous ones below still decrypt and verify
    secret_key: str = DEV_SECRET_KEY
    previous_secret_keys: tuple[str, ...] = ()
    public_url: str = "http://127.0.0.1:8000"
    api_token: str | None = None
    shopify_api_key: str | None = None
    # Current secret first; a previous one may follow so the operator can rotate without dropping webhooks.
    shopify_api_secrets: tuple[str, ...] = ()
    # write_pixels and read_customer_events: the web pixel that reports the shopper's touches at checkout
    shopify_scopes: tuple[str, ...] = (
        "read_orders", "read_customers", "write_discounts", "write_pixels", "read_customer_events",
    )
    tracking_backend_url: str | None = None
    tracking_backend_secret: str | None = None
    #: more backend secrets: every one signs each delivery, so the backend can rotate
    more_backend_secrets: tuple[str, ...] = ()
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    lease_seconds: float = 60.0
    max_webhook_bytes: int = 2 * 1024 * 1024
    report_grace_seconds: float = 30.0
    # How often an idle worker looks for work; the contract promises pickup within a second.
    poll_interval: float = 0.2
    delivery_concurrency: int = 8
    #: the Admin API version the connector speaks (Shopify supports each stable version for a year)
    shopify_api_version: str = "2026-10"
    #: where a shop's admin lives; `{shop}` is the shop domain. Only a stand-in store changes it.
    shopify_admin_url: str = DEFAULT_SHOPIFY_ADMIN_URL
    #: accept WooCommerce store URLs over http or on private addresses (a stand-in store on this machine)
    woocommerce_allow_private: bool = False
    #: the name merchants see on WooCommerce's authorisation page and in shopify.app.toml
    app_name: str = "Influencer Connector"
    #: how often the worker reads each store's recently updated orders, in case a webhook was missed
    reconcile_interval: float = 3600.0
    #: raw event bodies and attempt excerpts are erased after this many days (delivery ids are kept forever)
    retention_days: int = 30
    #: log lines: "json" (one object per line; production's default) or "text" (development's)
    log_format: str = "text"
    log_level: str = "INFO"
    #: when set, GET /metrics needs `Authorization: Bearer <token>`
    metrics_token: str | None = None
    #: where alerts are POSTed (Standard Webhooks, like conversions); None: alerts are log lines and metrics only
    alert_url: str | None = None
    #: the secrets that sign alerts (CONNECTOR_ALERT_SECRET, else the tracking backend's), current first
    alert_secrets: tuple[str, ...] = ()
    #: deliveries failing for longer than this raise an alert
    alert_after_seconds: float = 900.0
    #: a promo code that exists in the store and is not ours: "suffix" creates CODE-2 (… CODE-9) instead and
    #: reports the code made; "refuse" marks the influencer's code failed
    code_collision: str = "suffix"
    #: browser reports accepted per client address per minute (POST /storefront/events), per web process
    report_rate_per_minute: int = 60
    #: proxies in front of the app (a load balancer: 1) whose X-Forwarded-For is trusted for the client's
    #: address (rate limits, click fraud hashes); 0 trusts none, so nobody can forge an address
    trusted_proxies: int = 0
    #: the total deadline of one call to a store, a token endpoint or the backend, in seconds
    http_timeout: float = 10.0
    #: requests of one web process that may wait on another server at once (installs call the store)
    inline_calls: int = 4
    #: the store, code and privacy events the backend is told of besides conversions (none: conversions only)
    backend_events: frozenset[str] = frozenset()

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """Every CONNECTOR_SECRET_KEY, current first."""
        return (self.secret_key, *self.previous_secret_keys)

    @property
    def tracking_backend_secrets(self) -> tuple[str, ...]:
        """Every TRACKING_BACKEND_SECRET; each signs every delivery."""
        return tuple(s for s in (self.tracking_backend_secret, *self.more_backend_secrets) if s)

    @property
    def request_budget(self) -> float:
        """What one web request may spend calling out in all (an install: a grant, then setup); the rest is
        left to the worker. Well inside gunicorn's 30 s."""
        return min(2 * self.http_timeout, 20.0)

    def with_overrides(self, **changes) -> "Settings":
        """A copy with some fields changed (tests, the demo)."""
        return replace(self, **changes)

    @property
    def delivery_enabled(self) -> bool:
        return bool(self.tracking_backend_url)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in TRUE


def _number(env: Mapping[str, str], name: str, default: float, *, integer: bool = False,
            zero: bool = False) -> float:
    """A positive number (`zero`: zero too, where the contract gives 0 a meaning)."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        least = "zero or more" if zero else "greater than zero"
        raise ConfigurationError(f"{name} must be a finite number {least}, got {raw!r}")
    return value


def _retry_schedule(raw: str | None) -> tuple[float, ...]:
    if raw is None or raw.strip() == "":
        return DEFAULT_RETRY_SCHEDULE
    try:
        waits = tuple(float(part) for part in _split(raw))
    except ValueError:
        raise ConfigurationError(
            f"CONNECTOR_RETRY_SCHEDULE must be comma-separated seconds, got {raw!r}"
        ) from None
    if not waits or any(wait < 0 or not math.isfinite(wait) for wait in waits):
        raise ConfigurationError(f"CONNECTOR_RETRY_SCHEDULE must list non-negative seconds, got {raw!r}")
    return waits


def _backend_secret(raw: str, name: str = "TRACKING_BACKEND_SECRET") -> str:
    body = raw[len("whsec_"):] if raw.startswith("whsec_") else raw
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{name} must be 'whsec_' followed by base64") from None
    if len(key) < 16:
        raise ConfigurationError(f"{name} is too short: use at least 24 random bytes")
    return raw


def _proxies(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return 0
    if not raw.strip().isdigit() or int(raw) > 10:
        raise ConfigurationError(f"CONNECTOR_TRUSTED_PROXIES must be a number of proxies from 0 to 10, got {raw!r}")
    return int(raw)


def _loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _https_in_production(name: str, url: str, environment: str) -> None:
    # A conversion signed for the backend, or an OAuth redirect, over plain http can be read or changed
    # on the way; loopback is allowed for the local stand-ins.
    if environment == "production" and not url.startswith("https://") and not _loopback(url):
        raise ConfigurationError(f"{name} must be an https URL in production (loopback excepted), got {url!r}")


def _secret_keys(raw: str, environment: str) -> tuple[str, ...]:
    keys = _split(raw)
    if not keys:
        if environment == "production":
            raise ConfigurationError(
                "CONNECTOR_SECRET_KEY is required (at least 32 characters; CONNECTOR_ENV=development runs on a "
                "development key)"
            )
        return (DEV_SECRET_KEY,)
    if environment == "production":
        if DEV_SECRET_KEY in keys:
            raise ConfigurationError("CONNECTOR_SECRET_KEY must not be the development key in production")
        if any(len(key) < MIN_SECRET for key in keys):
            raise ConfigurationError("CONNECTOR_SECRET_KEY must be at least 32 characters in production "
                                     "(each key of the list)")
    if len(set(keys)) != len(keys):
        raise ConfigurationError("CONNECTOR_SECRET_KEY lists the same key twice")
    return keys


def normalise_database_url(url: str) -> str:
    """Accept the Heroku-style postgres:// and plain postgresql:// URLs; we ship psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _environment_of(env: Mapping[str, str] | None, read_dotenv: bool) -> Mapping[str, str]:
    if env is not None:
        return env
    if not read_dotenv:
        return dict(os.environ)
    from dotenv import dotenv_values

    # Real environment variables win over the .env file.
    return {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}


def _deployment(env: Mapping[str, str]) -> str:
    # Production unless told otherwise: a deployment that forgot its key must not run on a public one.
    environment = env.get("CONNECTOR_ENV", "production").strip() or "production"
    if environment not in ENVIRONMENTS:
        raise ConfigurationError(f"CONNECTOR_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
    return environment


def _backend(env: Mapping[str, str], environment: str) -> tuple[str | None, tuple[str, ...]]:
    """The tracking backend's URL and secrets (current first)."""
    backend_url = env.get("TRACKING_BACKEND_URL", "").strip() or None
    backend_secrets = tuple(_backend_secret(raw) for raw in _split(env.get("TRACKING_BACKEND_SECRET")))
    if backend_url:
        if not backend_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"TRACKING_BACKEND_URL must be an http(s) URL, got {backend_url!r}")
        _https_in_production("TRACKING_BACKEND_URL", backend_url, environment)
        if not backend_secrets:
            raise ConfigurationError("TRACKING_BACKEND_SECRET is required when TRACKING_BACKEND_URL is set")
    return backend_url, backend_secrets


def _alerts(env: Mapping[str, str], environment: str, backend_secrets: tuple[str, ...]) -> dict:
    """CONNECTOR_ALERT_URL, the secrets that sign what is POSTed there, and how long deliveries may fail first."""
    url = env.get("CONNECTOR_ALERT_URL", "").strip() or None
    secrets = tuple(_backend_secret(raw, "CONNECTOR_ALERT_SECRET") for raw in _split(env.get("CONNECTOR_ALERT_SECRET")))
    if url:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"CONNECTOR_ALERT_URL must be an http(s) URL, got {url!r}")
        _https_in_production("CONNECTOR_ALERT_URL", url, environment)
        secrets = secrets or backend_secrets
        if not secrets:
            raise ConfigurationError("CONNECTOR_ALERT_URL needs CONNECTOR_ALERT_SECRET (or TRACKING_BACKEND_SECRET) "
                                     "to sign the alerts")
    return {"alert_url": url, "alert_secrets": secrets,
            "alert_after_seconds": _number(env, "CONNECTOR_ALERT_AFTER_SECONDS", 900.0)}


def _public_side(env: Mapping[str, str], environment: str) -> dict:
    """Where the app is reached, and the bearer token of its API."""
    public_url = (env.get("CONNECTOR_PUBLIC_URL", "").strip() or "http://127.0.0.1:8000").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"CONNECTOR_PUBLIC_URL must be an http(s) URL, got {public_url!r}")
    _https_in_production("CONNECTOR_PUBLIC_URL", public_url, environment)
    api_token = env.get("CONNECTOR_API_TOKEN", "").strip() or None
    if api_token and environment == "production" and len(api_token) < MIN_SECRET:
        raise ConfigurationError("CONNECTOR_API_TOKEN must be at least 32 characters in production")
    return {"public_url": public_url, "api_token": api_token}


def _platforms(env: Mapping[str, str], environment: str) -> dict:
    """Shopify's app and Admin API settings, and the stand-in switches, which production refuses unless told."""
    scopes = _split(env.get("SHOPIFY_SCOPES")) or Settings.shopify_scopes
    # Pointing the connector at a stand-in store is for development; production refuses it unless the
    # operator says, in so many words, that it is meant.
    allow_standins = environment == "development" or _flag(env, "CONNECTOR_ALLOW_STANDINS")
    admin_url = env.get("SHOPIFY_ADMIN_URL", "").strip().rstrip("/") or DEFAULT_SHOPIFY_ADMIN_URL
    if "{shop}" not in admin_url or not admin_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"SHOPIFY_ADMIN_URL must be an http(s) URL containing {{shop}}, got {admin_url!r}")
    if admin_url != DEFAULT_SHOPIFY_ADMIN_URL and not allow_standins:
        raise ConfigurationError("SHOPIFY_ADMIN_URL may only be changed in development or with CONNECTOR_ALLOW_STANDINS=1")
    allow_private = _flag(env, "WOOCOMMERCE_ALLOW_PRIVATE_URLS")
    if allow_private and not allow_standins:
        raise ConfigurationError(
            "WOOCOMMERCE_ALLOW_PRIVATE_URLS may only be set in development or with CONNECTOR_ALLOW_STANDINS=1"
        )
    api_version = env.get("SHOPIFY_API_VERSION", "").strip() or Settings.shopify_api_version
    if not re.fullmatch(r"\d{4}-\d{2}|unstable", api_version):
        raise ConfigurationError(f"SHOPIFY_API_VERSION must look like 2026-10, got {api_version!r}")
    return {
        "shopify_api_key": env.get("SHOPIFY_API_KEY", "").strip() or None,
        "shopify_api_secrets": _split(env.get("SHOPIFY_API_SECRET")),
        "shopify_scopes": scopes,
        "shopify_api_version": api_version,
        "shopify_admin_url": admin_url,
        "woocommerce_allow_private": allow_private,
    }


def _code_collision(env: Mapping[str, str]) -> str:
    code_collision = env.get("CONNECTOR_CODE_COLLISION", "").strip() or Settings.code_collision
    if code_collision not in CODE_COLLISION_POLICIES:
        raise ConfigurationError(
            f"CONNECTOR_CODE_COLLISION must be one of {', '.join(CODE_COLLISION_POLICIES)}, got {code_collision!r}"
        )
    return code_collision


def _tuning(env: Mapping[str, str]) -> dict:
    """The numbers: retries, leases, limits, waits and concurrency."""
    return {
        "retry_schedule": _retry_schedule(env.get("CONNECTOR_RETRY_SCHEDULE")),
        "lease_seconds": _number(env, "CONNECTOR_LEASE_SECONDS", 60.0),
        "max_webhook_bytes": int(_number(env, "CONNECTOR_MAX_WEBHOOK_BYTES", 2 * 1024 * 1024, integer=True)),
        # 0: no wait for the browser's report (a store with neither pixel nor script)
        "report_grace_seconds": _number(env, "CONNECTOR_REPORT_GRACE_SECONDS", 30.0, zero=True),
        "poll_interval": _number(env, "CONNECTOR_POLL_INTERVAL", 0.2),
        "delivery_concurrency": int(_number(env, "CONNECTOR_DELIVERY_CONCURRENCY", 8, integer=True)),
        "reconcile_interval": _number(env, "CONNECTOR_RECONCILE_INTERVAL", 3600.0),
        "retention_days": int(_number(env, "CONNECTOR_RETENTION_DAYS", 30, integer=True)),
        "report_rate_per_minute": int(_number(env, "CONNECTOR_REPORT_RATE_PER_MINUTE", 60, integer=True)),
        "trusted_proxies": _proxies(env.get("CONNECTOR_TRUSTED_PROXIES")),
        "http_timeout": _number(env, "CONNECTOR_HTTP_TIMEOUT", 10.0),
        "inline_calls": int(_number(env, "CONNECTOR_INLINE_CALLS", 4, integer=True)),
    }


def _backend_events(env: Mapping[str, str]) -> frozenset[str]:
    try:
        return parse_types(env.get("CONNECTOR_BACKEND_EVENTS"))
    except ValueError as exc:
        raise ConfigurationError(f"CONNECTOR_BACKEND_EVENTS {exc}") from None


def load_settings(env: Mapping[str, str] | None = None, *, read_dotenv: bool = True) -> Settings:
    """Read and validate the configuration; raise ConfigurationError naming the first bad setting."""
    env = _environment_of(env, read_dotenv)
    environment = _deployment(env)
    secret_keys = _secret_keys(env.get("CONNECTOR_SECRET_KEY", ""), environment)
    backend_url, backend_secrets = _backend(env, environment)
    public = _public_side(env, environment)
    platforms = _platforms(env, environment)
    code_collision = _code_collision(env)
    return Settings(
        database_url=normalise_database_url(env.get("DATABASE_URL", "").strip() or "sqlite:///connector.db"),
        environment=environment,
        secret_key=secret_keys[0],
        previous_secret_keys=secret_keys[1:],
        tracking_backend_url=backend_url,
        tracking_backend_secret=backend_secrets[0] if backend_secrets else None,
        more_backend_secrets=backend_secrets[1:],
        app_name=env.get("CONNECTOR_APP_NAME", "").strip() or Settings.app_name,
        metrics_token=env.get("CONNECTOR_METRICS_TOKEN", "").strip() or None,
        code_collision=code_collision,
        backend_events=_backend_events(env),
        **_alerts(env, environment, backend_secrets),
        **_logging(env, environment),
        **public,
        **platforms,
        **_tuning(env),
    )


LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _logging(env: Mapping[str, str], environment: str) -> dict:
    """CONNECTOR_LOG_FORMAT (json in production, text in development) and CONNECTOR_LOG_LEVEL (INFO)."""
    log_format = env.get("CONNECTOR_LOG_FORMAT", "").strip().lower() or (
        "json" if environment == "production" else "text")
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(f"CONNECTOR_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    level = env.get("CONNECTOR_LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise ConfigurationError(f"CONNECTOR_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    return {"log_format": log_format, "log_level": level}
