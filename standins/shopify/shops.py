"""What the Shopify stand-in holds: each shop's OAuth grants, cost bucket, switches and data, and the calls it got.

One lock guards it all; the OAuth and GraphQL endpoints and the test helpers share one `Shops`.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from flask import abort

from standins.shopify.cost import BUCKET
from standins.shopify.shop_data import ShopData

SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


@dataclass(frozen=True)
class Call:
    """One request the stand-in received."""

    shop: str
    kind: str  #: authorize, token or graphql
    detail: str | None  #: the grant type (authorization_code, refresh_token, the token-exchange URN) or root field
    token: str | None  #: what was presented: the code, refresh token, session token or access token


@dataclass
class Token:
    scope: str
    expires_at: float | None
    parent: str | None = None  #: a refresh token's predecessor, which stops working once this one is used


@dataclass
class Shop:
    data: ShopData  #: subscriptions and orders
    restored_at: float  #: when the cost bucket was last topped up
    codes: dict[str, str] = field(default_factory=dict)
    access: dict[str, Token] = field(default_factory=dict)
    refresh: dict[str, Token] = field(default_factory=dict)
    throttled: int = 0
    refuse_refresh: bool = False
    available: float = BUCKET


class Shops:
    """Every shop the stand-in plays, each made on first use, with the stand-in's clock and its log of calls."""

    def __init__(self, clock: Callable[[], float], pixel_fields: dict[str, bool] | None):
        self.clock, self.pixel_fields = clock, pixel_fields
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self._by_name: dict[str, Shop] = {}
        self._ids = itertools.count(1)

    def get(self, shop: str) -> Shop:
        with self.lock:
            if shop not in self._by_name:
                self._by_name[shop] = Shop(ShopData(shop, self.pixel_fields), self.clock())
            return self._by_name[shop]

    def of_route(self, shop: str) -> Shop:
        """A route's shop, created on first use; 404 for a name that is no shop domain."""
        if not SHOP.fullmatch(shop):
            abort(404)
        return self.get(shop)

    def record(self, shop: str, kind: str, detail: Any, token: Any) -> None:
        with self.lock:
            self.calls.append(Call(shop, kind, None if detail is None else str(detail),
                                   None if token is None else str(token)))

    def new_id(self) -> int:
        return next(self._ids)

    def now(self) -> str:
        """The stand-in's clock as Shopify writes times, to the second."""
        return datetime.fromtimestamp(self.clock(), timezone.utc).isoformat(timespec="seconds")
