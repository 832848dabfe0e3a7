"""The inbox: every authentic delivery stored once, raw, with what became of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, UTCDateTime, utcnow


REPORT_TOPICS = text("topic LIKE 'storefront/%'")
#: reconciliation's stored order states (the /metrics count of webhook gaps healed reads them by this index)
RECONCILE_TOPIC = text("topic = 'reconcile/order'")
#: an event's body once erased: past retention (connector/worker/retention.py), or by a privacy request
ERASED_BODIES = (b'{"erased": true, "reason": "retention"}', b'{"redacted": true, "reason": "customers/redact"}',
                 b'{"redacted": true, "reason": "shop/redact"}')


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
        Index("ix_events_reconciled", "id", postgresql_where=RECONCILE_TOPIC, sqlite_where=RECONCILE_TOPIC),
        # what retention may erase: events no longer waiting, by age
        Index("ix_events_settled_received", "received_at", postgresql_where=text("status <> 'pending'"),
              sqlite_where=text("status <> 'pending'")),
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
