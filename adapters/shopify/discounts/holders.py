"""Who holds a code in a Shopify shop, and whether that discount is the connector's own.

Codes are looked up with codeDiscountNodeByCode, 25 to a request, and compared case-insensitively,
as Shopify's checkout compares them. A discount is the connector's when it made it (its id is known)
or when its title starts with "<app name> · ", which the connector's titles do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Sequence

from connector.settings import Settings

from ..admin_api import AdminApi
from .bulk import chunks
from .terms import title_prefix

#: aliases in code_discount_nodes_by_code.graphql
LOOKUPS_PER_CALL = 25


@dataclass(frozen=True)
class Holder:
    """Who holds a code in the shop."""

    discount_id: str
    title: str | None
    #: the code as the shop keeps it, and its DiscountRedeemCode id (None when the search did not show it)
    code: str | None
    code_id: str | None


def holder_of(node, code: str) -> Holder | None:
    """The Holder a DiscountCodeNode stands for, with `code` found among its codes if it shows it."""
    if not isinstance(node, dict) or not node.get("id"):
        return None
    discount = node.get("codeDiscount") if isinstance(node.get("codeDiscount"), dict) else {}
    found = [n for n in ((discount.get("codes") or {}).get("nodes") or [])
             if isinstance(n, dict) and str(n.get("code", "")).lower() == code.lower()]
    return Holder(node["id"], discount.get("title"), found[0].get("code") if found else None,
                  found[0].get("id") if found else None)


def lookup(api: AdminApi, codes: Sequence[str]) -> dict[str, Holder | None]:
    """Who holds each code, by lower-cased code (None: nobody), 25 codes a request."""
    found: dict[str, Holder | None] = {}
    unique = list(dict.fromkeys(code.lower() for code in codes))
    for batch in chunks(unique, LOOKUPS_PER_CALL):
        variables = {f"c{n}": batch[n] if n < len(batch) else batch[0] for n in range(LOOKUPS_PER_CALL)}
        data = api.execute("code_discount_nodes_by_code", variables)
        for n, code in enumerate(batch):
            found[code] = holder_of(data.get(f"c{n}"), code)
    return found


def is_ours(holder: Holder, ours: Collection[str], settings: Settings) -> bool:
    """Whether the holder is the connector's: one of `ours` (discount ids it made), or titled as it titles them."""
    return holder.discount_id in ours or (holder.title or "").startswith(title_prefix(settings))
