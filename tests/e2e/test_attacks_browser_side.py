"""What anyone with a browser (or curl) can send, over real HTTP, against the real app and worker: forged
sign-up reports for leads, floods of clicks and reports, values no database can hold, oversized chunked
bodies."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from standins.shopify import samples
from standins.shopify.store import StandinShopify
from connector import create_app
from connector.db import transaction
from standins.live_server import LiveServer
from connector.models import Click, ClickCount, Conversion, Customer, Event, Order, StorefrontReport
from connector.core.rules import email_sha256
from connector.worker import Worker

from ..conftest import SHOP, SHOPIFY_SECRET

ORIGIN = f"https://{SHOP}"
API_TOKEN = "attack-tests-api-token-0123456789abcdef"


@pytest.fixture
def shopify(store):
    """The store's Shopify: it knows the store's token, and answers whether a customer is the shop's."""
    with StandinShopify("browser-side-key", SHOPIFY_SECRET) as standin:
        standin.grant_token(SHOP, "shpat_test")
        yield standin


@pytest.fixture
def live(settings, engine, store, shopify):
    server = LiveServer()
    live_settings = settings.with_overrides(public_url=server.url, report_grace_seconds=30, api_token=API_TOKEN,
                                            shopify_admin_url=shopify.admin_url)
    server.start(create_app(live_settings, engine=engine))
    yield server.url, live_settings
    server.stop()


def _drain(settings, sessions) -> None:
    Worker(settings, sessions, worker_id="attack").run(burst=True)


def _count(sessions, model, *conditions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*conditions))


def _click(url: str, store, tracking_id: str = "bob", *, agent: str = "Mozilla/5.0 (Fraud)") -> str:
    answer = requests.get(f"{url}/t/{tracking_id}?s={store.id}", headers={"User-Agent": agent},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["Location"]).query)["click_id"][0]


def _report(url: str, body: dict) -> requests.Response:
    return requests.post(f"{url}/storefront/events", data=json.dumps(body),
                         headers={"Origin": ORIGIN, "Content-Type": "text/plain"}, timeout=10)


def _signup_report(click_id: str, *, customer_id: str | None = None, email: str | None = None) -> dict:
    at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"v": 1, "store": SHOP, "kind": "signup", "customer_id": customer_id,
            "email_sha256": email_sha256(email) if email else None,
            "touches": [{"ref": "bob", "click_id": click_id, "at": at}]}


def _signed_up(url: str, shopify, customer: dict) -> requests.Response:
    """A shopper signs up in the store: Shopify has the customer, and sends customers/create."""
    shopify.add_customer(SHOP, customer)
    return _webhook(url, "customers/create", customer)


def _webhook(url: str, topic: str, body: dict) -> requests.Response:
    raw = samples.encode(samples.of_shop(body, SHOP) if topic.startswith("orders/") else body)
    return requests.post(f"{url}/webhooks/shopify", data=raw,
                         headers=samples.headers(raw, shop=SHOP, topic=topic, secret=SHOPIFY_SECRET), timeout=10)


def _leads(sessions) -> list[Conversion]:
    with sessions() as session:
        return list(session.scalars(select(Conversion).where(Conversion.type == "conversion.lead")))


# -- 6. leads -------------------------------------------------------------------------------------


def test_sign_up_reports_for_sequential_customer_ids_earn_nothing(live, sessions, store, shopify):
    """The fraudster clicks their own link, reads the click id and posts a report for every customer id."""
    url, settings = live
    click_id = _click(url, store)
    for customer_id in range(7000, 7020):
        assert _report(url, _signup_report(click_id, customer_id=str(customer_id))).status_code == 202
    # ... and guesses at the email, too.
    assert _report(url, _signup_report(click_id, email="someone@example.com")).status_code == 202
    _drain(settings, sessions)
    assert _signed_up(url, shopify, samples.customer(customer_id=7007, email="real.person@example.com")) \
        .status_code == 200
    _drain(settings, sessions)
    assert _leads(sessions) == []
    # None of the 21 reports named that customer's own email: none was joined with the sign-up.
    assert _count(sessions, StorefrontReport, StorefrontReport.status == "joined") == 0


def test_a_lead_needs_the_sign_ups_own_email_and_one_click_earns_one_lead(live, sessions, store, shopify):
    url, settings = live
    click_id = _click(url, store)
    assert _report(url, _signup_report(click_id, email="Sam@Shopper.example")).status_code == 202
    _signed_up(url, shopify, samples.customer(customer_id=7101, email="sam@shopper.example"))
    _drain(settings, sessions)
    [lead] = _leads(sessions)
    assert json.loads(lead.body)["data"]["tracking_id"] == "bob"
    # The same click, reported with another sign-up (the fraudster's second account): no second lead.
    assert _report(url, _signup_report(click_id, email="second@account.example")).status_code == 202
    _signed_up(url, shopify, samples.customer(customer_id=7102, email="second@account.example"))
    _drain(settings, sessions)
    assert len(_leads(sessions)) == 1
    with sessions() as session:
        assert session.get(Click, click_id).lead_conversion_id == lead.id
        decision = session.scalar(select(Customer.decision).where(Customer.platform_customer_id == "7102"))
    assert "earned a lead already" in decision


def test_a_report_long_after_the_sign_up_earns_nothing(live, sessions, store, shopify):
    url, settings = live
    long_ago = (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat(timespec="seconds")
    _signed_up(url, shopify, samples.customer(customer_id=7201, email="old@account.example", created_at=long_ago))
    _drain(settings, sessions)
    assert _report(url, _signup_report(_click(url, store), email="old@account.example")).status_code == 202
    _drain(settings, sessions)
    assert _leads(sessions) == []


def test_another_shops_sign_up_under_this_shops_name_earns_nothing(live, sessions, store, shopify):
    """customers/create names no shop: a fraudster's own store's sign-up (really signed by Shopify), re-sent
    under the victim's name with a matching report, is checked with the victim's shop, which has no such
    customer."""
    url, settings = live
    assert _report(url, _signup_report(_click(url, store), email="made.up@fraud.example")).status_code == 202
    foreign = samples.customer(customer_id=7301, email="made.up@fraud.example")  # a customer of another shop
    assert _webhook(url, "customers/create", foreign).status_code == 200
    _drain(settings, sessions)
    assert _leads(sessions) == []
    with sessions() as session:
        [event] = session.scalars(select(Event).where(Event.topic == "customers/create")).all()
    assert event.status == "rejected" and "not this shop's" in event.error
    assert _count(sessions, Customer) == 0


# -- 7. unbounded writes --------------------------------------------------------------------------


def test_a_browser_clicking_a_link_again_and_again_counts_once_and_is_still_sent_on(live, sessions, store):
    url, _settings = live
    click_ids = {_click(url, store) for _ in range(50)}
    assert len(click_ids) == 1
    assert _count(sessions, Click) == 1
    assert _click(url, store, agent="Another browser") not in click_ids  # another browser is another click
    assert _count(sessions, Click) == 2


def test_reports_for_orders_that_do_not_exist_make_no_order_rows(live, sessions, store):
    url, settings = live
    at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for order_id in range(1, 31):
        body = {"v": 1, "store": SHOP, "kind": "purchase", "order_id": str(order_id), "proof": f"guess-{order_id}",
                "touches": [{"ref": "bob", "click_id": None, "at": at}]}
        assert _report(url, body).status_code == 202
    _drain(settings, sessions)
    assert _count(sessions, Order) == 0
    assert _count(sessions, StorefrontReport, StorefrontReport.status == "waiting") == 30


def test_clicks_and_reports_that_can_match_nothing_are_pruned_and_clicks_still_count(live, sessions, store):
    url, settings = live
    _click(url, store, agent="Old browser")
    _click(url, store, agent="New browser")
    at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _report(url, {"v": 1, "store": SHOP, "kind": "purchase", "order_id": "1", "proof": "p",
                  "touches": [{"ref": "bob", "click_id": None, "at": at}]})
    _drain(settings, sessions)
    with transaction(sessions) as session:  # age them past every use: a 31-day-old click, an 8-day-old report
        old = session.scalars(select(Click).order_by(Click.clicked_at)).first()
        old.clicked_at = datetime.now(timezone.utc) - timedelta(days=31, hours=1)
        for report in session.scalars(select(StorefrontReport)):
            report.received_at = datetime.now(timezone.utc) - timedelta(days=8)
        for event in session.scalars(select(Event)):
            event.received_at = datetime.now(timezone.utc) - timedelta(days=8)
    _drain(settings, sessions)  # the worker's hourly pruning runs on its first idle maintenance round
    assert _count(sessions, Click) == 1 and _count(sessions, StorefrontReport) == 0 and _count(sessions, Event) == 0
    assert _count(sessions, ClickCount) == 1
    stats = requests.get(f"{url}/api/v1/stores/{store.id}/influencers/bob/stats", timeout=10,
                         headers={"Authorization": f"Bearer {API_TOKEN}"}).json()
    assert stats["clicks"] == 2


# -- 8. poison ------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["email", "name", "code"])
def test_a_lone_surrogate_is_rejected_at_once_never_retried(live, sessions, store, where):
    url, settings = live
    order = samples.order(order_id=9_300_001, codes=("ALICE15",))
    if where == "email":
        order["email"] = order["contact_email"] = "x\ud800@example.com"
        order["customer"]["email"] = "x\ud800@example.com"
    elif where == "name":
        order["name"] = "#\ud800"
    else:
        order["discount_codes"][0]["code"] = "ALICE\ud800"
    assert b"\\ud800" in samples.encode(order)  # JSON escapes it, as a platform would send it
    assert _webhook(url, "orders/paid", order).status_code == 200
    _drain(settings, sessions)
    with sessions() as session:
        [event] = session.scalars(select(Event)).all()
    assert event.status == "rejected" and event.attempts == 0 and "cannot store" in event.error
    assert _count(sessions, Conversion) == 0


def test_a_date_near_year_one_is_rejected_at_once(live, sessions, store):
    url, settings = live
    order = samples.order(order_id=9_300_002, codes=("ALICE15",))
    order["processed_at"] = order["created_at"] = "0001-01-01T00:30:00+00:00"
    _webhook(url, "orders/paid", order)
    _drain(settings, sessions)
    with sessions() as session:
        [event] = session.scalars(select(Event)).all()
    assert event.status == "rejected" and event.attempts == 0 and "plausible time" in event.error


def test_a_chunked_body_over_the_limit_is_413_like_any_other(live, sessions, store):
    url, settings = live
    limit = settings.max_webhook_bytes
    body = samples.encode(samples.of_shop(samples.order(), SHOP))
    padded = body[:-1] + b"," + b'"pad":"' + b"x" * (limit - len(body)) + b'"}'
    assert len(padded) > limit
    headers = samples.headers(padded, shop=SHOP, topic="orders/paid", secret=SHOPIFY_SECRET)

    def chunks():
        for start in range(0, len(padded), 65536):
            yield padded[start:start + 65536]

    chunked = requests.post(f"{url}/webhooks/shopify", data=chunks(), headers=headers, timeout=30)
    declared = requests.post(f"{url}/webhooks/shopify", data=padded, headers=headers, timeout=30)
    assert (chunked.status_code, declared.status_code) == (413, 413)
    assert _count(sessions, Event) == 0
