"""The tables. Timestamps are UTC and timezone-aware; money is exact decimal on every database."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores UTC; always hands back an aware datetime (SQLite would otherwise return a naive one)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class DecimalAmount(TypeDecorator):
    """NUMERIC on PostgreSQL; text on SQLite, whose NUMERIC would round-trip through float."""

    impl = Numeric(20, 6)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(20, 6, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError("money must be a Decimal")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


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
    #: orders updated up to this time have been reconciled
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: a worker doing setup or reconciliation for this store holds it until then
    maintenance_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: "paid" (credit when first seen paid) or "creation"
    credit_on: Mapped[str] = mapped_column(String(20), default="paid")
    forward_test_orders: Mapped[bool] = mapped_column(Boolean, default=False)
    #: comma-separated signal kinds, strongest first (code-vs-link precedence)
    precedence: Mapped[str] = mapped_column(String(100), default="promo_code,click,landing_page")
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Influencer(Base):
    __tablename__ = "influencers"
    __table_args__ = (
        UniqueConstraint("store_id", "tracking_key"),
        UniqueConstraint("store_id", "promo_code_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    tracking_id: Mapped[str] = mapped_column(String(100))
    #: lower-cased tracking id: ids are matched case-insensitively
    tracking_key: Mapped[str] = mapped_column(String(100))
    promo_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    promo_code_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    campaign_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: the influencer's email is kept only as this hash (for self-referral checks)
    email_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the influencer's own customer id in the store, if known (self-referral)
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: removed by the backend: the code is deactivated in the store; the row and its history stay
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the code the backend asked for (promo_code is the one live in the store, after any collision policy)
    requested_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: what the code gives: percentage or fixed_amount; None = a code that exists in the store already
    discount_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    discount_value: Mapped[Decimal | None] = mapped_column(DecimalAmount, nullable=True)
    discount_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    discount_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    usage_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    once_per_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    #: none (no code), existing (made outside the connector: only matched), pending (to create), active (works
    #: in the store), failed (code_error says why), removing (to deactivate), removed
    code_status: Mapped[str] = mapped_column(String(20), default="none")
    code_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: the platform's ids of the code and of the discount it belongs to
    code_remote_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    code_discount_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    code_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Campaign(Base):
    """A campaign the backend registered for a store; influencers name it by its external id."""

    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("store_id", "campaign_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    campaign_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Discount(Base):
    """A platform discount shared by influencers with the same campaign and terms (Shopify: one code discount)."""

    __tablename__ = "discounts"
    __table_args__ = (UniqueConstraint("store_id", "group_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    group_key: Mapped[str] = mapped_column(String(400))
    remote_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Click(Base):
    """A click on a tracking link. IP and user agent only as hashes, for fraud checks."""

    __tablename__ = "clicks"
    __table_args__ = (
        Index("ix_clicks_store_tracking_time", "store_id", "tracking_key", "clicked_at"),
        #: a browser's repeat clicks on one link (same address and user agent) count once
        Index("ix_clicks_repeat", "influencer_id", "ip_sha256", "clicked_at"),
        #: pruning, a store at a time
        Index("ix_clicks_store_time", "store_id", "clicked_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    influencer_id: Mapped[int] = mapped_column(ForeignKey("influencers.id", ondelete="CASCADE"))
    tracking_key: Mapped[str] = mapped_column(String(100))
    clicked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    path: Mapped[str] = mapped_column(String(500), default="/")
    #: the lead this click earned: one click earns one lead at most
    lead_conversion_id: Mapped[str | None] = mapped_column(String(40), nullable=True)


class ClickCount(Base):
    """Clicks per influencer and hour, kept when the clicks themselves are pruned (the stats still count them)."""

    __tablename__ = "click_counts"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    tracking_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    clicks: Mapped[int] = mapped_column(Integer, default=0)


class StorefrontReport(Base):
    """A browser's report (web pixel or storefront script): the shopper's touches, for an order or a sign-up."""

    __tablename__ = "storefront_reports"
    __table_args__ = (
        Index("ix_storefront_reports_order", "store_id", "platform_order_id"),
        Index("ix_storefront_reports_customer", "store_id", "customer_id"),
        Index("ix_storefront_reports_email", "store_id", "email_sha256"),
        Index("ix_storefront_reports_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    #: purchase or signup
    kind: Mapped[str] = mapped_column(String(20))
    platform_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: SHA-256 of the checkout token / order key the browser showed; compared with the order's
    proof_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    email_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: [{"ref", "click_id", "at"}], oldest first
    touches: Mapped[list] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: waiting (for its order), joined (proof matched), rejected (proof did not match)
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Customer(Base):
    """A shopper who signed up (a possible lead); the row that makes a lead happen at most once."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("store_id", "platform_customer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    platform_customer_id: Mapped[str] = mapped_column(String(64))
    email_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signed_up_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lead_conversion_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: no report yet: the sign-up waits for one until then (CONNECTOR_REPORT_GRACE_SECONDS)
    awaiting_report_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision: Mapped[str | None] = mapped_column(Text, nullable=True)


#: the inbox's browser reports (connector/campaigns/reports.py TOPIC_PREFIX), as the partial index and pruning say it
REPORT_TOPICS = text("topic LIKE 'storefront/%'")


class Event(Base):
    """A raw webhook delivery, stored before it is answered, handled later by a worker."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("store_id", "delivery_id"),
        Index("ix_events_due", "status", "lease_until"),
        # Browser reports only (anyone can post them), so they can be erased by age: a partial index adds
        # nothing to a webhook's insert.
        Index("ix_events_reports_received", "received_at", postgresql_where=REPORT_TOPICS,
              sqlite_where=REPORT_TOPICS),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when the platform says it happened; a retried delivery can arrive hours later
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: pending, handled, rejected (malformed: kept and flagged), failed (gave up after errors)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Order(Base):
    """What the connector knows of one store order; the row that makes crediting happen at most once."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("store_id", "platform_order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    platform_order_id: Mapped[str] = mapped_column(String(64))
    order_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    commission_base: Mapped[Decimal | None] = mapped_column(DecimalAmount, nullable=True)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    customer_email_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    purchase_conversion_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    credited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: refunds seen before the purchase was credited (webhooks come in any order); applied when it is
    deferred_refunds: Mapped[list | None] = mapped_column(JSON, nullable=True)
    #: SHA-256 of the order's checkout token (Shopify) or order key (WooCommerce): a browser report must match
    proof_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the last order event handled, so a browser report that comes later can credit the order from it
    last_event_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=True)
    #: no promo code and no browser report yet: crediting waits for a report until then
    awaiting_report_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AttributionRecord(Base):
    """Every signal an order carried, which won, and why each other lost."""

    __tablename__ = "attribution_records"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    outcome: Mapped[str] = mapped_column(String(40))
    credits: Mapped[list] = mapped_column(JSON, default=list)
    signals: Mapped[list] = mapped_column(JSON, default=list)


class Conversion(Base):
    """The outbox row is the message: its body is serialised once, its id is the webhook-id."""

    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("store_id", "dedupe_key"),
        Index("ix_conversions_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), nullable=True)
    #: what makes this conversion unique for its store: "purchase:<order>", "refund:<refund>", ...
    dedupe_key: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal] = mapped_column(DecimalAmount)
    currency: Mapped[str] = mapped_column(String(3))
    tracking_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reverses: Mapped[str | None] = mapped_column(String(40), nullable=True)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: pending (to deliver), delivered, failed (retries exhausted; replayable)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ConversionCredit(Base):
    """One influencer's share of a conversion, signed (reversals negative): what the stats add up."""

    __tablename__ = "conversion_credits"
    __table_args__ = (Index("ix_conversion_credits_store_tracking", "store_id", "tracking_key", "created_at"),)

    conversion_id: Mapped[str] = mapped_column(ForeignKey("conversions.id", ondelete="CASCADE"), primary_key=True)
    tracking_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    share: Mapped[Decimal] = mapped_column(DecimalAmount)
    #: share × the conversion's amount; negative for refunds and cancellations
    amount: Mapped[Decimal] = mapped_column(DecimalAmount)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    conversion_id: Mapped[str] = mapped_column(ForeignKey("conversions.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    excerpt: Mapped[str | None] = mapped_column(String(500), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)


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
