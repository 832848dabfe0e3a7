"""Promo codes as WooCommerce coupons: batching, collisions (adopt ours, suffix, refuse), retries, removal.

The first part fakes the store's HTTP with `responses`; the second runs the adapter end to end against
the stand-in WooCommerce (a real local HTTP server) with a store row in a real database.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import count
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from adapters.woocommerce import adapter, coupons
from adapters.woocommerce.coupons import ALREADY_EXISTS, TRACKING_META
from adapters.woocommerce.rest_api import WooCommerceClient
from connector.errors import PlatformAuthError, PlatformError
from connector.core.platform import FIXED_AMOUNT, PERCENTAGE, CodeRemoval, CodeRequest, DiscountTerms

from .test_woocommerce_adapter import SITE, add_store

STORE = "https://shop.example"
API = f"{STORE}/wp-json/wc/v3"
APP = "Influencer Connector"
ENDS = datetime(2026, 12, 31, 22, 59, 59, tzinfo=timezone(timedelta(hours=-1)))  # 23:59:59 UTC
TERMS = DiscountTerms(kind=PERCENTAGE, value=Decimal("15"), ends_at=ENDS, usage_limit=500, once_per_customer=True)
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc)


def ask(n: int, code: str | None = None, *, tracking: str | None = None, terms: DiscountTerms = TERMS,
        campaign: str | None = "spring-26") -> CodeRequest:
    return CodeRequest(influencer_id=n, tracking_id=tracking or f"inf{n}", campaign_id=campaign,
                       code=code or f"CODE{n}", terms=terms)


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(waits) -> WooCommerceClient:
    return WooCommerceClient(STORE, "ck_test", "cs_test", sleep=waits.append)


def ours(coupon_id: int, code: str, tracking: str, **fields) -> dict:
    """A coupon the connector made earlier, as the REST API shows it."""
    return {"id": coupon_id, "code": code.lower(), "discount_type": "percent", "amount": "15.00",
            "date_expires_gmt": "2026-12-31T23:59:59", "usage_limit": 500, "usage_limit_per_user": 1,
            "meta_data": [{"id": 9, "key": TRACKING_META, "value": tracking}], **fields}


def foreign(coupon_id: int, code: str) -> dict:
    return {"id": coupon_id, "code": code.lower(), "discount_type": "fixed_cart", "amount": "5.00",
            "date_expires_gmt": None, "meta_data": []}


class FakeCoupons:
    """Just enough of coupons/batch and coupons?code= to answer as WooCommerce does (per-item errors)."""

    def __init__(self, existing: list[dict] = (), limit: int = 100, lose: int = 0, down_after: int | None = None):
        self.coupons = {c["code"]: c for c in existing}
        self.limit = limit
        #: the first `lose` batches are done but their answers never arrive (a read timeout)
        self.lose = lose
        #: batch calls after this many answer 503
        self.down_after = down_after
        self.batches: list[dict] = []
        self.lookups: list[str] = []
        self._ids = count(1000)
        responses.add_callback(responses.POST, f"{API}/coupons/batch", callback=self.batch)
        responses.add_callback(responses.GET, f"{API}/coupons", callback=self.lookup)

    def batch(self, request):
        body = json.loads(request.body)
        if self.down_after is not None and len(self.batches) >= self.down_after:
            return 503, {}, "<html>down</html>"
        self.batches.append(body)
        if sum(len(items) for items in body.values()) > self.limit:
            return 413, {}, json.dumps({"code": "woocommerce_rest_request_entity_too_large",
                                        "message": f"Unable to accept more than {self.limit} items for this request.",
                                        "data": {"status": 413}})
        answer: dict[str, list] = {}
        for item in body.get("create", []):
            code = item["code"].lower()
            if code in self.coupons:
                answer.setdefault("create", []).append({"id": 0, "error": {
                    "code": ALREADY_EXISTS, "message": "The coupon code already exists", "data": {"status": 400}}})
            else:
                self.coupons[code] = self.shown({**item, "id": next(self._ids), "code": code})
                answer.setdefault("create", []).append(self.coupons[code])
        for item in body.get("update", []):
            target = next(c for c in self.coupons.values() if c["id"] == item["id"])
            target.update(self.shown(item))
            answer.setdefault("update", []).append(target)
        if len(self.batches) <= self.lose:
            raise requests.ReadTimeout("read timed out")
        return 200, {}, json.dumps(answer)

    @staticmethod
    def shown(item: dict) -> dict:
        """Written fields as the REST API shows them back (amount to cents, expiry as date_expires_gmt)."""
        shown = dict(item)
        if "amount" in item:
            shown["amount"] = f"{Decimal(item['amount']):.2f}"
        if "date_expires" in item:
            shown["date_expires_gmt"] = shown.pop("date_expires")[:19] or None
        return shown

    def lookup(self, request):
        code = parse_qs(urlsplit(request.url).query)["code"][0]
        self.lookups.append(code)
        return 200, {}, json.dumps([self.coupons[code]] if code in self.coupons else [])

    def created(self) -> list[dict]:
        return [item for body in self.batches for item in body.get("create", [])]


# --- creating, with responses --------------------------------------------------------------------


@responses.activate
def test_250_codes_take_three_batch_calls_of_at_most_100(client):
    store = FakeCoupons()
    batch = coupons.create(client, [ask(n) for n in range(250)], app_name=APP, collision="suffix")
    assert batch.calls == 3 == len(responses.calls)
    assert [len(body["create"]) for body in store.batches] == [100, 100, 50]
    assert [r.influencer_id for r in batch.results] == list(range(250))
    assert {r.status for r in batch.results} == {"active"}
    first = batch.results[0]
    assert (first.code, first.remote_id, first.discount_id, first.adopted) == ("CODE0", "1000", "1000", False)
    assert batch.discounts == {}


@responses.activate
def test_a_coupon_carries_the_terms_and_our_tracking_id(client):
    store = FakeCoupons()
    coupons.create(client, [ask(7, "Alice15", tracking="alice")], app_name=APP, collision="suffix")
    [sent] = store.created()
    assert sent == {
        "code": "Alice15", "discount_type": "percent", "amount": "15", "individual_use": False,
        "description": "Influencer Connector: promo code of influencer alice, campaign spring-26",
        "meta_data": [{"key": TRACKING_META, "value": "alice"}],
        # date_expires with an explicit offset: WooCommerce drops date_expires_gmt on writes
        "date_expires": "2026-12-31T23:59:59+00:00", "usage_limit": 500, "usage_limit_per_user": 1,
    }


@responses.activate
def test_a_fixed_amount_without_limits_or_end_is_a_plain_fixed_cart_coupon(client):
    store = FakeCoupons()
    terms = DiscountTerms(kind=FIXED_AMOUNT, value=Decimal("12.50"))
    coupons.create(client, [ask(1, terms=terms, campaign=None)], app_name=APP, collision="suffix")
    [sent] = store.created()
    assert (sent["discount_type"], sent["amount"]) == ("fixed_cart", "12.5")
    assert not {"date_expires", "usage_limit", "usage_limit_per_user"} & set(sent)
    assert sent["description"] == "Influencer Connector: promo code of influencer inf1"


@responses.activate
def test_an_existing_code_of_ours_is_adopted(client):
    store = FakeCoupons([ours(41, "ALICE15", "alice")])
    batch = coupons.create(client, [ask(7, "Alice15", tracking="alice")], app_name=APP, collision="refuse")
    [result] = batch.results
    assert (result.status, result.code, result.remote_id, result.adopted) == ("active", "Alice15", "41", True)
    assert store.lookups == ["alice15"]  # looked up lower-cased, as WooCommerce stores codes
    assert batch.calls == 2 and len(store.batches) == 1  # nothing to write: it already gives the terms


@responses.activate
def test_an_adopted_coupon_that_drifted_is_brought_back_in_line(client):
    # Removed earlier (expired), with other limits: adopting it must make it work again.
    store = FakeCoupons([ours(41, "alice15", "alice", date_expires_gmt="2026-11-01T00:00:00", usage_limit=None,
                              usage_limit_per_user=3, amount="10.00")])
    batch = coupons.create(client, [ask(7, "ALICE15", tracking="alice")], app_name=APP, collision="suffix")
    [result] = batch.results
    assert (result.status, result.code, result.remote_id, result.adopted) == ("active", "ALICE15", "41", True)
    assert store.batches[1] == {"update": [{"id": 41, "amount": "15", "date_expires": "2026-12-31T23:59:59+00:00",
                                            "usage_limit": 500, "usage_limit_per_user": 1}]}
    assert batch.calls == 3


@responses.activate
def test_adopting_with_no_end_clears_the_expiry(client):
    store = FakeCoupons([ours(41, "alice15", "alice", date_expires_gmt="2026-11-01T00:00:00")])
    terms = DiscountTerms(kind=PERCENTAGE, value=Decimal("15"), usage_limit=500, once_per_customer=True)
    coupons.create(client, [ask(7, "alice15", tracking="alice", terms=terms)], app_name=APP, collision="suffix")
    assert store.batches[1] == {"update": [{"id": 41, "date_expires": ""}]}  # "" clears; null would be ignored


@responses.activate
def test_someone_elses_code_gets_a_suffix_in_the_next_batch_call(client):
    store = FakeCoupons([foreign(5, "dana20")])
    requests_ = [ask(n) for n in range(1, 150)] + [ask(150, "Dana20", tracking="dana")]
    requests_.insert(10, requests_.pop())  # the colliding code goes in the first batch
    batch = coupons.create(client, requests_, app_name=APP, collision="suffix")
    dana = next(r for r in batch.results if r.influencer_id == 150)
    assert (dana.status, dana.code, dana.adopted) == ("active", "Dana20-2", False)
    # The suffixed code rode along with the second batch: 2 batch calls and 1 lookup, not one call each.
    assert [len(body["create"]) for body in store.batches] == [100, 51]
    assert store.batches[1]["create"][-1]["code"] == "Dana20-2"
    assert batch.calls == 3
    assert [r.influencer_id for r in batch.results] == [r.influencer_id for r in requests_]


@responses.activate
def test_a_suffixed_code_of_ours_is_adopted_too(client):
    store = FakeCoupons([foreign(5, "dana20"), ours(6, "dana20-2", "dana")])
    [result] = coupons.create(client, [ask(1, "DANA20", tracking="dana")], app_name=APP, collision="suffix").results
    assert (result.status, result.code, result.remote_id, result.adopted) == ("active", "DANA20-2", "6", True)
    assert store.lookups == ["dana20", "dana20-2"]


@responses.activate
def test_refuse_fails_the_code_for_good(client):
    store = FakeCoupons([foreign(5, "dana20")])
    batch = coupons.create(client, [ask(1, "Dana20", tracking="dana")], app_name=APP, collision="refuse")
    [result] = batch.results
    assert (result.status, result.retryable, result.code) == ("failed", False, None)
    assert "Dana20 is taken in the store" in result.error and "refuse" in result.error
    assert len(store.batches) == 1 and batch.calls == 2


@responses.activate
def test_when_every_suffix_is_taken_the_code_fails(client):
    store = FakeCoupons([foreign(5, "dana20")] + [foreign(10 + n, f"dana20-{n}") for n in range(2, 10)])
    batch = coupons.create(client, [ask(1, "Dana20", tracking="dana")], app_name=APP, collision="suffix")
    [result] = batch.results
    assert (result.status, result.retryable) == ("failed", False)
    assert "Dana20-2 … Dana20-9" in result.error
    assert [b["create"][0]["code"] for b in store.batches] == ["Dana20"] + [f"Dana20-{n}" for n in range(2, 10)]


@responses.activate
def test_a_code_another_influencer_of_ours_holds_is_not_adopted(client):
    FakeCoupons([ours(41, "sam", "samantha")])
    [result] = coupons.create(client, [ask(1, "SAM", tracking="sam")], app_name=APP, collision="suffix").results
    assert (result.status, result.code, result.adopted) == ("active", "SAM-2", False)


@responses.activate
def test_other_per_item_errors_fail_that_code_only(client):
    responses.post(f"{API}/coupons/batch", json={"create": [
        {"id": 0, "error": {"code": "coupon_invalid_amount", "message": "Invalid discount amount.", "data": {"status": 400}}},
        {"id": 77, "code": "code2"},
        {"id": 0, "error": {"code": "db_error", "message": "Could not insert", "data": {"status": 500}}},
    ]})
    bad, good, busy = coupons.create(client, [ask(1), ask(2), ask(3)], app_name=APP, collision="suffix").results
    assert (bad.status, bad.retryable, bad.error) == ("failed", False, "coupon_invalid_amount: Invalid discount amount.")
    assert (good.status, good.code, good.remote_id) == ("active", "CODE2", "77")
    assert (busy.status, busy.retryable) == ("failed", True)


def test_terms_woocommerce_cannot_express_fail_without_a_call(client):
    odd = DiscountTerms(kind="free_shipping", value=Decimal("1"))
    batch = coupons.create(client, [ask(1, terms=odd)], app_name=APP, collision="suffix")
    [result] = batch.results
    assert (result.status, result.retryable, batch.calls) == ("failed", False, 0)


# --- whole-call failures -------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_refused_keys_are_an_auth_error(client, status):
    responses.post(f"{API}/coupons/batch", status=status, json={"code": "woocommerce_rest_cannot_batch"})
    with pytest.raises(PlatformAuthError):
        coupons.create(client, [ask(1)], app_name=APP, collision="suffix")


@responses.activate
def test_503_then_ok_is_retried_after_a_wait(client, waits):
    responses.post(f"{API}/coupons/batch", status=503, body="<html>busy</html>")
    FakeCoupons()
    batch = coupons.create(client, [ask(1)], app_name=APP, collision="suffix")
    assert batch.results[0].status == "active"
    assert (batch.calls, waits) == (2, [1.0])


@responses.activate
def test_429_waits_as_long_as_retry_after_says(client, waits):
    responses.post(f"{API}/coupons/batch", status=429, headers={"Retry-After": "7"}, json={"code": "too_many"})
    FakeCoupons()
    assert coupons.create(client, [ask(1)], app_name=APP, collision="suffix").results[0].status == "active"
    assert waits == [7.0]


@responses.activate
def test_a_store_that_stays_down_is_a_platform_error_after_a_few_tries(client, waits):
    responses.post(f"{API}/coupons/batch", status=502, body="bad gateway")
    with pytest.raises(PlatformError, match="502") as caught:
        coupons.create(client, [ask(1)], app_name=APP, collision="suffix")
    assert not isinstance(caught.value, PlatformAuthError)
    assert (len(responses.calls), waits) == (4, [1.0, 2.0, 4.0])


@responses.activate
def test_a_long_retry_after_is_left_to_the_worker(client, waits):
    responses.post(f"{API}/coupons/batch", status=429, headers={"Retry-After": "600"}, json={"code": "too_many"})
    with pytest.raises(PlatformError, match="Retry-After 600"):
        coupons.create(client, [ask(1)], app_name=APP, collision="suffix")
    assert (len(responses.calls), waits) == (1, [])


@responses.activate
def test_a_timed_out_batch_is_sent_again_and_what_it_made_is_adopted(client, waits):
    store = FakeCoupons(lose=1)
    batch = coupons.create(client, [ask(1), ask(2)], app_name=APP, collision="suffix")
    assert [(r.status, r.adopted) for r in batch.results] == [("active", True), ("active", True)]
    assert len(store.coupons) == 2 and waits == [1.0]
    assert batch.calls == 2 + 2  # the lost batch, the batch again, a lookup per code


@responses.activate
def test_a_413_halves_the_batch_and_later_batches_stay_small(client):
    store = FakeCoupons(limit=50)
    batch = coupons.create(client, [ask(n) for n in range(150)], app_name=APP, collision="suffix")
    assert [len(body["create"]) for body in store.batches] == [100, 50, 50, 50]
    assert {r.status for r in batch.results} == {"active"} and batch.calls == 4


@responses.activate
def test_a_failure_after_some_batches_keeps_what_was_done(client):
    FakeCoupons(down_after=1)
    batch = coupons.create(client, [ask(n) for n in range(150)], app_name=APP, collision="suffix")
    assert [r.status for r in batch.results[:100]] == ["active"] * 100
    assert {(r.status, r.retryable) for r in batch.results[100:]} == {("failed", True)}
    assert "not done" in batch.results[100].error


# --- removing, with responses --------------------------------------------------------------------


@responses.activate
def test_removal_expires_the_coupons_in_batches_of_100(client):
    store = FakeCoupons([ours(1000 + n, f"code{n}", f"inf{n}") for n in range(150)])
    removals = [CodeRemoval(influencer_id=n, code=f"CODE{n}", remote_id=str(1000 + n), discount_id=str(1000 + n))
                for n in range(150)]
    batch = coupons.remove(client, removals, NOW)
    assert batch.calls == 2
    assert [len(body["update"]) for body in store.batches] == [100, 50]
    assert store.batches[0]["update"][0] == {"id": 1000, "date_expires": "2026-11-22T15:00:00+00:00"}
    assert "delete" not in store.batches[0]  # the store keeps the coupon and its usage history
    assert [(r.influencer_id, r.status, r.code, r.remote_id) for r in batch.results[:2]] == [
        (0, "removed", "CODE0", "1000"), (1, "removed", "CODE1", "1001")]


@responses.activate
def test_removal_of_a_coupon_already_gone_counts_as_removed(client):
    responses.post(f"{API}/coupons/batch", json={"update": [
        {"id": 5, "error": {"code": "woocommerce_rest_shop_coupon_invalid_id", "message": "Invalid ID.", "data": {"status": 400}}}]})
    [result] = coupons.remove(client, [CodeRemoval(1, "GONE", "5", "5")], NOW).results
    assert result.status == "removed"


@responses.activate
def test_removal_without_an_id_finds_the_coupon_by_code_and_leaves_others_alone(client):
    store = FakeCoupons([ours(41, "alice15", "alice"), foreign(5, "merchant10")])
    batch = coupons.remove(client, [CodeRemoval(1, "ALICE15", None, None), CodeRemoval(2, "MERCHANT10", None, None),
                                    CodeRemoval(3, "NEVERMADE", None, None)], NOW)
    alice, merchant, never = batch.results
    assert (alice.status, alice.remote_id) == ("removed", "41")
    assert (merchant.status, merchant.retryable) == ("failed", False) and "left alone" in merchant.error
    assert never.status == "removed"  # nothing in the store: the code does not work
    assert store.batches == [{"update": [{"id": 41, "date_expires": "2026-11-22T15:00:00+00:00"}]}]


# --- end to end against the stand-in --------------------------------------------------------------


@pytest.fixture
def woo_settings(settings):
    return settings.with_overrides(woocommerce_allow_private=True)


@pytest.fixture
def store_id(sessions, woo_settings, standin):
    key, secret = standin.add_keys(SITE)
    return add_store(sessions, woo_settings, standin.site_url(SITE), f"{key}:{secret}")


def test_250_coupons_through_the_adapter(sessions, woo_settings, standin, store_id):
    requests_ = [ask(n, f"Spring{n:03d}") for n in range(250)]
    batch = adapter.create_codes(woo_settings, sessions, store_id, requests_, {})
    assert batch.calls == 3 == standin.calls("coupons/batch", site=SITE) == len(standin.requests_seen)
    assert {r.status for r in batch.results} == {"active"}
    made = standin.coupons(SITE)
    assert len(made) == 250
    assert made[0]["code"] == "spring000" and batch.results[0].code == "Spring000"  # stored lower-cased
    assert made[0]["meta_data"][0]["key"] == TRACKING_META and made[0]["meta_data"][0]["value"] == "inf0"
    assert (made[0]["discount_type"], made[0]["amount"], made[0]["usage_limit"], made[0]["usage_limit_per_user"]) \
        == ("percent", "15.00", 500, 1)
    assert made[0]["date_expires_gmt"] == "2026-12-31T23:59:59"
    assert {r.remote_id for r in batch.results} == {str(c["id"]) for c in made}
    assert standin.coupon_applies(SITE, "SPRING123", at=NOW)

    # Again (say the answers were lost): every code is found and adopted, nothing is made twice.
    again = adapter.create_codes(woo_settings, sessions, store_id, requests_, {})
    assert all(r.adopted and r.status == "active" for r in again.results)
    assert [r.remote_id for r in again.results] == [r.remote_id for r in batch.results]
    assert len(standin.coupons(SITE)) == 250
    assert again.calls == 3 + 250 == standin.calls("coupons/batch") - 3 + standin.calls("coupons")


def test_collisions_against_the_stand_in(sessions, woo_settings, standin, store_id):
    standin.add_foreign_coupon(SITE, "dana20")
    [dana] = adapter.create_codes(woo_settings, sessions, store_id, [ask(1, "DANA20", tracking="dana")], {}).results
    assert (dana.status, dana.code) == ("active", "DANA20-2")
    refusing = woo_settings.with_overrides(code_collision="refuse")
    [eve] = adapter.create_codes(refusing, sessions, store_id, [ask(2, "Dana20", tracking="eve")], {}).results
    assert (eve.status, eve.retryable) == ("failed", False)
    assert sorted(c["code"] for c in standin.coupons(SITE)) == ["dana20", "dana20-2"]


def test_removed_codes_stop_applying_but_stay_in_the_store(sessions, woo_settings, standin, store_id):
    made = adapter.create_codes(woo_settings, sessions, store_id, [ask(1, "Alice15"), ask(2, "Bob10")], {}).results
    removals = [CodeRemoval(r.influencer_id, r.code, r.remote_id, r.discount_id) for r in made]
    batch = adapter.remove_codes(woo_settings, sessions, store_id, removals)
    assert [r.status for r in batch.results] == ["removed", "removed"] and batch.calls == 1
    assert not standin.coupon_applies(SITE, "alice15") and not standin.coupon_applies(SITE, "bob10")
    assert len(standin.coupons(SITE)) == 2
    # Asked for again, the removed code is adopted and works again.
    [back] = adapter.create_codes(woo_settings, sessions, store_id, [ask(1, "Alice15")], {}).results
    assert (back.status, back.adopted, back.remote_id) == ("active", True, made[0].remote_id)
    assert standin.coupon_applies(SITE, "alice15", at=NOW)


def test_the_end_date_is_right_whatever_the_sites_timezone(sessions, woo_settings, standin, store_id):
    standin.set_utc_offset(SITE, 2)
    adapter.create_codes(woo_settings, sessions, store_id, [ask(1)], {})
    [coupon] = standin.coupons(SITE)
    assert (coupon["date_expires_gmt"], coupon["date_expires"]) == ("2026-12-31T23:59:59", "2027-01-01T01:59:59")


def test_retries_against_the_stand_in(standin, waits):
    key, secret = standin.add_keys(SITE)
    client = WooCommerceClient(standin.site_url(SITE), key, secret, sleep=waits.append)
    standin.fail_next(SITE, "coupons/batch", 503, times=2, retry_after=3)
    batch = coupons.create(client, [ask(1)], app_name=APP, collision="suffix")
    assert batch.results[0].status == "active" and batch.calls == 3 == standin.calls("coupons/batch")
    assert waits == [3.0, 3.0]


def test_nothing_is_called_for_a_private_store_unless_allowed(sessions, woo_settings, standin, store_id):
    strict = woo_settings.with_overrides(woocommerce_allow_private=False)
    with pytest.raises(PlatformError, match="was not called"):
        adapter.create_codes(strict, sessions, store_id, [ask(1)], {})
    with pytest.raises(PlatformError, match="was not called"):
        adapter.remove_codes(strict, sessions, store_id, [CodeRemoval(1, "CODE1", "5", "5")])
    assert standin.requests_seen == []


def test_revoked_keys_are_an_auth_error(sessions, woo_settings, standin):
    store_id = add_store(sessions, woo_settings, standin.site_url(SITE), "ck_revoked:cs_revoked")
    with pytest.raises(PlatformAuthError):
        adapter.create_codes(woo_settings, sessions, store_id, [ask(1)], {})


def test_nothing_to_do_makes_no_call(sessions, woo_settings, standin, store_id):
    assert adapter.create_codes(woo_settings, sessions, store_id, [], {}).calls == 0
    assert adapter.remove_codes(woo_settings, sessions, store_id, []).results == ()
    assert standin.requests_seen == []


def test_the_adapter_has_no_start_dates():
    assert adapter.supports_start_date is False
