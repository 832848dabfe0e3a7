"""Crediting an order by hand through the backend's API (PUT /api/v1/stores/{id}/orders/{order}/credit).

Orders arrive as signed Shopify webhooks through the edge and are decided by the real worker; the credit by hand
is the real route on the real database; conversions are delivered, signed, to the stand-in backend, which verifies
them. Then the order's refunds, edits and cancellation come as webhooks again and are reversed as for any purchase.
"""

from __future__ import annotations

import copy
import json
import threading
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from connector import create_app
from connector.campaigns import directory
from connector.db import transaction
from connector.models import AttributionRecord, ConversionCredit, Event, Order
from connector.models.events import ERASED_BODIES
from standins.shopify import edits, samples

from .conftest import SHOP
from .helpers import conversions, drain, post_shopify
from .test_api import AUTH, TOKEN, Api, error_of

ORDER = 7001
SOCKS = 15873421223126  # the template's Merino Socks line: 2 units, 12.75 each after the order's discount
#: a code no influencer has: the order carries a signal that points nowhere (and asks Shopify for nothing more)
STRANGER = "SUMMER10"
CREDIT = {"credits": [{"tracking_id": "alice", "share": "0.6"}, {"tracking_id": "Bob", "share": "0.4"}],
          "note": "Agreed with alice on the phone: the shopper came from her live stream"}


@pytest.fixture
def live_settings(delivering_settings):
    return delivering_settings.with_overrides(api_token=TOKEN)


@pytest.fixture
def client(live_settings, engine):
    app = create_app(live_settings, engine=engine)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture
def api(client):
    return Api(client)


def place(client, live_settings, sessions, order_id: int = ORDER, *, topic: str = "orders/paid", **fields):
    """The order delivered, signed, through the edge, and the worker until nothing is left (delivered too)."""
    fields.setdefault("codes", (STRANGER,))
    body = samples.order(order_id=order_id, name=f"#{order_id}", cart_ref="", landing_site="/", landing_site_ref="",
                         **fields)
    assert post_shopify(client, topic, body).status_code == 200
    drain(live_settings, sessions)
    return body


def send(client, live_settings, sessions, topic: str, body: dict) -> None:
    assert post_shopify(client, topic, body).status_code == 200
    drain(live_settings, sessions)


def record(sessions, order_id: int = ORDER) -> AttributionRecord | None:
    with sessions() as session:
        order = session.scalar(select(Order).where(Order.platform_order_id == str(order_id)))
        return session.get(AttributionRecord, order.id) if order else None


def received(backend, kind: str | None = None) -> list[dict]:
    return [r.body for r in backend.delivered() if kind is None or r.body["type"] == f"conversion.{kind}"]


def signed_sum(backend) -> Decimal:
    signs = {"purchase": 1, "adjustment": 1, "refund": -1, "cancellation": -1}
    return sum((signs[b["type"].split(".")[1]] * Decimal(b["data"]["amount"]) for b in received(backend)), Decimal(0))


def credit(api, order_id: int = ORDER, body=None, store_id: int = 1):
    return api.put(f"/stores/{store_id}/orders/{order_id}/credit", CREDIT if body is None else body)


# --- credited by hand -------------------------------------------------------------------------------------


def test_an_order_no_signal_credited_is_credited_by_hand_and_the_backend_receives_it(
        api, client, live_settings, sessions, store, backend):
    place(client, live_settings, sessions)
    before = record(sessions)
    assert (before.outcome, before.method) == ("no_eligible_signal", None)
    assert received(backend) == []

    answer = credit(api)
    assert answer.status_code == 201, answer.json
    made = answer.json
    assert (made["type"], made["method"], made["amount"], made["currency"], made["tracking_id"]) == (
        "conversion.purchase", "manual", "59.50", "EUR", "alice")
    assert made["credits"] == [{"tracking_id": "alice", "share": "0.6"}, {"tracking_id": "bob", "share": "0.4"}]
    assert made["manual"]["by"] == "backend" and made["manual"]["user"] is None
    assert made["manual"]["note"] == CREDIT["note"]
    assert (made["status"], made["reversals"], made["refunds_queued"]) == ("pending", [], False)

    drain(live_settings, sessions)
    [body] = received(backend)
    data = body["data"]
    assert body == made["payload"] and data["conversion_id"] == made["conversion_id"]
    assert (data["method"], data["order_id"], data["order_name"], data["amount"], data["promo_code"]) == (
        "manual", str(ORDER), f"#{ORDER}", "59.50", None)
    assert [(i["title"], i["amount"]) for i in data["items"]] == [("Wool Scarf", "34.00"), ("Merino Socks", "25.50")]
    assert data["campaign_id"] == "spring-26" and data["reverses"] is None
    with sessions() as session:
        shares = session.execute(select(ConversionCredit.tracking_key, ConversionCredit.method, ConversionCredit.amount)
                                 .where(ConversionCredit.conversion_id == made["conversion_id"])
                                 .order_by(ConversionCredit.tracking_key)).all()
        order = session.scalar(select(Order).where(Order.platform_order_id == str(ORDER)))
    assert shares == [("alice", "manual", Decimal("35.70")), ("bob", "manual", Decimal("23.80"))]
    assert (order.purchase_conversion_id, order.commission_base) == (made["conversion_id"], Decimal("59.50"))

    after = record(sessions)
    assert (after.outcome, after.method) == ("credit", "manual")
    assert after.credits == [{"tracking_id": "alice", "share": "0.6"}, {"tracking_id": "bob", "share": "0.4"}]
    [code] = after.signals
    assert (code["kind"], code["value"], code["status"], code["superseded"]) == (
        "promo_code", STRANGER, "ignored", True)
    manual = after.details["manual"]
    assert (manual["by"], manual["user"], manual["note"], manual["at"]) == (
        "backend", None, CREDIT["note"], made["manual"]["at"])
    assert manual["superseded"]["outcome"] == "no_eligible_signal" and manual["superseded"]["credits"] == []
    assert after.details["first_order"] == before.details["first_order"]  # what else it went by is kept


def test_the_attribution_record_and_conversions_show_say_who_credited_it_by_hand(
        api, client, live_settings, sessions, store, cli):
    place(client, live_settings, sessions)
    made = credit(api).json
    shown = api.get(f"/stores/{store.id}/orders/{ORDER}/attribution").json
    assert (shown["outcome"], shown["method"], shown["purchase_conversion_id"]) == (
        "credit", "manual", made["conversion_id"])
    assert shown["credits"] == made["credits"]
    assert shown["details"]["manual"]["by"] == "backend" and shown["details"]["manual"]["note"] == CREDIT["note"]
    assert shown["details"]["manual"]["superseded"]["outcome"] == "no_eligible_signal"
    assert shown["signals"][0]["superseded"] is True

    printed = json.loads(cli("conversions", "show", made["conversion_id"]))
    assert printed["body"]["data"]["method"] == "manual"
    assert (printed["attribution"]["method"], printed["attribution"]["credits"]) == ("manual", made["credits"])


def test_without_shares_the_influencers_share_equally(api, client, live_settings, sessions, store):
    place(client, live_settings, sessions)
    answer = credit(api, body={"credits": [{"tracking_id": t} for t in ("carol", "alice", "bob")]})
    assert answer.status_code == 201, answer.json
    assert answer.json["credits"] == [{"tracking_id": "carol", "share": "0.3334"},
                                      {"tracking_id": "alice", "share": "0.3333"},
                                      {"tracking_id": "bob", "share": "0.3333"}]
    assert answer.json["tracking_id"] == "carol" and answer.json["manual"]["note"] is None


def test_the_same_put_twice_answers_409_with_the_first_purchase_and_writes_nothing(
        api, client, live_settings, sessions, store, backend):
    place(client, live_settings, sessions)
    first = credit(api)
    again = credit(api)
    error = error_of(again, 409, "conflict")
    assert (error["reason"], error["conversion_id"]) == ("already_credited", first.json["conversion_id"])
    assert "already credited by hand (backend)" in error["message"]
    drain(live_settings, sessions)
    assert len(received(backend)) == 1 and len(conversions(sessions)) == 1
    assert record(sessions).details["manual"]["at"] == first.json["manual"]["at"]


def test_an_order_a_signal_credited_is_refused_with_what_credited_it_and_when(
        api, client, live_settings, sessions, store):
    place(client, live_settings, sessions, codes=("ALICE15",))
    [purchase] = conversions(sessions)
    kept = record(sessions)
    error = error_of(credit(api), 409, "conflict")
    assert error["reason"] == "already_credited" and error["conversion_id"] == purchase.id
    assert error["message"].startswith("the order was already credited by promo code at 20")
    assert purchase.id in error["message"]
    after = record(sessions)
    assert (after.method, after.credits, after.signals, after.details) == (
        kept.method, kept.credits, kept.signals, kept.details)
    assert len(conversions(sessions)) == 1


def test_a_store_crediting_on_creation_credits_an_unpaid_order_by_hand(api, client, live_settings, sessions, store):
    with transaction(sessions) as session:
        directory.find_store(session, SHOP).credit_on = "creation"
    place(client, live_settings, sessions, topic="orders/create", financial_status="pending")
    assert credit(api).status_code == 201


def test_a_test_order_is_credited_by_hand_when_the_store_forwards_test_orders(
        api, client, live_settings, sessions, store, backend):
    with transaction(sessions) as session:
        directory.find_store(session, SHOP).forward_test_orders = True
    place(client, live_settings, sessions, test=True)
    assert credit(api).status_code == 201
    drain(live_settings, sessions)
    assert received(backend)[0]["data"]["test"] is True


# --- refused, and nothing written -------------------------------------------------------------------------


def _refund_only(client, live_settings, sessions):
    """A refund of an order whose own event never came: the connector knows the order id, not its amount."""
    send(client, live_settings, sessions, "refunds/create", samples.refund(order_id=ORDER))


def _erased(client, live_settings, sessions):
    """The order's event, erased after the retention period: its amount and lines are gone with it."""
    place(client, live_settings, sessions)
    with transaction(sessions) as session:
        session.execute(update(Event).values(body=ERASED_BODIES[0]))


@pytest.mark.parametrize("reason, prepare, said", [
    ("cancelled", lambda c, s, db: place(c, s, db, topic="orders/cancelled", cancelled_at="2026-11-22T15:00:00+01:00"),
     "the order was cancelled: a cancelled order is never credited"),
    ("test_order", lambda c, s, db: place(c, s, db, test=True),
     "it is a test order, and this store does not credit test orders (forward_test_orders is off)"),
    ("unpaid", lambda c, s, db: place(c, s, db, topic="orders/create", financial_status="pending"),
     "the order is not paid yet (financial status pending), and this store credits orders once they are paid "
     "(credit_on=paid)"),
    ("no_order_event", _refund_only, "the connector has seen no event of the order itself"),
    ("no_order_event", _erased, "the order's event is no longer kept"),
])
def test_an_order_that_may_not_be_credited_is_refused_with_the_reason(
        api, client, live_settings, sessions, store, backend, reason, prepare, said):
    prepare(client, live_settings, sessions)
    kept = record(sessions)
    with sessions() as session:
        waiting = session.scalar(select(Order.deferred_refunds))
    error = error_of(credit(api), 409, "conflict")
    assert error["reason"] == reason and error["message"].startswith(said), error
    drain(live_settings, sessions)
    assert conversions(sessions) == [] and received(backend) == []
    after = record(sessions)
    if kept is None:
        assert after is None
    else:
        assert (after.method, after.outcome, after.credits, after.signals, after.details) == (
            kept.method, kept.outcome, kept.credits, kept.signals, kept.details)
    with sessions() as session:
        assert session.scalar(select(Order.deferred_refunds)) == waiting  # a refund kept waits on, untouched


def test_an_unknown_order_or_store_is_404(api, client, live_settings, sessions, store):
    place(client, live_settings, sessions)
    assert error_of(credit(api, order_id=999), 404, "not_found")["reason"] == "unknown_order"
    error_of(credit(api, store_id=2), 404, "not_found")
    error_of(api.put(f"/stores/{store.id}/orders/{'9' * 65}/credit", CREDIT), 404, "not_found")
    assert len(conversions(sessions)) == 0


def test_another_stores_order_cannot_be_credited_under_this_store(api, client, live_settings, sessions, store, settings):
    with transaction(sessions) as session:
        other = directory.add_store(session, settings.secret_key, "shopify", "other-shop.myshopify.com",
                                    access_token="shpat_other")
        other_id = other.id
    body = samples.order(shop="other-shop.myshopify.com", order_id=8001, codes=(STRANGER,), cart_ref="",
                         landing_site="/", landing_site_ref="")
    assert post_shopify(client, "orders/paid", body, shop="other-shop.myshopify.com").status_code == 200
    drain(live_settings, sessions)
    assert error_of(credit(api, order_id=8001, store_id=store.id), 404, "not_found")["reason"] == "unknown_order"
    # under its own store, the other store's influencers are not this one's
    error = error_of(credit(api, order_id=8001, store_id=other_id), 422, "validation_error", "credits.0.tracking_id")
    assert error["reason"] == "unknown_influencer"
    assert conversions(sessions) == []


@pytest.mark.parametrize("body, field, reason, said", [
    ({"credits": [{"tracking_id": "alice", "share": "0.5"}, {"tracking_id": "bob", "share": "0.4999"}]},
     "credits", "shares_not_one", "the shares add up to 0.9999, not 1"),
    ({"credits": [{"tracking_id": "alice", "share": "0.6"}, {"tracking_id": "bob", "share": "0.6"}]},
     "credits", "shares_not_one", "the shares add up to 1.2, not 1"),
    ({"credits": [{"tracking_id": "alice", "share": "0.5"}, {"tracking_id": "ALICE", "share": "0.5"}]},
     "credits.1.tracking_id", "duplicate_influencer", "ALICE is named twice"),
    ({"credits": [{"tracking_id": "nobody"}]}, "credits.0.tracking_id", "unknown_influencer",
     "no influencer of this store has the tracking id 'nobody'"),
    ({"credits": [{"tracking_id": "alice", "share": "0.5"}, {"tracking_id": "bob"}]}, "credits", "bad_credits",
     "give every influencer a share, or none"),
])
def test_credits_that_are_not_right_are_refused_naming_the_field(
        api, client, live_settings, sessions, store, body, field, reason, said):
    place(client, live_settings, sessions)
    kept = record(sessions)
    error = error_of(credit(api, body=body), 422, "validation_error", field)
    assert error["reason"] == reason and error["message"].startswith(said), error
    assert conversions(sessions) == []
    assert (record(sessions).method, record(sessions).details) == (kept.method, kept.details)


def test_an_influencer_removed_from_the_store_is_refused(api, client, live_settings, sessions, store):
    place(client, live_settings, sessions)
    assert api.delete(f"/stores/{store.id}/influencers/bob").status_code < 300
    error = error_of(credit(api), 422, "validation_error", "credits.1.tracking_id")
    assert error["reason"] == "inactive_influencer" and "no longer an influencer" in error["message"]
    assert conversions(sessions) == []


@pytest.mark.parametrize("body, field", [
    ({"credits": []}, "credits"),
    ({"credits": [{"tracking_id": "alice", "share": "0"}]}, "credits.0.share"),
    ({"credits": [{"tracking_id": "alice", "share": "0.00001"}, {"tracking_id": "bob", "share": "0.99999"}]},
     "credits.0.share"),
    ({"credits": [{"tracking_id": "alice", "share": 1}]}, "credits.0.share"),
    ({"credits": [{"tracking_id": "alice", "share": "1.5"}]}, "credits.0.share"),
    ({"credits": [{"tracking_id": "alice", "share": "1e0"}]}, "credits.0.share"),
    ({"credits": [{"tracking_id": "al ice"}]}, "credits.0.tracking_id"),
    ({"credits": [{"tracking_id": "a" * 101}]}, "credits.0.tracking_id"),
    ({"credits": [{"tracking_id": f"i{n}"} for n in range(21)]}, "credits"),
    ({"credits": [{"tracking_id": "alice"}], "note": "x" * 501}, "note"),
    ({"credits": [{"tracking_id": "alice"}], "note": "nul \x00 here"}, "note"),
    ({"credits": [{"tracking_id": "alice"}], "by": "merchant"}, "by"),
    ({"credit": [{"tracking_id": "alice"}]}, "credits"),
])
def test_a_body_that_is_not_right_is_422_naming_the_field(api, client, live_settings, sessions, store, body, field):
    place(client, live_settings, sessions)
    error_of(credit(api, body=body), 422, "validation_error", field)
    assert conversions(sessions) == []


def test_a_huge_body_a_lone_surrogate_and_bytes_that_are_not_json_never_break_it(
        api, client, live_settings, sessions, store):
    place(client, live_settings, sessions)
    path = f"/api/v1/stores/{store.id}/orders/{ORDER}/credit"
    surrogate = b'{"credits": [{"tracking_id": "alice"}], "note": "\\ud800 half a pair"}'
    answer = client.put(path, data=surrogate, headers={**AUTH, "Content-Type": "application/json"})
    assert answer.status_code in (400, 422), answer.get_data(as_text=True)
    for raw in (b"not json", b"[]", b'{"credits": "alice"}', b"\xff\xfe"):
        answer = client.put(path, data=raw, headers={**AUTH, "Content-Type": "application/json"})
        assert answer.status_code in (400, 422) and answer.json["error"]["code"] in ("bad_request", "validation_error")
    huge = json.dumps({"credits": [{"tracking_id": "alice"}], "note": "x" * 5_000_000}).encode()
    assert client.put(path, data=huge, headers={**AUTH, "Content-Type": "application/json"}).status_code in (413, 422)
    assert conversions(sessions) == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-token"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}])
def test_without_the_token_nothing_is_credited(api, client, live_settings, sessions, store, headers):
    place(client, live_settings, sessions)
    error_of(api.put(f"/stores/{store.id}/orders/{ORDER}/credit", CREDIT, headers=headers), 401, "unauthorized")
    assert conversions(sessions) == [] and record(sessions).method is None


def test_an_unknown_query_parameter_is_refused(api, client, live_settings, sessions, store):
    place(client, live_settings, sessions)
    error_of(api.put(f"/stores/{store.id}/orders/{ORDER}/credit?dry_run=1", CREDIT), 422, "validation_error",
             "dry_run")
    assert conversions(sessions) == []


# --- then reversed as any purchase ------------------------------------------------------------------------


def test_a_refund_of_an_order_credited_by_hand_is_reversed_exactly(api, client, live_settings, sessions, store,
                                                                   backend):
    place(client, live_settings, sessions)
    made = credit(api).json
    send(client, live_settings, sessions, "refunds/create", samples.refund(order_id=ORDER))
    purchase, refund = received(backend)
    data = refund["data"]
    assert (refund["type"], data["reverses"], data["amount"], data["method"]) == (
        "conversion.refund", made["conversion_id"], "12.75", "manual")
    assert data["credits"] == purchase["data"]["credits"] == made["credits"]
    assert data["tracking_id"] == "alice"
    assert [(i["title"], i["quantity"], i["amount"]) for i in data["items"]] == [("Merino Socks", 1, "12.75")]
    with sessions() as session:
        shares = session.execute(select(ConversionCredit.tracking_key, ConversionCredit.amount).where(
            ConversionCredit.conversion_id == data["conversion_id"]).order_by(ConversionCredit.tracking_key)).all()
    assert shares == [("alice", Decimal("-7.65")), ("bob", Decimal("-5.10"))]
    send(client, live_settings, sessions, "refunds/create", samples.refund(order_id=ORDER))  # delivered again
    assert len(received(backend, "refund")) == 1
    assert signed_sum(backend) == Decimal("46.75")


def test_a_refund_that_came_before_the_credit_is_reversed_with_it(api, client, live_settings, sessions, store,
                                                                  backend):
    place(client, live_settings, sessions)
    send(client, live_settings, sessions, "refunds/create", samples.refund(order_id=ORDER))
    with sessions() as session:
        assert session.scalar(select(Order.deferred_refunds))  # kept with the order, waiting for a purchase
    made = credit(api).json
    [reversal] = made["reversals"]
    assert (reversal["type"], reversal["amount"]) == ("conversion.refund", "12.75")
    drain(live_settings, sessions)
    purchase, refund = received(backend)
    assert refund["data"]["reverses"] == purchase["data"]["conversion_id"] == made["conversion_id"]
    assert refund["data"]["conversion_id"] == reversal["conversion_id"]
    with sessions() as session:
        assert session.scalar(select(Order.deferred_refunds)) is None
    send(client, live_settings, sessions, "refunds/create", samples.refund(order_id=ORDER))
    assert len(received(backend, "refund")) == 1


def test_refunds_the_orders_event_lists_are_reversed_by_the_worker_once(api, client, live_settings, sessions, store,
                                                                        backend):
    body = samples.order(order_id=ORDER, name=f"#{ORDER}", codes=(STRANGER,), cart_ref="", landing_site="/",
                         landing_site_ref="", financial_status="partially_refunded")
    body["refunds"] = [samples.refund(order_id=ORDER)]
    send(client, live_settings, sessions, "orders/updated", body)
    made = credit(api).json
    assert made["reversals"] == [] and made["refunds_queued"] is True
    drain(live_settings, sessions)
    purchase, refund = received(backend)
    assert (refund["type"], refund["data"]["amount"], refund["data"]["reverses"]) == (
        "conversion.refund", "12.75", made["conversion_id"])
    send(client, live_settings, sessions, "orders/updated", body)  # the same state again
    assert len(received(backend)) == 2


def test_an_edit_adjusts_an_order_credited_by_hand_and_a_cancellation_voids_the_rest(
        api, client, live_settings, sessions, store, backend):
    body = place(client, live_settings, sessions)
    made = credit(api).json
    edited = copy.deepcopy(body)
    edits.set_quantity(edited, SOCKS, 1)
    edited["updated_at"] = "2026-11-22T16:00:00+01:00"
    send(client, live_settings, sessions, "orders/updated", edited)
    adjustment = received(backend, "adjustment")[0]["data"]
    assert (adjustment["amount"], adjustment["reverses"], adjustment["method"], adjustment["credits"]) == (
        "-12.75", made["conversion_id"], "manual", made["credits"])
    assert record(sessions).details["adjustments"][0]["to"] == "46.75"
    assert record(sessions).details["manual"]["by"] == "backend"  # the edit added to the record, kept the rest

    cancelled = {**edited, "cancelled_at": "2026-11-22T17:00:00+01:00", "cancel_reason": "customer",
                 "updated_at": "2026-11-22T17:00:00+01:00"}
    send(client, live_settings, sessions, "orders/cancelled", cancelled)
    cancellation = received(backend, "cancellation")[0]["data"]
    assert (cancellation["amount"], cancellation["reverses"], cancellation["credits"]) == (
        "46.75", made["conversion_id"], made["credits"])
    assert signed_sum(backend) == 0
    error = error_of(credit(api), 409, "conflict")
    assert error["reason"] == "already_credited"


def test_the_orders_own_event_handled_again_after_the_credit_changes_nothing(
        api, client, live_settings, sessions, store, backend):
    place(client, live_settings, sessions)
    made = credit(api).json
    with sessions() as session:
        event_id = session.scalar(select(Order.last_event_id))
    with transaction(sessions) as session:  # the order's delivery handled again, as a replay would
        session.execute(update(Event).where(Event.id == event_id).values(status="pending"))
    drain(live_settings, sessions)
    assert [b["type"] for b in received(backend)] == ["conversion.purchase"]
    after = record(sessions)
    assert (after.method, after.credits) == ("manual", made["credits"])


def test_two_credits_by_hand_at_once_make_one_purchase(live_settings, engine, sessions, store, client):
    place(client, live_settings, sessions)
    app = create_app(live_settings, engine=engine)
    start, answers = threading.Barrier(2), []

    def put(tracking_id: str) -> None:
        own = Api(app.test_client())
        start.wait()
        answers.append(credit(own, body={"credits": [{"tracking_id": tracking_id}]}))

    threads = [threading.Thread(target=put, args=(t,)) for t in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(a.status_code for a in answers) == [201, 409]
    [won] = [a.json for a in answers if a.status_code == 201]
    [lost] = [a.json["error"] for a in answers if a.status_code == 409]
    assert lost["reason"] == "already_credited" and lost["conversion_id"] == won["conversion_id"]
    assert [c.id for c in conversions(sessions)] == [won["conversion_id"]]
    assert record(sessions).credits == won["credits"]


def test_an_order_waiting_for_the_browsers_report_can_be_credited_by_hand_and_its_wait_ends_in_nothing(
        client, live_settings, engine, sessions, store, backend):
    waiting = live_settings.with_overrides(report_grace_seconds=600)
    api = Api(create_app(waiting, engine=engine).test_client())
    place(client, waiting, sessions)
    assert record(sessions).outcome == "awaiting_report"
    made = credit(api)
    assert made.status_code == 201, made.json
    with sessions() as session:
        assert session.scalar(select(Order.awaiting_report_until)) is None
        assert session.scalar(select(Event.status)) == "pending"  # the worker still holds it for later
    with transaction(sessions) as session:  # its wait is over: handled now
        session.execute(update(Event).values(lease_until=None))
    drain(waiting, sessions)
    assert [b["type"] for b in received(backend)] == ["conversion.purchase"]
    with sessions() as session:
        assert session.scalar(select(Event.status)) == "handled"
    assert (record(sessions).method, record(sessions).outcome) == ("manual", "credit")


def test_an_uninstalled_stores_order_is_not_credited(api, client, live_settings, sessions, store):
    place(client, live_settings, sessions)
    with transaction(sessions) as session:
        directory.find_store(session, SHOP).status = "uninstalled"
    error = error_of(credit(api), 409, "conflict")
    assert (error["reason"], error["message"]) == ("store_not_active",
                                                   "the store is uninstalled: its orders are not credited")
    assert conversions(sessions) == []


def test_erasing_the_customer_erases_the_note_typed_about_them(api, client, live_settings, sessions, store):
    order = place(client, live_settings, sessions)
    credit(api)
    assert record(sessions).details["manual"]["note"] == CREDIT["note"]
    customer = order["customer"]
    send(client, live_settings, sessions, "customers/redact", {
        "shop_id": store.platform_shop_id or 1, "shop_domain": store.domain,
        "customer": {"id": customer["id"], "email": customer["email"], "phone": None},
        "orders_to_redact": [ORDER]})
    manual = record(sessions).details["manual"]
    assert manual["note"] is None and manual["by"] == "backend"  # who and when stay: they are not the customer's
