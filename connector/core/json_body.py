"""A stored webhook body as a JSON object, for the adapters' normalisers."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from typing import Any

import msgspec

from connector.errors import MalformedPayload, NotTopicBody


def load(body: bytes) -> dict[str, Any]:
    """Parse a webhook body; numbers with a fraction become Decimal, never float. MalformedPayload otherwise."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedPayload(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedPayload("body is not a JSON object")
    return data


def edge_fields(body: bytes, shape: type[msgspec.Struct]) -> dict[str, Any]:
    """The top-level fields `shape` names, of a body that must be a JSON object; NotTopicBody otherwise.

    For the edge's shop and topic checks, on the hot path of every delivery: `shape` is a msgspec Struct
    whose fields default to UNSET, so only the fields asked for are built and the rest of the body is
    just read past (a 10 KiB order in about a quarter of orjson's time, a ninth of the stdlib's). A
    field missing from the body is missing from the answer. A shape with `forbid_unknown_fields` also
    refuses a body with any other field. What msgspec refuses and the stdlib takes (a lone surrogate,
    NaN) is read again by the stdlib, so the edge refuses nothing the worker could read: such a body
    is stored, and the worker flags what is wrong with it.
    """
    try:
        head = _decoder(shape).decode(body)
    except msgspec.ValidationError as exc:
        if shape.__struct_config__.forbid_unknown_fields and "unknown field" in str(exc):
            raise NotTopicBody(f"the body holds fields this topic does not carry ({exc})") from None
        return _stdlib_fields(body, shape)  # not an object, or a number msgspec will not hold
    except msgspec.DecodeError:
        return _stdlib_fields(body, shape)
    return {name: value for name, value in zip(shape.__struct_encode_fields__,
                                               (getattr(head, f) for f in shape.__struct_fields__), strict=True)
            if value is not msgspec.UNSET}


def _stdlib_fields(body: bytes, shape: type[msgspec.Struct]) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise NotTopicBody("the body is not JSON") from None
    if not isinstance(data, dict):
        raise NotTopicBody("the body is not a JSON object")
    names = set(shape.__struct_encode_fields__)
    if shape.__struct_config__.forbid_unknown_fields and not set(data) <= names:
        raise NotTopicBody("the body holds fields this topic does not carry")
    return {name: value for name, value in data.items() if name in names}


@lru_cache(maxsize=None)
def _decoder(shape: type[msgspec.Struct]) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(shape)


def is_list(value: Any) -> bool:
    """A field read as a JSON list: a list, or a msgspec.Raw holding one (a field read past, not built)."""
    if isinstance(value, msgspec.Raw):
        return bytes(value).lstrip()[:1] == b"["
    return isinstance(value, list)
