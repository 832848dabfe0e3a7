"""Shopify's record of the shopper's sessions before an order (Order.customerJourneySummary) → Journey.

Facts (PLATFORMS-2.md F, the Admin schema): `ready` is false until Shopify has attributed the order's
sessions; `firstVisit` / `lastVisit` are CustomerVisits (`occurredAt` always, `landingPage`, `referralCode`
read by Shopify from the landing URL's ref, source or r parameter, `source`, `utmParameters`), any of them
null; `customerOrderIndex` is the order's place among the customer's orders. A null summary is an order
without online sessions (POS, draft, API and renewal orders): no visits, nothing to wait for. Visits are
carried as answered even while `ready` is false; the core decides whether to wait for the rest.

Anything unreadable raises MalformedPayload, which order_context.py turns into the Journey's `error`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from connector.core.platform import Journey, Visit
from connector.core.shapes import text_or_none
from connector.errors import MalformedPayload

from .normalise import _time

UTM_KEYS = ("campaign", "content", "medium", "source", "term")
#: the most of a landing URL kept: Shopify's own URLs are far shorter, and the core stores it
MAX_URL = 2048


def ref_of(url: str | None) -> str | None:
    """The `ref` query parameter of a landing page, when Shopify read no referral code from it."""
    if not url:
        return None
    try:
        values = parse_qs(urlsplit(url.strip()).query).get("ref", [])
    except ValueError:
        return None
    return next((v.strip() for v in values if v.strip()), None)


def _visit(position: str, value: Any) -> Visit | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedPayload(f"{position}Visit is not an object")
    landing = text_or_none(value.get("landingPage"))
    landing = landing[:MAX_URL] if landing else None
    utm = value.get("utmParameters")
    if utm is not None and not isinstance(utm, dict):
        raise MalformedPayload(f"{position}Visit.utmParameters is not an object")
    return Visit(
        position=position,
        at=_time(value.get("occurredAt"), f"{position}Visit.occurredAt"),
        ref=text_or_none(value.get("referralCode")) or ref_of(landing),
        landing_url=landing,
        source=text_or_none(value.get("source")),
        utm={key: utm[key] for key in UTM_KEYS if text_or_none((utm or {}).get(key))},
    )


def read_journey(summary: Any) -> Journey:
    """The Journey an order's customerJourneySummary describes."""
    if summary is None:
        return Journey(ready=True)
    if not isinstance(summary, dict):
        raise MalformedPayload("customerJourneySummary is not an object")
    ready = summary.get("ready")
    if not isinstance(ready, bool):
        raise MalformedPayload("customerJourneySummary.ready is not a boolean")
    index = summary.get("customerOrderIndex")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
        raise MalformedPayload(f"customerOrderIndex is not a count: {index!r}")
    visits = (_visit("first", summary.get("firstVisit")), _visit("last", summary.get("lastVisit")))
    return Journey(ready=ready, visits=tuple(v for v in visits if v is not None), customer_order_index=index)
