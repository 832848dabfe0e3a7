"""Which of the webhooks the connector needs in a WooCommerce store are wrong, and what would mend each.

Pure: it reads the list `GET webhooks?context=edit` answered (the store's data, so any field may be odd) and
says, per topic, what to send. Setup (rest_api.ensure_webhooks) and the worker's daily check (remote.py) both
act on it, so they never disagree about what "ours" and "healthy" mean.

Why webhooks go wrong there: WooCommerce counts a delivery answered outside 200-302 (or not answered) as a
failure, and when one fails with more than 5 failures in a row already counted, it sets the webhook `disabled`
(class-wc-webhook.php, failed_delivery; filter woocommerce_max_webhook_delivery_failures; WooCommerce's webhook
docs round this to "after 5"). It never resends a failed delivery. A merchant may also pause one (`paused`), or edit
its address or secret. Setting it `active` again does not reset the failure count: until one delivery succeeds,
the next failure disables it at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from connector.core.platform import DISABLED, ELSEWHERE, MISSING, OTHER_SECRET, PAUSED

ACTIVE = "active"


@dataclass(frozen=True)
class Finding:
    """One needed webhook that is wrong, and the call that mends it."""

    topic: str
    #: core.platform's words: missing, elsewhere, disabled, paused, secret
    problem: str
    #: the webhook to change (PUT webhooks/<id>); None: create one (POST webhooks)
    hook: Mapping | None
    fields: Mapping[str, str] = field(default_factory=dict)


def diagnose(existing: Sequence[Mapping], delivery_url: str, secret: str, topics: Sequence[str],
             name_prefix: str) -> list[Finding]:
    """At most one finding per topic; none for a topic that has an active webhook to `delivery_url` with `secret`.

    Ours is one of the topic delivering to `delivery_url` (a healthy one first, then an active one); failing
    that, one we named (`name_prefix`) that delivers elsewhere, pointed back here rather than duplicated;
    failing that, a new one.
    """
    findings = []
    for topic in topics:
        same_topic = [hook for hook in existing if hook.get("topic") == topic]
        # A healthy one first, then an active one: a second webhook of ours signing with another secret
        # must not hide the healthy one (the store then holds two, and nothing needs mending).
        ours = sorted((hook for hook in same_topic if hook.get("delivery_url") == delivery_url),
                      key=lambda hook: (hook.get("status") != ACTIVE, hook.get("secret") != secret))
        named = [hook for hook in same_topic if str(hook.get("name") or "").startswith(name_prefix)]
        if ours:
            hook = ours[0]
            if hook.get("status") == ACTIVE and hook.get("secret") == secret:
                continue
            findings.append(Finding(topic, _status_problem(hook.get("status")), hook,
                                    {"secret": secret, "status": ACTIVE}))
        elif named:
            findings.append(Finding(topic, ELSEWHERE, named[0],
                                    {"delivery_url": delivery_url, "secret": secret, "status": ACTIVE}))
        else:
            findings.append(Finding(topic, MISSING, None, {"name": f"{name_prefix}: {topic}", "topic": topic,
                                                           "delivery_url": delivery_url, "secret": secret,
                                                           "status": ACTIVE}))
    return findings


def _status_problem(status) -> str:
    """Why a webhook of ours at our address is not healthy: not delivering, or signing with another secret."""
    if status == ACTIVE:
        return OTHER_SECRET
    # `disabled` is WooCommerce's own doing after failures; a status it does not define delivers nothing either.
    return PAUSED if status == PAUSED else DISABLED
