"""The WooCommerce REST client against mocked HTTP (responses): errors, idempotent webhooks, order paging."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from adapters.woocommerce.rest_api import TOPICS, WebhookReport, WooCommerceClient
from connector.errors import PlatformAuthError, PlatformError

STORE = "https://shop.example"
API = f"{STORE}/wp-json/wc/v3"
CK, CS = "ck_0123456789abcdef0123456789abcdef01234567", "cs_0123456789abcdef0123456789abcdef01234567"
DELIVERY_URL = "https://connector.example/webhooks/woocommerce"
SECRET = "9f2e4c1a7b3d5e8f0a2c4e6b8d1f3a5c7e9b2d4f6a8c0e1f"


@pytest.fixture
def client() -> WooCommerceClient:
    return WooCommerceClient(STORE, CK, CS)


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def hook(hook_id: int, topic: str, *, url: str = DELIVERY_URL, secret: str = SECRET, status: str = "active",
         name: str = "Influencer Connector: x") -> dict:
    return {"id": hook_id, "name": name, "status": status, "topic": topic, "delivery_url": url, "secret": secret}


# --- errors --------------------------------------------------------------------------------------


@responses.activate
def test_check_keys_makes_one_basic_authenticated_read(client):
    responses.get(f"{API}/webhooks", json=[])
    client.check_keys()
    [call] = responses.calls
    assert call.request.headers["Authorization"] == "Basic " + base64.b64encode(f"{CK}:{CS}".encode()).decode()
    assert query(call)["per_page"] == ["1"]


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_refused_keys_are_an_auth_error(client, status):
    responses.get(f"{API}/webhooks", status=status,
                  json={"code": "woocommerce_rest_authentication_error", "message": "Invalid signature", "data": {"status": status}})
    with pytest.raises(PlatformAuthError, match="woocommerce_rest_authentication_error"):
        client.check_keys()


@responses.activate
@pytest.mark.parametrize("status", [404, 429, 500, 503])
def test_other_failures_are_platform_errors_not_auth_errors(client, status):
    responses.get(f"{API}/webhooks", status=status, body="<html>oops</html>")
    with pytest.raises(PlatformError) as caught:
        client.check_keys()
    assert not isinstance(caught.value, PlatformAuthError)
    assert str(status) in str(caught.value)


@responses.activate
@pytest.mark.parametrize("exc", [requests.ConnectionError("refused"), requests.Timeout("slow"),
                                 requests.exceptions.SSLError("bad certificate")])
def test_network_failures_are_platform_errors(client, exc):
    responses.get(f"{API}/webhooks", body=exc)
    with pytest.raises(PlatformError, match="failed"):
        client.check_keys()


@responses.activate
def test_an_answer_that_is_not_json_is_a_platform_error(client):
    responses.get(f"{API}/webhooks", body="<html>maintenance</html>", status=200)
    with pytest.raises(PlatformError, match="without JSON"):
        client.check_keys()


@responses.activate
def test_redirects_are_not_followed(client):
    responses.get(f"{API}/webhooks", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data"})
    with pytest.raises(PlatformError, match="302"):
        client.check_keys()
    assert len(responses.calls) == 1


@responses.activate
def test_plain_http_store_is_signed_with_oauth_in_the_query():
    responses.get("http://127.0.0.1:8123/site-a/wp-json/wc/v3/webhooks", json=[])
    WooCommerceClient("http://127.0.0.1:8123/site-a", CK, CS).check_keys()
    [call] = responses.calls
    params = query(call)
    assert params["oauth_consumer_key"] == [CK] and params["oauth_signature_method"] == ["HMAC-SHA256"]
    assert "oauth_signature" in params and "Authorization" not in call.request.headers


# --- webhooks ------------------------------------------------------------------------------------


class FakeStore:
    """Just enough of /webhooks to run ensure_webhooks against, twice."""

    def __init__(self, hooks: list[dict] | None = None):
        self.hooks = hooks or []
        responses.add_callback(responses.GET, f"{API}/webhooks", callback=self.list)
        responses.add_callback(responses.POST, f"{API}/webhooks", callback=self.create)

    def list(self, request):
        params = parse_qs(urlsplit(request.url).query)
        page, per_page = int(params["page"][0]), int(params["per_page"][0])
        return 200, {}, json.dumps(self.hooks[(page - 1) * per_page: page * per_page])

    def create(self, request):
        created = {**json.loads(request.body), "id": 1000 + len(self.hooks)}
        self.hooks.append(created)
        return 201, {}, json.dumps(created)

    def allow_update(self, hook_id: int):
        def update(request):
            target = next(h for h in self.hooks if h["id"] == hook_id)
            target.update(json.loads(request.body))
            return 200, {}, json.dumps(target)
        responses.add_callback(responses.PUT, f"{API}/webhooks/{hook_id}", callback=update)


def calls(method: str) -> list:
    return [c for c in responses.calls if c.request.method == method]


@responses.activate
def test_webhooks_are_created_in_an_empty_store_and_left_alone_the_second_time(client):
    store = FakeStore()
    assert client.ensure_webhooks(DELIVERY_URL, SECRET) == WebhookReport(created=4)
    assert [json.loads(c.request.body) for c in calls("POST")] == [
        {"name": f"Influencer Connector: {topic}", "topic": topic, "delivery_url": DELIVERY_URL, "secret": SECRET,
         "status": "active"} for topic in TOPICS
    ]
    assert query(calls("GET")[0])["context"] == ["edit"] and query(calls("GET")[0])["per_page"] == ["100"]
    assert str(client.ensure_webhooks(DELIVERY_URL, SECRET)) == "webhooks: 0 created, 0 updated, 4 unchanged"
    assert len(calls("POST")) == 4 and len(store.hooks) == 4


@responses.activate
def test_ours_with_another_secret_or_not_active_is_updated(client):
    store = FakeStore([hook(1, "order.created", secret="old"), hook(2, "order.updated", status="disabled"),
                       hook(3, "order.deleted"), hook(4, "customer.created")])
    store.allow_update(1)
    store.allow_update(2)
    assert client.ensure_webhooks(DELIVERY_URL, SECRET) == WebhookReport(updated=2, unchanged=2)
    assert [(c.request.url.rsplit("/", 1)[1], json.loads(c.request.body)) for c in calls("PUT")] == [
        ("1", {"secret": SECRET, "status": "active"}), ("2", {"secret": SECRET, "status": "active"})]
    assert all(h["secret"] == SECRET and h["status"] == "active" for h in store.hooks)


@responses.activate
def test_ours_pointing_elsewhere_is_moved_here_and_others_are_left_alone(client):
    store = FakeStore([
        hook(1, "order.created", url="https://old-connector.example/webhooks/woocommerce", secret="old"),
        hook(2, "order.updated", url="https://erp.example/hook", name="ERP sync", secret="theirs"),
    ])
    store.allow_update(1)
    report = client.ensure_webhooks(DELIVERY_URL, SECRET)
    assert report == WebhookReport(created=3, updated=1)
    [put] = calls("PUT")
    assert json.loads(put.request.body) == {"delivery_url": DELIVERY_URL, "secret": SECRET, "status": "active"}
    assert store.hooks[1] == hook(2, "order.updated", url="https://erp.example/hook", name="ERP sync", secret="theirs")
    assert sorted(json.loads(c.request.body)["topic"] for c in calls("POST")) == sorted(set(TOPICS) - {"order.created"})


@responses.activate
def test_webhooks_are_read_page_by_page(client):
    others = [hook(100 + i, "product.updated", url="https://erp.example/hook", name="ERP") for i in range(100)]
    FakeStore(others + [hook(1, t) for t in TOPICS])
    assert client.ensure_webhooks(DELIVERY_URL, SECRET) == WebhookReport(unchanged=4)
    assert [query(c)["page"] for c in calls("GET")] == [["1"], ["2"]]


@responses.activate
def test_a_refused_create_is_a_platform_error(client):
    responses.get(f"{API}/webhooks", json=[])
    responses.post(f"{API}/webhooks", status=400,
                   json={"code": "woocommerce_rest_shop_webhook_invalid_delivery_url", "message": "bad"})
    with pytest.raises(PlatformError, match="invalid_delivery_url"):
        client.ensure_webhooks(DELIVERY_URL, SECRET)


@responses.activate
def test_a_webhook_list_that_is_not_a_list_is_a_platform_error(client):
    responses.get(f"{API}/webhooks", json={"hooks": []})
    with pytest.raises(PlatformError, match="not a list"):
        client.ensure_webhooks(DELIVERY_URL, SECRET)


# --- orders --------------------------------------------------------------------------------------


@responses.activate
def test_orders_are_read_page_by_page_until_a_short_page(client):
    pages = {1: [{"id": i} for i in range(100)], 2: [{"id": 100 + i} for i in range(3)]}

    def orders(request):
        return 200, {}, json.dumps(pages.get(int(parse_qs(urlsplit(request.url).query)["page"][0]), []))

    responses.add_callback(responses.GET, f"{API}/orders", callback=orders)
    since = datetime(2026, 11, 22, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert [o["id"] for o in client.orders_modified_since(since)] == list(range(103))
    assert len(responses.calls) == 2
    params = query(responses.calls[0])
    assert params == {"modified_after": ["2026-11-22T12:00:00"], "dates_are_gmt": ["true"], "orderby": ["modified"],
                      "order": ["asc"], "per_page": ["100"], "page": ["1"]}


@responses.activate
def test_an_order_list_that_is_not_a_list_of_objects_is_a_platform_error(client):
    responses.get(f"{API}/orders", json=[1, 2])
    with pytest.raises(PlatformError):
        list(client.orders_modified_since(datetime(2026, 11, 22, tzinfo=timezone.utc)))


def test_since_must_be_aware(client):
    with pytest.raises(ValueError):
        list(client.orders_modified_since(datetime(2026, 11, 22)))


@responses.activate
def test_an_order_modified_during_the_scan_makes_no_other_order_skip(client):
    """Page numbers over `orderby=modified` would skip the order at the page boundary when an earlier one
    moves to the end; paging by modification time does not."""
    start = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    orders = [{"id": i, "date_modified_gmt": (start + timedelta(seconds=10 * i)).strftime("%Y-%m-%dT%H:%M:%S")}
              for i in range(1, 151)]
    served = []

    def answer(request):
        params = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        after = datetime.fromisoformat(params["modified_after"]).replace(tzinfo=timezone.utc)
        matching = sorted((o for o in orders if datetime.fromisoformat(o["date_modified_gmt"]).replace(
            tzinfo=timezone.utc) > after), key=lambda o: o["date_modified_gmt"])
        page, size = int(params["page"]), int(params["per_page"])
        body = json.dumps(matching[(page - 1) * size: page * size])  # the page as it was read
        if not served:  # the merchant edits order 5 while the first page is on its way
            orders[4]["date_modified_gmt"] = (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
        served.append(page)
        return 200, {}, body

    responses.add_callback(responses.GET, f"{API}/orders", callback=answer)
    read = [(o["id"], o["date_modified_gmt"]) for o in client.orders_modified_since(start - timedelta(minutes=1))]
    assert {order_id for order_id, _ in read} == set(range(1, 151))
    assert len(read) == 151  # order 5 twice: once per state, as reconciliation wants


@responses.activate
def test_only_woocommerces_own_answer_for_a_missing_order_says_it_is_gone():
    client = WooCommerceClient(STORE, "ck_x", "cs_y", sleep=lambda _s: None)
    responses.add(responses.GET, f"{STORE}/wp-json/wc/v3/orders/5", status=404,
                  json={"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."})
    responses.add(responses.GET, f"{STORE}/wp-json/wc/v3/orders/6", status=404,
                  json={"code": "rest_no_route", "message": "No route was found matching the URL"})
    responses.add(responses.GET, f"{STORE}/wp-json/wc/v3/orders/7", json={"id": 7, "status": "trash"})
    assert client.order_status("5") is None
    with pytest.raises(PlatformError, match="rest_no_route"):
        client.order_status("6")
    assert client.order_status("7") == "trash"
