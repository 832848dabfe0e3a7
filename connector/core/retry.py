"""Retry policy (pure): when the next delivery attempt is due, or None when the schedule is spent."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Sequence

# Jitter only lengthens a wait, by up to this fraction: the default first wait of 5 s stays within the
# contract's 10 s, and a schedule that adds up to 24 h still adds up to at least 24 h. Spreading
# retries keeps a recovering backend from being hit by every worker's backlog at the same instant.
JITTER = 0.2
# A backend asking us to slow down (Retry-After) is obeyed up to this long.
MAX_RETRY_AFTER = 6 * 3600.0


def next_attempt_at(
    attempts_made: int,
    now: datetime,
    schedule: Sequence[float],
    rng: random.Random,
    retry_after: float | None = None,
) -> datetime | None:
    """After `attempts_made` failed attempts, when to try again; None when the schedule is exhausted."""
    if attempts_made < 1:
        raise ValueError("attempts_made counts the attempts already made, starting at 1")
    if attempts_made > len(schedule):
        return None
    wait = schedule[attempts_made - 1] * (1 + JITTER * rng.random())
    if retry_after is not None and retry_after > 0:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return now + timedelta(seconds=wait)
