"""The merchant app's JSON routes (/admin/api) as the embedded page uses them: behind the session token, one shop.

Orders go in as signed webhooks and are credited by a real worker; the database is real (SQLite and
PostgreSQL). The page itself is tested in Chromium (tests/browser/test_merchant_app.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from connector.campaigns import directory
from connector.db import transaction
from connector.models import Conversion, Store
from connector.web.app.onboarding import ago
from connector.web.app.shell import APP_BRIDGE, POLARIS
from standins.shopify import samples

from .conftest import BACKEND_SECRET, SHOP
from .helpers import API_KEY, drain, post_shopify, session_token

OTHER_SHOP = "other-shop.myshopify.com"
#: every JSON route behind the page, with a request it would otherwise answer
ROUTES = [
    ("get", "/admin/api/onboarding", None), ("post", "/admin/api/onboarding/check", None),
    ("get", "/admin/api/overview?days=7", None), ("get", "/admin/api/influencers?q=al", None),
    ("get", "/admin/api/orders", None), ("get", "/admin/api/orders/820982911946154508", None),
    ("get", "/admin/api/deliveries", None), ("post", "/admin/api/deliveries/cv_x/replay", None),
    ("get", "/admin/api/settings", None),
    ("put", "/admin/api/settings", {"model": "linear", "window_days": 9, "half_life_days": 3,
                                    "precedence": ["click", "promo_code", "landing_page", "renewal", "customer"],
                                    "forward_test_orders": True, "credit_on": "creation", "lifetime_days": 90,
                                    "renewals": "ignore"}),
]
GOOD_SETTINGS = ROUTES[-1][2]


@pytest.fixture
def merchant(shop_client):
    """The page's side: requests to the app as the embedded page makes them."""
    return shop_client


def bearer(token: str | None = None, **claims) -> dict:
    return {"Authorization": f"Bearer {token or session_token(**claims)}"}


def call(client, method: str, path: str, body=None, headers=None):
    return getattr(client, method)(path, headers=headers or {}, data=json.dumps(body) if body is not None else None,
                                   content_type="application/json")


def credit_order(client, settings, sessions, *, bare: bool = False, **fields):
    """A paid order delivered and handled; `bare`: without the template's cart ref and landing page."""
    body = samples.order(**fields)
    if bare:
        body.update(note_attributes=[], landing_site="/", landing_site_ref=None, referring_site=None)
    post_shopify(client, "orders/paid", body)
    drain(settings, sessions)


REFUSED_TOKENS = {
    "no header": None,
    "not a bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    "not a token": {"Authorization": "Bearer abc"},
    "expired": lambda: bearer(lifetime=-60),
    "wrong signature": lambda: bearer(secret="not-the-app-secret-0123456789abcdef"),
    "another app's": lambda: bearer(audience="some-other-app"),
    "not valid yet": lambda: bearer(not_before=120),
    "no not-before": lambda: bearer(drop=("nbf",)),
    "no expiry": lambda: bearer(drop=("exp",)),
    "alg none": lambda: bearer(algorithm="none"),
    "issuer and destination differ": lambda: bearer(dest_shop=OTHER_SHOP),
}


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[f"{m} {p}" for m, p, _b in ROUTES])
@pytest.mark.parametrize("kind", list(REFUSED_TOKENS))
def test_every_route_refuses_a_request_without_a_valid_session_token(merchant, store, sessions, method, path, body,
                                                                     kind):
    headers = REFUSED_TOKENS[kind]
    headers = headers() if callable(headers) else headers
    with sessions() as session:
        before = session.get(Store, store.id)
        saved = (before.attribution_model, before.attribution_window_days, before.setup_pending)
    answer = call(merchant, method, path, body, headers)
    assert answer.status_code == 401, answer.json
    # 401 and nothing else: no figure, no name of the shop; App Bridge is told to fetch again with a fresh token
    assert answer.json == {"error": "unauthorized", "message": "a valid session token is required", "field": None}
    assert answer.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    assert answer.headers["Cache-Control"] == "no-store"
    with sessions() as session:
        after = session.get(Store, store.id)
        assert (after.attribution_model, after.attribution_window_days, after.setup_pending) == saved


@pytest.fixture
def two_shops(store, sessions, settings, merchant, shop_settings):
    """SHOP (the `store` fixture: alice, bob, carol) with one credited order, and OTHER_SHOP with dave."""
    with transaction(sessions) as session:
        other = directory.add_store(session, settings.secret_key, "shopify", OTHER_SHOP, access_token="shpat_o")
        directory.add_influencer(session, other, "dave", code="DAVE5")
    credit_order(merchant, shop_settings, sessions, codes=("ALICE15",))
    return store, other


def test_a_token_of_one_shop_never_sees_or_touches_another(merchant, two_shops, sessions):
    theirs = bearer(shop=OTHER_SHOP)
    listed = merchant.get("/admin/api/influencers", headers=theirs).json
    assert [i["tracking_id"] for i in listed["influencers"]] == ["dave"] and listed["total"] == 1
    assert merchant.get("/admin/api/orders", headers=theirs).json["total"] == 0
    assert merchant.get("/admin/api/orders/820982911946154508", headers=theirs).status_code == 404
    conversion = merchant.get("/admin/api/deliveries", headers=bearer()).json["deliveries"][0]
    with sessions() as session:
        session.get(Conversion, conversion["id"]).status = "failed"
        session.commit()
    assert merchant.post(f"/admin/api/deliveries/{conversion['id']}/replay", headers=theirs).status_code == 404
    with sessions() as session:
        assert session.get(Conversion, conversion["id"]).status == "failed"
    # a shop parameter in the query names nothing: only the token does
    assert merchant.get(f"/admin/api/orders?shop={SHOP}", headers=theirs).json["total"] == 0


def test_a_valid_token_of_a_store_not_installed_is_sent_to_authorise_again(merchant, store, sessions):
    answer = merchant.get("/admin/api/onboarding", headers=bearer(shop="new-shop.myshopify.com"))
    assert answer.status_code == 403
    assert answer.json["error"] == "not_installed"
    assert answer.json["reinstall_url"] == "/shopify/app?shop=new-shop.myshopify.com"
    with sessions() as session:
        session.get(Store, store.id).status = "needs_reauth"
        session.commit()
    assert merchant.get("/admin/api/settings", headers=bearer()).json["error"] == "not_installed"


def test_settings_saved_in_the_app_are_what_the_api_and_the_pixel_then_read(merchant, store, sessions):
    with sessions() as session:
        session.get(Store, store.id).setup_at = datetime.now(timezone.utc)  # set up: the pixel holds the window
        session.commit()
    answer = call(merchant, "put", "/admin/api/settings", GOOD_SETTINGS, bearer())
    assert answer.status_code == 200, answer.json
    assert answer.json["settings"] == GOOD_SETTINGS and answer.json["message"] == "Settings saved"
    assert merchant.get("/admin/api/settings", headers=bearer()).json["settings"] == GOOD_SETTINGS
    with sessions() as session:
        saved = session.get(Store, store.id)
        assert (saved.attribution_model, saved.attribution_window_days, saved.half_life_days, saved.precedence,
                saved.forward_test_orders, saved.credit_on, saved.lifetime_days, saved.renewals) == (
            "linear", 9, 3, "click,promo_code,landing_page,renewal,customer", True, "creation", 90, "ignore")
        assert saved.setup_pending  # the web pixel's window is updated by the worker's next setup


@pytest.mark.parametrize("change,field,words", [
    ({"window_days": 0}, "window_days", "The attribution window is a whole number of days from 1 to 365."),
    ({"window_days": "30"}, "window_days", "whole number"),
    ({"half_life_days": 400}, "half_life_days", "The half-life is a whole number of days"),
    ({"precedence": ["click", "click", "promo_code"]}, "precedence", "each kind of signal once"),
    ({"precedence": ["click"]}, "precedence", "each kind of signal once"),
    ({"model": "most_clicks"}, "model", "Last click, First click, Shared equally, Time decay"),
    ({"credit_on": "shipped"}, "credit_on", "when paid, or when placed"),
    ({"forward_test_orders": "yes"}, "forward_test_orders", "either credited or not"),
    ({"surprise": 1}, "surprise", "surprise: unknown field"),
    ({"lifetime_days": -5}, "lifetime_days", "from 0 (off) to 3650"),
    ({"lifetime_days": True}, "lifetime_days", "from 0 (off) to 3650"),
    ({"renewals": "sometimes"}, "renewals", "credited or ignored"),
])
def test_a_bad_setting_is_refused_with_the_field_and_words_a_merchant_reads(merchant, store, sessions, change,
                                                                              field, words):
    answer = call(merchant, "put", "/admin/api/settings", {**GOOD_SETTINGS, **change}, bearer())
    assert answer.status_code == 422
    assert answer.json["field"] == field and words in answer.json["message"]
    with sessions() as session:
        assert session.get(Store, store.id).attribution_model == "last_click"  # nothing of it was kept


def test_a_body_that_is_not_an_object_is_a_bad_request(merchant, store):
    for raw in (b"", b"[1]", b"{not json"):
        answer = merchant.put("/admin/api/settings", data=raw, headers=bearer(), content_type="application/json")
        assert answer.status_code == 400 and answer.json["error"] == "bad_request"


def test_an_order_credited_by_code_says_why_and_lists_every_signal(merchant, store, shop_settings, sessions):
    credit_order(merchant, shop_settings, sessions, codes=("ALICE15",), landing_site="/?ref=carol")
    listed = merchant.get("/admin/api/orders", headers=bearer()).json
    assert listed["total"] == 1
    row = listed["orders"][0]
    assert (row["outcome_text"], row["tone"], row["influencers"], row["method_text"]) == (
        "Credited", "success", ["alice"], "Promo code")
    why = merchant.get(f"/admin/api/orders/{row['order_id']}", headers=bearer()).json
    assert why["headline"] == "Credited to alice by promo code ALICE15."
    by_kind = {s["kind"]: s for s in why["signals"]}
    assert by_kind["promo_code"]["status_text"] == "Credited"
    assert by_kind["promo_code"]["source_text"] == "The discount codes used at checkout"
    assert by_kind["landing_page"]["status"] == "lost"
    assert by_kind["landing_page"]["reason_text"].startswith("Promo code counts before a ref in the landing page")
    assert why["credits"] == [{"tracking_id": "alice", "share": "1", "percent": "100"}]
    assert [c["type_text"] for c in why["conversions"]] == ["Purchase"]


def test_orders_not_credited_say_why_in_the_merchants_words(merchant, store, shop_settings, sessions):
    credit_order(merchant, shop_settings, sessions, order_id=1001, codes=(), test=True)
    credit_order(merchant, shop_settings, sessions, order_id=1002, codes=(), bare=True)
    credit_order(merchant, shop_settings, sessions, order_id=1003, codes=("ALICE15",), email="alice@creators.example",
                 bare=True)
    said = {o: merchant.get(f"/admin/api/orders/{o}", headers=bearer()).json for o in (1001, 1002, 1003)}
    assert said[1001]["outcome_text"] == "Test order"
    assert "does not credit test orders" in said[1001]["headline"]
    assert "test order" in " ".join(said[1001]["explanation"])
    assert said[1002]["headline"].startswith("Not credited: the order carried no promo code")
    assert said[1003]["signals"][0]["status_text"] == "Not counted"
    assert said[1003]["signals"][0]["reason_text"].startswith("Self-referral: the customer is this influencer")
    assert any("self-referrals are never credited" in line for line in said[1003]["explanation"])
    not_credited = merchant.get("/admin/api/orders?show=not_credited", headers=bearer()).json
    assert not_credited["total"] == 3
    assert merchant.get("/admin/api/orders?show=credited", headers=bearer()).json["total"] == 0
    assert merchant.get("/admin/api/orders?show=maybe", headers=bearer()).status_code == 422


def test_an_order_waiting_for_the_browser_says_so(merchant, store, shop_settings, sessions):
    waiting = shop_settings.with_overrides(report_grace_seconds=600)
    credit_order(merchant, waiting, sessions, order_id=2001, codes=(), bare=True)
    why = merchant.get("/admin/api/orders/2001", headers=bearer()).json
    assert why["outcome_text"] == "Waiting for the browser"
    assert why["headline"].startswith("Waiting a few minutes for the shopper's browser to report")


def test_deliveries_list_failed_first_with_their_attempts_and_replay_one(merchant, store, shop_settings, sessions,
                                                                        backend):
    good = shop_settings.with_overrides(tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET)
    dead = good.with_overrides(tracking_backend_url="http://127.0.0.1:9/backend", retry_schedule=())
    credit_order(merchant, good, sessions, order_id=3001, codes=("CAROL10",))
    credit_order(merchant, dead, sessions, order_id=3002, codes=("ALICE15",))
    listed = merchant.get("/admin/api/deliveries", headers=bearer()).json
    assert [d["status"] for d in listed["deliveries"]][0] == "failed"
    failed = listed["deliveries"][0]
    assert failed["tracking_id"] == "alice" and failed["tone"] == "critical" and failed["attempts"] >= 1
    assert failed["recent_attempts"][0]["status_code"] is None and failed["recent_attempts"][0]["error"]
    assert listed["counts"]["failed"] == 1 and listed["total"] == 2
    only = merchant.get("/admin/api/deliveries?status=failed", headers=bearer()).json
    assert [d["id"] for d in only["deliveries"]] == [failed["id"]]
    answer = merchant.post(f"/admin/api/deliveries/{failed['id']}/replay", headers=bearer())
    assert answer.status_code == 202 and answer.json["message"] == "Queued to be sent again"
    assert answer.json["delivery"]["status"] == "pending"
    # sent again from a fresh count; the attempts so far stay on record
    assert answer.json["delivery"]["recent_attempts"] == failed["recent_attempts"]
    with sessions() as session:
        assert session.get(Conversion, failed["id"]).status == "pending"
    assert merchant.post("/admin/api/deliveries/cv_unknown/replay", headers=bearer()).status_code == 404


def test_overview_counts_clicks_orders_revenue_and_rate_per_day(merchant, store, shop_settings, sessions):
    for n in range(4):  # four shoppers (one shopper's repeat clicks count once)
        assert merchant.get(f"/t/alice?s={store.id}", environ_base={"REMOTE_ADDR": f"203.0.113.{n}"}).status_code == 302
    credit_order(merchant, shop_settings, sessions, order_id=4001, codes=("ALICE15",))
    answer = merchant.get("/admin/api/overview?days=7", headers=bearer()).json
    assert (answer["clicks"], answer["orders"]) == (4, 1)
    assert answer["conversion_rate"] == "25"
    assert answer["revenue"][0]["currency"] == "EUR" and answer["revenue"][0]["amount"] != "0.00"
    assert len(answer["series"]) == 7
    today = answer["series"][-1]
    assert today["date"] == datetime.now(timezone.utc).date().isoformat() and today == {**today, "clicks": 4,
                                                                                        "orders": 1}
    assert answer["chart_svg"].startswith("<svg") and answer["chart_svg"].endswith("</svg>")
    assert answer["top_influencers"][0]["tracking_id"] == "alice"
    assert merchant.get("/admin/api/overview?days=5", headers=bearer()).status_code == 422


def test_overview_of_a_new_store_is_empty_not_broken(merchant, store):
    answer = merchant.get("/admin/api/overview", headers=bearer()).json
    assert (answer["days"], answer["clicks"], answer["orders"], answer["revenue"], answer["conversion_rate"],
            answer["top_influencers"]) == (30, 0, 0, [], None, [])
    assert len(answer["series"]) == 30


def test_influencers_are_searched_and_paged_on_the_server_without_a_cap(merchant, store, sessions, settings):
    with transaction(sessions) as session:
        found = session.get(Store, store.id)
        for n in range(40):
            directory.add_influencer(session, found, f"guest-{n:02d}")
    first = merchant.get("/admin/api/influencers", headers=bearer()).json
    assert (first["total"], len(first["influencers"]), first["has_next"], first["has_previous"]) == (43, 25, True,
                                                                                                    False)
    second = merchant.get("/admin/api/influencers?page=2", headers=bearer()).json
    assert len(second["influencers"]) == 18 and not second["has_next"]
    names = [i["tracking_id"] for i in first["influencers"] + second["influencers"]]
    assert len(set(names)) == 43
    carol = merchant.get("/admin/api/influencers?q=CAR", headers=bearer()).json["influencers"]
    assert [(i["tracking_id"], i["code"], i["code_state_text"]) for i in carol] == [
        ("carol", "CAROL10", "The store's own code")]
    assert carol[0]["link"] == f"https://connector.example/t/carol?s={store.id}"
    # the search's own wildcard characters are only characters
    assert merchant.get("/admin/api/influencers?q=%25", headers=bearer()).json["total"] == 0
    assert merchant.get("/admin/api/influencers?page=0", headers=bearer()).status_code == 422


def test_onboarding_before_setup_says_it_is_happening_and_check_again_queues_it(merchant, store, sessions):
    answer = merchant.get("/admin/api/onboarding", headers=bearer()).json
    assert answer["store"]["domain"] == SHOP and not answer["complete"]
    states = {s["key"]: s["state"] for s in answer["steps"]}
    assert states == {"webhooks": "working", "backend": "working", "codes": "done"}
    with sessions() as session:
        session.get(Store, store.id).setup_pending = False
        session.commit()
    queued = merchant.post("/admin/api/onboarding/check", headers=bearer())
    assert queued.status_code == 202 and queued.json["setup_pending"] is True
    with sessions() as session:
        assert session.get(Store, store.id).setup_pending


def test_onboarding_reads_the_backends_last_answer(merchant, store, shop_settings, sessions, backend):
    good = shop_settings.with_overrides(tracking_backend_url=backend.url, tracking_backend_secret=BACKEND_SECRET)
    credit_order(merchant, good, sessions, order_id=5001, codes=("ALICE15",))
    step = next(s for s in merchant.get("/admin/api/onboarding", headers=bearer()).json["steps"]
                if s["key"] == "backend")
    assert step["state"] == "done" and "answer 2" in step["detail"]


def test_the_app_document_loads_app_bridge_first_and_holds_no_merchant_data(merchant, store):
    answer = merchant.get(f"/shopify/app/orders/1?shop={SHOP}&id_token={session_token()}")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    head = page[page.index("<head>"):page.index("</head>")]
    assert head.index(f'<meta name="shopify-api-key" content="{API_KEY}">') < head.index("<script")
    assert head.index(f'<script src="{APP_BRIDGE}"></script>') == head.index("<script")  # first, not deferred
    assert POLARIS in head and 'data-view="orders"' in page and "<s-app-nav>" in page
    assert "alice" not in page and "ALICE15" not in page
    assert answer.headers["Content-Security-Policy"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"
    script = page.split('src="/admin/static/app.js?v=')[1].split('"')[0]
    asset = merchant.get(f"/admin/static/app.js?v={script}")
    assert asset.status_code == 200 and asset.headers["Cache-Control"] == "public, max-age=31536000"
    assert merchant.get("/admin/static/storefront.js").status_code == 404


def test_a_document_load_with_a_token_of_another_shop_than_named_is_refused(merchant, store):
    answer = merchant.get(f"/shopify/app?shop={OTHER_SHOP}&id_token={session_token()}")
    assert answer.status_code == 400 and b"another shop" in answer.data


def test_a_conversion_of_another_store_is_not_counted_in_this_ones_figures(merchant, two_shops, sessions):
    theirs = merchant.get("/admin/api/overview", headers=bearer(shop=OTHER_SHOP)).json
    assert (theirs["orders"], theirs["revenue"]) == (0, [])
    ours = merchant.get("/admin/api/overview", headers=bearer()).json
    assert ours["orders"] == 1
    with sessions() as session:
        assert session.scalar(select(Conversion.store_id)) == two_shops[0].id


@pytest.mark.parametrize("seconds,said", [(5, "just now"), (60, "1 minute ago"), (150, "2 minutes ago"),
                                          (3 * 3600 + 5, "3 hours ago"), (86400, "1 day ago"),
                                          (6 * 86400, "6 days ago"), (30 * 86400, "on 1 November 2026")])
def test_the_time_since_the_last_webhook_is_said_in_words(seconds, said):
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert ago(now - timedelta(seconds=seconds), now) == said


def test_a_page_number_in_other_digits_is_refused_not_a_crash(merchant, store):
    for raw in ("²", "١", "1e3", "-1", "9" * 12):
        answer = merchant.get(f"/admin/api/orders?page={raw}", headers=bearer())
        assert answer.status_code == 422 and answer.json["field"] == "page", raw
    assert merchant.get("/admin/api/overview?days=³", headers=bearer()).status_code == 422


def test_a_bad_parameter_without_a_token_is_still_just_401(merchant, store):
    for path in ("/admin/api/orders?page=0", "/admin/api/overview?days=5", "/admin/api/deliveries?status=x",
                 "/admin/api/influencers?page=x"):
        assert merchant.get(path).status_code == 401, path


def test_a_delivery_being_sent_right_now_is_not_replayed_beside_it(merchant, store, shop_settings, sessions):
    credit_order(merchant, shop_settings, sessions, order_id=6001, codes=("ALICE15",))
    with sessions() as session:
        conversion = session.scalars(select(Conversion)).one()
        conversion.lease_until, conversion.claimed_by = datetime.now(timezone.utc) + timedelta(seconds=30), "w1"
        session.commit()
        conversion_id = conversion.id
    answer = merchant.post(f"/admin/api/deliveries/{conversion_id}/replay", headers=bearer())
    assert answer.status_code == 409 and answer.json["error"] == "being_sent"
    with sessions() as session:
        assert session.get(Conversion, conversion_id).claimed_by == "w1"  # the worker keeps it


def test_deliveries_page_across_statuses_failed_first_then_newest(merchant, store, shop_settings, sessions):
    with transaction(sessions) as session:
        now = datetime.now(timezone.utc)
        for n in range(30):  # 30 conversions: every third failed, every fifth pending, the rest delivered
            status = "failed" if n % 3 == 0 else "pending" if n % 5 == 0 else "delivered"
            session.add(Conversion(id=f"cv_{n:028d}", store_id=store.id, dedupe_key=f"k{n}", type="conversion.purchase",
                                   amount=Decimal("1.00"), currency="EUR", body="{}", status=status,
                                   created_at=now - timedelta(minutes=n), next_attempt_at=now))
    seen = []
    for page in (1, 2):
        answer = merchant.get(f"/admin/api/deliveries?page={page}", headers=bearer()).json
        seen += [(d["status"], d["created_at"]) for d in answer["deliveries"]]
    assert len(seen) == 30 and answer["total"] == 30 and not answer["has_next"]
    rank = {"failed": 0, "pending": 1, "delivered": 2}
    assert seen == sorted(seen, key=lambda s: (rank[s[0]], [-ord(c) for c in s[1]]))
    assert [s for s, _ in seen[:10]] == ["failed"] * 10
