"""ShopifyAdapter.enrich: what crediting an order needs that its delivery does not carry, in one GraphQL call.

`order_context.graphql` reads the parts `Needs` asks for, each switched on by a variable: the shopper's
visits (customerJourneySummary) and a renewal's start order (its lines' subscription contract and the
contract's originOrder). Shopify's deliveries carry exact refunds, so `needs.refunds` asks nothing.

What cannot be read for good comes back in the value, never as an exception (the core credits from the
delivery then): a scope the app lacks (ACCESS_DENIED; LineItem.contract needs read_own_subscription_contracts
and shows only this app's contracts), an order Shopify no longer shows, an answer that cannot be read (a
malformed part is that part's error, not a flagged event: the delivery itself is fine). What may pass
raises PlatformError so the worker retries the event: throttling once AdminApi's waits are spent, outages,
any other GraphQL error. A store whose granted scopes are on record without the contract scope is not
asked for the contract at all: the answer is known, and the call is saved.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from connector.core import storable
from connector.core.platform import Journey, Needs, OrderEvent, Renewal
from connector.errors import MalformedPayload, PlatformError
from connector.models import Store
from connector.settings import Settings

from . import oauth
from .admin_api import AdminApi, error_codes
from .journey import read_journey
from .normalise import _id
from .normalise_graphql import gid_tail

DOCUMENT = "order_context"
#: lineItems(first: 5) in the document: a renewal's contract is looked for on that many lines
LINES_READ = 5
CONTRACT_SCOPE = "read_own_subscription_contracts"


def enrich(settings: Settings, sessions: sessionmaker[Session], store_id: int, event: OrderEvent, needs: Needs,
           **api_options) -> OrderEvent:
    """The event with its journey and its renewal's start order read from Shopify, as far as `needs` asks."""
    want_journey = needs.journey
    want_origin = needs.renewal_origin and event.renewal is not None and event.renewal.origin_order_id is None
    if not (want_journey or want_origin):
        return event
    shop, granted = _store(sessions, store_id)
    changes: dict[str, Any] = {}
    if want_origin and granted is not None and oauth.missing_scopes([CONTRACT_SCOPE], granted):
        changes["renewal"] = replace(event.renewal, lookup_error=(
            f"the app has no {CONTRACT_SCOPE} scope, which Shopify's LineItem.contract needs"))
        want_origin = False
        if not want_journey:
            return replace(event, **changes)
    api = AdminApi(settings, sessions, store_id, shop, **api_options)
    data, errors = api.execute_partial(DOCUMENT, {"id": f"gid://shopify/Order/{event.order_id}",
                                                  "journey": want_journey, "renewal": want_origin})
    refused = _refusals(errors, api.shop)
    order = data.get("order")
    if want_journey:
        changes["journey"] = _journey(order, refused, event.order_id)
    if want_origin:
        changes["renewal"] = _origin(event.renewal, order, refused, event.order_id)
    return replace(event, **changes)


def _store(sessions: sessionmaker[Session], store_id: int) -> tuple[str, tuple[str, ...] | None]:
    """The shop's domain and the scopes Shopify granted (None when not on record, as for a custom app's token)."""
    with sessions() as session:
        store = session.get(Store, store_id)
        if store is None or store.platform != "shopify":
            raise PlatformError(f"no Shopify store {store_id}")
        return store.domain, oauth.parse_scopes(store.scopes) if store.scopes else None


def _refusals(errors: list[dict], shop: str) -> dict[str, str]:
    """ACCESS_DENIED messages by the part they refuse ("order" for the whole order); PlatformError for any
    other error, which may pass."""
    refused: dict[str, str] = {}
    for error in errors:
        if error_codes([error]) != {"ACCESS_DENIED"}:
            raise PlatformError(f"{shop}: GraphQL {DOCUMENT}: {str(error.get('message', error))[:300]}")
        path = error.get("path") if isinstance(error.get("path"), list) else []
        part = str(path[1]) if len(path) > 1 else "order"
        refused.setdefault(part, f"Shopify refused it: {str(error.get('message') or 'access denied')[:300]}")
    return refused


def _missing(order_id: str) -> str:
    return (f"Shopify shows no order {order_id} (deleted, or older than 60 days and the app has no "
            "read_all_orders)")


def _journey(order: Any, refused: dict[str, str], order_id: str) -> Journey:
    if "order" in refused or "customerJourneySummary" in refused:
        return Journey(ready=True, error=refused.get("customerJourneySummary") or refused["order"])
    if not isinstance(order, dict):
        return Journey(ready=True, error=_missing(order_id))
    try:
        # Checked storable here: text Shopify answers is no delivery, and must not flag the event.
        return storable.checked(read_journey(order.get("customerJourneySummary")))
    except MalformedPayload as exc:
        return Journey(ready=True, error=f"Shopify's answer could not be read: {exc}")


def _origin(renewal: Renewal, order: Any, refused: dict[str, str], order_id: str) -> Renewal:
    if "order" in refused or "lineItems" in refused:
        return replace(renewal, lookup_error=refused.get("lineItems") or refused["order"])
    if not isinstance(order, dict):
        return replace(renewal, lookup_error=_missing(order_id))
    try:
        return storable.checked(read_origin(renewal, order.get("lineItems")))
    except MalformedPayload as exc:
        return replace(renewal, lookup_error=f"Shopify's answer could not be read: {exc}")


def read_origin(renewal: Renewal, connection: Any) -> Renewal:
    """The renewal with its contract and start order, from the first of the order's lines that has a contract."""
    if not isinstance(connection, dict) or not isinstance(connection.get("nodes"), list):
        raise MalformedPayload("lineItems.nodes is missing")
    for node in connection["nodes"]:
        contract = node.get("contract") if isinstance(node, dict) else None
        if contract is None:
            continue
        if not isinstance(contract, dict):
            raise MalformedPayload("lineItems.nodes[].contract is not an object")
        contract_id = gid_tail(contract.get("id"), "contract.id")
        origin = contract.get("originOrder")
        if origin is not None and not isinstance(origin, dict):
            raise MalformedPayload("contract.originOrder is not an object")
        if origin is None:
            return replace(renewal, subscription_id=contract_id, lookup_error=(
                "the subscription contract names no origin order (made by an import or through the API)"))
        return replace(renewal, subscription_id=contract_id,
                       origin_order_id=_id(origin.get("legacyResourceId"), "originOrder.legacyResourceId"),
                       lookup_error=None)
    page = connection.get("pageInfo")
    more = isinstance(page, dict) and page.get("hasNextPage") is True
    return replace(renewal, lookup_error=(
        "no line of the order has a subscription contract this app can read (another app's contracts are "
        "hidden from it)" + (f"; only the first {LINES_READ} lines were read" if more else "")))
