"""What a backfill reads from a platform (PlatformAdapter.backfill_orders): past orders, and checkpoints to resume at."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connector.errors import PlatformError


@dataclass(frozen=True)
class PastOrder:
    """One order a backfill read from the platform, handled like its webhook."""

    order_id: str
    #: when the order was placed: a backfill credits oldest first
    placed_at: datetime
    #: what the adapter's `normalise` reads it by
    topic: str
    body: bytes


@dataclass(frozen=True)
class ReadCheckpoint:
    """Where a backfill's reading got to: every PastOrder yielded before it is covered by `resume`."""

    #: hand this back to backfill_orders to read on from here (None: from the start)
    resume: str | None
    #: what the platform is doing, in a few words (a bulk operation running), for the progress line
    note: str = ""
    #: calls made to the platform since the reading started or resumed
    calls: int = 0
    #: orders the platform says it will send in all, when it says
    expected: int | None = None
    #: the reading is over: nothing follows
    done: bool = False


BackfillItem = PastOrder | ReadCheckpoint


class BackfillRefused(PlatformError):
    """The platform will not give a backfill these orders (a scope not granted); trying again cannot help."""
