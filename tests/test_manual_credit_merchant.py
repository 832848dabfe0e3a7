"""Crediting an order by hand in the merchant app (POST /admin/api/orders/<id>/credit), and its "why" afterwards.

Behind the session token and for its shop only: the order of another shop, a token of another shop, and every
refused token are attacked here. Orders arrive as signed webhooks and are decided by the real worker; the database
is real. The page itself is driven in Chromium in tests/browser/test_manual_credit.py.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from connector.campaigns import directory
from connector.core.manual import Asked
from connector.crediting.manual import credit_by_hand
from connector.db import transaction
from connector.models import AttributionRecord, Conversion, Order, utcnow
from standins.shopify import samples

from .conftest import SHOP
from .helpers import drain, post_shopify
from .test_merchant_app import OTHER_SHOP, REFUSED_TOKENS, bearer, call

ORDER = 7101
STRANGER = "SUMMER10"  # a code no influencer has


@pytest.fixture
def merchant(shop_client):
    return shop_client


def place(client, settings, sessions, order_id: int = ORDER, *, shop: str = SHOP, topic: str = "orders/paid",
          **fields) -> None:
    fields.setdefault("codes", (STRANGER,))
    body = samples.order(shop=shop, order_id=order_id, name=f"#{order_id}", cart_ref="", landing_site="/",
                         landing_site_ref="", **fields)
    assert post_shopify(client, topic, body, shop=shop).status_code == 200
    drain(settings, sessions)


def post(client, body, order_id: int = ORDER, headers=None):
    return call(client, "post", f"/admin/api/orders/{order_id}/credit", body, headers or bearer())


def why(client, order_id: int = ORDER, headers=None) -> dict:
    answer = client.get(f"/admin/api/orders/{order_id}", headers=headers or bearer())
    assert answer.status_code == 200, answer.json
    return answer.json


def made(sessions) -> list[Conversion]:
    with sessions() as session:
        return list(session.scalars(select(Conversion)))


def record(sessions, order_id: int = ORDER) -> AttributionRecord:
    with sessions() as session:
        order = session.scalar(select(Order).where(Order.platform_order_id == str(order_id)))
        return session.get(AttributionRecord, order.id)


SPLIT = {"credits": [{"tracking_id": "alice", "percent": "60"}, {"tracking_id": "bob", "percent": "40"}],
         "note": "She sent the customer to us by email"}


def test_the_merchant_credits_an_order_by_hand_and_its_why_says_who_and_when(merchant, shop_settings, sessions, store):
    place(merchant, shop_settings, sessions)
    before = why(merchant)
    assert before["by_hand"] == {"done": False, "possible": True, "why_not": None}

    answer = post(merchant, SPLIT)
    assert answer.status_code == 201, answer.json
    assert answer.json["message"] == "Credited by hand to alice, bob"
    [purchase] = made(sessions)
    body = json.loads(purchase.body)["data"]
    assert (body["method"], body["credits"], body["amount"]) == (
        "manual", [{"tracking_id": "alice", "share": "0.6"}, {"tracking_id": "bob", "share": "0.4"}], "59.50")
    manual = record(sessions).details["manual"]
    assert (manual["by"], manual["user"], manual["note"]) == ("merchant", "42", SPLIT["note"])  # the token's sub

    after = why(merchant)
    assert (after["outcome_text"], after["method_text"]) == ("Credited", "By hand")
    assert after["headline"] == "Credited by hand to alice (60%), bob (40%)."
    shown = after["by_hand"]
    assert (shown["done"], shown["by"], shown["by_text"], shown["note"], shown["at"]) == (
        True, "merchant", "Someone in this app (Shopify staff member 42)", SPLIT["note"], manual["at"])
    assert shown["before_text"] == "Not credited: none of the order's signals could count. Each one says why below."
    assert [s["superseded"] for s in after["signals"]] == [True]
    assert [c["type_text"] for c in after["conversions"]] == ["Purchase"]
    listed = merchant.get("/admin/api/orders", headers=bearer()).json["orders"]
    assert (listed[0]["method_text"], listed[0]["influencers"]) == ("By hand", ["alice", "bob"])


def test_an_order_credited_by_the_backend_says_so(merchant, shop_settings, sessions, store):
    place(merchant, shop_settings, sessions)
    with transaction(sessions) as session:
        credit_by_hand(session, directory.find_store(session, SHOP), str(ORDER), Asked((("carol", None),), "backend"),
                       utcnow())
    shown = why(merchant)["by_hand"]
    assert shown["by_text"] == "Your tracking platform, through the connector's API" and shown["note"] is None


def test_equal_shares_when_none_is_given_and_percentages_to_two_places(merchant, shop_settings, sessions, store):
    place(merchant, shop_settings, sessions)
    answer = post(merchant, {"credits": [{"tracking_id": "alice"}, {"tracking_id": "bob", "percent": None},
                                         {"tracking_id": "carol", "percent": " "}]})
    assert answer.status_code == 201, answer.json
    assert [c["percent"] for c in why(merchant)["credits"]] == ["33.34", "33.33", "33.33"]
    place(merchant, shop_settings, sessions, 7102)
    answer = post(merchant, {"credits": [{"tracking_id": "alice", "percent": "33.33"},
                                         {"tracking_id": "bob", "percent": "66.67"}]}, order_id=7102)
    assert answer.status_code == 201, answer.json
    assert [c["share"] for c in why(merchant, 7102)["credits"]] == ["0.3333", "0.6667"]


@pytest.mark.parametrize("body, status, field, said", [
    ({"credits": [{"tracking_id": "alice", "percent": "50"}, {"tracking_id": "bob", "percent": "49.99"}]}, 422,
     "credits", "The shares add up to 99.99%, not 100%."),
    ({"credits": [{"tracking_id": "alice", "percent": "50"}, {"tracking_id": "Alice", "percent": "50"}]}, 422,
     "credits.1.tracking_id", "Alice is chosen twice: choose each influencer once."),
    ({"credits": [{"tracking_id": "dave"}]}, 422, "credits.0.tracking_id", "No influencer of this store is called “dave”."),
    ({"credits": [{"tracking_id": "alice", "percent": "0"}]}, 422, "credits.0.percent", "A share is a percentage"),
    ({"credits": [{"tracking_id": "alice", "percent": "12.345"}]}, 422, "credits.0.percent", "A share is a percentage"),
    ({"credits": [{"tracking_id": "alice", "percent": "-5"}]}, 422, "credits.0.percent", "A share is a percentage"),
    ({"credits": [{"tracking_id": "alice", "percent": "150"}]}, 422, "credits.0.percent", "A share is a percentage"),
    ({"credits": [{"tracking_id": "alice", "percent": "50"}, {"tracking_id": "bob"}]}, 422, "credits",
     "Give every influencer a share, or none"),
    ({"credits": [{"tracking_id": ""}]}, 422, "credits.0.tracking_id", "Choose one of the store's influencers."),
    ({"credits": []}, 422, "credits", "Choose from 1 to 20 influencers"),
    ({"credits": [{"tracking_id": "alice"}], "note": "n" * 501}, 422, "note", "A note is at most 500 characters"),
    ({"credits": [{"tracking_id": "alice"}], "note": "bell \x07"}, 422, "note", "A note is at most 500 characters"),
    ({"credits": [{"tracking_id": "alice"}], "store": "other-shop.myshopify.com"}, 422, "store", "store: unknown field"),
    ({"credits": [{"tracking_id": "alice", "share": "1"}]}, 422, "credits.0.share", "credits.0.share: unknown field"),
])
def test_a_wrong_credit_is_refused_beside_its_field_and_nothing_is_written(
        merchant, shop_settings, sessions, store, settings, body, status, field, said):
    with transaction(sessions) as session:
        directory.add_influencer(session, directory.add_store(session, settings.secret_key, "shopify", OTHER_SHOP,
                                                              access_token="shpat_o"), "dave")
    place(merchant, shop_settings, sessions)
    answer = post(merchant, body)
    assert (answer.status_code, answer.json["field"]) == (status, field), answer.json
    assert answer.json["message"].startswith(said), answer.json
    assert made(sessions) == [] and record(sessions).method is None


@pytest.mark.parametrize("prepare, reason, why_not, said", [
    (dict(test=True), "test_order", "Test orders are not credited in this store (Settings).",
     "It is a test order, and this store does not credit test orders (Settings)."),
    (dict(topic="orders/create", financial_status="pending"), "unpaid",
     "It is not paid yet, and this store credits orders once they are paid (Settings).",
     "The order is not paid yet, and this store credits orders once they are paid (Settings)."),
    (dict(codes=("ALICE15",)), "already_credited", "It is credited already.",
     "This order is already credited, so it cannot be credited by hand: the order was already credited by promo "
     "code at "),
])
def test_an_order_that_cannot_be_credited_by_hand_says_why_and_is_refused(
        merchant, shop_settings, sessions, store, prepare, reason, why_not, said):
    place(merchant, shop_settings, sessions, **prepare)
    shown = why(merchant)["by_hand"]
    if reason == "already_credited":
        assert shown == {"done": False, "possible": False, "why_not": why_not}
    else:
        assert (shown["possible"], shown["why_not"]) == (False, why_not)
    count = len(made(sessions))
    answer = post(merchant, SPLIT)
    assert (answer.status_code, answer.json["reason"]) == (409, reason), answer.json
    assert answer.json["message"].startswith(said)
    assert len(made(sessions)) == count


def test_a_cancelled_order_cannot_be_credited_by_hand(merchant, shop_settings, sessions, store):
    place(merchant, shop_settings, sessions, topic="orders/cancelled", cancelled_at="2026-11-22T15:00:00+01:00")
    assert why(merchant)["by_hand"]["why_not"] == "A cancelled order is never credited."
    answer = post(merchant, SPLIT)
    assert (answer.status_code, answer.json["reason"]) == (409, "cancelled")
    assert made(sessions) == []


def test_another_shops_order_is_not_this_shops_and_another_shops_token_cannot_credit_it(
        merchant, shop_settings, sessions, store, settings):
    with transaction(sessions) as session:
        other = directory.add_store(session, settings.secret_key, "shopify", OTHER_SHOP, access_token="shpat_o")
        directory.add_influencer(session, other, "dave")
    place(merchant, shop_settings, sessions, 8101, shop=OTHER_SHOP)  # the other shop's order
    place(merchant, shop_settings, sessions)  # this shop's
    # this shop's token, the other shop's order: not an order this shop has
    answer = post(merchant, {"credits": [{"tracking_id": "alice"}]}, order_id=8101)
    assert (answer.status_code, answer.json["error"]) == (404, "not_found")
    assert merchant.get("/admin/api/orders/8101", headers=bearer()).status_code == 404
    # the other shop's token, this shop's order: not an order that shop has either
    theirs = bearer(shop=OTHER_SHOP)
    answer = post(merchant, {"credits": [{"tracking_id": "dave"}]}, headers=theirs)
    assert (answer.status_code, answer.json["error"]) == (404, "not_found")
    # the other shop's token, its own order: only its own influencers
    answer = post(merchant, {"credits": [{"tracking_id": "alice"}]}, order_id=8101, headers=theirs)
    assert (answer.status_code, answer.json["field"]) == (422, "credits.0.tracking_id")
    assert made(sessions) == []
    choices = merchant.get(f"/admin/api/orders/{ORDER}/credit", headers=theirs).json
    assert [i["tracking_id"] for i in choices["influencers"]] == ["dave"]


@pytest.mark.parametrize("kind", sorted(REFUSED_TOKENS))
@pytest.mark.parametrize("method, path", [("post", f"/admin/api/orders/{ORDER}/credit"),
                                          ("get", f"/admin/api/orders/{ORDER}/credit?q=al")])
def test_without_a_valid_session_token_nothing_is_credited_or_listed(merchant, shop_settings, sessions, store, kind,
                                                                     method, path):
    place(merchant, shop_settings, sessions)
    headers = REFUSED_TOKENS[kind]
    headers = headers() if callable(headers) else headers
    answer = call(merchant, method, path, SPLIT if method == "post" else None, headers)
    assert answer.status_code == 401, answer.json
    assert answer.json == {"error": "unauthorized", "message": "a valid session token is required", "field": None}
    assert made(sessions) == [] and record(sessions).method is None


def test_the_form_suggests_the_stores_active_influencers_matching_what_is_typed(merchant, shop_settings, sessions,
                                                                              store):
    with transaction(sessions) as session:
        shop = directory.find_store(session, SHOP)
        directory.add_influencer(session, shop, "alina_50%", campaign_id="x")
        directory.add_influencer(session, shop, "gone").active = False
    everyone = merchant.get(f"/admin/api/orders/{ORDER}/credit", headers=bearer()).json
    assert [i["tracking_id"] for i in everyone["influencers"]] == ["alice", "alina_50%", "bob", "carol"]
    assert everyone["total"] == 4
    typed = merchant.get(f"/admin/api/orders/{ORDER}/credit?q=AL", headers=bearer()).json
    assert [(i["tracking_id"], i["campaign_id"]) for i in typed["influencers"]] == [
        ("alice", "spring-26"), ("alina_50%", "x")]
    literal = merchant.get(f"/admin/api/orders/{ORDER}/credit?q=_5", headers=bearer()).json  # _ and % are letters here
    assert [i["tracking_id"] for i in literal["influencers"]] == ["alina_50%"]
    assert merchant.get(f"/admin/api/orders/{ORDER}/credit?q=%25", headers=bearer()).json["total"] == 1


def test_a_body_that_is_not_json_or_too_long_an_order_id_is_refused_not_a_crash(merchant, shop_settings, sessions,
                                                                               store):
    place(merchant, shop_settings, sessions)
    for raw in (b"not json", b"[]", b'{"credits": "alice"}', b"\xff"):
        answer = merchant.post(f"/admin/api/orders/{ORDER}/credit", data=raw, headers=bearer(),
                               content_type="application/json")
        assert answer.status_code in (400, 422), answer.get_data(as_text=True)
    answer = post(merchant, SPLIT, order_id="9" * 200)
    assert answer.status_code == 404
    surrogate = b'{"credits": [{"tracking_id": "alice"}], "note": "\\udc00"}'
    answer = merchant.post(f"/admin/api/orders/{ORDER}/credit", data=surrogate, headers=bearer(),
                           content_type="application/json")
    assert answer.status_code in (400, 422), answer.get_data(as_text=True)
    assert made(sessions) == []
