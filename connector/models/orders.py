"""Orders and what crediting made of them: attribution records, conversions, their credits and delivery attempts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    false,
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, DecimalAmount, UTCDateTime, utcnow


class Order(Base):
    """What the connector knows of one store order; the row that makes crediting happen at most once."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "platform_order_id"),
        # the merchant app lists a store's orders newest first, a page at a time
        Index("ix_orders_store_seen", "store_id", "first_seen_at"),
        # a customer's earlier orders (new or returning, their first credited order): indexed, however many
        Index("ix_orders_store_customer", "store_id", "customer_id"),
        Index("ix_orders_store_email", "store_id", "customer_email_sha256"),
    )

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
    #: when the shopper placed it (the platform's time): a returning customer's lifetime counts from it
    ordered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the shop's prices include tax (its order event said): refunds' line amounts then hold tax to take out
    taxes_included: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: it started a subscription (a renewal with no named start is matched to the customer's latest such order)
    starts_subscription: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: the platform's update time of the order state the purchase (or its last adjustment) stands on
    base_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: what conversion.adjustment has added to the purchase (negative: taken off) so far
    adjusted_base: Mapped[Decimal] = mapped_column(DecimalAmount, default=Decimal(0), server_default="0")


class AttributionRecord(Base):
    """Every signal an order carried, which won, and why each other lost."""

    __tablename__ = "attribution_records"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    outcome: Mapped[str] = mapped_column(String(40))
    credits: Mapped[list] = mapped_column(JSON, default=list)
    signals: Mapped[list] = mapped_column(JSON, default=list)
    #: what else the decision went by: new or returning and why, a renewal's start, the platform's visits, edits
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class Conversion(Base):
    """The outbox row is the message: its body is serialised once, its id is the webhook-id."""

    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("store_id", "dedupe_key"),
        Index("ix_conversions_due", "status", "next_attempt_at"),
        # the merchant app's deliveries (a store's, failed first; its newest), and an order's conversions
        Index("ix_conversions_store_status", "store_id", "status", "created_at"),
        Index("ix_conversions_store_created", "store_id", "created_at"),
        Index("ix_conversions_order", "order_id"),
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
    __table_args__ = (
        Index("ix_conversion_credits_store_tracking", "store_id", "tracking_key", "created_at"),
        # the merchant app's figures of a period, whatever the influencer
        Index("ix_conversion_credits_store_created", "store_id", "created_at"),
    )

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
    __table_args__ = (
        # retention's excerpts still to erase, by age (the index empties as they are erased)
        Index("ix_delivery_attempts_excerpt_age", "attempted_at", postgresql_where=text("excerpt IS NOT NULL"),
              sqlite_where=text("excerpt IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    conversion_id: Mapped[str] = mapped_column(ForeignKey("conversions.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    excerpt: Mapped[str | None] = mapped_column(String(500), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
