"""What the Shopify stand-in answers for Order.customerJourneySummary (PLATFORMS-2.md F), per order.

A test sets an order's summary (`StandinShopify.set_journey`, visits made with `visit()`); an order without
one answers a single session read from its REST `landing_site` and `referring_site`, first and last alike, as a
one-visit web order would; an order without a landing site answers null, as one without an online session
(POS, API and renewal orders) does.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

from standins.shopify.order_node import landing_page

UTM = {"utm_campaign": "campaign", "utm_content": "content", "utm_medium": "medium", "utm_source": "source",
       "utm_term": "term"}


def visit(occurred_at: str, landing: str | None = None, *, referral_code: str | None = None,
          source: str = "direct", utm: dict[str, str] | None = None) -> dict[str, Any]:
    """A CustomerVisit as the stand-in answers one; utm keys are GraphQL's (campaign, content, medium, source, term)."""
    given = utm or {}
    number = int(hashlib.sha256(f"{occurred_at}|{landing}".encode()).hexdigest()[:10], 16)
    return {"id": f"gid://shopify/CustomerVisit/{number}",
            "occurredAt": occurred_at, "landingPage": landing, "referralCode": referral_code, "source": source,
            "utmParameters": None if not given else {key: given.get(key) for key in UTM.values()}}


def summary(*, ready: bool = True, first: dict | None = None, last: dict | None = None,
            customer_order_index: int | None = None) -> dict[str, Any]:
    """A CustomerJourneySummary; `last` defaults to `first` (one session is both)."""
    return {"ready": ready, "customerOrderIndex": customer_order_index, "firstVisit": first,
            "lastVisit": first if last is None else last}


def from_order(order: dict, shop: str) -> dict[str, Any] | None:
    """The summary of an order no test set one for: its one session, from the REST fields."""
    landing = landing_page(order.get("landing_site"), shop)
    if landing is None:
        return None
    query = parse_qs(urlsplit(landing).query)
    utm = {name: query[key][0] for key, name in UTM.items() if query.get(key)}
    referrer = urlsplit(order.get("referring_site") or "").hostname
    count = (order.get("customer") or {}).get("orders_count") if isinstance(order.get("customer"), dict) else None
    one = visit(order.get("created_at") or order.get("processed_at"), landing,
                referral_code=order.get("landing_site_ref") or None, source=referrer or "direct", utm=utm)
    return summary(first=one, customer_order_index=count if isinstance(count, int) else None)
