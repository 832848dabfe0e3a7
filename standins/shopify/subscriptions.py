"""Subscriptions in the Shopify stand-in: selling-plan lines, contracts, and the renewal orders they make (PLATFORMS-2.md G1).

A first order bought with a selling plan starts a contract whose originOrder it is; each billing of the contract
is a new order of its lines, which Shopify's billing makes with `source_name` subscription_contract (G1). Order
webhooks carry neither (community.shopify.dev thread 23920): GraphQL's LineItem.sellingPlan (read_orders) and
LineItem.contract (read_own_subscription_contracts, and only the app's own contracts) do. The stand-in answers
another app's contract as null: the docs do not say how Shopify hides one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

from standins.shopify.documents import Restricted

CONTRACT_SCOPE = "read_own_subscription_contracts"


@dataclass
class Contract:
    number: str
    #: the order the contract started from; None for one made by an import or the API
    origin_order_id: str | None
    #: made by this app (readable with read_own_subscription_contracts) or by another subscription app
    own: bool
    plan: dict
    #: the REST order it started from: each billing repeats its lines for its customer
    template: dict = field(default_factory=dict)


class Subscriptions:
    """One shop's contracts, and which order lines belong to which contract and selling plan."""

    def __init__(self) -> None:
        self.contracts: dict[str, Contract] = {}
        self.line_contracts: dict[str, str] = {}
        self.selling_plans: dict[str, dict] = {}

    def start(self, order: dict, number: str, *, plan_id: int, own: bool, origin: bool) -> Contract:
        """Make every line of `order` a selling-plan line of a new contract started by it."""
        plan = {"sellingPlanId": f"gid://shopify/SellingPlan/{plan_id}", "name": "Delivered every month"}
        contract = Contract(number, str(order["id"]) if origin else None, own, plan, copy.deepcopy(order))
        self.contracts[number] = contract
        for line in order.get("line_items") or []:
            self.mark(str(line["id"]), contract)
        return contract

    def mark(self, line_id: str, contract: Contract) -> None:
        self.line_contracts[line_id] = contract.number
        self.selling_plans[line_id] = dict(contract.plan)

    def renewal(self, contract: Contract, order_id: int, new_id: Callable[[], int], *, now: str,
                source_name: str, tags: str) -> dict[str, Any]:
        """The REST order one billing of `contract` makes: its lines again (new ids, no code), no online session."""
        lines = []
        for template in contract.template.get("line_items") or []:
            line = copy.deepcopy(template)
            line["id"] = 16900000000000 + new_id()
            line["admin_graphql_api_id"] = f"gid://shopify/LineItem/{line['id']}"
            line["current_quantity"] = line["fulfillable_quantity"] = line.get("quantity")
            line["discount_allocations"] = []
            lines.append(line)
            self.mark(str(line["id"]), contract)
        order = copy.deepcopy(contract.template)
        order.update({"id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
                      "name": f"#{order_id}", "created_at": now, "processed_at": now, "source_name": source_name,
                      "tags": tags, "financial_status": "paid", "test": False, "line_items": lines,
                      "discount_codes": [], "discount_applications": [], "note_attributes": [], "refunds": [],
                      "landing_site": None, "landing_site_ref": None, "referring_site": None,
                      "cancelled_at": None, "checkout_token": None})
        return order

    def contract_of(self, line_id: str) -> Restricted | None:
        """What LineItem.contract answers for a line: the contract behind its scope, null for none."""
        number = self.line_contracts.get(line_id)
        contract = self.contracts.get(number) if number else None
        if contract is None:
            return None
        origin = None if contract.origin_order_id is None else {"id": f"gid://shopify/Order/{contract.origin_order_id}",
                                                                "legacyResourceId": contract.origin_order_id}
        readable = {"id": f"gid://shopify/SubscriptionContract/{contract.number}", "originOrder": origin}
        return Restricted(CONTRACT_SCOPE, readable if contract.own else None)
