"""The diagnosis both setup and the daily check act on, over whatever lists the stores answer with (hypothesis):
never more than one finding a topic, nothing for a healthy topic, and once mended, nothing left to find."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.shopify.remote import TOPICS as SHOPIFY_TOPICS
from adapters.shopify.remote import diagnose as shopify_diagnose
from adapters.woocommerce.rest_api import NAME_PREFIX, TOPICS as WOO_TOPICS
from adapters.woocommerce.webhooks import diagnose as woo_diagnose
from connector.core.platform import DISABLED, ELSEWHERE, MISSING, OTHER_SECRET, PAUSED

URL = "https://connector.example/webhooks/woocommerce"
SECRET = "our-secret-0123456789"
URI = "https://connector.example/webhooks/shopify"
ODD = st.one_of(st.none(), st.integers(), st.text(max_size=8), st.lists(st.integers(), max_size=2))

woo_hooks = st.lists(st.fixed_dictionaries({
    "id": st.integers(min_value=1, max_value=10_000),
    "topic": st.one_of(st.sampled_from(WOO_TOPICS + ("product.updated",)), ODD),
    "delivery_url": st.one_of(st.sampled_from([URL, "https://old.example/webhooks/woocommerce"]), ODD),
    "secret": st.one_of(st.just(SECRET), ODD),
    "status": st.one_of(st.sampled_from(["active", "paused", "disabled"]), ODD),
    "name": st.one_of(st.sampled_from([f"{NAME_PREFIX}: x", "ERP sync"]), ODD),
}), max_size=12)


def _apply(hooks: list[dict], findings) -> list[dict]:
    """What the store holds after the findings' calls, as WooCommerce applies a PUT or a POST."""
    hooks = copy.deepcopy(hooks)
    for finding in findings:
        if finding.hook is None:
            hooks.append({"id": 99_999, **finding.fields})
        else:
            # the PUT reaches the webhook with that id (the first one: ids are unique in a store)
            next(h for h in hooks if h["id"] == finding.hook["id"]).update(finding.fields)
    return hooks


@settings(max_examples=300, deadline=None)
@given(woo_hooks.map(lambda hooks: list({h["id"]: h for h in hooks}.values())))
def test_woocommerce_findings_mend_everything_they_find(hooks):
    findings = woo_diagnose(hooks, URL, SECRET, WOO_TOPICS, NAME_PREFIX)
    assert len({f.topic for f in findings}) == len(findings) <= len(WOO_TOPICS)
    assert all(f.problem in (MISSING, ELSEWHERE, DISABLED, PAUSED, OTHER_SECRET) for f in findings)
    for topic in WOO_TOPICS:
        healthy = any(h["topic"] == topic and h["delivery_url"] == URL and h["status"] == "active"
                      and h["secret"] == SECRET for h in hooks)
        assert healthy == (topic not in {f.topic for f in findings})
    assert woo_diagnose(_apply(hooks, findings), URL, SECRET, WOO_TOPICS, NAME_PREFIX) == []


@settings(max_examples=100, deadline=None)
@given(woo_hooks)
def test_webhooks_of_other_topics_or_names_are_never_touched(hooks):
    findings = woo_diagnose(hooks, URL, SECRET, WOO_TOPICS, NAME_PREFIX)
    for finding in findings:
        if finding.hook is not None:
            assert finding.hook["topic"] == finding.topic
            assert finding.hook["delivery_url"] == URL or str(finding.hook["name"]).startswith(NAME_PREFIX)


shopify_subscriptions = st.lists(st.fixed_dictionaries({
    "id": st.uuids().map(lambda u: f"gid://shopify/WebhookSubscription/{u.int % 10**9}"),
    "topic": st.one_of(st.sampled_from(SHOPIFY_TOPICS + ("APP_UNINSTALLED",)), ODD),
    "uri": st.one_of(st.sampled_from([URI, "https://old.example/webhooks/shopify"]), ODD),
}), max_size=12)


@settings(max_examples=300, deadline=None)
@given(shopify_subscriptions)
def test_shopify_diagnosis_names_one_of_ours_or_nothing(existing):
    for topic in SHOPIFY_TOPICS:
        problem, found = shopify_diagnose(existing, topic, URI)
        here = [s for s in existing if s["topic"] == topic and s["uri"] == URI]
        if here:
            assert (problem, found) == (None, here[0])
        elif any(s["topic"] == topic for s in existing):
            assert problem == ELSEWHERE and found["topic"] == topic
        else:
            assert (problem, found) == (MISSING, None)
        if problem == ELSEWHERE:  # pointing that one here leaves nothing to find
            mended = [dict(s, uri=URI) if s is found else s for s in existing]
            assert shopify_diagnose(mended, topic, URI)[0] is None
