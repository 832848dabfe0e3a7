"""What a request's path and query say, read strictly: whole numbers, the store, times, choices."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import request

from connector.models import Store
from connector.web.api.errors import ApiError
from connector.web.api.fields import MAX_ID

#: the date-time format the document promises (RFC 3339 section 5.6), nothing looser
RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                     r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


def whole_number(raw: str) -> int | None:
    """A plain decimal number, or None ("²" and "٣" are digits to str.isdigit, not to int())."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _store_id(raw: str) -> int:
    number = whole_number(raw)
    if number is None or not 1 <= number <= MAX_ID:
        raise ApiError(404, "not_found", "no such store")
    return number


def find_store(session, raw: str) -> Store:
    store = session.get(Store, _store_id(raw))
    if store is None:
        raise ApiError(404, "not_found", "no such store")
    return store


def time_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not RFC3339.fullmatch(raw):
        raise ApiError(422, "validation_error", f"{name} must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z", name)
    try:
        moment = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
        # UTC from here on: the answer echoes it in the documented form, and the database compares in UTC
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ApiError(422, "validation_error", f"{name} is not a time that exists", name) from None


def query_choice(name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw is not None and raw not in choices:
        raise ApiError(422, "validation_error", f"{name} is one of {', '.join(choices)}", name)
    return raw
