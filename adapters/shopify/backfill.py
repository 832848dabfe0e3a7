"""A backfill's reading of a Shopify shop: one bulk operation, not page after page (PLATFORMS-2.md E).

`bulkOperationRunQuery` runs bulk_orders.graphql (the reconciliation node's fields and the shopper's visits) over
the orders created in the window; the operation is polled (`node(id:)`, a few seconds apart, growing to
POLL_MAX) until it completes, and its JSONL file is downloaded and put back together order by order (bulk_file.py).
The calls: one bulk query, its polls, and the download (ranged pieces of 32 MiB: one for most shops).

Polling rather than the `bulk_operations/finish` webhook: the webhook carries no URL (a `node` read is needed
anyway), it would be one more topic subscribed and checked daily in every shop for a one-off read, and a backfill
is resumable at every poll anyway (the operation's id is its resume token: a run killed while Shopify works, or
while the file is read, polls the same operation again, and downloads its file again, kept 7 days).

Shopify shows only the last 60 days of orders to an app without `read_all_orders`; a longer backfill is refused
before any call when the shop has not granted it (BackfillRefused, with what to do), rather than silently
reading less.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from sqlalchemy.orm import Session, sessionmaker

from connector.core import storable
from connector.core.json_body import load
from connector.core.platform import BackfillItem, BackfillRefused, OrderEvent, PastOrder, ReadCheckpoint
from connector.errors import MalformedPayload, PlatformError
from connector.models import Store
from connector.settings import Settings

from . import bulk_file, journey, normalise_graphql, oauth
from .admin_api import AdminApi, document, user_errors

#: what a backfilled order is stored and normalised under (a bulk node: the reconciliation node and its visits)
TOPIC = "backfill/order"
ALL_ORDERS_SCOPE = "read_all_orders"
#: how far back Shopify shows orders without read_all_orders (docs: Order object, access scopes)
VISIBLE_DAYS = 60
POLL_FIRST, POLL_MAX = 1.0, 10.0
FAILED = ("FAILED", "CANCELED", "CANCELING", "EXPIRED")


def scope_message(days: int) -> str:
    return (f"Orders placed more than {VISIBLE_DAYS} days ago need Shopify's {ALL_ORDERS_SCOPE} scope, which "
            f"this shop has not granted, so a backfill of {days} days would silently miss the older ones. Request "
            f"access to all orders for the app in the Partner Dashboard (API access), add {ALL_ORDERS_SCOPE} to "
            f"SHOPIFY_SCOPES and have the merchant approve the update; or backfill {VISIBLE_DAYS} days or fewer.")


def _store(sessions: sessionmaker[Session], store_id: int) -> tuple[str, tuple[str, ...] | None]:
    with sessions() as session:
        store = session.get(Store, store_id)
        if store is None or store.platform != "shopify":
            raise PlatformError(f"no Shopify store {store_id}")
        return store.domain, oauth.parse_scopes(store.scopes) if store.scopes else None


def check_scope(api: AdminApi, shop: str, granted: tuple[str, ...] | None, since: datetime,
                now: datetime) -> int:
    """BackfillRefused when the window reaches past what the shop lets the app see; the calls it took (0 or 1)."""
    days = round((now - since) / timedelta(days=1))
    # An hour's slack: the window was reckoned when the run was asked for, a moment before this.
    if now - since <= timedelta(days=VISIBLE_DAYS, hours=1):
        return 0
    calls = 0
    if granted is None:  # not on record (a token added by hand): ask the shop
        handles = api.execute("app_scopes")["currentAppInstallation"]["accessScopes"]
        granted, calls = tuple(str(scope.get("handle")) for scope in handles if isinstance(scope, dict)), 1
    if ALL_ORDERS_SCOPE not in granted:
        raise BackfillRefused(scope_message(days))
    return calls


def bulk_query(since: datetime) -> str:
    """bulk_orders.graphql with the window's search written in (a bulk query takes no variables)."""
    search = f"created_at:>='{since.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}'"
    return document("bulk_orders").replace('"BACKFILL_SEARCH"', json.dumps(search))


def start(api: AdminApi, since: datetime) -> str:
    """Run the bulk query; its operation's id. PlatformError when Shopify refuses or another one is running."""
    payload = api.execute("bulk_operation_run_query", {"query": bulk_query(since)})["bulkOperationRunQuery"]
    if any((e or {}).get("code") == "OPERATION_IN_PROGRESS" for e in payload.get("userErrors") or []):
        raise PlatformError(f"{api.shop}: another bulk query of this app is running in the shop; tried again later")
    problem = user_errors(payload)
    operation = payload.get("bulkOperation") or {}
    if problem or not isinstance(operation.get("id"), str):
        raise PlatformError(f"{api.shop}: Shopify refused the bulk query: {problem or 'no operation'}")
    return operation["id"]


def poll(api: AdminApi, operation_id: str) -> dict:
    operation = api.execute("bulk_operation", {"id": operation_id}).get("node")
    if not isinstance(operation, dict) or not isinstance(operation.get("status"), str):
        raise PlatformError(f"{api.shop}: Shopify does not know the bulk operation {operation_id}")
    return operation


def _failed(shop: str, operation: dict) -> PlatformError:
    code = operation.get("errorCode")
    if code == "ACCESS_DENIED":
        return BackfillRefused("Shopify refused the bulk read of orders (ACCESS_DENIED): the app lacks a scope it "
                               "needs (read_orders)")
    return PlatformError(f"{shop}: Shopify's bulk operation ended {operation['status'].lower()}"
                         f"{f' ({code})' if code else ''}; a new one is started next time")


def backfill_orders(settings: Settings, sessions: sessionmaker[Session], store_id: int, since: datetime,
                    resume: str | None, *, sleep: Callable[[float], None] = time.sleep,
                    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                    **api_options) -> Iterator[BackfillItem]:
    """The shop's orders created since `since`: a bulk operation started (or the resumed one), polled, its file read."""
    shop, granted = _store(sessions, store_id)
    api = AdminApi(settings, sessions, store_id, shop, **api_options)
    operation_id = resume
    if operation_id is None:
        # Checked when the operation starts: one resumed later covers the window it was started over.
        check_scope(api, shop, granted, since, now())
        operation_id = start(api, since)
        yield ReadCheckpoint(resume=operation_id, note="Shopify started gathering the orders", calls=api.calls)
    wait = POLL_FIRST
    while True:
        operation = poll(api, operation_id)
        if operation["status"] == "COMPLETED":
            break
        if operation["status"] in FAILED:
            yield ReadCheckpoint(resume=None, note="Shopify's bulk operation failed", calls=api.calls)
            raise _failed(shop, operation)
        yield ReadCheckpoint(resume=operation_id, calls=api.calls,
                             note=f"Shopify is gathering the orders ({operation.get('objectCount') or 0} objects so far)")
        sleep(wait)
        wait = min(wait * 2, POLL_MAX)
    expected = _count(operation.get("rootObjectCount"))
    calls = api.calls
    if operation.get("url"):
        with tempfile.TemporaryFile(prefix="connector-backfill-") as file:
            calls += bulk_file.download(operation["url"], file, size=_count(operation.get("fileSize")))
            yield ReadCheckpoint(resume=operation_id, note="reading Shopify's file of orders", calls=calls,
                                 expected=expected)
            for node in bulk_file.orders(file):
                yield _past(node)
    yield ReadCheckpoint(resume=operation_id, calls=calls, expected=expected, done=True)


def _count(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _past(node: dict) -> PastOrder:
    order_id = str(node.get("legacyResourceId") or normalise_graphql.gid_tail(node.get("id"), "id") or "")
    try:
        placed = datetime.fromisoformat(str(node.get("createdAt")).replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        placed = datetime.now(timezone.utc)  # the normaliser refuses it later, and the report says why
    return PastOrder(order_id=order_id, placed_at=placed, topic=TOPIC,
                     body=json.dumps(node, separators=(",", ":")).encode())


def normalise(body: bytes) -> OrderEvent:
    """A backfilled order (bulk_orders.graphql's node, put back together) as an OrderEvent, with its visits."""
    node = load(body)
    event = normalise_graphql.order_event(node, TOPIC)
    if not isinstance(node, dict):
        raise MalformedPayload("order is not an object")
    return storable.checked(replace(event, journey=journey.read_journey(node.get("customerJourneySummary"))))
