"""Values the database can hold, checked on every neutral event an adapter makes, before anything is written.

JSON can carry text no column takes: a lone surrogate (`"\\ud800"`) cannot be encoded as UTF-8, and
PostgreSQL's text cannot hold NUL. Such a value used to fail deep in the worker, as an unexpected
error retried for 19 hours; the same goes for a date near year 1, which no time zone arithmetic
survives. Refused here, the event is rejected at once, kept and flagged, with the field named.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any, Mapping, TypeVar

from connector.errors import MalformedPayload

#: no order, refund or sign-up happened before this or after that
EARLIEST = datetime(1970, 1, 2, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)

T = TypeVar("T")


def _text_ok(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(value: Any, where: str) -> None:
    if isinstance(value, str):
        if not _text_ok(value):
            raise MalformedPayload(f"{where} holds a character the database cannot store")
    elif isinstance(value, datetime):
        if value.tzinfo is None or not EARLIEST <= value <= LATEST:
            raise MalformedPayload(f"{where} is not a plausible time: {value.isoformat()}")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            _check(getattr(value, item.name), f"{where}.{item.name}" if where else item.name)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check(key, f"{where} key")
            _check(item, f"{where}[{key!r}]" if _text_ok(str(key)) else f"{where}[…]")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]")


def checked(event: T) -> T:
    """The event itself, when every text and time in it can be stored; MalformedPayload naming the field otherwise."""
    if event is not None:
        _check(event, "")
    return event
