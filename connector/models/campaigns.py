"""The campaign side: influencers, campaigns, their discounts, clicks and their hourly counts, browser reports, sign-ups."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, DecimalAmount, UTCDateTime, utcnow


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
