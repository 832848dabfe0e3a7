"""The one form a time is given to the connector in (API queries, the command line): RFC 3339, with its offset.

`2026-11-01T00:00:00Z` or `2026-11-01T02:00:00+02:00`; fractions of a second allowed. A time without an offset
is refused rather than guessed at: UTC and the operator's local time differ by hours.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})")
EXAMPLE = "2026-11-01T00:00:00Z"


class NotATime(ValueError):
    """Not a time in the one accepted form, or a time that does not exist; the message says which."""


def format_time(moment: datetime | None) -> str | None:
    """A time as the connector writes it (API answers, JSON listings): RFC 3339 in UTC, with Z.

    In UTC always: a time just written still carries the offset it was sent with (+01:00), the same time read
    back is UTC, and the two answers must be the same.
    """
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def parse_time(raw: str) -> datetime:
    """An aware UTC time from its RFC 3339 text; NotATime otherwise."""
    if not RFC3339.fullmatch(raw):
        raise NotATime(f"an RFC 3339 time with its offset, e.g. {EXAMPLE}, not {raw!r}")
    try:
        return datetime.fromisoformat(raw.upper().replace("Z", "+00:00")).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise NotATime(f"{raw!r} is not a time that exists") from None
