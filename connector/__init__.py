"""The connector: store orders in, signed influencer conversions out."""

from __future__ import annotations

import sys

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from connector import logs, outbound, registry
from connector.db import make_engine, make_sessionmaker
from connector.intake.inbox import StoreCache
from connector.errors import ConfigurationError
from connector.settings import Settings, load_settings
from connector.web.storefront import RateLimiter

__all__ = ["create_app"]

BOOT_ERROR = 3


class Services:
    """What the request handlers share: settings, the engine, sessions and the store cache."""

    def __init__(self, settings: Settings, engine=None):
        self.settings = settings
        self.engine = engine if engine is not None else make_engine(settings.database_url, pre_ping=False)
        self.sessions = make_sessionmaker(self.engine)
        self.stores = StoreCache(self.engine, settings.secret_keys)
        self.report_limiter = RateLimiter(settings.report_rate_per_minute)
        #: requests that may wait on another server at once (installs); the other threads stay free
        self.inline_calls = outbound.InlineCalls(settings.inline_calls)


def create_app(settings: Settings | None = None, *, engine=None) -> Flask:
    """The web app. Settings are read from the environment when none are passed."""
    if settings is None:
        try:
            settings = load_settings()
        except ConfigurationError as exc:
            # One clear line naming the setting, not a traceback. Exit code 3 is gunicorn's "worker failed
            # to boot", which stops the master instead of rebooting the worker forever.
            print(f"configuration: {exc}", file=sys.stderr)
            raise SystemExit(BOOT_ERROR) from None
        # The deployment's app (gunicorn's `connector:create_app()`): its process logs as the settings say.
        # An app given its settings (tests, the demo) leaves the process's logging as it is.
        logs.configure(settings)
    app = Flask(__name__)
    # Werkzeug refuses a larger Content-Length with 413 before any handler reads it. A chunked body has no
    # length: werkzeug just stops reading at the limit, so the limit is one byte more than allowed and a
    # handler that reads that byte knows the body is too large (connector/web/webhooks.py).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_webhook_bytes + 1
    app.extensions["connector"] = Services(settings, engine)
    if settings.trusted_proxies:
        # Behind a load balancer the peer is the proxy: take the client's address from the hops we trust.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)

    from connector.web import api, health, storefront, tracking, webhooks
    from connector.web import metrics
    from connector.web.request_log import name_requests
    from connector.web.app import routes as merchant_app

    name_requests(app)
    metrics.install(app, app.extensions["connector"].engine)
    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(tracking.bp)
    app.register_blueprint(storefront.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(merchant_app.bp)
    # Each platform brings its install views (Shopify OAuth, WooCommerce app authorization).
    for adapter in registry.adapters().values():
        blueprint = getattr(adapter, "blueprint", None)
        if blueprint is not None:
            app.register_blueprint(blueprint)
    return app
