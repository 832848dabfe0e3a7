"""What a request to the Shopify stand-in costs, and the bucket it is paid from (PLATFORMS.md A2's cost extension).

`requested_cost` estimates a document's cost the way Shopify's calculator does (objects 1, connections sized by
`first`, mutations 10): an estimate, not Shopify's exact figure. What an answer actually cost is one point per
object in it.
"""

from __future__ import annotations

from typing import Any

import graphql

from standins.shopify.documents import arguments, fields

MUTATION_COST = 10
BUCKET, RESTORE_RATE = 2000.0, 100.0  # a Standard plan's restore rate; the connector reads both from answers


def requested_cost(selection_set: graphql.SelectionSetNode | None, fragments: dict, variables: dict | None) -> int:
    """Objects cost 1, connections 2 plus `first` times their contents; scalars are free."""
    total = 0
    for field in fields(selection_set, fragments, variables):
        if field.selection_set is None:
            continue
        inner = requested_cost(field.selection_set, fragments, variables)
        given = arguments(field, variables)
        size = given.get("first") or given.get("last")
        total += 2 + int(size) * inner if isinstance(size, int) else 1 + inner
    return total


def cost_extension(requested: int, actual: int | None, available: float) -> dict:
    """The `extensions` Shopify puts on every answer (actualQueryCost is null when nothing ran)."""
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": {
        "maximumAvailable": BUCKET, "currentlyAvailable": round(available, 1), "restoreRate": RESTORE_RATE}}}


def count_objects(value: Any) -> int:
    """What an answer actually cost: one point per object in it."""
    if isinstance(value, list):
        return sum(count_objects(item) for item in value)
    if isinstance(value, dict):
        return 1 + sum(count_objects(item) for item in value.values())
    return 0
