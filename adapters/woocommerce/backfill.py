"""A backfill's reading of a WooCommerce store: REST pages of 100 orders by modification time, as reconciliation
reads them (rest_api.orders_modified_since: paged by the last time seen, so an order modified during the scan is
read again rather than skipped), ⌈N/100⌉ calls for N orders.

Orders modified in the window are read (every order placed in it was modified in it); those placed before it are
left out. After each page a checkpoint carries the page's last modification time: a reading resumed from it asks
for orders modified after a second before that time (orders of that second come again; the core keeps each once).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Iterator

from connector.core.platform import BackfillItem, PastOrder, ReadCheckpoint
from connector.settings import Settings

from .credentials import client_for

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

log = logging.getLogger("connector.woocommerce")
#: what the normaliser reads a stored order by (a webhook's topic: the REST order is the webhook's body)
TOPIC = "order.updated"


def _gmt(value) -> datetime | None:
    """WooCommerce's `date_*_gmt` (UTC, no offset) as an aware time; None when absent or malformed."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _token(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def _start(since: datetime, resume: str | None) -> datetime:
    """Where to read from: a second before the resumed page's last time, else the window's start."""
    at = _gmt(resume.removesuffix("Z")) if resume else None
    if at is None or at < since:
        return since
    return at - timedelta(seconds=1)


def backfill_orders(settings: Settings, sessions: "sessionmaker", store_id: int, since: datetime,
                    resume: str | None) -> Iterator[BackfillItem]:
    """Orders placed since `since`, by modification time, a checkpoint after each page of 100."""
    client = client_for(settings, sessions, store_id)
    start, calls_at_start = _start(since, resume), client.calls
    last, page_calls = (_gmt(resume.removesuffix("Z")) if resume else None), client.calls
    for order in client.orders_modified_since(start):
        if client.calls != page_calls and last is not None:
            # A new page was read: every order of the ones before it has been handed over.
            yield ReadCheckpoint(resume=_token(last), calls=client.calls - calls_at_start,
                                 note=f"read up to orders modified {_token(last)}")
        page_calls = client.calls
        modified = _gmt(order.get("date_modified_gmt"))
        last = max(last, modified) if last and modified else (modified or last)
        placed = _gmt(order.get("date_created_gmt"))
        if placed is None or order.get("id") is None:
            log.warning("backfill: an order without an id or creation time was left out")
            continue
        if placed >= since:
            yield PastOrder(order_id=str(order["id"]), placed_at=placed, topic=TOPIC,
                            body=json.dumps(order, separators=(",", ":")).encode())
    yield ReadCheckpoint(resume=_token(last), calls=client.calls - calls_at_start, done=True)
