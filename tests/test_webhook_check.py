"""The worker's daily webhook check, through Worker.maintain on a real database: what is missing, disabled or
pointing elsewhere is mended and counted; nothing but the list is read when all is well; not before a day; a store
that cannot be read now is tried after the lease; refused credentials need re-authorisation. Shopify and
WooCommerce are faked with `responses`."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from prometheus_client.parser import text_string_to_metric_families

from adapters.shopify.remote import TOPICS as SHOPIFY_TOPICS
from adapters.woocommerce.rest_api import NAME_PREFIX, TOPICS as WOO_TOPICS
from connector.campaigns import directory
from connector.db import transaction
from connector.models import Store
from connector.worker import Worker

from .helpers import session_token
from .test_metrics import scrape

SHOP = "check-shop.myshopify.com"
GRAPHQL = f"https://{SHOP}/admin/api/2026-10/graphql.json"
PUBLIC = "https://connector.example"
SHOPIFY_URI = f"{PUBLIC}/webhooks/shopify"
WOO = "https://shop.example"
WOO_API = f"{WOO}/wp-json/wc/v3"
WOO_URL = f"{PUBLIC}/webhooks/woocommerce"
WOO_SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef"
OPERATION = re.compile(r"(?:query|mutation)\s+(\w+)")


@pytest.fixture
def check_settings(settings):
    return settings.with_overrides(public_url=PUBLIC, woocommerce_allow_private=True)


@pytest.fixture
def clock():
    return [datetime.now(timezone.utc)]


@pytest.fixture
def worker(check_settings, sessions, clock):
    return Worker(check_settings, sessions, clock=lambda: clock[0])


def _set_up(sessions, store_id: int, now: datetime, *, setup_ago: timedelta = timedelta(hours=25)) -> None:
    """Set up a while ago (so the check is due) and reconciled just now (so only the check is)."""
    with transaction(sessions) as session:
        store = session.get(Store, store_id)
        store.setup_at, store.reconciled_at, store.setup_pending = now - setup_ago, now, False


def _load(sessions, store_id: int) -> Store:
    with sessions() as session:
        return session.get(Store, store_id)


class FakeShop:
    """The app's subscriptions in one shop, answering the checked-in documents the check sends."""

    def __init__(self, mocked, topics=SHOPIFY_TOPICS, uri=SHOPIFY_URI):
        self.subscriptions = [{"id": f"gid://shopify/WebhookSubscription/{n}", "topic": topic, "uri": uri,
                               "format": "JSON"} for n, topic in enumerate(topics, 1)]
        self.sent: list[tuple[str, dict]] = []
        #: what a create answers instead of creating, as Shopify refuses a topic
        self.refusal: str | None = None
        mocked.add_callback(responses.POST, GRAPHQL, callback=self.answer)

    def answer(self, request):
        body = json.loads(request.body)
        name, variables = OPERATION.search(body["query"]).group(1), body["variables"]
        self.sent.append((name, variables))
        if name == "WebhookSubscriptions":
            data = {"webhookSubscriptions": {"nodes": self.subscriptions,
                                             "pageInfo": {"hasNextPage": False, "endCursor": None}}}
        elif name == "WebhookSubscriptionCreate":
            data = {"webhookSubscriptionCreate": self._create(variables)}
        elif name == "WebhookSubscriptionUpdate":
            found = next(s for s in self.subscriptions if s["id"] == variables["id"])
            found["uri"] = variables["subscription"]["uri"]
            data = {"webhookSubscriptionUpdate": {"webhookSubscription": found, "userErrors": []}}
        else:
            data = {"orders": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}
        return 200, {}, json.dumps({"data": data})

    def _create(self, variables: dict) -> dict:
        if self.refusal:
            return {"webhookSubscription": None, "userErrors": [{"field": ["webhookSubscription"],
                                                                 "message": self.refusal}]}
        made = {"id": f"gid://shopify/WebhookSubscription/{100 + len(self.subscriptions)}",
                "topic": variables["topic"], "uri": variables["subscription"]["uri"], "format": "JSON"}
        self.subscriptions.append(made)
        return {"webhookSubscription": made, "userErrors": []}

    def mutations(self) -> list[tuple[str, dict]]:
        return [(name, variables) for name, variables in self.sent if name != "WebhookSubscriptions"]


@pytest.fixture
def shop_id(sessions, check_settings, clock) -> int:
    with transaction(sessions) as session:
        store_id = directory.add_store(session, check_settings.secret_key, "shopify", SHOP,
                                       access_token="shpat_custom").id
    _set_up(sessions, store_id, clock[0])
    return store_id


def test_a_deleted_shopify_subscription_is_created_again_and_counted(worker, sessions, shop_id, clock, caplog):
    with responses.RequestsMock() as mocked, caplog.at_level(logging.INFO, logger="connector.installs"):
        shop = FakeShop(mocked, [t for t in SHOPIFY_TOPICS if t != "ORDERS_PAID"])
        assert worker.maintain() == 1
    assert shop.mutations() == [("WebhookSubscriptionCreate", {
        "topic": "ORDERS_PAID", "subscription": {"uri": SHOPIFY_URI, "format": "JSON"}})]
    store = _load(sessions, shop_id)
    assert (store.webhooks_repaired, store.webhooks_repaired_at, store.webhooks_checked_at) == (1, clock[0], clock[0])
    assert store.webhooks_check_error is None and store.maintenance_lease_until is None
    assert f"store {shop_id}: webhook orders/paid was missing; created again" in caplog.messages


def test_a_shopify_subscription_pointing_elsewhere_is_pointed_back(worker, sessions, shop_id, caplog):
    with responses.RequestsMock() as mocked, caplog.at_level(logging.INFO, logger="connector.installs"):
        shop = FakeShop(mocked)
        moved = next(s for s in shop.subscriptions if s["topic"] == "REFUNDS_CREATE")
        moved["uri"] = "https://old-connector.example/webhooks/shopify"
        assert worker.maintain() == 1
    assert shop.mutations() == [("WebhookSubscriptionUpdate", {
        "id": moved["id"], "subscription": {"uri": SHOPIFY_URI, "format": "JSON"}})]
    assert {s["uri"] for s in shop.subscriptions} == {SHOPIFY_URI} and len(shop.subscriptions) == len(SHOPIFY_TOPICS)
    assert _load(sessions, shop_id).webhooks_repaired == 1
    assert (f"store {shop_id}: webhook refunds/create delivered to another address; pointed back here"
            in caplog.messages)


def test_nothing_but_the_list_is_read_when_all_is_well(worker, sessions, shop_id, clock):
    with responses.RequestsMock() as mocked:
        shop = FakeShop(mocked)
        assert worker.maintain() == 1
        assert len(mocked.calls) == 1
    assert [name for name, _ in shop.sent] == ["WebhookSubscriptions"]
    store = _load(sessions, shop_id)
    assert (store.webhooks_repaired, store.webhooks_repaired_at, store.webhooks_checked_at) == (0, None, clock[0])


def test_the_check_is_not_due_before_a_day_has_passed(worker, sessions, shop_id, clock):
    with transaction(sessions) as session:
        session.get(Store, shop_id).webhooks_checked_at = clock[0] - timedelta(hours=23)
    with responses.RequestsMock() as mocked:
        shop = FakeShop(mocked)
        assert worker.maintain() == 0 and shop.sent == []
        clock[0] += timedelta(hours=1, seconds=1)
        with transaction(sessions) as session:
            session.get(Store, shop_id).reconciled_at = clock[0]  # only the check is due
        assert worker.maintain() == 1 and [name for name, _ in shop.sent] == ["WebhookSubscriptions"]
    assert _load(sessions, shop_id).webhooks_checked_at == clock[0]


def test_a_store_set_up_less_than_a_day_ago_is_not_checked_yet(worker, sessions, shop_id, clock):
    _set_up(sessions, shop_id, clock[0], setup_ago=timedelta(hours=2))
    with responses.RequestsMock() as mocked:
        assert worker.maintain() == 0 and len(mocked.calls) == 0


def test_a_store_that_cannot_be_read_now_is_checked_again_after_the_lease(worker, sessions, shop_id, clock, caplog):
    with responses.RequestsMock() as mocked, caplog.at_level(logging.WARNING, logger="connector.worker"):
        mocked.add(responses.POST, GRAPHQL, status=503, headers={"Retry-After": "0"})
        assert worker.maintain() == 1
        store = _load(sessions, shop_id)
        assert store.webhooks_checked_at is None and store.maintenance_lease_until > clock[0]
        assert any("maintenance failed, will retry after the lease" in m for m in caplog.messages)
        assert worker.maintain() == 0  # it waits out the lease
        clock[0] += timedelta(minutes=10)
        mocked.remove(responses.POST, GRAPHQL)
        FakeShop(mocked)
        with transaction(sessions) as session:
            session.get(Store, shop_id).reconciled_at = clock[0]
        assert worker.maintain() == 1
    assert _load(sessions, shop_id).webhooks_checked_at == clock[0]


def test_a_refused_token_needs_reauthorisation(worker, sessions, shop_id):
    with responses.RequestsMock() as mocked:
        mocked.add(responses.POST, GRAPHQL, status=403)
        assert worker.maintain() == 1
    store = _load(sessions, shop_id)
    assert store.status == "needs_reauth" and "403" in store.status_reason and store.webhooks_checked_at is None


def test_a_repair_shopify_refuses_is_a_warning_shown_and_asked_again_tomorrow(worker, sessions, shop_id, clock,
                                                                              caplog):
    with responses.RequestsMock() as mocked, caplog.at_level(logging.INFO, logger="connector.installs"):
        shop = FakeShop(mocked, [t for t in SHOPIFY_TOPICS if t != "CUSTOMERS_CREATE"])
        shop.refusal = "This app is not approved to subscribe to webhook topics containing protected customer data."
        assert worker.maintain() == 1
    store = _load(sessions, shop_id)
    assert store.webhooks_repaired == 0 and store.webhooks_checked_at == clock[0]
    assert store.webhooks_check_error.startswith("customers/create is missing (Shopify refused: ")
    assert "protected customer data" in store.webhooks_check_error
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(
        f"store {shop_id}: webhook customers/create is missing and could not be mended, tried again tomorrow")


def test_a_repair_that_fails_for_now_is_tried_again_after_the_lease(worker, sessions, shop_id, clock):
    with responses.RequestsMock() as mocked:
        shop = FakeShop(mocked, [t for t in SHOPIFY_TOPICS if t != "ORDERS_CREATE"])
        # the list answers; every mutation meets an outage (AdminApi's retries included)
        original = shop.answer
        mocked.remove(responses.POST, GRAPHQL)
        mocked.add_callback(responses.POST, GRAPHQL, callback=lambda request: (
            (503, {"Retry-After": "0"}, "") if "mutation" in json.loads(request.body)["query"] else original(request)))
        assert worker.maintain() == 1
    store = _load(sessions, shop_id)
    assert store.webhooks_checked_at is None and store.maintenance_lease_until > clock[0]
    assert "orders/create is missing" in store.webhooks_check_error and store.webhooks_repaired == 0


# --- WooCommerce ---------------------------------------------------------------------------------


class FakeSite:
    """A WooCommerce store's /webhooks: list (paged, edit context), create, and PUT of one."""

    def __init__(self, mocked, hooks: list[dict]):
        self.hooks = hooks
        self.sent: list[tuple[str, str, dict | None]] = []
        mocked.add_callback(responses.GET, f"{WOO_API}/webhooks", callback=self.list)
        mocked.add_callback(responses.POST, f"{WOO_API}/webhooks", callback=self.create)
        mocked.add_callback(responses.PUT, re.compile(rf"{re.escape(WOO_API)}/webhooks/\d+"), callback=self.update)

    def list(self, request):
        params = parse_qs(urlsplit(request.url).query)
        assert params["context"] == ["edit"]
        self.sent.append(("GET", "webhooks", None))
        page, per_page = int(params["page"][0]), int(params["per_page"][0])
        return 200, {}, json.dumps(self.hooks[(page - 1) * per_page: page * per_page])

    def create(self, request):
        made = {**json.loads(request.body), "id": 1000 + len(self.hooks)}
        self.sent.append(("POST", "webhooks", json.loads(request.body)))
        self.hooks.append(made)
        return 201, {}, json.dumps(made)

    def update(self, request):
        hook_id = int(request.url.rsplit("/", 1)[1])
        self.sent.append(("PUT", f"webhooks/{hook_id}", json.loads(request.body)))
        target = next(h for h in self.hooks if h["id"] == hook_id)
        target.update(json.loads(request.body))
        return 200, {}, json.dumps(target)


def _hooks(**changes) -> list[dict]:
    """The four webhooks setup made, healthy; `changes` by topic (order_updated=…)."""
    return [{"id": n, "name": f"{NAME_PREFIX}: {topic}", "topic": topic, "delivery_url": WOO_URL, "secret": WOO_SECRET,
             "status": "active", **changes.get(topic.replace(".", "_"), {})} for n, topic in enumerate(WOO_TOPICS, 1)]


@pytest.fixture
def site_id(sessions, check_settings, clock) -> int:
    with transaction(sessions) as session:
        store_id = directory.add_store(session, check_settings.secret_key, "woocommerce", WOO,
                                       access_token="ck_key:cs_secret", webhook_secret=WOO_SECRET).id
    _set_up(sessions, store_id, clock[0])
    return store_id


def test_a_disabled_woocommerce_webhook_is_enabled_again_and_counted(worker, sessions, site_id, clock, caplog):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked, \
            caplog.at_level(logging.INFO, logger="connector.installs"):
        site = FakeSite(mocked, _hooks(order_updated={"status": "disabled"}))
        assert worker.maintain() == 1
    assert site.sent[1:] == [("PUT", "webhooks/2", {"secret": WOO_SECRET, "status": "active"})]
    assert all(h["status"] == "active" for h in site.hooks)
    store = _load(sessions, site_id)
    assert (store.webhooks_repaired, store.webhooks_repaired_at, store.webhooks_checked_at) == (1, clock[0], clock[0])
    assert f"store {site_id}: webhook order.updated was disabled; enabled again" in caplog.messages


def test_woocommerce_webhooks_paused_elsewhere_or_missing_are_all_mended(worker, sessions, site_id, caplog):
    hooks = _hooks(order_created={"status": "paused"},
                   order_deleted={"delivery_url": "https://old-connector.example/webhooks/woocommerce"})
    hooks = [h for h in hooks if h["topic"] != "customer.created"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked, \
            caplog.at_level(logging.INFO, logger="connector.installs"):
        site = FakeSite(mocked, hooks)
        assert worker.maintain() == 1
    assert [(method, path) for method, path, _ in site.sent] == [
        ("GET", "webhooks"), ("PUT", "webhooks/1"), ("PUT", "webhooks/3"), ("POST", "webhooks")]
    assert site.sent[2][2] == {"delivery_url": WOO_URL, "secret": WOO_SECRET, "status": "active"}
    assert _load(sessions, site_id).webhooks_repaired == 3
    assert {m.split(": webhook ")[1] for m in caplog.messages if ": webhook " in m} == {
        "order.created was paused; enabled again",
        "order.deleted delivered to another address; pointed back here",
        "customer.created was missing; created again"}


def test_healthy_woocommerce_webhooks_get_one_read(worker, sessions, site_id):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        site = FakeSite(mocked, _hooks())
        assert worker.maintain() == 1
        assert len(mocked.calls) == 1
    assert site.sent == [("GET", "webhooks", None)] and _load(sessions, site_id).webhooks_repaired == 0


def test_refused_woocommerce_keys_need_reauthorisation(worker, sessions, site_id):
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, f"{WOO_API}/webhooks", status=401, json={"code": "woocommerce_rest_cannot_view"})
        assert worker.maintain() == 1
    store = _load(sessions, site_id)
    assert store.status == "needs_reauth" and store.webhooks_checked_at is None


def test_a_woocommerce_outage_leaves_the_check_for_after_the_lease(worker, sessions, site_id, clock):
    with responses.RequestsMock() as mocked:
        mocked.add(responses.GET, f"{WOO_API}/webhooks", status=503)
        assert worker.maintain() == 1
        assert worker.maintain() == 0
    store = _load(sessions, site_id)
    assert store.webhooks_checked_at is None and store.maintenance_lease_until > clock[0]


# --- what the operator and the merchant see ------------------------------------------------------


def test_the_metric_counts_what_was_mended_by_platform(worker, client, sessions, shop_id, site_id, clock):
    before = scrape(client)
    assert (before['connector_webhooks_repaired_total{platform="shopify"}'],
            before['connector_webhooks_repaired_total{platform="woocommerce"}']) == (0, 0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        FakeShop(mocked, [t for t in SHOPIFY_TOPICS if t not in ("ORDERS_PAID", "ORDERS_UPDATED")])
        FakeSite(mocked, _hooks(order_created={"status": "disabled"}))
        assert worker.maintain() + worker.maintain() == 2
    after = scrape(client)
    assert (after['connector_webhooks_repaired_total{platform="shopify"}'],
            after['connector_webhooks_repaired_total{platform="woocommerce"}']) == (2, 1)
    family = next(f for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
                  if f.name == "connector_webhooks_repaired")
    assert family.type == "counter"


def test_the_merchant_page_says_when_it_was_checked_and_what_was_mended(worker, shop_client, sessions, shop_id,
                                                                        clock):
    with transaction(sessions) as session:
        session.get(Store, shop_id).setup_report = [{"key": "webhooks", "title": "Order webhooks", "state": "done",
                                                     "detail": "Shopify sends the order topics to the connector."}]
    with responses.RequestsMock() as mocked:
        FakeShop(mocked, [t for t in SHOPIFY_TOPICS if t != "REFUNDS_CREATE"])
        assert worker.maintain() == 1
    headers = {"Authorization": f"Bearer {session_token(shop=SHOP)}"}
    answer = shop_client.get("/admin/api/onboarding", headers=headers).json
    day = f"{clock[0].day} {clock[0]:%b}"
    assert answer["webhooks"] == {"checked_at": answer["webhooks"]["checked_at"], "repaired": 1,
                                  "last_repaired_at": answer["webhooks"]["last_repaired_at"], "not_mended": None,
                                  "summary": f"Checked today; 1 subscription repaired since install (last: {day})."}
    assert answer["webhooks"]["checked_at"] == answer["webhooks"]["last_repaired_at"] is not None
    [step] = [s for s in answer["steps"] if s["key"] == "webhooks"]
    assert step["state"] == "done" and step["detail"].endswith(answer["webhooks"]["summary"])

    with transaction(sessions) as session:  # tomorrow's check could not mend one
        session.get(Store, shop_id).webhooks_check_error = "orders/paid is missing (Shopify refused: no)"
    answer = shop_client.get("/admin/api/onboarding", headers=headers).json
    [step] = [s for s in answer["steps"] if s["key"] == "webhooks"]
    assert step["state"] == "failed" and "Not mended yet: orders/paid is missing" in step["detail"]
    assert answer["webhooks"]["not_mended"].startswith("orders/paid")
