"""Shopify's bulk code calls: at most 250 codes or ids in one, and bulk creations polled until they are done.

discountRedeemCodeBulkAdd makes its codes in the background, so every pending creation is polled in
one `nodes` request, backing off, within a budget; what is still unfinished then is the caller's to fail.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol, Sequence

from connector.core.platform import CodeBatch
from connector.errors import PlatformAuthError, PlatformError

from ..admin_api import AdminApi

#: the most codes discountRedeemCodeBulkAdd takes, and ids discountCodeRedeemCodeBulkDelete or nodes take
CHUNK = 250
#: seconds before the first poll of bulk creations, the longest wait between polls, and the most waited in all
FIRST_POLL, MAX_POLL_WAIT, POLL_BUDGET = 0.5, 10.0, 120.0


def chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def wait_for(api: AdminApi, creations: list[str]) -> set[str]:
    """Poll the bulk creations until all are done or the budget is spent; return the unfinished."""
    pending, delay, waited = set(creations), FIRST_POLL, 0.0
    while pending and waited < POLL_BUDGET:
        api.sleep(delay)
        waited += delay
        for batch in chunks(sorted(pending), CHUNK):
            nodes = api.execute("discount_redeem_code_bulk_creations", {"ids": list(batch)})["nodes"]
            for node in nodes or []:
                if isinstance(node, dict) and node.get("done"):
                    pending.discard(node.get("id"))
        delay = min(delay * 2, MAX_POLL_WAIT)
    return pending


class _Job(Protocol):
    changed: bool

    def fail_unfinished(self, reason: str) -> None: ...

    def batch(self) -> CodeBatch: ...


def run_to_the_end(job: _Job, run: Callable[[], None]) -> CodeBatch:
    """Run a creation or removal; a platform failure part way fails only what is unfinished.

    Refused credentials propagate (nothing can go on until the merchant authorises again), and so does a
    failure before anything changed (the whole batch is tried again later).
    """
    try:
        run()
    except PlatformAuthError:
        raise
    except PlatformError as exc:
        if not job.changed:
            raise
        job.fail_unfinished(f"stopped part way: {exc}")
    return job.batch()
