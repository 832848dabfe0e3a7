"""Bulk operations in the Shopify stand-in (PLATFORMS-2.md E): `bulkOperationRunQuery` over the shop's orders, the
operation read back by `node(id:)` or `currentBulkOperation`, and its JSONL file served over HTTP.

What it keeps to, as Shopify does: the query is checked against the bulk limits (at least one connection, at most
five, nested at most two deep, no `node`/`nodes` root) and answered with userErrors otherwise; one query operation
runs at a time per shop (OPERATION_IN_PROGRESS); the operation is CREATED, then RUNNING for `polls` reads, then
COMPLETED with `url`, `objectCount`, `rootObjectCount` and `fileSize` (`url` null when nothing matched); with
groupObjects false every node of a nested connection is a line of its own with `__parentId`, after its parent but
not next to it (each order's children are written after the next order's line, as Shopify allows); without
`read_all_orders` only orders of the last 60 days are read. The file answers ranged reads (206) and refuses a
request that carries an access token: the real URL is signed by itself, and the connector must not send the
shop's token to it. `set_polls` plays a slow operation, or one that ends FAILED.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import graphql
from flask import Response, abort, request

from standins.shopify import journeys
from standins.shopify.documents import arguments, fields
from standins.shopify.order_node import _adjustment_reason, _bag, _linked, gid, line_nodes, to_graphql_node

ALL_ORDERS = "read_all_orders"
VISIBLE = timedelta(days=60)
MAX_CONNECTIONS, MAX_DEPTH = 5, 2
#: __typename of each list's nodes, as the connector's query asks for it
TYPENAMES = {"lineItems": "LineItem", "refundLineItems": "RefundLineItem", "orderAdjustments": "OrderAdjustment"}


def _connection_node(selection: graphql.SelectionSetNode | None) -> graphql.SelectionSetNode | None:
    """The node selection of a connection (`edges { node { … } }` or `nodes { … }`); None when it is no connection."""
    for field in fields(selection, {}):
        if field.name.value == "nodes":
            return field.selection_set
        if field.name.value == "edges":
            for inner in fields(field.selection_set, {}):
                if inner.name.value == "node":
                    return inner.selection_set
    return None


def check_limits(selection: graphql.SelectionSetNode, depth: int = 0) -> tuple[int, int]:
    """(connections, deepest nesting) of a selection."""
    count, deepest = 0, depth
    for field in fields(selection, {}):
        if field.selection_set is None:
            continue
        inner = _connection_node(field.selection_set)
        if inner is not None:
            more, deep = check_limits(inner, depth + 1)
            count, deepest = count + 1 + more, max(deepest, deep)
        else:
            more, deep = check_limits(field.selection_set, depth)
            count, deepest = count + more, max(deepest, deep)
    return count, deepest


def _full_refund(refund: dict, currency: str | None) -> dict:
    """A REST refund as its GraphQL node, none of its lists cut (a bulk read is never paged)."""
    def shop_only(obj: dict, name: str) -> dict | None:
        if obj.get(f"{name}_set") is None and obj.get(name) is None:
            return None
        return {"shopMoney": _bag(obj, name, currency)["shopMoney"]}

    lines = [{"__typename": "RefundLineItem", "quantity": line.get("quantity"),
              "lineItem": _linked("LineItem", line.get("line_item_id") or (line.get("line_item") or {}).get("id")),
              "subtotalSet": shop_only(line, "subtotal"), "totalTaxSet": shop_only(line, "total_tax")}
             for line in refund.get("refund_line_items") or [] if isinstance(line, dict)]
    adjustments = [{"__typename": "OrderAdjustment", "reason": _adjustment_reason(a), "amountSet": shop_only(a, "amount")}
                   for a in refund.get("order_adjustments") or [] if isinstance(a, dict)]
    return {"__typename": "Refund", "id": gid("Refund", refund.get("id")), "legacyResourceId": str(refund.get("id")),
            "createdAt": refund.get("processed_at") or refund.get("created_at"),
            "refundLineItems": {"nodes": lines}, "orderAdjustments": {"nodes": adjustments}}


class BulkOperations:
    """One shop's bulk query operations and their files."""

    ROOT_FIELDS = frozenset({"bulkOperationRunQuery", "node", "currentBulkOperation", "currentAppInstallation"})

    def __init__(self, data):
        self._data = data
        self.operations: dict[str, dict] = {}
        self.files: dict[str, bytes] = {}
        #: how many reads an operation stays RUNNING before it completes (tests and the benchmark set it)
        self.polls = 0
        #: the scopes of the request being answered (graphql_api sets them before resolving)
        self.scope = ""
        self._fail_next = False
        self._seen: dict[str, int] = {}

    def fail_next(self) -> None:
        self._fail_next = True

    def resolve(self, name: str, args: dict, *, now: str, new_id: Callable[[], int]) -> Any:
        if name == "bulkOperationRunQuery":
            return self._run(args, now, new_id)
        if name == "currentAppInstallation":
            return {"accessScopes": [{"handle": s.strip()} for s in self.scope.split(",") if s.strip()]}
        if name == "currentBulkOperation":
            return self._read(next(reversed(self.operations), None))
        return self._read(args.get("id"))

    def _run(self, args: dict, now: str, new_id: Callable[[], int]) -> dict:
        def refused(message: str, code: str = "INVALID") -> dict:
            return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message, "code": code}]}

        if any(op["status"] in ("CREATED", "RUNNING") and not op["_built"].is_set() for op in self.operations.values()):
            return refused("A bulk query operation for this app and shop is already in progress.",
                           "OPERATION_IN_PROGRESS")
        try:
            document = graphql.parse(str(args.get("query") or ""))
        except graphql.GraphQLError as exc:
            return refused(f"Invalid bulk query: {exc.message}")
        operation = next((d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)), None)
        roots = list(fields(operation.selection_set, {})) if operation else []
        if operation is None or operation.variable_definitions or [r.name.value for r in roots] != ["orders"]:
            return refused("The stand-in runs bulk queries of `orders` alone, without variables")
        connections, depth = check_limits(operation.selection_set)
        if connections > MAX_CONNECTIONS or depth > MAX_DEPTH:
            return refused(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections nested at most "
                           f"{MAX_DEPTH} levels ({connections} connections, {depth} levels)")
        number = new_id()
        operation_id = f"gid://shopify/BulkOperation/{number}"
        operation = {
            "__typename": "BulkOperation", "id": operation_id, "status": "CREATED", "errorCode": None,
            "createdAt": now, "completedAt": None, "objectCount": "0", "rootObjectCount": "0", "fileSize": None,
            "url": None, "partialDataUrl": None, "query": args.get("query"), "type": "QUERY",
            "_file": str(number), "_roots": 0, "_objects": 0, "_failing": self._fail_next,
            "_base": request.host_url, "_built": threading.Event()}
        self.operations[operation_id] = operation
        self._fail_next = False
        self._seen[operation_id] = 0
        # The file is written in the background, as Shopify does: a large shop's takes a while, and the mutation
        # answers at once. What it reads is taken now (the orders as they are when the query runs).
        orders, journeys_now = self._orders(), dict(self._data.journeys)
        threading.Thread(target=self._build, args=(operation, roots[0], orders, journeys_now,
                                                   args.get("groupObjects") is not False), daemon=True).start()
        return {"bulkOperation": self._public(operation), "userErrors": []}

    def _build(self, operation: dict, root: graphql.FieldNode, orders: list[dict], journeys_now: dict,
               grouped: bool) -> None:
        body, operation["_roots"], operation["_objects"] = self._jsonl(root, grouped, orders, journeys_now)
        self.files[operation["_file"]] = body
        operation["_built"].set()

    def _read(self, operation_id: Any) -> dict | None:
        operation = self.operations.get(str(operation_id or ""))
        if operation is None:
            return None
        self._seen[operation["id"]] = seen = self._seen[operation["id"]] + 1
        if operation["status"] in ("CREATED", "RUNNING"):
            if seen > self.polls:
                operation["_built"].wait(0.5)  # a poll while the file is still written: it answers soon
            if seen <= self.polls or not operation["_built"].is_set():
                operation["status"] = "RUNNING"
                operation["objectCount"] = str(operation["_objects"] * seen // (self.polls + 1))
            elif operation["_failing"]:
                operation.update(status="FAILED", errorCode="INTERNAL_SERVER_ERROR")
            else:
                size = len(self.files[operation["_file"]])
                operation.update(status="COMPLETED", completedAt=operation["createdAt"],
                                 objectCount=str(operation["_objects"]), rootObjectCount=str(operation["_roots"]),
                                 fileSize=str(size) if size else None,
                                 url=f"{operation['_base']}bulk-files/{self._data.shop}/{operation['_file']}.jsonl"
                                 if size else None)
        return self._public(operation)

    @staticmethod
    def _public(operation: dict) -> dict:
        return {key: value for key, value in operation.items() if not key.startswith("_")}

    def _orders(self) -> list[dict]:
        cutoff = datetime.now(timezone.utc) - VISIBLE
        every = ALL_ORDERS in {s.strip() for s in self.scope.split(",")}
        chosen = [o for o in self._data.orders.values()
                  if every or datetime.fromisoformat(str(o.get("created_at")).replace("Z", "+00:00")) >= cutoff]
        return sorted(chosen, key=lambda o: int(o["id"]))

    def _node(self, order: dict, journeys_now: dict) -> dict:
        """The order as its full GraphQL node: every line and refund, with the journey the shop has for it."""
        plans = self._data.contracts.selling_plans
        node = to_graphql_node(order, self._data.shop, plans)
        node["__typename"] = "Order"
        node["lineItems"] = {"nodes": [{"__typename": "LineItem", **line} for line in line_nodes(order, plans)]}
        node["refunds"] = [_full_refund(r, order.get("currency")) for r in order.get("refunds") or []
                           if isinstance(r, dict)]
        key = str(order["id"])
        node["customerJourneySummary"] = journeys_now[key] if key in journeys_now else \
            journeys.from_order(order, self._data.shop)
        return node

    def _jsonl(self, root: graphql.FieldNode, grouped: bool, orders: list[dict],
               journeys_now: dict) -> tuple[bytes, int, int]:
        """The file: (its bytes, orders in it, objects in it)."""
        from standins.shopify.shop_data import order_filter

        keep = order_filter(arguments(root, {}).get("query"))
        selection = _connection_node(root.selection_set)
        out: list[str] = []
        held: list[str] = []
        count = objects = 0
        for order in orders:
            if not keep(order):
                continue
            line, children = _flatten(self._node(order, journeys_now), selection)
            count, objects = count + 1, objects + 1 + len(children)
            if grouped:
                out.append(json.dumps(line))  # the stand-in does not group; the connector never asks it to
                continue
            out.append(json.dumps(line))
            out.extend(held)  # the previous order's children: after their parent, not next to it
            held = [json.dumps(child) for child in children]
        out.extend(held)
        return ("\n".join(out) + "\n").encode() if out else b"", count, objects


def _flatten(value: dict, selection: graphql.SelectionSetNode | None) -> tuple[dict, list[dict]]:
    """A node cut to the selection, its connections' nodes taken out as lines of their own with __parentId."""
    children: list[dict] = []
    line = _cut(value, selection, children, value.get("id"))
    return line, children


def _cut(value: Any, selection: graphql.SelectionSetNode | None, children: list[dict], parent: Any) -> Any:
    if selection is None or value is None:
        return value
    if isinstance(value, list):
        return [_cut(item, selection, children, item.get("id") if isinstance(item, dict) else parent)
                for item in value]
    out = {}
    for field in fields(selection, {}):
        key = field.alias.value if field.alias else field.name.value
        if field.name.value == "__typename":
            out[key] = value.get("__typename")
            continue
        inner = _connection_node(field.selection_set)
        raw = value.get(field.name.value)
        if inner is not None:
            for node in (raw or {}).get("nodes") or []:
                child, grandchildren = _flatten(node, inner)
                children.append({**child, "__parentId": value.get("id")})
                children.extend(grandchildren)
            continue
        out[key] = _cut(raw, field.selection_set, children, value.get("id"))
    return out


def set_polls(standin, shop: str, polls: int, *, fail_next: bool = False) -> None:
    """How many reads of the shop's bulk query operations find them still RUNNING (default 0); `fail_next`: the
    next one ends FAILED. `standin` is a StandinShopify."""
    with standin._shops.lock:
        operations = standin._shops.get(shop).data.bulk
        operations.polls = polls
        if fail_next:
            operations.fail_next()


def add_file_route(app, shops) -> None:
    """GET /bulk-files/<shop>/<name>: an operation's file (the stand-in's, over `shops`)."""
    app.add_url_rule("/bulk-files/<shop>/<name>", "bulk_file", methods=["GET"], view_func=lambda shop, name: serve_file(
        lambda of: shops.get(of).data.bulk, shops.record, shop, name))


def serve_file(bulk_of: Callable[[str], "BulkOperations"], record: Callable[..., None], shop: str, name: str):
    """GET of an operation's file: ranged reads answered 206; a request with an access token refused."""
    record(shop, "bulk_file", name, request.headers.get("X-Shopify-Access-Token"))
    if request.headers.get("X-Shopify-Access-Token") or request.headers.get("Authorization"):
        return Response("signed URL: no credentials", status=400)
    body = bulk_of(shop).files.get(name.removesuffix(".jsonl"))
    if body is None:
        abort(404)
    return Response(body, mimetype="application/jsonl").make_conditional(request, accept_ranges=True,
                                                                        complete_length=len(body))
