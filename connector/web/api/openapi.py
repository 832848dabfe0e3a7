"""The OpenAPI 3.1 document of /api/v1, built from each resource module's operations and models, and its route;
its `webhooks` describe every body the backend receives (connector/web/api/outgoing.py).

The same models validate requests and describe them, so the document cannot drift from the code;
schemathesis runs against it in the tests.
"""

from __future__ import annotations

from functools import lru_cache

from flask import jsonify
from pydantic.json_schema import models_json_schema

from connector.web.api import campaigns, conversions, influencers, stores
from connector.web.api import orders
from connector.web.api import outgoing
from connector.web.api.blueprint import bp
from connector.web.api.describe import error_responses
from connector.web.api.errors import Error

#: in the document's order
RESOURCES = (stores, campaigns, influencers, conversions)
RESOURCES += (orders,)  # an order credited by hand
DESCRIPTION = ("For the tracking backend: stores, campaigns, influencers and their promo codes, conversions and "
               "their delivery, attribution records and stats. Every call but this document needs "
               "`Authorization: Bearer <CONNECTOR_API_TOKEN>`. Errors are "
               "`{\"error\": {\"code\", \"message\", \"field\"}}`; `field` names what was not valid (e.g. "
               "`discount.value`). Unknown body fields and query parameters are refused (422) rather than ignored.")


def _with_every_error(operation: dict) -> dict:
    """The operation with the errors that do not depend on it: an unknown query parameter (422) anywhere, an
    unknown or NUL-holding path parameter (404), and for a body, malformed JSON (400) and one over the limit (413)."""
    extra = [422]
    if operation.get("parameters") and any(p["in"] == "path" for p in operation["parameters"]):
        extra.append(404)
    if "requestBody" in operation:
        extra += [400, 413]
    return {**operation, "responses": {**operation["responses"], **error_responses(*extra)}}


def _paths() -> dict:
    return {path: {method: _with_every_error(operation) for method, operation in operations.items()}
            for resource in RESOURCES for path, operations in resource.OPERATIONS.items()}


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    """OpenAPI 3.1 for /api/v1; the components are the pydantic models' own JSON schemas."""
    requests = [model for resource in RESOURCES for model in resource.REQUESTS]
    responses = [model for resource in RESOURCES for model in resource.RESPONSES] + [Error]
    # What the backend receives (the `webhooks`) is described by the same means: the bodies are the models' schemas.
    _, definitions = models_json_schema(
        [(m, "validation") for m in requests + outgoing.MODELS] + [(m, "serialization") for m in responses],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Influencer connector API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        # What the connector POSTs to TRACKING_BACKEND_URL, signed with Standard Webhooks: one entry per `type`.
        "webhooks": outgoing.webhooks(),
        "components": {"schemas": definitions["$defs"],
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
