"""What a daily check of a store's webhook subscriptions found (PlatformAdapter.check_webhooks): neutral values."""

from __future__ import annotations

from dataclasses import dataclass


#: what a daily webhook check may find wrong with one subscription the connector needs in a store
MISSING, ELSEWHERE, DISABLED, PAUSED, OTHER_SECRET = "missing", "elsewhere", "disabled", "paused", "secret"


@dataclass(frozen=True)
class WebhookRepair:
    """One subscription the check found wrong, and whether it was mended."""

    #: the topic as the platform names it to merchants (orders/paid, order.updated)
    topic: str
    #: missing; elsewhere (delivering to another address); disabled or paused (not delivering at all);
    #: secret (signed with a secret the connector does not hold, so every delivery is refused)
    problem: str
    #: None when mended; otherwise why not
    error: str | None = None
    #: the error may pass (an outage, throttling): the check is tried again soon rather than tomorrow
    retryable: bool = False


@dataclass(frozen=True)
class WebhookHealth:
    """What a check of a store's webhook subscriptions found: how many it needs, and what was wrong."""

    expected: int
    repairs: tuple[WebhookRepair, ...] = ()

    @property
    def repaired(self) -> int:
        return sum(1 for repair in self.repairs if repair.error is None)

    @property
    def failed(self) -> tuple[WebhookRepair, ...]:
        return tuple(repair for repair in self.repairs if repair.error is not None)
