"""Backfills: a run reading a store's past orders (resumable from its row), and the orders it read, kept until done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connector.models.base import Base, UTCDateTime


class BackfillRun(Base):
    """One backfill of a store: what it reads (orders placed since `since`), how far it got, and what it found.

    Everything a run needs to go on after a crash is on this row: the platform's resume token while it reads, the
    last order it credited (by placed time and id, oldest first) while it credits, and its figures so far, each
    written in the transaction that did the work it counts.
    """

    __tablename__ = "backfill_runs"
    __table_args__ = (Index("ix_backfill_runs_store_id", "store_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    #: the store's id while the run is unfinished, else NULL: one unfinished run per store (NULLs never collide)
    active_store_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    #: dry_run (reports, stores nothing that changes crediting) or commit (credits)
    mode: Mapped[str] = mapped_column(String(20))
    #: who drives it: cli (`connector backfill`, resumed by running it again) or worker (the merchant page's)
    runner: Mapped[str] = mapped_column(String(20))
    days: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    #: reading (the platform's orders into backfill_orders), crediting (oldest first), done, failed, stopped
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: a commit of a finished dry run: that run (its orders are credited, its figures restated)
    of_run_id: Mapped[int | None] = mapped_column(ForeignKey("backfill_runs.id", ondelete="SET NULL"), nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: the adapter's token for reading on from its last checkpoint (None: from the start)
    read_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: what the platform is doing, in a few words (a bulk operation running), for the progress line
    read_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: calls made to the platform while reading, in all (resumed readings added up)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    orders_read: Mapped[int] = mapped_column(Integer, default=0)
    #: orders the platform said it would send, when it says (Shopify's objectCount); else None
    orders_expected: Mapped[int | None] = mapped_column(Integer, nullable=True)
    orders_done: Mapped[int] = mapped_column(Integer, default=0)
    #: the last order handled, oldest first: the next is after (placed_at, order id)
    cursor_placed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cursor_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the figures so far (connector/backfill/figures.py): per influencer and method, orders not credited and why
    figures: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: a process working on it holds it until then
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class BackfillOrder(Base):
    """One order a run read, as the adapter's normaliser reads it (the body compressed), until the run is done."""

    __tablename__ = "backfill_orders"
    __table_args__ = (
        UniqueConstraint("run_id", "platform_order_id"),
        Index("ix_backfill_orders_run_id_placed_at", "run_id", "placed_at", "platform_order_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("backfill_runs.id", ondelete="CASCADE"))
    platform_order_id: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    topic: Mapped[str] = mapped_column(String(100))
    #: zlib of the body the adapter's `normalise` takes under `topic`
    body: Mapped[bytes] = mapped_column(LargeBinary)
