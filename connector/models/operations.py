"""What the deployment knows of its own processes: each worker's heartbeat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
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
