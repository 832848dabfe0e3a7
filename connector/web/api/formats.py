"""How the API writes what it answers with, when the core's money and share formats do not cover it."""

from __future__ import annotations

from datetime import datetime, timezone


def format_time(moment: datetime | None) -> str | None:
    # In UTC always: a time just written still carries the offset it was sent with (+01:00), the same
    # time read back is UTC, and the two answers must be the same.
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None
