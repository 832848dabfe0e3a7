"""The worker's code sync (connector.campaigns.codes) against the stand-in WooCommerce site: a code matches orders only
once it works in the store, a refused code never credits anyone, removal takes the code down and can be
asked again when the store would not, and the worker's state never sticks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector.campaigns import influencers as campaigns, directory
from connector.campaigns.codes import sync_codes
from connector.db import transaction
from connector.campaigns.directory import directory_for
from connector.models import Influencer, Store
from connector.core.platform import PERCENTAGE

SITE = "codes-site"
NOW = datetime.now(timezone.utc)


@pytest.fixture
def store_id(sessions, woo_settings, woo):
    key, secret = woo.add_keys(SITE)
    with transaction(sessions) as session:
        return directory.add_store(session, woo_settings.secret_key, "woocommerce", woo.site_url(SITE),
                                   access_token=f"{key}:{secret}", webhook_secret="s3cret").id


def put(sessions, store_id: int, tracking_id: str, code: str | None, percent: str | None = "10"):
    terms = campaigns.discount_terms(PERCENTAGE, percent) if percent else None
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        campaigns.upsert_influencer(session, store, campaigns.InfluencerSpec(tracking_id, "c1", None, code, terms),
                                    NOW)


def state(sessions, store_id: int, tracking_id: str) -> Influencer:
    with sessions() as session:
        return campaigns.find_influencer(session, session.get(Store, store_id), tracking_id)


def matched(sessions, store_id: int, code: str) -> str | None:
    """Who an order with this code would be credited to."""
    with sessions() as session:
        found = directory_for(session, store_id, {code.lower()}, set()).by_code.get(code.lower())
        return found.tracking_id if found else None


def test_a_code_matches_orders_only_once_it_works_in_the_store(sessions, woo_settings, woo, store_id):
    put(sessions, store_id, "erin", "ERIN10")
    assert state(sessions, store_id, "erin").code_status == "pending"
    assert matched(sessions, store_id, "erin10") is None  # not in the store yet: no order can carry it
    sync_codes(woo_settings, sessions, store_id, NOW)
    assert state(sessions, store_id, "erin").code_status == "active"
    assert matched(sessions, store_id, "ERIN10") == "erin"
    with sessions() as session:
        assert session.get(Store, store_id).codes_due_at is None  # nothing left: the worker stops looking


def test_a_code_refused_as_a_collision_never_credits_the_influencer(sessions, woo_settings, woo, store_id):
    woo.add_foreign_coupon(SITE, "merchant10")  # the merchant's own code
    put(sessions, store_id, "mallory", "MERCHANT10")
    sync_codes(woo_settings.with_overrides(code_collision="refuse"), sessions, store_id, NOW)
    influencer = state(sessions, store_id, "mallory")
    assert influencer.code_status == "failed" and influencer.code_error
    assert matched(sessions, store_id, "MERCHANT10") is None  # the merchant's own orders stay uncredited
    # ... and the code can be given to someone else, who gets the same answer from the store.
    put(sessions, store_id, "mallory", "MALLORY10")
    sync_codes(woo_settings, sessions, store_id, NOW)
    assert matched(sessions, store_id, "MALLORY10") == "mallory"


def test_the_suffix_policy_reports_the_code_made(sessions, woo_settings, woo, store_id):
    woo.add_foreign_coupon(SITE, "frank10")
    put(sessions, store_id, "frank", "FRANK10")
    sync_codes(woo_settings, sessions, store_id, NOW)
    influencer = state(sessions, store_id, "frank")
    assert (influencer.code_status, influencer.promo_code, influencer.requested_code) == ("active", "FRANK10-2",
                                                                                          "FRANK10")
    assert matched(sessions, store_id, "frank10-2") == "frank" and matched(sessions, store_id, "frank10") is None


def test_removal_expires_the_coupon_and_keeps_the_history(sessions, woo_settings, woo, store_id):
    put(sessions, store_id, "gina", "GINA10")
    sync_codes(woo_settings, sessions, store_id, NOW)
    assert woo.coupon_applies(SITE, "gina10")
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        assert campaigns.remove_influencer(session, store, campaigns.find_influencer(session, store, "gina"), NOW)
    assert matched(sessions, store_id, "GINA10") is None  # at once, before the store is told
    sync_codes(woo_settings, sessions, store_id, NOW)
    influencer = state(sessions, store_id, "gina")
    assert influencer.code_status == "removed" and influencer.removed_at is not None
    assert not woo.coupon_applies(SITE, "gina10", datetime.now(timezone.utc) + timedelta(minutes=1))
    assert any(c["code"] == "gina10" for c in woo.coupons(SITE))  # expired, not deleted


def test_a_changed_discount_replaces_the_code_in_the_store(sessions, woo_settings, woo, store_id):
    put(sessions, store_id, "hugo", "HUGO10", "10")
    sync_codes(woo_settings, sessions, store_id, NOW)
    first = state(sessions, store_id, "hugo").code_remote_id
    put(sessions, store_id, "hugo", "HUGO20", "20")
    assert matched(sessions, store_id, "HUGO10") is None and matched(sessions, store_id, "HUGO20") is None
    sync_codes(woo_settings, sessions, store_id, NOW)  # the old one goes, then the new one is made
    influencer = state(sessions, store_id, "hugo")
    assert influencer.code_status == "active" and influencer.code_remote_id != first
    assert matched(sessions, store_id, "HUGO20") == "hugo"
    assert not woo.coupon_applies(SITE, "hugo10", datetime.now(timezone.utc) + timedelta(minutes=1))
    assert woo.coupon_applies(SITE, "hugo20")
