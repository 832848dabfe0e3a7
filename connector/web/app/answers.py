"""How the merchant app's routes read a page number and write money, rates, times and page fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Mapping

from flask import request

from connector.core.payload import format_amount
from connector.web.api.formats import format_time
from connector.web.api.inputs import whole_number as whole
from connector.web.app.blueprint import AppError

PER_PAGE = 25
#: past this a page number is surely not a person paging (and offsets that deep are slow)
MAX_PAGE = 100_000

__all__ = ["PER_PAGE", "choice", "format_time", "money", "page_fields", "page_number", "percent", "whole"]


def page_number() -> int:
    page = whole(request.args.get("page", "1"))
    if page is None or not 1 <= page <= MAX_PAGE:
        raise AppError(422, "validation_error", "page: a page number from 1", "page")
    return page


def choice(name: str, choices: tuple[str, ...]) -> str:
    """A query parameter that takes one of `choices`; the first when absent."""
    value = request.args.get(name, choices[0])
    if value not in choices:
        raise AppError(422, "validation_error", f"{name}: one of {', '.join(choices)}", name)
    return value


def page_fields(page: int, total: int) -> dict:
    return {"page": page, "per_page": PER_PAGE, "total": total, "has_previous": page > 1,
            "has_next": page * PER_PAGE < total}


def money(amounts: Mapping[str, Decimal]) -> list[dict]:
    return [{"amount": format_amount(amount), "currency": currency} for currency, amount in sorted(amounts.items())]


def percent(rate: Decimal | None) -> str | None:
    return None if rate is None else f"{rate.normalize():f}"
