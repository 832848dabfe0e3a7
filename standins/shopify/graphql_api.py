"""The Shopify stand-in's GraphQL Admin API: one request answered against a shop's data (PLATFORMS.md A2, A6).

A request needs a live `X-Shopify-Access-Token`; it pays its cost from the shop's bucket (or is THROTTLED);
each root field needs its scope (a write scope grants its read scope), is answered by the shop's data
(standins/shopify/shop_data.py, discounts.py) and cut to the document's selection (documents.py).
Dispatch is by root field on the parsed document.

The names tests read the GraphQL side by are importable from here as well as from their own modules.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import graphql
from flask import Response, request

from standins.shopify.cost import (BUCKET, MUTATION_COST, RESTORE_RATE, cost_extension, count_objects,
                                   requested_cost)
from standins.shopify.discounts import DiscountData, FieldError
from standins.shopify.documents import Restricted, arguments, fields, operation, project
from standins.shopify.shops import Shop, Shops, Token

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class GraphQL:
    """The `graphql.json` route over `shops`."""

    def __init__(self, shops: Shops):
        self._shops = shops

    def answer(self, shop: str, version: str):
        state = self._shops.of_route(shop)
        token = request.headers.get("X-Shopify-Access-Token")
        payload = request.get_json(silent=True)
        try:
            chosen, fragments = operation(payload)
            problem = None
        except (graphql.GraphQLError, ValueError) as exc:
            chosen, fragments, problem = None, {}, str(exc)
        # A root field left out by @include/@skip is not answered (the variables are checked below).
        given = payload.get("variables") if isinstance(payload, dict) else None
        given = given if isinstance(given, dict) else {}
        roots = list(fields(chosen.selection_set, fragments, given)) if chosen else []
        self._shops.record(shop, "graphql", roots[0].name.value if roots else None, token)
        with self._shops.lock:
            grant = state.access.get(token or "")
            if grant is None or (grant.expires_at is not None and self._shops.clock() >= grant.expires_at):
                return Response(json.dumps({"errors": INVALID_TOKEN}), status=401, mimetype="application/json")
            if problem is not None:
                return _json({"errors": [{"message": problem}]})
            variables = payload.get("variables") or {}
            mutation = chosen.operation == graphql.OperationType.MUTATION
            requested = MUTATION_COST if mutation else requested_cost(chosen.selection_set, fragments, variables)
            available = self._restore(state)
            if state.throttled > 0:
                state.throttled -= 1
                return _json({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                              "extensions": cost_extension(requested, None, min(available, requested / 10))})
            data, errors = self._resolve(state, grant, roots, fragments, variables)
            actual = MUTATION_COST if mutation else max(1, count_objects(data))
            state.available = max(0.0, available - actual)
            return _json({"data": data, **({"errors": errors} if errors else {}),
                          "extensions": cost_extension(requested, actual, state.available)})

    def _resolve(self, state: Shop, grant: Token, roots: list[graphql.FieldNode], fragments: dict,
                 variables: dict) -> tuple[dict, list[dict]]:
        """Each root field's answer under its alias, cut to its selection; the errors of those that have none."""
        data, errors = {}, []
        state.data.bulk.scope = grant.scope  # a bulk query reads orders with the token's scopes (bulk.py)
        for field_node in roots:
            key = field_node.alias.value if field_node.alias else field_node.name.value
            needed = DiscountData.SCOPES.get(field_node.name.value)
            if needed and not _granted(needed, grant.scope):
                data[key] = None
                errors.append({"message": f"Access denied for {field_node.name.value} field. Required access: "
                                          f"`{needed}` access scope.", "path": [key],
                               "extensions": {"code": "ACCESS_DENIED"}})
                continue
            try:
                full = state.data.resolve(field_node.name.value, arguments(field_node, variables),
                                          now=self._shops.now(), new_id=self._shops.new_id)
            except ValueError as exc:  # an unknown root field, a bad cursor or search, an input over 250
                data[key] = None
                code = exc.code if isinstance(exc, FieldError) else None
                errors.append({"message": str(exc), "path": [key],
                               **({"extensions": {"code": code}} if code else {})})
                continue
            data[key] = _unrestricted(project(full, field_node.selection_set, fragments, variables), grant.scope,
                                      [key], errors)
        return data, errors

    def _restore(self, state: Shop) -> float:
        """Top the shop's bucket up for the time since it was last topped up; what it holds now."""
        now = self._shops.clock()
        state.available = min(BUCKET, state.available + (now - state.restored_at) * RESTORE_RATE)
        state.restored_at = now
        return state.available


def _unrestricted(value: Any, scope: str, path: list, errors: list[dict]) -> Any:
    """The answer with each Restricted value opened for a token that has its scope, and null (with Shopify's
    ACCESS_DENIED error at its path) for one that has not: the rest of the answer stands."""
    if isinstance(value, Restricted):
        if _granted(value.scope, scope):
            return _unrestricted(value.value, scope, path, errors)
        errors.append({"message": f"Access denied for {path[-1]} field. Required access: `{value.scope}` access scope.",
                       "path": path, "extensions": {"code": "ACCESS_DENIED"}})
        return None
    if isinstance(value, list):
        return [_unrestricted(item, scope, [*path, index], errors) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _unrestricted(item, scope, [*path, key], errors) for key, item in value.items()}
    return value


def _granted(needed: str, scope: str) -> bool:
    """Whether a token's scopes include `needed`; a write scope grants its read scope."""
    have = {s.strip() for s in scope.split(",")}
    return needed in have or (needed.startswith("read_") and "write_" + needed[len("read_"):] in have)


def json_default(value: Any) -> Any:
    """Decimals from REST samples are written as GraphQL writes money: strings."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def _json(body: dict) -> Response:
    return Response(json.dumps(body, default=json_default), mimetype="application/json")
