"""Influencers' promo codes made in a Shopify shop, in bulk (PLATFORMS.md A6).

Influencers of one campaign with equal terms share one code discount (DiscountCodeBasic): requests
are grouped by `discount_group_key`. A group whose discount is not known yet gets one, made with the
group's first code (discountCodeBasicCreate); the rest are added 250 at a time, the input cap, with
discountRedeemCodeBulkAdd. Shopify makes them in the background: every pending bulk creation is
polled in one request (`nodes`, bulk.py), backing off, and each finished one is read once for its
codes' ids and errors. 1,000 codes in one group take 1 create + 4 adds + the polls + 4 reads.

A code Shopify reports as taken is looked up (holders.py). When its discount is the connector's (one
it made, or titled "<app name> · …") the code is adopted as it is: a run that died after Shopify made
the codes, or a request Shopify carried out before answering 5xx, ends as a clean run would, and a
discount found under the group's own title becomes the group's. Someone else's code is a collision:
CODE_COLLISION=suffix tries CODE-2 … CODE-9, one bulk round per suffix for all such codes together;
refuse fails the code for good. Suffixed codes are never adopted: CODE-2 held by the connector may be
another influencer's. Codes are compared case-insensitively, as Shopify's checkout compares them.

A per-code problem is a failed CodeResult (retryable when waiting may help). A PlatformError before
anything changed in the shop propagates; after, the unfinished codes fail as retryable so what was
done is still recorded. PlatformAuthError always propagates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping, Sequence

from sqlalchemy.orm import Session, sessionmaker

from connector.core.platform import CodeBatch, CodeRequest, CodeResult, discount_group_key
from connector.settings import Settings

from ..admin_api import AdminApi, user_errors
from ..remote import shop_of
from .answers import about_discount, is_taken, messages
from .bulk import CHUNK, POLL_BUDGET, run_to_the_end, wait_for
from .holders import Holder, holder_of, is_ours, lookup
from .terms import discount_input, discount_title

log = logging.getLogger("connector.shopify.discounts")

MAX_SUFFIX = 9
#: a group whose first codes are all someone else's gets its discount made with the next one, this many times
MAX_CREATE_ATTEMPTS = 5


@dataclass
class _Item:
    """One request on its way, with the suffix being tried (1: the code as asked)."""

    index: int
    request: CodeRequest
    key: str
    suffix: int = 1

    @property
    def code(self) -> str:
        return self.request.code if self.suffix == 1 else f"{self.request.code}-{self.suffix}"


@dataclass(frozen=True)
class _Bulk:
    """A bulk creation Shopify is working on: its id, the discount it adds to, and its codes."""

    id: str
    discount_id: str
    items: list[_Item]


class _Creation:
    """One create_codes call: the state shared by its rounds."""

    def __init__(self, api: AdminApi, settings: Settings, requests: Sequence[CodeRequest],
                 discounts: Mapping[str, str]):
        self.api, self.settings, self.requests = api, settings, requests
        self.discounts = dict(discounts)  # group key → the discount the group's codes go into
        self.inherited = set(discounts)  # made by an earlier run: may have been deleted since
        self.ours = set(discounts.values())
        self.made: dict[str, str] = {}
        self.results: dict[int, CodeResult] = {}
        self.claimed: set[str] = set()  # codes asked for or tried in this batch, lower-cased
        self.holders: dict[str, Holder | None] = {}
        self.changed = False

    # --- results -------------------------------------------------------------------------------

    def _active(self, item: _Item, code: str, remote_id: str | None, discount_id: str, adopted: bool = False) -> None:
        self.results[item.index] = CodeResult(item.request.influencer_id, "active", code=code, remote_id=remote_id,
                                              discount_id=discount_id, adopted=adopted)

    def _fail(self, item: _Item, error: str, retryable: bool) -> None:
        self.results[item.index] = CodeResult(item.request.influencer_id, "failed", code=item.request.code,
                                              error=error, retryable=retryable)

    def fail_unfinished(self, error: str) -> None:
        for index, request in enumerate(self.requests):
            if index not in self.results:
                self._fail(_Item(index, request, ""), error, True)

    def batch(self) -> CodeBatch:
        return CodeBatch(tuple(self.results[i] for i in range(len(self.requests))), dict(self.made), self.api.calls)

    # --- the whole batch -----------------------------------------------------------------------

    def run(self) -> None:
        items = []
        for index, request in enumerate(self.requests):
            item = _Item(index, request, discount_group_key(request.campaign_id, request.terms, request.tracking_id))
            if request.code.lower() in self.claimed:
                self._fail(item, f"{request.code} is asked for twice in one batch", False)
                continue
            self.claimed.add(request.code.lower())
            items.append(item)
        foreign = self._adopt(self._round(items))
        if self.settings.code_collision != "suffix":
            for item in foreign:
                self._fail(item, f"{item.code} is already used by another discount in the shop, not made by "
                                 f"{self.settings.app_name} (collision policy: refuse)", False)
            return
        while foreign:
            tries = []
            for item in foreign:
                if self._next_suffix(item):
                    tries.append(item)
                else:
                    self._fail(item, f"{item.request.code} and {item.request.code}-2 … -{MAX_SUFFIX} are all taken "
                                     "in the shop", False)
            foreign = self._round(tries)

    def _next_suffix(self, item: _Item) -> bool:
        while item.suffix < MAX_SUFFIX:
            item.suffix += 1
            if item.code.lower() not in self.claimed:  # never another request's code in this batch
                self.claimed.add(item.code.lower())
                return True
        return False

    def _adopt(self, taken: list[_Item]) -> list[_Item]:
        """Take over the taken codes that are the connector's own; return the others (collisions)."""
        self._lookup([item.code for item in taken])
        foreign = []
        for item in taken:
            holder = self.holders.get(item.code.lower())
            if holder is None:
                # Refused as taken, gone when looked up (deleted in the admin meanwhile): try again later.
                self._fail(item, f"{item.code} was taken in the shop and is gone now", True)
            elif self._is_ours(holder):
                self._active(item, holder.code or item.code, holder.code_id, holder.discount_id, adopted=True)
            else:
                foreign.append(item)
        return foreign

    def _lookup(self, codes: list[str]) -> None:
        self.holders.update(lookup(self.api, [c for c in codes if c.lower() not in self.holders]))

    def _is_ours(self, holder: Holder) -> bool:
        return is_ours(holder, self.ours, self.settings)

    def _use(self, key: str, discount_id: str) -> None:
        self.discounts[key] = self.made[key] = discount_id
        self.ours.add(discount_id)

    # --- one round: place codes, wait for Shopify, read what became of them ---------------------

    def _round(self, items: list[_Item]) -> list[_Item]:
        """Create the items' codes; return those Shopify refused as taken."""
        groups: dict[str, list[_Item]] = {}
        for item in items:
            groups.setdefault(item.key, []).append(item)
        creations: list[_Bulk] = []
        taken: list[_Item] = []
        for key, group in groups.items():
            taken += self._place(key, group, creations)
        unfinished = wait_for(self.api, [bulk.id for bulk in creations])
        for bulk in creations:
            if bulk.id in unfinished:
                for item in bulk.items:
                    self._fail(item, f"Shopify had not finished creating the code after {POLL_BUDGET:.0f} s", True)
            else:
                taken += self._read(bulk)
        return taken

    def _place(self, key: str, items: list[_Item], creations: list[_Bulk]) -> list[_Item]:
        """Make the group's discount if needed, then start bulk creations for the rest; return the taken."""
        taken: list[_Item] = []
        while items:
            if key not in self.discounts:
                items, refused = self._make_discount(key, items)
                taken += refused
                continue
            chunk, items = items[:CHUNK], items[CHUNK:]
            payload = self.api.execute("discount_redeem_code_bulk_add", {
                "discountId": self.discounts[key], "codes": [{"code": item.code} for item in chunk]})
            payload = payload.get("discountRedeemCodeBulkAdd") or {}
            creation = payload.get("bulkCreation")
            if isinstance(creation, dict) and creation.get("id"):
                self.changed = True
                creations.append(_Bulk(creation["id"], self.discounts[key], chunk))
                continue
            errors = payload.get("userErrors")
            if key in self.inherited and about_discount(errors):
                # The discount an earlier run made is gone (deleted in the admin): make a new one.
                log.warning("%s: discount %s is gone (%s); making a new one", self.api.shop, self.discounts[key],
                            messages(errors))
                self.inherited.discard(key)
                del self.discounts[key]
                items = list(chunk) + items
                continue
            for item in chunk:
                self._fail(item, f"Shopify refused the codes: {user_errors(payload) or 'no bulk creation'}", False)
        return taken

    def _make_discount(self, key: str, items: list[_Item]) -> tuple[list[_Item], list[_Item]]:
        """Make the group's discount with its first code Shopify takes; return (the rest, the taken)."""
        taken: list[_Item] = []
        items = list(items)
        for _attempt in range(MAX_CREATE_ATTEMPTS):
            if not items:
                return [], taken
            item = items.pop(0)
            payload = self.api.execute("discount_code_basic_create", {
                "discount": discount_input(self.settings, item.request, item.code, self.api.clock())})
            payload = payload.get("discountCodeBasicCreate") or {}
            node = payload.get("codeDiscountNode")
            if isinstance(node, dict) and node.get("id"):
                self.changed = True
                self._use(key, node["id"])
                first = holder_of(node, item.code)
                self._active(item, item.code, first.code_id if first else None, node["id"])
                return items, taken
            errors = payload.get("userErrors")
            if not is_taken(errors):
                # The terms themselves were refused: every code of the group would be.
                for other in [item] + items:
                    self._fail(other, f"Shopify refused the discount: {user_errors(payload) or 'none made'}", False)
                return [], taken
            if item.suffix == 1 and self._found_own_discount(key, item):
                return items, taken
            taken.append(item)
        for item in items:
            self._fail(item, "the group's discount could not be made: its first codes are all taken", True)
        return [], taken

    def _found_own_discount(self, key: str, item: _Item) -> bool:
        """Whether the taken code sits in this group's discount, made by a run that did not finish.

        One lookup now rather than later: then the group's other codes go into that discount
        instead of a second one with the same terms.
        """
        self._lookup([item.code])
        holder = self.holders.get(item.code.lower())
        if holder is None or not self._is_ours(holder) or holder.title != discount_title(self.settings, item.request):
            return False
        self._use(key, holder.discount_id)
        self._active(item, holder.code or item.code, holder.code_id, holder.discount_id, adopted=True)
        return True

    def _read(self, bulk: _Bulk) -> list[_Item]:
        """Record a finished bulk creation's codes; return those refused as taken."""
        data = self.api.execute("discount_redeem_code_bulk_creation_codes", {"id": bulk.id})
        nodes = ((data.get("discountRedeemCodeBulkCreation") or {}).get("codes") or {}).get("nodes") or []
        by_code = {str(n.get("code", "")).lower(): n for n in nodes if isinstance(n, dict)}
        taken = []
        for item in bulk.items:
            node = by_code.get(item.code.lower())
            made = node.get("discountRedeemCode") if node else None
            if isinstance(made, dict) and made.get("id"):
                self._active(item, item.code, made["id"], bulk.discount_id)
            elif node is not None and is_taken(node.get("errors")):
                taken.append(item)
            elif node is not None and node.get("errors"):
                self._fail(item, f"Shopify refused {item.code}: {messages(node['errors'])}", False)
            else:
                self._fail(item, f"Shopify did not say what became of {item.code}", True)
        return taken


def create_codes(settings: Settings, sessions: sessionmaker[Session], store_id: int,
                 requests: Sequence[CodeRequest], discounts: Mapping[str, str], **api_options) -> CodeBatch:
    """Make the requested codes work in the shop (see the module docstring); `api_options` go to AdminApi."""
    api = AdminApi(settings, sessions, store_id, shop_of(sessions, store_id), **api_options)
    creation = _Creation(api, settings, requests, discounts)
    return run_to_the_end(creation, creation.run)
