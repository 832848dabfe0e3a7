"""Every GraphQL document the connector sends to Shopify validates against Shopify's Admin schema.

The schema is tests/data/shopify_admin_schema.graphql (unstable, 2025-10-09; see PROVENANCE.md there).
It is built with `assume_valid=True`: graphql-core 3.3 refuses the SDL as published because four
implementation fields are deprecated where their interface's field is not (a rule Shopify's own
server does not enforce). `assume_valid` skips that schema check only; documents are still fully
validated against the types, fields, arguments and variables.
"""

from __future__ import annotations

from pathlib import Path

import graphql
import pytest

from standins.shopify.cost import MUTATION_COST, requested_cost
from standins.shopify.documents import arguments, fields, operation

MAX_QUERY_COST = 1000  # Shopify refuses a query whose requested cost is above this
ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "tests" / "data" / "shopify_admin_schema.graphql"
GRAPHQL_DIR = ROOT / "adapters" / "shopify" / "graphql"
DOCUMENTS = sorted(GRAPHQL_DIR.glob("*.graphql"))


@pytest.fixture(scope="session")
def schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(SCHEMA_FILE.read_text(), assume_valid=True)


def problems(schema: graphql.GraphQLSchema, text: str) -> list[str]:
    return [error.message for error in graphql.validate(schema, graphql.parse(text))]


def test_there_are_documents_to_check():
    names = {path.stem for path in DOCUMENTS}
    assert {"webhook_subscriptions", "webhook_subscription_create", "webhook_subscription_update",
            "orders_updated_since"} <= names


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_document_is_valid_against_the_admin_schema(schema, path):
    assert problems(schema, path.read_text()) == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_every_operation_asks_for_root_fields_that_exist(schema, path):
    document = graphql.parse(path.read_text())
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    assert len(operations) == 1, "one named operation per file, so the connector sends exactly what is checked"
    for definition in operations:
        root = schema.get_root_type(definition.operation)
        assert root is not None
        fields = [s for s in definition.selection_set.selections if isinstance(s, graphql.FieldNode)]
        assert fields
        for field in fields:
            assert field.name.value in root.fields, f"{root.name} has no field {field.name.value}"


def _defaults(definition: graphql.OperationDefinitionNode) -> dict:
    """The operation's variables at their declared defaults (the rest null, as when the connector leaves them out)."""
    return {v.variable.name.value: graphql.value_from_ast_untyped(v.default_value) if v.default_value else None
            for v in definition.variable_definitions or ()}


def cost(text: str) -> int:
    """The requested cost as the stand-in reckons it (and so answers in `extensions.cost`)."""
    definition, fragments = operation({"query": text})
    if definition.operation == graphql.OperationType.MUTATION:
        return MUTATION_COST
    return requested_cost(definition.selection_set, fragments, _defaults(definition))


def _sizes(selection_set, fragments, variables) -> list[tuple[str, object]]:
    found = []
    for field in fields(selection_set, fragments):
        given = arguments(field, variables)
        if "first" in given or "last" in given:
            found.append((field.name.value, given.get("first") or given.get("last")))
        found += _sizes(field.selection_set, fragments, variables)
    return found


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_every_document_costs_at_most_1000(path):
    """Shopify refuses a query that may cost more than 1,000 points: each list read is sized within it."""
    text = path.read_text()
    definition, fragments = operation({"query": text})
    sizes = _sizes(definition.selection_set, fragments, _defaults(definition))
    # A size left to a variable the connector does not send would be estimated as 1: each must be written out.
    assert all(isinstance(size, int) and size > 0 for _, size in sizes), sizes
    assert cost(text) <= MAX_QUERY_COST


def test_the_cost_check_can_fail():
    """The reconciliation query with 3 orders a page (it reads each one's lines) is over the limit."""
    text = (GRAPHQL_DIR / "orders_updated_since.graphql").read_text()
    assert "orders(first: 2," in text
    assert cost(text.replace("orders(first: 2,", "orders(first: 3,", 1)) > MAX_QUERY_COST
    definition, fragments = operation({"query": "query($n: Int) { orders(first: $n) { nodes { id } } }"})
    assert _sizes(definition.selection_set, fragments, _defaults(definition)) == [("orders", None)]


def test_a_misspelt_field_is_rejected(schema):
    """The check can fail: one wrong letter in the reconciliation query is an error."""
    text = (GRAPHQL_DIR / "orders_updated_since.graphql").read_text()
    assert "legacyResourceId\n      name" in text
    wrong = text.replace("legacyResourceId\n      name", "legacyResourceIdd\n      name", 1)
    assert any("legacyResourceIdd" in message for message in problems(schema, wrong))


def test_a_wrong_argument_type_and_an_unknown_enum_value_are_rejected(schema):
    assert problems(schema, "query { orders(first: \"fifty\") { nodes { id } } }")
    assert problems(schema, "mutation { webhookSubscriptionCreate(topic: ORDERS_CREATED, "
                            "webhookSubscription: {uri: \"https://x\"}) { userErrors { message } } }")


def test_compliance_topics_cannot_be_subscribed_through_graphql(schema):
    """PLATFORMS.md A3: customers/redact and friends are app-config topics, not WebhookSubscriptionTopic values."""
    topics = schema.type_map["WebhookSubscriptionTopic"].values
    assert {"ORDERS_CREATE", "ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_CANCELLED", "REFUNDS_CREATE",
            "APP_UNINSTALLED", "CUSTOMERS_CREATE"} <= set(topics)
    assert not {"CUSTOMERS_REDACT", "CUSTOMERS_DATA_REQUEST", "SHOP_REDACT"} & set(topics)


def test_the_schema_is_only_refused_for_interface_deprecations():
    """Why `assume_valid`: graphql-core's schema check finds nothing else wrong with the SDL.

    When Shopify fixes these, this fails and `assume_valid` can go.
    """
    strict = graphql.build_schema(SCHEMA_FILE.read_text())
    errors = [error.message for error in graphql.validate_schema(strict)]
    assert errors
    assert all(message.startswith("Interface field ") and "must not be deprecated" in message for message in errors)
