"""Reading the GraphQL document of a request to the Shopify stand-in: its operation, fields and arguments, and an
answer cut to its selection (aliases included), so answers have exactly the shape the document asked for."""

from __future__ import annotations

from typing import Any, Iterable

import graphql


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


def fields(selection_set: graphql.SelectionSetNode | None, fragments: dict) -> Iterable[graphql.FieldNode]:
    """The fields of a selection, fragments spread in (the stand-in's data has a single concrete type)."""
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, graphql.FieldNode):
            yield selection
        elif isinstance(selection, graphql.InlineFragmentNode):
            yield from fields(selection.selection_set, fragments)
        elif isinstance(selection, graphql.FragmentSpreadNode) and selection.name.value in fragments:
            yield from fields(fragments[selection.name.value].selection_set, fragments)


def arguments(field: graphql.FieldNode, variables: dict | None) -> dict:
    """The field's arguments with variables filled in; a variable not given is null (as GraphQL treats it)."""
    given = {arg.name.value: graphql.value_from_ast_untyped(arg.value, variables) for arg in field.arguments or ()}
    return {name: None if value is graphql.Undefined else value for name, value in given.items()}


def project(value: Any, selection_set: graphql.SelectionSetNode | None, fragments: dict) -> Any:
    """`value` cut to the selection: only the fields asked for, under their aliases."""
    if selection_set is None or value is None:
        return value
    if isinstance(value, list):
        return [project(item, selection_set, fragments) for item in value]
    out = {}
    for field in fields(selection_set, fragments):
        key = field.alias.value if field.alias else field.name.value
        if field.name.value == "__typename":
            out[key] = value.get("__typename")
            continue
        out[key] = project(value.get(field.name.value), field.selection_set, fragments)
    return out
