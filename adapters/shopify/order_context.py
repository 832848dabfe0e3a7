"""ShopifyAdapter.enrich: what crediting an order needs that its delivery does not carry, in one GraphQL call (two
when the contract is asked and names no start).

`order_context.graphql` reads the parts `Needs` asks for, each switched on by a variable: the shopper's
visits (customerJourneySummary) and a renewal's start order (its lines' subscription contract and the
contract's originOrder). Shopify's deliveries carry exact refunds, so `needs.refunds` asks nothing.

The contract is readable only with read_own_subscription_contracts and only for this app's own contracts, which
the connector, being no subscription app, never has. So when it names no start (refused, hidden, no originOrder,
or the scope is known not granted and it is not asked at all) the same document's third part reads the
customer's orders before the renewal and customer_orders.py picks the start: in the same call when the contract
is not asked, else in a second one. A renewal without a customer id is not searched.

What cannot be read for good comes back in the value, never as an exception (the core credits from the
delivery then): a scope the app lacks (ACCESS_DENIED), an order Shopify no longer shows, an answer that cannot
be read (a malformed part is that part's error, not a flagged event: the delivery itself is fine). What may pass
raises PlatformError so the worker retries the event: throttling once AdminApi's waits are spent, outages,
any other GraphQL error.
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

from . import customer_orders, oauth
from .admin_api import AdminApi, error_codes
from .journey import read_journey
from .normalise import _id
from .normalise_graphql import gid_tail

DOCUMENT = "order_context"
#: lineItems(first: 5) in the document: a renewal's contract is looked for on that many lines
LINES_READ = 5
CONTRACT_SCOPE = "read_own_subscription_contracts"
NO_CONTRACT_SCOPE = f"the app has no {CONTRACT_SCOPE} scope, which Shopify's LineItem.contract needs"
NO_CUSTOMER = "the order names no customer whose earlier orders could be searched for the start"


def enrich(settings: Settings, sessions: sessionmaker[Session], store_id: int, event: OrderEvent, needs: Needs,
           **api_options) -> OrderEvent:
    """The event with its journey and its renewal's start order read from Shopify, as far as `needs` asks."""
    want_journey = needs.journey
    want_origin = needs.renewal_origin and event.renewal is not None and event.renewal.origin_order_id is None
    if not (want_journey or want_origin):
        return event
    shop, granted = _store(sessions, store_id)
    # A store whose granted scopes are on record without the contract scope is not asked for the contract: the
    # answer is known, and the part saved.
    ask_contract = want_origin and not (granted is not None and oauth.missing_scopes([CONTRACT_SCOPE], granted))
    customer = customer_orders.customer_id(event.customer.id) if want_origin else None
    ask_history = want_origin and not ask_contract and customer is not None
    renewal = event.renewal if ask_contract or not want_origin else replace(event.renewal,
                                                                            lookup_error=NO_CONTRACT_SCOPE)
    changes: dict[str, Any] = {}
    api = None
    if want_journey or ask_contract or ask_history:
        api = AdminApi(settings, sessions, store_id, shop, **api_options)
        data, refused = _call(api, event, journey=want_journey, contract=ask_contract,
                              history=customer if ask_history else None)
        if want_journey:
            changes["journey"] = _journey(data.get("order"), refused, event.order_id)
        if ask_contract:
            renewal = _origin(renewal, data.get("order"), refused, event.order_id)
        elif ask_history:
            renewal = _history(renewal, event, data, refused, granted, api.shop)
    if want_origin and renewal.origin_order_id is None and not ask_history:
        if customer is None:
            renewal = customer_orders.also(renewal, NO_CUSTOMER)
        else:  # the contract was asked (so `api` is made) and named no start: the customer's orders, on their own
            data, refused = _call(api, event, journey=False, contract=False, history=customer)
            renewal = _history(renewal, event, data, refused, granted, api.shop)
    if want_origin:
        changes["renewal"] = renewal
    return replace(event, **changes)


def _call(api: AdminApi, event: OrderEvent, *, journey: bool, contract: bool,
          history: str | None) -> tuple[dict, dict[str, str]]:
    """One OrderContext call with the parts asked for (`history`: the customer id whose orders to search)."""
    variables: dict[str, Any] = {"id": f"gid://shopify/Order/{event.order_id}", "journey": journey,
                                 "renewal": contract, "history": history is not None}
    if history is not None:
        variables["customerOrders"] = customer_orders.search(history, event.occurred_at)
    data, errors = api.execute_partial(DOCUMENT, variables)
    return data, _refusals(errors, api.shop)


def _store(sessions: sessionmaker[Session], store_id: int) -> tuple[str, tuple[str, ...] | None]:
    """The shop's domain and the scopes Shopify granted (None when not on record, as for a custom app's token)."""
    with sessions() as session:
        store = session.get(Store, store_id)
        if store is None or store.platform != "shopify":
            raise PlatformError(f"no Shopify store {store_id}")
        return store.domain, oauth.parse_scopes(store.scopes) if store.scopes else None


def _refusals(errors: list[dict], shop: str) -> dict[str, str]:
    """ACCESS_DENIED messages by the part they refuse ("order" for the whole order or an error without a path,
    "customerOrders" for the customer's orders); PlatformError for any other error, which may pass."""
    refused: dict[str, str] = {}
    for error in errors:
        if error_codes([error]) != {"ACCESS_DENIED"}:
            raise PlatformError(f"{shop}: GraphQL {DOCUMENT}: {str(error.get('message', error))[:300]}")
        path = error.get("path") if isinstance(error.get("path"), list) else []
        if path and path[0] == "customerOrders":
            part = "customerOrders"
        else:
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
                       lookup_error=None, found_by="subscription")
    page = connection.get("pageInfo")
    more = isinstance(page, dict) and page.get("hasNextPage") is True
    return replace(renewal, lookup_error=(
        "no line of the order has a subscription contract this app can read (another app's contracts are "
        "hidden from it)" + (f"; only the first {LINES_READ} lines were read" if more else "")))


def _history(renewal: Renewal, event: OrderEvent, data: dict, refused: dict[str, str],
             granted: tuple[str, ...] | None, shop: str) -> Renewal:
    """The renewal with the start found among the customer's orders, or with why not added to its lookup_error."""
    connection = data.get("customerOrders")
    why = refused.get("customerOrders") or (refused.get("order") if connection is None else None)
    if why:
        return customer_orders.also(renewal, f"the customer's orders: {why}")
    order = data.get("order")
    try:
        own = (customer_orders.Lines() if not isinstance(order, dict) or refused.keys() & {"order", "renewalLines"}
               else customer_orders.read_lines(order.get("renewalLines"), "renewalLines"))
        return storable.checked(customer_orders.found_start(renewal, event, own, connection, granted, shop))
    except MalformedPayload as exc:
        return customer_orders.also(renewal, f"the customer's orders: Shopify's answer could not be read: {exc}")
