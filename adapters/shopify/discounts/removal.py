"""Influencers' promo codes deleted from a Shopify shop; their discounts stay for the other influencers.

A removal without the code's or the discount's id is looked up first (holders.py). A code now held
by someone else's discount is not ours to delete: ours is gone, so it counts as removed, as does a
code whose discount is gone already. Shopify deletes codes in a background job, 250 ids a call.

A per-code problem is a failed CodeResult (retryable when waiting may help). A PlatformError before
anything changed in the shop propagates; after, the unfinished codes fail as retryable so what was
done is still recorded. PlatformAuthError always propagates.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy.orm import Session, sessionmaker

from connector.core.platform import CodeBatch, CodeRemoval, CodeResult
from connector.settings import Settings

from ..admin_api import AdminApi
from ..remote import shop_of
from .answers import about_discount, messages
from .bulk import CHUNK, chunks, run_to_the_end
from .holders import is_ours, lookup

#: (the removal's index, the DiscountRedeemCode id to delete) by the discount holding the code
Targets = dict[str, list[tuple[int, str]]]


class _Removal:
    """One remove_codes call: a result per removal, and whether the shop has been changed yet."""

    def __init__(self, api: AdminApi, settings: Settings, removals: Sequence[CodeRemoval]):
        self.api, self.settings, self.removals = api, settings, removals
        self.results: dict[int, CodeResult] = {}
        self.changed = False

    def removed(self, index: int) -> None:
        removal = self.removals[index]
        self.results[index] = CodeResult(removal.influencer_id, "removed", code=removal.code)

    def failed(self, index: int, error: str, retryable: bool) -> None:
        removal = self.removals[index]
        self.results[index] = CodeResult(removal.influencer_id, "failed", code=removal.code,
                                         remote_id=removal.remote_id, discount_id=removal.discount_id,
                                         error=error, retryable=retryable)

    def fail_unfinished(self, error: str) -> None:
        for index in range(len(self.removals)):
            if index not in self.results:
                self.failed(index, error, True)

    def batch(self) -> CodeBatch:
        return CodeBatch(tuple(self.results[n] for n in range(len(self.removals))), {}, self.api.calls)

    def run(self) -> None:
        for discount_id, entries in self.targets().items():
            self.delete(discount_id, entries)

    def targets(self) -> Targets:
        """The codes to delete, by discount; those with nothing left to delete are recorded removed already."""
        removals = self.removals
        targets: Targets = {}
        unknown = {n for n, r in enumerate(removals) if not (r.remote_id and r.discount_id)}
        holders = lookup(self.api, [removals[n].code for n in sorted(unknown) if removals[n].code]) if unknown else {}
        ours = {r.discount_id for r in removals if r.discount_id}
        for n, removal in enumerate(removals):
            if n not in unknown:
                targets.setdefault(removal.discount_id, []).append((n, removal.remote_id))
                continue
            holder = holders.get(removal.code.lower())
            if holder is None or not is_ours(holder, ours, self.settings):
                self.removed(n)
            elif holder.code_id is None:
                self.failed(n, f"{removal.code} is in the shop but its id could not be found", True)
            else:
                targets.setdefault(holder.discount_id, []).append((n, holder.code_id))
        return targets

    def delete(self, discount_id: str, entries: list[tuple[int, str]]) -> None:
        """Delete one discount's codes, a chunk a call."""
        for chunk in chunks(entries, CHUNK):
            payload = self.api.execute("discount_code_redeem_code_bulk_delete", {
                "discountId": discount_id, "ids": [remote_id for _, remote_id in chunk]})
            payload = payload.get("discountCodeRedeemCodeBulkDelete") or {}
            errors = payload.get("userErrors")
            if payload.get("job") or not errors or about_discount(errors):
                # Shopify deletes them in a background job; a discount already gone took its codes along.
                self.changed = self.changed or bool(payload.get("job"))
                for n, _ in chunk:
                    self.removed(n)
            else:
                for n, _ in chunk:
                    self.failed(n, f"Shopify refused to delete the codes: {messages(errors)}", False)


def remove_codes(settings: Settings, sessions: sessionmaker[Session], store_id: int,
                 removals: Sequence[CodeRemoval], **api_options) -> CodeBatch:
    """Delete the influencers' codes from their discounts (see the module docstring); `api_options` go to AdminApi."""
    api = AdminApi(settings, sessions, store_id, shop_of(sessions, store_id), **api_options)
    removal = _Removal(api, settings, removals)
    return run_to_the_end(removal, removal.run)
