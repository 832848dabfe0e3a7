"""Reading the GraphQL document of a request to the Shopify stand-in: its operation, fields and arguments, and an
answer cut to its selection (aliases included), so answers have exactly the shape the document asked for.

`@include(if:)` and `@skip(if:)` are honoured when the request's variables are given (a field left out is absent
from the answer, as GraphQL executes it); without variables every field counts, which is what a cost estimate of
the document as written wants. A value wrapped in `Restricted` needs a scope of the token: graphql_api.py answers
it null with an ACCESS_DENIED error at its path when the token lacks the scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import graphql


@dataclass(frozen=True)
class Restricted:
    """A field's value that only a token with `scope` may read (LineItem.contract: read_own_subscription_contracts)."""

    scope: str
    value: Any


def operation(payload: Any) -> tuple[graphql.OperationDefinitionNode, dict]:
    """The operation a request body asks to run, and its document's fragments.

    ValueError or GraphQLError (a syntax error) when there is none to run.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        raise ValueError("the body must be JSON with a query")
    if payload.get("variables") is not None and not isinstance(payload["variables"], dict):
        raise ValueError("variables must be an object")
    document = graphql.parse(payload["query"])
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    name = payload.get("operationName")
    if name:
        operations = [o for o in operations if o.name and o.name.value == name]
    if len(operations) != 1:
        raise ValueError("exactly one operation (or an operationName naming one) is required")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)}
    return operations[0], fragments


def included(selection: graphql.SelectionNode, variables: dict | None) -> bool:
    """False when `@skip(if: true)` or `@include(if: false)` leaves the selection out; always True without variables."""
    if variables is None:
        return True
    for directive in selection.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        condition = next((graphql.value_from_ast_untyped(a.value, variables) for a in directive.arguments or ()
                          if a.name.value == "if"), None)
        # A condition that is not a boolean (a variable the caller left out) keeps the field: a cost
        # estimate then counts it, and the request itself fails validation at Shopify anyway.
        if (name == "skip" and condition is True) or (name == "include" and condition is False):
            return False
    return True


def fields(selection_set: graphql.SelectionSetNode | None, fragments: dict,
           variables: dict | None = None) -> Iterable[graphql.FieldNode]:
    """The fields of a selection, fragments spread in (the stand-in's data has a single concrete type)."""
    for selection in selection_set.selections if selection_set else ():
        if not included(selection, variables):
            continue
        if isinstance(selection, graphql.FieldNode):
            yield selection
        elif isinstance(selection, graphql.InlineFragmentNode):
            yield from fields(selection.selection_set, fragments, variables)
        elif isinstance(selection, graphql.FragmentSpreadNode) and selection.name.value in fragments:
            yield from fields(fragments[selection.name.value].selection_set, fragments, variables)


def arguments(field: graphql.FieldNode, variables: dict | None) -> dict:
    """The field's arguments with variables filled in; a variable not given is null (as GraphQL treats it)."""
    given = {arg.name.value: graphql.value_from_ast_untyped(arg.value, variables) for arg in field.arguments or ()}
    return {name: None if value is graphql.Undefined else value for name, value in given.items()}


def project(value: Any, selection_set: graphql.SelectionSetNode | None, fragments: dict,
            variables: dict | None = None) -> Any:
    """`value` cut to the selection: only the fields asked for, under their aliases."""
    if isinstance(value, Restricted):
        return Restricted(value.scope, project(value.value, selection_set, fragments, variables))
    if selection_set is None or value is None:
        return value
    if isinstance(value, list):
        return [project(item, selection_set, fragments, variables) for item in value]
    out = {}
    for field in fields(selection_set, fragments, variables):
        key = field.alias.value if field.alias else field.name.value
        if field.name.value == "__typename":
            out[key] = value.get("__typename")
            continue
        out[key] = project(value.get(field.name.value), field.selection_set, fragments, variables)
    return out
