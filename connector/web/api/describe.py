"""The pieces each resource module describes its operations with in the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel

from connector.web.api.errors import Error
from connector.web.api.fields import MAX_ID

STORE_ID = {"name": "store_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
TIME = {"type": "string", "format": "date-time"}


def ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_response(model: type[BaseModel], description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref(model)}}}


def error_responses(*statuses: int) -> dict:
    words = {400: "Malformed request", 401: "Missing or wrong bearer token", 404: "Not found",
             409: "Conflicts with what the store holds", 413: "Body too large", 422: "A field is not valid"}
    return {str(s): json_response(Error, words[s]) for s in statuses}


def query_param(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def request_body(model: type[BaseModel]) -> dict:
    return {"required": True, "content": {"application/json": {"schema": ref(model)}}}
