"""Every call but the document needs the bearer token; and a query or path the document does not name is refused."""

from __future__ import annotations

import hmac
import re
from functools import lru_cache

from flask import request

from connector.web import services
from connector.web.api.blueprint import PREFIX, bp
from connector.web.api.errors import ApiError, bad_cursor
from connector.web.api.openapi import openapi_document


@bp.before_request
def _authenticate():
    if request.endpoint == "api.openapi":
        return None
    token = services().settings.api_token
    if not token:
        raise ApiError(404, "api_disabled", "set CONNECTOR_API_TOKEN to enable /api/v1")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise ApiError(401, "unauthorized", "a valid bearer token is required")
    # A misspelt filter (?tracking=alice) would otherwise answer every row as if none had been asked for.
    known = _query_names(request.url_rule.rule, request.method)
    for name in request.args:
        if name not in known:
            raise ApiError(422, "validation_error", f"unknown query parameter {name!r}", name or None)
    # Nothing the API stores or looks up holds a NUL, and PostgreSQL refuses one in any text parameter.
    for name, value in request.args.items(multi=True):
        if "\x00" in value:
            raise bad_cursor() if name == "cursor" else ApiError(
                422, "validation_error", f"{name} holds a NUL character", name)
    if "\x00" in request.path:
        raise ApiError(404, "not_found", "no such resource")
    return None


@lru_cache(maxsize=None)
def _query_names(rule: str, method: str) -> frozenset[str]:
    """The query parameters the OpenAPI document gives this route: the document is the one list of them."""
    path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.removeprefix(PREFIX))
    operation = openapi_document()["paths"].get(path, {}).get(method.lower(), {})
    return frozenset(p["name"] for p in operation.get("parameters", ()) if p["in"] == "query")
