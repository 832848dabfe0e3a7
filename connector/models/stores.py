"""The stores: one row per installed store, its credentials sealed; used install nonces; privacy requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, UTCDateTime, utcnow


class Store(Base):
    __tablename__ = "stores"
    __table_args__ = (UniqueConstraint("platform", "domain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    #: Shopify shop domain (`x.myshopify.com`) or the WooCommerce store URL, normalised
    domain: Mapped[str] = mapped_column(String(255))
    #: active; uninstalled (the merchant removed the app); needs_reauth (the platform refused our
    #: credentials); redacted (shop/redact erased its data)
    status: Mapped[str] = mapped_column(String(20), default="active")
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: AES-GCM ciphertexts (connector.crypto), bound to this store's id. WooCommerce keeps "ck:cs" here.
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: a worker refreshing the token holds this until then; the HTTP call happens outside any transaction
    token_refresh_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the scopes the platform granted, comma-separated
    scopes: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    webhook_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: remote setup (webhook registration) still to do; the worker retries it until it is done
    setup_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    setup_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    setup_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: what the last setup found in the store, step by step (core.platform.SetupStep), for the onboarding list
    setup_report: Mapped[list | None] = mapped_column(JSON, nullable=True)
    #: orders updated up to this time have been reconciled
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: a worker doing setup or reconciliation for this store holds it until then
    maintenance_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: "paid" (credit when first seen paid) or "creation"
    credit_on: Mapped[str] = mapped_column(String(20), default="paid")
    forward_test_orders: Mapped[bool] = mapped_column(Boolean, default=False)
    #: comma-separated signal kinds, strongest first (code-vs-link precedence)
    precedence: Mapped[str] = mapped_column(String(100), default="renewal,promo_code,click,landing_page,customer")
    #: a returning customer's orders go to the influencers of their first credited order for this many days; 0 = off
    lifetime_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: subscription renewals: credit (to the influencers of the order that started the subscription) or ignore
    renewals: Mapped[str] = mapped_column(String(20), default="credit", server_default="credit")
    #: how touches (clicks) share an order: last_click, first_click, linear, time_decay
    attribution_model: Mapped[str] = mapped_column(String(20), default="last_click")
    #: touches older than this before the order are kept in the record as "out of window", not credited
    attribution_window_days: Mapped[int] = mapped_column(Integer, default=30)
    #: time decay: a touch this much older than another counts half as much
    half_life_days: Mapped[int] = mapped_column(Integer, default=7)
    #: the platform's own id of the store (Shopify's numeric shop id), read at setup: signed bodies that
    #: name a shop must name this one
    platform_shop_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the storefront's home page (tracking links land here); None = https://<domain>
    storefront_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: the shop's currency, when the platform told us (leads carry no amount but name a currency)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    #: promo codes wait to be created or removed in the store from this time (the worker's maintenance does it)
    codes_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the worker's daily check of the store's webhook subscriptions last ran to the end (installs/webhooks.py);
    #: None: not yet, the check is first due a day after setup, which read them back itself
    webhooks_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: subscriptions the checks found missing, disabled or pointing elsewhere and mended, since the store was added
    webhooks_repaired: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    webhooks_repaired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: what the last check could not mend, in a line; None when it mended all it found
    webhooks_check_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)



class UsedNonce(Base):
    """Install state and WooCommerce user_id nonces that were redeemed: each works once."""

    __tablename__ = "used_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PrivacyRequest(Base):
    """A privacy webhook (data request, customer or shop redaction) and what the connector did about it."""

    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    #: data_request, customer_redact, shop_redact
    kind: Mapped[str] = mapped_column(String(20))
    #: the platform's id of the request, when it gives one
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: kept for data requests only, so the operator can find the export
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: for a data request: what the connector holds about the customer (the JSON the operator hands over)
    export: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: counts of what was found or erased
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
