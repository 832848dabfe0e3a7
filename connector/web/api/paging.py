"""Pages of a list: `limit` and an opaque `cursor` in, `next_cursor` out."""

from __future__ import annotations

import base64
import binascii

from flask import request

from connector.web.api.describe import query_param
from connector.web.api.errors import ApiError, bad_cursor
from connector.web.api.fields import MAX_ID
from connector.web.api.inputs import whole_number

DEFAULT_PAGE, MAX_PAGE = 100, 500
#: the query parameters of every paged list, as the document gives them
PAGE = [query_param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size (default 100)"),
        query_param("cursor", {"type": "string", "maxLength": 200}, "next_cursor of the previous page")]


def page_limit() -> int:
    number = whole_number(request.args.get("limit", str(DEFAULT_PAGE)))
    if number is None or not 1 <= number <= MAX_PAGE:
        raise ApiError(422, "validation_error", f"limit is 1 to {MAX_PAGE}", "limit")
    return number


def page_cursor() -> str | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    try:
        value = base64.urlsafe_b64decode(raw.encode() + b"==").decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_cursor() from None
    if not value or "\x00" in value:
        raise bad_cursor()
    return value


def cursor_after(value) -> str:
    """The cursor of the page after the one that ended with this id."""
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def by_id(session, query, id_column) -> tuple[list, str | None]:
    """One page of `query` in id order, from the request's `limit` and `cursor`: (rows, next_cursor)."""
    limit, cursor = page_limit(), page_cursor()
    if cursor is not None:
        after = whole_number(cursor)
        if after is None or after > MAX_ID:
            raise bad_cursor()
        query = query.where(id_column > after)
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, cursor_after(rows[-1].id) if more else None
