"""What the deployment knows of itself: each worker's heartbeat, and the alerts raised to its operator."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, UTCDateTime


class WorkerBeat(Base):
    """One worker process: when it started, when it last said it was alive, and when it stopped (if it did)."""

    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: set by a worker that stopped as asked (SIGTERM); a crashed one just stops beating
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


#: kinds that stay open while their condition holds; the others are one-off notices of something that
#: happened (events set aside), raised and closed at once
OPEN_WHILE_TRUE = ("deliveries_failing", "store_needs_reauth")
ONE_OFF = ("events_failed",)
ALERT_KINDS = OPEN_WHILE_TRUE + ONE_OFF
#: one open alert per condition, and one notice per one-off subject, however many workers watch at once
UNIQUE_WHILE = text("resolved_at IS NULL OR kind = 'events_failed'")


class Alert(Base):
    """Something the operator must act on: raised once, resolved when its condition ends, told to
    CONNECTOR_ALERT_URL (when set) as a signed notice of each of the two."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("uq_alerts_open", "kind", "subject", unique=True, postgresql_where=UNIQUE_WHILE,
              sqlite_where=UNIQUE_WHILE),
        Index("ix_alerts_notice_due", "notice_due_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: deliveries_failing, store_needs_reauth, events_failed
    kind: Mapped[str] = mapped_column(String(40))
    #: what it is about: "backend", a store's id, the last failed event's id
    subject: Mapped[str] = mapped_column(String(100))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    #: what the operator should do, in so many words
    action: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the last notice CONNECTOR_ALERT_URL accepted: None, "raised" or "resolved"
    noticed: Mapped[str | None] = mapped_column(String(20), nullable=True)
    #: when the next notice is due (None: nothing to send, or its retries are spent); a sender leases it
    notice_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    notice_attempts: Mapped[int] = mapped_column(Integer, default=0)
    notice_error: Mapped[str | None] = mapped_column(Text, nullable=True)
