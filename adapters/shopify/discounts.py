"""Influencers' promo codes in a Shopify shop, in bulk (PLATFORMS.md A6).

Influencers of one campaign with equal terms share one code discount (DiscountCodeBasic): requests
are grouped by `discount_group_key`. A group whose discount is not known yet gets one, made with the
group's first code (discountCodeBasicCreate); the rest are added 250 at a time, the input cap, with
discountRedeemCodeBulkAdd. Shopify makes them in the background: every pending bulk creation is
polled in one request (`nodes`), backing off, and each finished one is read once for its codes' ids
and errors. 1,000 codes in one group take 1 create + 4 adds + the polls + 4 reads.

A code Shopify reports as taken is looked up (codeDiscountNodeByCode, 25 per request). When its
discount is the connector's (one it made, or titled "<app name> · …") the code is adopted as it is:
a run that died after Shopify made the codes, or a request Shopify carried out before answering 5xx,
ends as a clean run would, and a discount found under the group's own title becomes the group's.
Someone else's code is a collision: CODE_COLLISION=suffix tries CODE-2 … CODE-9, one bulk round per
suffix for all such codes together; refuse fails the code for good. Suffixed codes are never adopted:
CODE-2 held by the connector may be another influencer's. Codes are compared case-insensitively, as
Shopify's checkout compares them.

A per-code problem is a failed CodeResult (retryable when waiting may help). A PlatformError before
anything changed in the shop propagates; after, the unfinished codes fail as retryable so what was
done is still recorded. PlatformAuthError always propagates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

from sqlalchemy.orm import Session, sessionmaker

from connector.errors import PlatformAuthError, PlatformError
from connector.core.platform import (PERCENTAGE, CodeBatch, CodeRemoval, CodeRequest, CodeResult, DiscountTerms,
                                discount_group_key)
from connector.settings import Settings

from .admin_api import AdminApi, user_errors
from .remote import shop_of

log = logging.getLogger("connector.shopify.discounts")

#: the most codes discountRedeemCodeBulkAdd takes, and ids discountCodeRedeemCodeBulkDelete or nodes take
CHUNK = 250
#: aliases in code_discount_nodes_by_code.graphql
LOOKUPS_PER_CALL = 25
MAX_SUFFIX = 9
#: a group whose first codes are all someone else's gets its discount made with the next one, this many times
MAX_CREATE_ATTEMPTS = 5
#: seconds before the first poll of bulk creations, the longest wait between polls, and the most waited in all
FIRST_POLL, MAX_POLL_WAIT, POLL_BUDGET = 0.5, 10.0, 120.0
MAX_TITLE = 255


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


@dataclass(frozen=True)
class Holder:
    """Who holds a code in the shop."""

    discount_id: str
    title: str | None
    #: the code as the shop keeps it, and its DiscountRedeemCode id (None when the search did not show it)
    code: str | None
    code_id: str | None


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _moment(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def terms_summary(terms: DiscountTerms) -> str:
    """The terms in words, for the discount's title; different terms give different words."""
    value = f"{terms.value.normalize():f}"
    parts = [f"{value}% off" if terms.kind == PERCENTAGE else f"{value} off"]
    if terms.starts_at:
        parts.append(f"from {_moment(terms.starts_at)}")
    if terms.ends_at:
        parts.append(f"until {_moment(terms.ends_at)}")
    if terms.usage_limit:
        parts.append(f"{terms.usage_limit} uses")
    if terms.once_per_customer:
        parts.append("once per customer")
    return ", ".join(parts)


def title_prefix(settings: Settings) -> str:
    """How the connector's discounts are recognised in a shop."""
    return f"{settings.app_name} · "


def discount_title(settings: Settings, request: CodeRequest) -> str:
    title = f"{title_prefix(settings)}{request.campaign_id or 'influencers'} · {terms_summary(request.terms)}"
    return title[:MAX_TITLE]


def discount_input(settings: Settings, request: CodeRequest, code: str, now: datetime) -> dict:
    """discountCodeBasicCreate's input: the terms off the whole order, for everyone."""
    terms = request.terms
    if terms.kind == PERCENTAGE:
        value = {"percentage": float(terms.value / 100)}
    else:  # a fixed amount off the order once, not off each item; Decimal is sent as a string
        value = {"discountAmount": {"amount": format(terms.value, "f"), "appliesOnEachItem": False}}
    return {
        "title": discount_title(settings, request),
        "code": code,
        "startsAt": _moment(terms.starts_at or now),
        "endsAt": _moment(terms.ends_at) if terms.ends_at else None,
        "usageLimit": terms.usage_limit,
        "appliesOncePerCustomer": terms.once_per_customer,
        "context": {"all": "ALL"},
        "customerGets": {"value": value, "items": {"all": True}},
    }


def _is_taken(errors) -> bool:
    """Shopify's answer for a code the shop already has ("Code must be unique", TAKEN).

    DUPLICATE counts too: were it ever said of a code that exists, the lookup that follows finds its
    holder; were it said of nothing, the lookup finds none and the code is retried later.
    """
    def taken(error: dict) -> bool:
        message = str(error.get("message", "")).lower()
        return error.get("code") in ("TAKEN", "DUPLICATE") or "taken" in message or "must be unique" in message

    return any(isinstance(e, dict) and taken(e) for e in errors or [])


def _about_discount(errors) -> bool:
    """The error is about the discount id: the discount is gone (deleted in the admin)."""
    return any(isinstance(e, dict) and "discountId" in (e.get("field") or []) for e in errors or [])


def _messages(errors) -> str:
    return "; ".join(str(e.get("message")) for e in errors or [] if isinstance(e, dict))[:300] or "no reason given"


def _holder(node, code: str) -> Holder | None:
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
    for batch in _chunks(unique, LOOKUPS_PER_CALL):
        variables = {f"c{n}": batch[n] if n < len(batch) else batch[0] for n in range(LOOKUPS_PER_CALL)}
        data = api.execute("code_discount_nodes_by_code", variables)
        for n, code in enumerate(batch):
            found[code] = _holder(data.get(f"c{n}"), code)
    return found


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
        return holder.discount_id in self.ours or (holder.title or "").startswith(title_prefix(self.settings))

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
        unfinished = self._wait([bulk.id for bulk in creations])
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
            if key in self.inherited and _about_discount(errors):
                # The discount an earlier run made is gone (deleted in the admin): make a new one.
                log.warning("%s: discount %s is gone (%s); making a new one", self.api.shop, self.discounts[key],
                            _messages(errors))
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
                first = _holder(node, item.code)
                self._active(item, item.code, first.code_id if first else None, node["id"])
                return items, taken
            errors = payload.get("userErrors")
            if not _is_taken(errors):
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

    def _wait(self, creations: list[str]) -> set[str]:
        """Poll the bulk creations until all are done or the budget is spent; return the unfinished."""
        pending, delay, waited = set(creations), FIRST_POLL, 0.0
        while pending and waited < POLL_BUDGET:
            self.api.sleep(delay)
            waited += delay
            for batch in _chunks(sorted(pending), CHUNK):
                nodes = self.api.execute("discount_redeem_code_bulk_creations", {"ids": list(batch)})["nodes"]
                for node in nodes or []:
                    if isinstance(node, dict) and node.get("done"):
                        pending.discard(node.get("id"))
            delay = min(delay * 2, MAX_POLL_WAIT)
        return pending

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
            elif node is not None and _is_taken(node.get("errors")):
                taken.append(item)
            elif node is not None and node.get("errors"):
                self._fail(item, f"Shopify refused {item.code}: {_messages(node['errors'])}", False)
            else:
                self._fail(item, f"Shopify did not say what became of {item.code}", True)
        return taken


def create_codes(settings: Settings, sessions: sessionmaker[Session], store_id: int,
                 requests: Sequence[CodeRequest], discounts: Mapping[str, str], **api_options) -> CodeBatch:
    """Make the requested codes work in the shop (see the module docstring); `api_options` go to AdminApi."""
    api = AdminApi(settings, sessions, store_id, shop_of(sessions, store_id), **api_options)
    creation = _Creation(api, settings, requests, discounts)
    try:
        creation.run()
    except PlatformAuthError:
        raise
    except PlatformError as exc:
        if not creation.changed:
            raise
        creation.fail_unfinished(f"stopped part way: {exc}")
    return creation.batch()


def remove_codes(settings: Settings, sessions: sessionmaker[Session], store_id: int,
                 removals: Sequence[CodeRemoval], **api_options) -> CodeBatch:
    """Delete the influencers' codes from their discounts (which stay for the others); gone already is removed.

    A removal without the code's or the discount's id is looked up first. A code now held by someone
    else's discount is not ours to delete: ours is gone, so it counts as removed.
    """
    api = AdminApi(settings, sessions, store_id, shop_of(sessions, store_id), **api_options)
    results: dict[int, CodeResult] = {}
    changed = False

    def removed(index: int) -> None:
        results[index] = CodeResult(removals[index].influencer_id, "removed", code=removals[index].code)

    def failed(index: int, error: str, retryable: bool) -> None:
        results[index] = CodeResult(removals[index].influencer_id, "failed", code=removals[index].code,
                                    remote_id=removals[index].remote_id, discount_id=removals[index].discount_id,
                                    error=error, retryable=retryable)

    try:
        targets: dict[str, list[tuple[int, str]]] = {}
        unknown = {n for n, r in enumerate(removals) if not (r.remote_id and r.discount_id)}
        holders = lookup(api, [removals[n].code for n in sorted(unknown) if removals[n].code]) if unknown else {}
        ours = {r.discount_id for r in removals if r.discount_id}
        for n, removal in enumerate(removals):
            if n not in unknown:
                targets.setdefault(removal.discount_id, []).append((n, removal.remote_id))
                continue
            holder = holders.get(removal.code.lower())
            if holder is None or not (holder.discount_id in ours or
                                      (holder.title or "").startswith(title_prefix(settings))):
                removed(n)
            elif holder.code_id is None:
                failed(n, f"{removal.code} is in the shop but its id could not be found", True)
            else:
                targets.setdefault(holder.discount_id, []).append((n, holder.code_id))
        for discount_id, entries in targets.items():
            for chunk in _chunks(entries, CHUNK):
                payload = api.execute("discount_code_redeem_code_bulk_delete", {
                    "discountId": discount_id, "ids": [remote_id for _, remote_id in chunk]})
                payload = payload.get("discountCodeRedeemCodeBulkDelete") or {}
                errors = payload.get("userErrors")
                if payload.get("job") or not errors or _about_discount(errors):
                    # Shopify deletes them in a background job; a discount already gone took its codes along.
                    changed = changed or bool(payload.get("job"))
                    for n, _ in chunk:
                        removed(n)
                else:
                    for n, _ in chunk:
                        failed(n, f"Shopify refused to delete the codes: {_messages(errors)}", False)
    except PlatformAuthError:
        raise
    except PlatformError as exc:
        if not changed:
            raise
        for n in range(len(removals)):
            if n not in results:
                failed(n, f"stopped part way: {exc}", True)
    return CodeBatch(tuple(results[n] for n in range(len(removals))), {}, api.calls)
