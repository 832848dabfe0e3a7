"""The events the backend may be told besides conversions: their types, what each carries, and the body sent.

Pure: the body is built here and serialised once, as a conversion's is (`connector.core.payload`); the
outbox row that carries it is written where the change happens (`connector.backend_events`). Same envelope
as a conversion: `{"type", "timestamp", "data"}`, and `data.event_id` is the `webhook-id`.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime

from connector.core.payload import format_time

STORE_INSTALLED = "store.installed"
STORE_UNINSTALLED = "store.uninstalled"
STORE_NEEDS_REAUTH = "store.needs_reauth"
STORE_REAUTHORIZED = "store.reauthorized"
STORE_REDACTED = "store.redacted"
CUSTOMER_REDACTED = "customer.redacted"
CODE_CREATED = "code.created"
CODE_FAILED = "code.failed"
CODE_REMOVED = "code.removed"

#: what `data` holds besides the fields every event has (EVERY_EVENT), type by type
FIELDS: dict[str, tuple[str, ...]] = {
    STORE_INSTALLED: (),
    STORE_UNINSTALLED: (),
    STORE_NEEDS_REAUTH: ("reason",),
    STORE_REAUTHORIZED: (),
    STORE_REDACTED: (),
    CUSTOMER_REDACTED: ("customer_id", "email_sha256"),
    CODE_CREATED: ("tracking_id", "campaign_id", "code", "requested_code"),
    # action: "create" (the store would not take the code) or "remove" (it would not take it down)
    CODE_FAILED: ("tracking_id", "campaign_id", "code", "action", "reason"),
    CODE_REMOVED: ("tracking_id", "campaign_id", "code"),
}
TYPES = tuple(FIELDS)
EVERY_EVENT = ("event_id", "platform", "store", "store_id", "occurred_at")
#: the store's own lifecycle: nothing in them is personal data, so shop/redact keeps them
STORE_TYPES = (STORE_INSTALLED, STORE_UNINSTALLED, STORE_NEEDS_REAUTH, STORE_REAUTHORIZED, STORE_REDACTED)
CODE_ACTIONS = ("create", "remove")
#: every conversion's type starts so; no event's does
CONVERSION_PREFIX = "conversion."
#: the merchant's words for each, where the app lists what was sent to the backend
TEXTS = {
    STORE_INSTALLED: "Store connected",
    STORE_UNINSTALLED: "Store disconnected",
    STORE_NEEDS_REAUTH: "Store needs authorising again",
    STORE_REAUTHORIZED: "Store authorised again",
    STORE_REDACTED: "Store's data erased",
    CUSTOMER_REDACTED: "Customer's data erased",
    CODE_CREATED: "Promo code created",
    CODE_FAILED: "Promo code not made or not removed",
    CODE_REMOVED: "Promo code removed",
}
REASON_CHARS = 500


def is_conversion(kind: str) -> bool:
    return kind.startswith(CONVERSION_PREFIX)


def parse_types(raw: str | None) -> frozenset[str]:
    """CONNECTOR_BACKEND_EVENTS: comma-separated types, or `all`; empty or unset: none.

    Raises ValueError naming the first type it does not know (and the ones it does).
    """
    parts = [part.strip() for part in (raw or "").split(",") if part.strip()]
    if any(part.lower() == "all" for part in parts):
        if len(parts) > 1:
            raise ValueError("takes `all` alone, not beside other types")
        return frozenset(TYPES)
    for part in parts:
        if part not in FIELDS:
            raise ValueError(f"names an unknown event type {part!r}; the types are `all` or {', '.join(TYPES)}")
    return frozenset(parts)


def new_event_id() -> str:
    """`ev_` + 12 hex digits of milliseconds + 16 random hex digits: unique, sorts by creation time (as `cv_` ids)."""
    return f"ev_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def event_body(kind: str, *, event_id: str, created_at: datetime, platform: str, store: str, store_id: int,
               occurred_at: datetime, **details) -> str:
    """The JSON text of one event exactly as the backend receives it; `details` are the type's FIELDS, all of them."""
    wanted = FIELDS.get(kind)
    if wanted is None:
        raise ValueError(f"not a backend event type: {kind!r}")
    if set(details) != set(wanted):
        carried = ", ".join(wanted) or "nothing more"
        raise ValueError(f"{kind} carries {carried}, was given {', '.join(sorted(details))}")
    if kind == CODE_FAILED and details["action"] not in CODE_ACTIONS:
        raise ValueError(f"code.failed's action is one of {', '.join(CODE_ACTIONS)}")
    if "reason" in details and details["reason"] is not None:
        details["reason"] = str(details["reason"])[:REASON_CHARS]
    document = {
        "type": kind,
        "timestamp": format_time(created_at),
        "data": {
            "event_id": event_id,
            "platform": platform,
            "store": store,
            "store_id": store_id,
            "occurred_at": format_time(occurred_at),
            **{name: details[name] for name in wanted},
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)

