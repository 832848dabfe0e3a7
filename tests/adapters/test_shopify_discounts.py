"""Promo codes in a Shopify shop, in bulk (adapters/shopify/discounts/).

The first part fakes Shopify's GraphQL endpoint with `responses`, one scripted answer per
operation, to pin down exactly what is sent and how each answer is read. The second part runs
against the stand-in Shopify (a real local HTTP server keeping codes unique across the shop) for
whole batches: call counts, collisions, adoption on a second run, removal. The database is real.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from adapters.shopify import adapter
from adapters.shopify.discounts import create_codes, remove_codes
from adapters.shopify.discounts.bulk import CHUNK, POLL_BUDGET
from adapters.shopify.discounts.terms import discount_title
from standins.shopify.store import StandinShopify
from connector.campaigns import directory
from connector.db import transaction
from connector.errors import PlatformAuthError, PlatformError
from connector.core.platform import (FIXED_AMOUNT, PERCENTAGE, CodeRemoval, CodeRequest, DiscountTerms,
                                discount_group_key)

from ..conftest import SHOP, SHOPIFY_SECRET

GRAPHQL_URL = f"https://{SHOP}/admin/api/2026-10/graphql.json"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
PCT15 = DiscountTerms(PERCENTAGE, Decimal("15"))
EUR10 = DiscountTerms(FIXED_AMOUNT, Decimal("10.50"), ends_at=datetime(2026, 12, 31, tzinfo=timezone.utc),
                      usage_limit=100, once_per_customer=True)
PREFIX = "Influencer Connector · "


def request(n: int, code: str, campaign: str | None = "spring-26", terms: DiscountTerms = PCT15) -> CodeRequest:
    return CodeRequest(influencer_id=n, tracking_id=f"t{n}", campaign_id=campaign, code=code, terms=terms)


class Sleeps(list):
    """Waits asked for, not slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class FakeShopify:
    """Shopify's GraphQL endpoint as `responses` plays it: a handler per operation name, every request kept."""

    def __init__(self, **handlers):
        self.handlers, self.seen = handlers, []
        responses.add_callback(responses.POST, GRAPHQL_URL, callback=self)

    def __call__(self, request):
        body = json.loads(request.body)
        name = re.search(r"^(?:query|mutation)\s+(\w+)", body["query"], re.M).group(1)
        self.seen.append((name, body["variables"]))
        answer = self.handlers[name](body["variables"])
        return answer if isinstance(answer, tuple) else (200, {}, json.dumps(answer))

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]

    def sent(self, name: str) -> list[dict]:
        return [variables for seen, variables in self.seen if seen == name]


class Script:
    """A shop that takes every code, finishes each bulk creation after `polls` reads, and refuses what it is told."""

    def __init__(self, polls: int = 1, taken: dict | None = None):
        self.polls, self.taken = polls, taken or {}  # lower-cased code → holder node (None: taken, not found)
        self.discounts = 0
        self.creations: dict[str, dict] = {}

    def handlers(self) -> dict:
        return {"DiscountCodeBasicCreate": self.create, "DiscountRedeemCodeBulkAdd": self.add,
                "DiscountRedeemCodeBulkCreations": self.status, "DiscountRedeemCodeBulkCreationCodes": self.read,
                "CodeDiscountNodesByCode": self.lookup}

    def create(self, variables):
        code = variables["discount"]["code"]
        if code.lower() in self.taken:
            return {"data": {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": [
                {"field": ["basicCodeDiscount", "code"], "code": "TAKEN", "message": "Code must be unique."}]}}}
        self.discounts += 1
        gid = f"gid://shopify/DiscountCodeNode/{self.discounts}"
        return {"data": {"discountCodeBasicCreate": {"userErrors": [], "codeDiscountNode": {"id": gid, "codeDiscount": {
            "title": variables["discount"]["title"],
            "codes": {"nodes": [{"id": f"gid://shopify/DiscountRedeemCode/{code}", "code": code}]}}}}}}

    def add(self, variables):
        gid = f"gid://shopify/DiscountRedeemCodeBulkCreation/{len(self.creations) + 1}"
        self.creations[gid] = {"codes": [c["code"] for c in variables["codes"]], "reads": 0}
        return {"data": {"discountRedeemCodeBulkAdd": {"userErrors": [], "bulkCreation": {
            "id": gid, "done": False, "codesCount": len(variables["codes"])}}}}

    def status(self, variables):
        nodes = []
        for gid in variables["ids"]:
            creation = self.creations[gid]
            creation["reads"] += 1
            nodes.append({"id": gid, "done": creation["reads"] > self.polls})
        return {"data": {"nodes": nodes}}

    def read(self, variables):
        nodes = []
        for code in self.creations[variables["id"]]["codes"]:
            if code.lower() in self.taken:
                nodes.append({"code": code, "discountRedeemCode": None, "errors": [
                    {"field": ["code"], "code": "TAKEN", "message": "Code must be unique."}]})
            else:
                nodes.append({"code": code, "errors": [],
                              "discountRedeemCode": {"id": f"gid://shopify/DiscountRedeemCode/{code}"}})
        return {"data": {"discountRedeemCodeBulkCreation": {"id": variables["id"], "done": True,
                                                             "codes": {"nodes": nodes}}}}

    def lookup(self, variables):
        return {"data": {alias: self.taken.get(code.lower()) for alias, code in variables.items()}}


def holder(discount: str, title: str, code: str) -> dict:
    return {"id": discount, "codeDiscount": {"title": title, "codes": {"nodes": [
        {"id": f"gid://shopify/DiscountRedeemCode/held-{code}", "code": code}]}}}


@pytest.fixture
def run(settings, sessions, store):
    """create_codes against the fake, with waits recorded rather than slept."""
    sleeps = Sleeps()

    def create(requests_, discounts=None, **overrides):
        return create_codes(settings.with_overrides(**overrides), sessions, store.id, requests_, discounts or {},
                            sleep=sleeps, clock=lambda: NOW)

    create.sleeps = sleeps
    return create


# --- grouping and batching -----------------------------------------------------------------------


@responses.activate
def test_600_codes_of_one_group_are_one_create_and_three_bulk_adds(run):
    script = Script()
    fake = FakeShopify(**script.handlers())
    wanted = [request(n, f"CODE{n:03d}") for n in range(600)]
    batch = run(wanted)

    assert fake.names() == (["DiscountCodeBasicCreate"] + ["DiscountRedeemCodeBulkAdd"] * 3
                            + ["DiscountRedeemCodeBulkCreations"] * 2 + ["DiscountRedeemCodeBulkCreationCodes"] * 3)
    assert batch.calls == len(fake.seen) == 9
    adds = fake.sent("DiscountRedeemCodeBulkAdd")
    assert [len(a["codes"]) for a in adds] == [250, 250, 99] and all(len(a["codes"]) <= CHUNK for a in adds)
    assert {a["discountId"] for a in adds} == {"gid://shopify/DiscountCodeNode/1"}
    assert [c["code"] for a in adds for c in a["codes"]] == [f"CODE{n:03d}" for n in range(1, 600)]
    # One status poll covers all three bulk creations.
    assert all(len(s["ids"]) == 3 for s in fake.sent("DiscountRedeemCodeBulkCreations"))
    assert [r.status for r in batch.results] == ["active"] * 600
    assert [r.influencer_id for r in batch.results] == list(range(600))
    assert batch.results[0].remote_id == "gid://shopify/DiscountRedeemCode/CODE000"
    assert batch.results[599].remote_id == "gid://shopify/DiscountRedeemCode/CODE599"
    assert {r.discount_id for r in batch.results} == {"gid://shopify/DiscountCodeNode/1"}
    assert batch.discounts == {discount_group_key("spring-26", PCT15): "gid://shopify/DiscountCodeNode/1"}


@responses.activate
def test_the_discount_is_made_for_everyone_with_the_terms_and_context_not_customer_selection(run):
    script = Script()
    fake = FakeShopify(**script.handlers())
    run([request(1, "ALICE15"), request(2, "CAROL10", campaign=None, terms=EUR10)])
    first, second = (v["discount"] for v in fake.sent("DiscountCodeBasicCreate"))
    assert first == {
        "title": f"{PREFIX}spring-26 · 15% off", "code": "ALICE15", "startsAt": "2026-11-23T12:00:00Z",
        "endsAt": None, "usageLimit": None, "appliesOncePerCustomer": False, "context": {"all": "ALL"},
        "customerGets": {"value": {"percentage": 0.15}, "items": {"all": True}},
    }
    assert "customerSelection" not in first
    assert second["title"] == f"{PREFIX}influencers · 10.5 off, until 2026-12-31T00:00:00Z, 100 uses, once per customer"
    assert second["customerGets"]["value"] == {"discountAmount": {"amount": "10.50", "appliesOnEachItem": False}}
    assert (second["endsAt"], second["usageLimit"], second["appliesOncePerCustomer"]) == (
        "2026-12-31T00:00:00Z", 100, True)
    # Groups of one code need no bulk creation at all.
    assert fake.names() == ["DiscountCodeBasicCreate"] * 2


@responses.activate
def test_influencers_share_a_discount_per_campaign_and_terms_and_a_known_one_is_reused(run):
    script = Script()
    fake = FakeShopify(**script.handlers())
    known = {discount_group_key("autumn-26", PCT15): "gid://shopify/DiscountCodeNode/77"}
    batch = run([request(1, "A1"), request(2, "A2"), request(3, "B1", campaign="spring-27"),
                 request(4, "C1", terms=EUR10), request(5, "K1", campaign="autumn-26"),
                 request(6, "K2", campaign="autumn-26")], known)
    made = fake.sent("DiscountCodeBasicCreate")
    assert [m["discount"]["code"] for m in made] == ["A1", "B1", "C1"]
    adds = {a["discountId"]: [c["code"] for c in a["codes"]] for a in fake.sent("DiscountRedeemCodeBulkAdd")}
    assert adds == {"gid://shopify/DiscountCodeNode/1": ["A2"], "gid://shopify/DiscountCodeNode/77": ["K1", "K2"]}
    assert [r.discount_id for r in batch.results] == [
        "gid://shopify/DiscountCodeNode/1", "gid://shopify/DiscountCodeNode/1", "gid://shopify/DiscountCodeNode/2",
        "gid://shopify/DiscountCodeNode/3", "gid://shopify/DiscountCodeNode/77", "gid://shopify/DiscountCodeNode/77"]
    assert len(batch.discounts) == 3 and discount_group_key("autumn-26", PCT15) not in batch.discounts


@responses.activate
def test_a_code_asked_for_twice_in_one_batch_is_made_once(run):
    FakeShopify(**Script().handlers())
    batch = run([request(1, "SAME"), request(2, "same")])
    assert batch.results[0].status == "active"
    assert batch.results[1].status == "failed" and not batch.results[1].retryable and "twice" in batch.results[1].error


# --- polling ---------------------------------------------------------------------------------------


@responses.activate
def test_bulk_creations_are_polled_with_backoff_until_done(run):
    fake = FakeShopify(**Script(polls=3).handlers())
    batch = run([request(n, f"C{n}") for n in range(3)])
    assert fake.names().count("DiscountRedeemCodeBulkCreations") == 4
    assert run.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert [r.status for r in batch.results] == ["active"] * 3


@responses.activate
def test_a_bulk_creation_that_never_finishes_gives_retryable_failures_after_a_bounded_wait(run):
    fake = FakeShopify(**Script(polls=10**6).handlers())
    batch = run([request(n, f"C{n}") for n in range(3)])
    assert POLL_BUDGET <= sum(run.sleeps) < POLL_BUDGET + 10 and max(run.sleeps) <= 10
    assert fake.names().count("DiscountRedeemCodeBulkCreations") == len(run.sleeps) < 25
    assert batch.results[0].status == "active"  # made with the discount, no bulk creation
    assert [(r.status, r.retryable) for r in batch.results[1:]] == [("failed", True)] * 2
    assert "not finished" in batch.results[1].error


# --- collisions --------------------------------------------------------------------------------------


@responses.activate
def test_a_taken_code_in_one_of_our_discounts_is_adopted_whatever_its_case(run):
    taken = {"bob": holder("gid://shopify/DiscountCodeNode/9", f"{PREFIX}old-campaign · 5% off", "bob")}
    fake = FakeShopify(**Script(taken=taken).handlers())
    batch = run([request(1, "ALICE"), request(2, "BOB")])
    (lookup,) = fake.sent("CodeDiscountNodesByCode")
    assert lookup["c0"] == "bob" and len(lookup) == 25
    bob = batch.results[1]
    assert (bob.status, bob.adopted, bob.code, bob.discount_id, bob.remote_id) == (
        "active", True, "bob", "gid://shopify/DiscountCodeNode/9", "gid://shopify/DiscountRedeemCode/held-bob")
    assert fake.names().count("DiscountRedeemCodeBulkAdd") == 1  # nothing more is made for an adopted code


@responses.activate
def test_a_taken_code_in_a_discount_we_made_is_adopted_whatever_its_title(run):
    mine = "gid://shopify/DiscountCodeNode/5"
    taken = {"bob": holder(mine, "Renamed by the merchant", "BOB")}
    FakeShopify(**Script(taken=taken).handlers())
    batch = run([request(1, "ALICE"), request(2, "BOB", campaign="autumn-26")],
                {discount_group_key("autumn-26", PCT15): mine})
    assert batch.results[1].adopted and batch.results[1].discount_id == mine


@responses.activate
def test_someone_elses_code_gets_the_first_free_suffix_in_one_round_for_all(run):
    foreign = lambda code: holder("gid://shopify/DiscountCodeNode/900", "Black Friday", code)  # noqa: E731
    taken = {"carol": foreign("CAROL"), "dan": foreign("DAN"), "dan-3": None}
    fake = FakeShopify(**Script(taken=taken).handlers())
    batch = run([request(1, "ALICE"), request(2, "CAROL"), request(3, "DAN"), request(4, "DAN-2")])
    adds = [[c["code"] for c in a["codes"]] for a in fake.sent("DiscountRedeemCodeBulkAdd")]
    # DAN-2 is another influencer's code in this batch; DAN-3 is taken too: DAN ends as DAN-4.
    assert adds == [["CAROL", "DAN", "DAN-2"], ["CAROL-2", "DAN-3"], ["DAN-4"]]
    assert [(r.status, r.code) for r in batch.results] == [
        ("active", "ALICE"), ("active", "CAROL-2"), ("active", "DAN-4"), ("active", "DAN-2")]
    assert not any(r.adopted for r in batch.results)
    assert fake.names().count("CodeDiscountNodesByCode") == 1  # suffixed codes are never adopted, so never looked up


@responses.activate
def test_refuse_policy_fails_someone_elses_code_for_good(run):
    taken = {"carol": holder("gid://shopify/DiscountCodeNode/900", "Black Friday", "CAROL")}
    fake = FakeShopify(**Script(taken=taken).handlers())
    batch = run([request(1, "ALICE"), request(2, "CAROL")], code_collision="refuse")
    carol = batch.results[1]
    assert (carol.status, carol.retryable, carol.code) == ("failed", False, "CAROL")
    assert "another discount" in carol.error and "refuse" in carol.error
    assert fake.names().count("DiscountRedeemCodeBulkAdd") == 1


@responses.activate
def test_when_every_suffix_is_taken_the_code_fails(run):
    taken = {"carol": holder("gid://shopify/DiscountCodeNode/900", "Black Friday", "CAROL")}
    taken.update({f"carol-{n}": None for n in range(2, 10)})
    fake = FakeShopify(**Script(taken=taken).handlers())
    batch = run([request(1, "ALICE"), request(2, "CAROL")])
    assert fake.names().count("DiscountRedeemCodeBulkAdd") == 9
    assert batch.results[1].status == "failed" and "CAROL-2 … -9 are all taken" in batch.results[1].error


@responses.activate
def test_a_taken_first_code_is_looked_up_and_the_next_code_makes_the_discount(run):
    taken = {"alice": holder("gid://shopify/DiscountCodeNode/900", "Black Friday", "ALICE")}
    fake = FakeShopify(**Script(taken=taken).handlers())
    batch = run([request(1, "ALICE"), request(2, "BOB"), request(3, "CAROL")])
    assert [v["discount"]["code"] for v in fake.sent("DiscountCodeBasicCreate")] == ["ALICE", "BOB"]
    assert [[c["code"] for c in a["codes"]] for a in fake.sent("DiscountRedeemCodeBulkAdd")] == [["CAROL"], ["ALICE-2"]]
    assert [r.code for r in batch.results] == ["ALICE-2", "BOB", "CAROL"]
    assert fake.names().count("CodeDiscountNodesByCode") == 1


@responses.activate
def test_a_discount_of_this_group_left_by_an_unfinished_run_is_taken_over_not_made_twice(run):
    title = f"{PREFIX}spring-26 · 15% off"
    taken = {"alice": holder("gid://shopify/DiscountCodeNode/42", title, "ALICE")}
    fake = FakeShopify(**Script(taken=taken).handlers())
    batch = run([request(1, "ALICE"), request(2, "BOB")])
    assert len(fake.sent("DiscountCodeBasicCreate")) == 1
    assert fake.sent("DiscountRedeemCodeBulkAdd")[0]["discountId"] == "gid://shopify/DiscountCodeNode/42"
    assert batch.results[0].adopted and batch.discounts == {discount_group_key("spring-26", PCT15):
                                                            "gid://shopify/DiscountCodeNode/42"}


@responses.activate
def test_terms_shopify_refuses_fail_the_whole_group_without_retry(run):
    def refuse(_variables):
        return {"data": {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": [
            {"field": ["basicCodeDiscount", "endsAt"], "code": "END_DATE_BEFORE_START_DATE",
             "message": "Ends at needs to be after starts_at"}]}}}

    fake = FakeShopify(DiscountCodeBasicCreate=refuse)
    batch = run([request(1, "ALICE"), request(2, "BOB")])
    assert fake.names() == ["DiscountCodeBasicCreate"]
    assert [(r.status, r.retryable) for r in batch.results] == [("failed", False)] * 2
    assert "Ends at needs to be after starts_at" in batch.results[0].error


@responses.activate
def test_a_code_shopify_refuses_for_itself_fails_without_retry(run):
    script = Script()

    def read(variables):
        answer = script.read(variables)
        node = answer["data"]["discountRedeemCodeBulkCreation"]["codes"]["nodes"][0]
        node.update(discountRedeemCode=None,
                    errors=[{"field": ["code"], "code": "TOO_LONG", "message": "Code is too long"}])
        return answer

    FakeShopify(**{**script.handlers(), "DiscountRedeemCodeBulkCreationCodes": read})
    batch = run([request(1, "ALICE"), request(2, "BOB")])
    assert (batch.results[1].status, batch.results[1].retryable) == ("failed", False)
    assert "Code is too long" in batch.results[1].error


@responses.activate
def test_a_known_discount_deleted_in_the_admin_is_made_again(run):
    script = Script()

    def add(variables):
        if variables["discountId"] == "gid://shopify/DiscountCodeNode/77":
            return {"data": {"discountRedeemCodeBulkAdd": {"bulkCreation": None, "userErrors": [
                {"field": ["discountId"], "code": "INVALID", "message": "Code discount does not exist."}]}}}
        return script.add(variables)

    fake = FakeShopify(**{**script.handlers(), "DiscountRedeemCodeBulkAdd": add})
    key = discount_group_key("spring-26", PCT15)
    batch = run([request(1, "ALICE"), request(2, "BOB")], {key: "gid://shopify/DiscountCodeNode/77"})
    assert fake.names()[:3] == ["DiscountRedeemCodeBulkAdd", "DiscountCodeBasicCreate", "DiscountRedeemCodeBulkAdd"]
    assert batch.discounts == {key: "gid://shopify/DiscountCodeNode/1"}
    assert [(r.status, r.discount_id) for r in batch.results] == [("active", "gid://shopify/DiscountCodeNode/1")] * 2


# --- throttling and outages ---------------------------------------------------------------------


def throttled_answer(status: int = 200, headers: dict | None = None):
    body = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": None, "throttleStatus": {
                "maximumAvailable": 2000.0, "currentlyAvailable": 5.0, "restoreRate": 100.0}}}}
    return status, headers or {}, json.dumps(body)


def flaky(handler, *failures):
    """The handler's answers after the given failures, one per call."""
    queue = list(failures)
    return lambda variables: queue.pop(0) if queue else handler(variables)


@responses.activate
def test_throttled_then_answered(run):
    script = Script()
    fake = FakeShopify(**{**script.handlers(), "DiscountCodeBasicCreate": flaky(script.create, throttled_answer())})
    batch = run([request(1, "ALICE")])
    assert batch.results[0].status == "active" and batch.calls == 2 == len(fake.seen)
    assert run.sleeps == [0.5]  # (10 − 5) points at 100 a second, never less than half a second


@responses.activate
def test_429_waits_its_retry_after_then_answered(run):
    script = Script()
    fake = FakeShopify(**{**script.handlers(),
                          "DiscountCodeBasicCreate": flaky(script.create, (429, {"Retry-After": "2.0"}, "{}"))})
    batch = run([request(1, "ALICE")])
    assert batch.results[0].status == "active" and batch.calls == 2 == len(fake.seen)
    assert run.sleeps == [2.0]


@responses.activate
def test_5xx_is_retried_with_backoff_then_a_platform_error_when_nothing_was_done(run):
    fake = FakeShopify(DiscountCodeBasicCreate=lambda _v: (503, {}, "Service Unavailable"))
    with pytest.raises(PlatformError, match="503"):
        run([request(1, "ALICE")])
    assert len(fake.seen) == 4 and run.sleeps == [2.0, 4.0, 8.0]


@responses.activate
def test_an_outage_part_way_keeps_what_was_made_and_leaves_the_rest_to_retry(run):
    script = Script()
    FakeShopify(**{**script.handlers(), "DiscountRedeemCodeBulkAdd": lambda _v: (502, {}, "Bad Gateway")})
    batch = run([request(1, "ALICE"), request(2, "BOB")])
    assert batch.results[0].status == "active"
    assert (batch.results[1].status, batch.results[1].retryable) == ("failed", True)
    assert batch.discounts == {discount_group_key("spring-26", PCT15): "gid://shopify/DiscountCodeNode/1"}
    assert batch.calls == 5


@responses.activate
def test_refused_credentials_raise_platform_auth_error(run):
    FakeShopify(DiscountCodeBasicCreate=lambda _v: (403, {}, "{}"))
    with pytest.raises(PlatformAuthError):
        run([request(1, "ALICE")])


@responses.activate
def test_an_unreachable_shop_is_a_platform_error(run):
    responses.add(responses.POST, GRAPHQL_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(PlatformError, match="ConnectionError"):
        run([request(1, "ALICE")])


# --- removal -----------------------------------------------------------------------------------------


def deleted(variables):
    return {"data": {"discountCodeRedeemCodeBulkDelete": {"job": {"id": "gid://shopify/Job/1", "done": False},
                                                          "userErrors": []}}}


@responses.activate
def test_removal_deletes_codes_grouped_by_their_discount(settings, sessions, store):
    fake = FakeShopify(DiscountCodeRedeemCodeBulkDelete=deleted)
    removals = [CodeRemoval(1, "A", "gid://shopify/DiscountRedeemCode/1", "gid://shopify/DiscountCodeNode/1"),
                CodeRemoval(2, "B", "gid://shopify/DiscountRedeemCode/2", "gid://shopify/DiscountCodeNode/2"),
                CodeRemoval(3, "C", "gid://shopify/DiscountRedeemCode/3", "gid://shopify/DiscountCodeNode/1")]
    batch = remove_codes(settings, sessions, store.id, removals)
    assert fake.sent("DiscountCodeRedeemCodeBulkDelete") == [
        {"discountId": "gid://shopify/DiscountCodeNode/1",
         "ids": ["gid://shopify/DiscountRedeemCode/1", "gid://shopify/DiscountRedeemCode/3"]},
        {"discountId": "gid://shopify/DiscountCodeNode/2", "ids": ["gid://shopify/DiscountRedeemCode/2"]}]
    assert [(r.influencer_id, r.status) for r in batch.results] == [(1, "removed"), (2, "removed"), (3, "removed")]
    assert batch.calls == 2


@responses.activate
def test_removal_looks_up_codes_it_has_no_ids_for_and_leaves_others_codes_alone(settings, sessions, store):
    held = {"mine": holder("gid://shopify/DiscountCodeNode/3", f"{PREFIX}spring-26 · 15% off", "MINE"),
            "theirs": holder("gid://shopify/DiscountCodeNode/900", "Black Friday", "THEIRS")}
    fake = FakeShopify(DiscountCodeRedeemCodeBulkDelete=deleted,
                       CodeDiscountNodesByCode=lambda v: {"data": {a: held.get(c) for a, c in v.items()}})
    batch = remove_codes(settings, sessions, store.id, [CodeRemoval(1, "MINE", None, None),
                                                        CodeRemoval(2, "GONE", None, None),
                                                        CodeRemoval(3, "THEIRS", None, None)])
    assert fake.sent("DiscountCodeRedeemCodeBulkDelete") == [
        {"discountId": "gid://shopify/DiscountCodeNode/3", "ids": ["gid://shopify/DiscountRedeemCode/held-MINE"]}]
    assert [r.status for r in batch.results] == ["removed"] * 3
    assert fake.names() == ["CodeDiscountNodesByCode", "DiscountCodeRedeemCodeBulkDelete"]


@responses.activate
def test_removal_from_a_discount_already_gone_counts_as_removed(settings, sessions, store):
    gone = {"data": {"discountCodeRedeemCodeBulkDelete": {"job": None, "userErrors": [
        {"field": ["discountId"], "code": "INVALID", "message": "Code discount does not exist."}]}}}
    FakeShopify(DiscountCodeRedeemCodeBulkDelete=lambda _v: gone)
    batch = remove_codes(settings, sessions, store.id, [CodeRemoval(1, "A", "gid://r/1", "gid://d/1")])
    assert batch.results[0].status == "removed"


# --- against the stand-in Shopify ----------------------------------------------------------------------

API_KEY = "discounts-api-key"
STANDIN_SHOP = "code-shop.myshopify.com"


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        yield standin


def grant(standin: StandinShopify, shop: str, scope: str) -> str:
    """A lasting access token from the stand-in's code grant, as a custom app holds."""
    base = standin.admin_url.format(shop=shop)
    location = requests.get(f"{base}/admin/oauth/authorize", allow_redirects=False, timeout=5, params={
        "client_id": API_KEY, "scope": scope, "redirect_uri": "https://connector.example/shopify/callback"},
    ).headers["Location"]
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    answer = requests.post(f"{base}/admin/oauth/access_token", timeout=5,
                           json={"client_id": API_KEY, "client_secret": SHOPIFY_SECRET, "code": code})
    return answer.json()["access_token"]


@pytest.fixture
def shop(settings, sessions, shopify):
    """(settings, store id) of a store at the stand-in."""
    token = grant(shopify, STANDIN_SHOP, "read_orders,write_discounts")
    with transaction(sessions) as session:
        store_id = directory.add_store(session, settings.secret_key, "shopify", STANDIN_SHOP, access_token=token).id
    return settings.with_overrides(shopify_api_key=API_KEY, shopify_admin_url=shopify.admin_url), store_id


def quick(shop_, sessions, wanted, discounts=None):
    shop_settings, store_id = shop_
    return create_codes(shop_settings, sessions, store_id, wanted, discounts or {}, sleep=lambda _s: None)


@pytest.mark.parametrize("count, groups, calls", [
    (10, 1, 5), (1000, 1, 11), (10000, 1, 83), (10, 3, 11), (1000, 3, 17), (10000, 3, 89),
])
def test_call_counts_at_the_standin(shop, sessions, shopify, count, groups, calls):
    """1 create per group + ceil(codes / 250) bulk adds + 2 polls for all + 1 read per bulk add."""
    terms = [DiscountTerms(PERCENTAGE, Decimal(10 + g)) for g in range(groups)]
    batch = quick(shop, sessions, [request(n, f"CODE{n:05d}", terms=terms[n % groups]) for n in range(count)])
    assert batch.calls == calls == sum(shopify.graphql_counts(STANDIN_SHOP).values())
    assert {r.status for r in batch.results} == {"active"} and len(shopify.codes(STANDIN_SHOP)) == count
    assert len(shopify.discounts(STANDIN_SHOP)) == groups == len(batch.discounts)


def test_a_second_run_adopts_what_the_first_made_and_makes_nothing_new(shop, sessions, shopify):
    shopify.add_foreign_code(STANDIN_SHOP, "carol10")
    wanted = [request(1, "ALICE15"), request(2, "BOB15"), request(3, "CAROL10")]
    first = quick(shop, sessions, wanted)
    assert [(r.status, r.code, r.adopted) for r in first.results] == [
        ("active", "ALICE15", False), ("active", "BOB15", False), ("active", "CAROL10-2", False)]
    codes = shopify.codes(STANDIN_SHOP)
    assert codes["carol10-2"]["discount_id"] == first.results[0].discount_id and codes["alice15"]["active"]
    assert codes["bob15"]["id"] == first.results[1].remote_id

    # The connector lost the results (a crash before they were recorded): the same batch again.
    again = quick(shop, sessions, wanted[:2])
    assert [(r.status, r.adopted, r.remote_id) for r in again.results] == [
        ("active", True, first.results[0].remote_id), ("active", True, first.results[1].remote_id)]
    assert again.discounts == first.discounts  # the group's discount, found by its title
    assert len(shopify.discounts(STANDIN_SHOP)) == 2 and len(shopify.codes(STANDIN_SHOP)) == 4


def test_removal_at_the_standin_takes_the_codes_and_leaves_the_discount(shop, sessions, shopify):
    made = quick(shop, sessions, [request(n, f"CODE{n}") for n in range(4)])
    shop_settings, store_id = shop
    removals = [CodeRemoval(r.influencer_id, r.code, r.remote_id, r.discount_id) for r in made.results[:2]]
    removals.append(CodeRemoval(3, "CODE3", None, None))  # ids unknown: looked up
    removals.append(CodeRemoval(9, "NEVER-MADE", None, None))
    batch = remove_codes(shop_settings, sessions, store_id, removals)
    assert [r.status for r in batch.results] == ["removed"] * 4
    assert sorted(shopify.codes(STANDIN_SHOP)) == ["code2"]
    (discount,) = shopify.discounts(STANDIN_SHOP).values()
    assert discount["codes"] == ["CODE2"] and discount["title"] == discount_title(shop_settings, request(0, "X"))


def test_the_adapter_offers_codes_with_start_dates(shop, sessions, shopify):
    shop_settings, store_id = shop
    starts = DiscountTerms(PERCENTAGE, Decimal("20"), starts_at=datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert adapter.supports_start_date
    batch = adapter.create_codes(shop_settings, sessions, store_id, [request(1, "LATER", terms=starts)], {})
    assert batch.results[0].status == "active"
    assert shopify.codes(STANDIN_SHOP)["later"]["active"] is False  # scheduled, not yet usable
    (discount,) = shopify.discounts(STANDIN_SHOP).values()
    assert discount["startsAt"] == "2030-01-01T00:00:00Z"


def test_the_workers_code_sync_records_what_the_shop_made_replaces_and_removes(shop, sessions, shopify):
    """The core's connector.campaigns.codes.sync_codes through this adapter, end to end at the stand-in."""
    from sqlalchemy import select

    from connector.campaigns.influencers import InfluencerSpec, find_influencer, remove_influencer, upsert_influencer
    from connector.campaigns.codes import sync_codes
    from connector.models import Discount, Influencer, Store

    shop_settings, store_id = shop
    shopify.add_foreign_code(STANDIN_SHOP, "CAROL10")

    def put(tracking_id: str, code: str, terms: DiscountTerms = PCT15) -> None:
        with transaction(sessions) as session:
            upsert_influencer(session, session.get(Store, store_id),
                              InfluencerSpec(tracking_id, "spring-26", promo_code=code, discount=terms), NOW)

    def row(tracking_id: str) -> Influencer:
        with sessions() as session:
            return find_influencer(session, session.get(Store, store_id), tracking_id)

    for tracking_id, code in (("alice", "ALICE15"), ("bob", "BOB15"), ("carol", "CAROL10")):
        put(tracking_id, code)
    tally = sync_codes(shop_settings, sessions, store_id, NOW)
    assert (tally.created, tally.failed) == (3, 0)
    carol = row("carol")
    assert (carol.code_status, carol.promo_code, carol.requested_code) == ("active", "CAROL10-2", "CAROL10")
    assert carol.code_remote_id == shopify.codes(STANDIN_SHOP)["carol10-2"]["id"]
    with sessions() as session:
        (discount,) = session.scalars(select(Discount).where(Discount.store_id == store_id))
    assert discount.remote_id == carol.code_discount_id

    put("alice", "ALICE20")  # a new code: the old one goes, then the new one is made, in one turn
    replaced = sync_codes(shop_settings, sessions, store_id, NOW)
    assert (replaced.removed, replaced.created) == (1, 1)
    assert row("alice").code_status == "active" and "alice15" not in shopify.codes(STANDIN_SHOP)
    assert shopify.codes(STANDIN_SHOP)["alice20"]["discount_id"] == discount.remote_id

    with transaction(sessions) as session:
        remove_influencer(session, session.get(Store, store_id), find_influencer(session, session.get(Store, store_id),
                                                                                 "bob"), NOW)
    assert sync_codes(shop_settings, sessions, store_id, NOW).removed == 1
    assert "bob15" not in shopify.codes(STANDIN_SHOP) and row("bob").code_status == "removed"
    assert sorted(shopify.codes(STANDIN_SHOP)) == ["alice20", "carol10", "carol10-2"]


def test_codes_with_a_usage_limit_get_a_discount_each_because_shopify_counts_the_limit_per_discount(
        shop, sessions, shopify):
    """EUR10 allows 100 uses: shared, two influencers would share those 100; apart, each has their own."""
    batch = quick(shop, sessions, [request(1, "LIMITED1", terms=EUR10), request(2, "LIMITED2", terms=EUR10),
                                   request(3, "OPEN3"), request(4, "OPEN4")])
    assert [r.status for r in batch.results] == ["active"] * 4
    discount_of = {code: c["discount_id"] for code, c in shopify.codes(STANDIN_SHOP).items()}
    assert discount_of["limited1"] != discount_of["limited2"]
    assert discount_of["open3"] == discount_of["open4"]
    assert all(d["usageLimit"] == 100 for gid, d in shopify.discounts(STANDIN_SHOP).items()
               if gid in (discount_of["limited1"], discount_of["limited2"]))
