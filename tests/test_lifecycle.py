"""Uninstall, data requests, customer and store erasure, on orders made by the real pipeline.

Orders and their events go in as stored Shopify deliveries handled by the worker; the lifecycle
deliveries are stored the same way and applied with apply_lifecycle, as the worker does in the
transaction that marks them handled.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from standins.shopify import samples
from adapters.shopify.compliance import normalise_lifecycle
from connector.campaigns import directory
from connector.db import transaction
from connector.intake.inbox import store_delivery
from connector.installs.lifecycle import REDACTED_CUSTOMER, REDACTED_STORE, apply_lifecycle
from connector.models import (
    AttributionRecord,
    Conversion,
    DeliveryAttempt,
    Event,
    Influencer,
    Order,
    PrivacyRequest,
    Store,
)
from connector.core.rules import email_sha256
from connector.worker import Worker

from .conftest import SHOP
from .helpers import drain

RECEIVED = datetime(2026, 11, 22, 14, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)

CLAIRE_ID = 7064055069302  # the template order's customer
CLAIRE_EMAIL = "claire.martin@example.com"
CLAIRE_PHONE = "+33 6 12 34 56 78"
CLAIRE_WORK_EMAIL = "c.martin@work.example"
ZOE_ID = 7064055069999
ZOE_EMAIL = "zoe.durand@example.org"

PAID = 820982911946154508  # ids beyond 2**53, as Shopify's are
UNPAID = 820982911946154510
GUEST = 820982911946154512  # Claire as a guest with another address: found only by its order id
ZOES = 820982911946154514


def shopper_order(order_id: int, *, customer_id: int | None, email: str, first: str, last: str, phone: str,
                  codes: tuple[str, ...] = ()) -> dict:
    """A template order placed by this shopper, with their name and phone wherever Shopify puts them."""
    body = samples.order(order_id=order_id, codes=codes, cart_ref="", landing_site="/", landing_site_ref="",
                         email=email)
    body["phone"] = phone
    for address in (body["billing_address"], body["shipping_address"], body["customer"]["default_address"]):
        address.update(first_name=first, last_name=last, name=f"{first} {last}", phone=phone)
    if customer_id is None:
        body["customer"] = None
    else:
        body["customer"].update(id=customer_id, email=email, first_name=first, last_name=last, phone=phone)
        body["customer"]["admin_graphql_api_id"] = f"gid://shopify/Customer/{customer_id}"
        body["customer"]["default_address"]["customer_id"] = customer_id
    return body


def claire(order_id: int, **fields) -> dict:
    return shopper_order(order_id, customer_id=CLAIRE_ID, email=CLAIRE_EMAIL, first="Claire", last="Martin",
                         phone=CLAIRE_PHONE, **fields)


def zoe(order_id: int, **fields) -> dict:
    return shopper_order(order_id, customer_id=ZOE_ID, email=ZOE_EMAIL, first="Zoé", last="Durand",
                         phone="+33 7 98 76 54 32", **fields)


def deliver(engine, store_id: int, topic: str, body, *, at: datetime = RECEIVED) -> int:
    """Store a delivery as the edge does; returns its event id."""
    raw = body if isinstance(body, bytes) else samples.encode(body)
    delivery_id = str(uuid.uuid4())
    store_delivery(engine, store_id=store_id, platform="shopify", delivery_id=delivery_id, topic=topic, body=raw,
                   now=at)
    with engine.connect() as connection:
        return connection.scalar(select(Event.id).where(Event.delivery_id == delivery_id))


def handle(settings, sessions) -> None:
    Worker(settings, sessions).handle_events()


def apply(sessions, settings, event_id: int, now: datetime = NOW) -> str:
    """What the worker does with a stored lifecycle delivery: apply it, and mark it handled in the same transaction."""
    with transaction(sessions) as session:
        row = session.get(Event, event_id)
        store = session.get(Store, row.store_id)
        event = normalise_lifecycle(row.topic, row.body)
        note = apply_lifecycle(session, store, event, now=now, current_event_id=row.id, secret_key=settings.secret_key)
        row.status, row.handled_at = "handled", now
        return note


def data_request(customer_id=CLAIRE_ID, email=CLAIRE_EMAIL, orders=(), request_id=9999) -> dict:
    return {"shop_id": 954889, "shop_domain": SHOP, "orders_requested": list(orders),
            "customer": {"id": customer_id, "email": email, "phone": CLAIRE_PHONE}, "data_request": {"id": request_id}}


def redact_request(customer_id=CLAIRE_ID, email=CLAIRE_EMAIL, orders=()) -> dict:
    return {"shop_id": 954889, "shop_domain": SHOP, "customer": {"id": customer_id, "email": email,
            "phone": CLAIRE_PHONE}, "orders_to_redact": list(orders)}


@pytest.fixture
def shop(engine, settings, sessions, store):
    """Claire's orders (one credited and partly refunded, one not credited, one as a guest), Zoé's, and two
    unreadable deliveries that name Claire, all handled by the worker."""
    ids = {
        "paid": deliver(engine, store.id, "orders/paid", claire(PAID, codes=("ALICE15",))),
        "refund": deliver(engine, store.id, "refunds/create", samples.refund(order_id=PAID)),
        "unpaid": deliver(engine, store.id, "orders/paid", claire(UNPAID)),
        "guest": deliver(engine, store.id, "orders/paid", shopper_order(
            GUEST, customer_id=None, email=CLAIRE_WORK_EMAIL, first="Claire", last="Martin", phone=CLAIRE_PHONE,
            codes=("CAROL10",))),
        "zoe": deliver(engine, store.id, "orders/paid", zoe(ZOES, codes=("ALICE15",))),
        "bad_email": deliver(engine, store.id, "orders/create", b'{"id": 5, "email": "CLAIRE.Martin@Example.com", '),
        "bad_id": deliver(engine, store.id, "orders/create", b'{"id": 6, "customer": {"id":7064055069302, '),
        "bad_other": deliver(engine, store.id, "orders/create", b'{"id": 7, "customer": {"id":70640550693021, '),
    }
    handle(settings, sessions)
    with sessions() as session:
        assert {row.id: row.status for row in session.execute(select(Event.id, Event.status))} == {
            **{i: "handled" for i in ids.values()}, ids["bad_email"]: "rejected", ids["bad_id"]: "rejected",
            ids["bad_other"]: "rejected"}
        assert len(session.scalars(select(Conversion)).all()) == 4  # 3 purchases, 1 refund
    return ids


# -- app/uninstalled ------------------------------------------------------------------------------


def test_an_uninstall_drops_credentials_keeps_queued_conversions_and_later_events_are_skipped(
        engine, settings, sessions, store, shop):
    with transaction(sessions) as session:
        row = session.get(Store, store.id)
        row.refresh_token_encrypted, row.refresh_token_expires_at = b"refresh", NOW + timedelta(days=30)
        row.access_token_expires_at, row.setup_pending = NOW + timedelta(hours=1), True
    with sessions() as session:
        queued = {c.id: c.body for c in session.scalars(select(Conversion))}
    uninstalled = deliver(engine, store.id, "app/uninstalled", {"id": 548380009, "myshopify_domain": None})

    assert "uninstalled" in apply(sessions, settings, uninstalled)

    with sessions() as session:
        row = session.get(Store, store.id)
        assert (row.status, row.status_reason, row.uninstalled_at) == ("uninstalled", "app uninstalled", NOW)
        assert (row.access_token_encrypted, row.access_token_expires_at, row.refresh_token_encrypted,
                row.refresh_token_expires_at, row.webhook_secret_encrypted, row.setup_pending) == (
            None, None, None, None, None, False)
        assert row.domain == SHOP
        kept = {c.id: (c.body, c.status) for c in session.scalars(select(Conversion))}
    assert kept == {cid: (body, "pending") for cid, body in queued.items()}

    later = deliver(engine, store.id, "orders/paid", claire(PAID + 100, codes=("ALICE15",)))
    handle(settings, sessions)
    with sessions() as session:
        assert session.get(Event, later).status == "skipped"
        assert session.scalar(select(func.count()).select_from(Conversion)) == len(queued)


def test_an_uninstall_of_an_uninstalled_store_changes_nothing(engine, settings, sessions, store):
    first = deliver(engine, store.id, "app/uninstalled", {})
    apply(sessions, settings, first)
    again = apply(sessions, settings, first, now=NOW + timedelta(days=1))
    assert "already" in again
    with sessions() as session:
        assert session.get(Store, store.id).uninstalled_at == NOW


def test_an_uninstall_received_before_a_reinstall_is_ignored(engine, settings, sessions, store):
    stale = deliver(engine, store.id, "app/uninstalled", {}, at=RECEIVED)
    with transaction(sessions) as session:
        session.get(Store, store.id).installed_at = RECEIVED + timedelta(hours=1)
    assert "ignored" in apply(sessions, settings, stale)
    with sessions() as session:
        row = session.get(Store, store.id)
        assert row.status == "active" and row.access_token_encrypted is not None


# -- customers/data_request -----------------------------------------------------------------------


def test_a_data_request_exports_what_the_connector_holds_about_the_customer(engine, settings, sessions, store, shop):
    request = deliver(engine, store.id, "customers/data_request", data_request(orders=[GUEST]))

    note = apply(sessions, settings, request)

    with sessions() as session:
        [row] = session.scalars(select(PrivacyRequest)).all()
        conversions = {c.id: c for c in session.scalars(select(Conversion))}
    assert (row.kind, row.request_id, row.customer_id, row.store_id) == ("data_request", "9999", str(CLAIRE_ID), store.id)
    assert (row.received_at, row.completed_at) == (RECEIVED, NOW)
    assert row.summary == {"orders": 3, "events": 6, "conversions": 3}
    assert f"privacy request {row.id}" in note
    export = row.export
    assert {k: export[k] for k in ("store", "platform", "customer_id", "email_sha256", "generated_at")} == {
        "store": SHOP, "platform": "shopify", "customer_id": str(CLAIRE_ID), "email_sha256": email_sha256(CLAIRE_EMAIL),
        "generated_at": NOW.isoformat()}

    orders = {o["order_id"]: o for o in export["orders"]}
    assert set(orders) == {str(PAID), str(UNPAID), str(GUEST)}  # not Zoé's
    paid = orders[str(PAID)]
    assert (paid["order_name"], paid["currency"], paid["commission_base"], paid["cancelled"]) == (
        "#1001", "EUR", "59.50", False)
    assert paid["credited_at"] is not None and paid["first_seen_at"] is not None
    assert (paid["attribution"]["method"], paid["attribution"]["outcome"]) == ("promo_code", "credit")
    assert paid["attribution"]["credits"] == [{"tracking_id": "alice", "share": "1"}]
    assert [(c["type"], c["amount"], c["currency"], c["tracking_id"], c["status"]) for c in paid["conversions"]] == [
        ("conversion.purchase", "59.50", "EUR", "alice", "pending"),
        ("conversion.refund", "12.75", "EUR", "alice", "pending")]
    assert all(c["id"] in conversions for c in paid["conversions"])
    assert orders[str(UNPAID)]["attribution"]["outcome"] == "no_signal" and orders[str(UNPAID)]["conversions"] == []
    assert orders[str(GUEST)]["conversions"][0]["tracking_id"] == "carol"

    events = {e["event_id"]: e for e in export["events"]}
    assert set(events) == {shop["paid"], shop["refund"], shop["unpaid"], shop["guest"], shop["bad_email"],
                           shop["bad_id"]}
    assert events[shop["paid"]]["topic"] == "orders/paid"
    # The stored body as JSON, its ids intact past 2**53, through the database's JSON column.
    assert events[shop["paid"]]["body"]["id"] == PAID
    assert events[shop["paid"]]["body"]["customer"]["first_name"] == "Claire"
    assert events[shop["refund"]]["body"]["order_id"] == PAID
    assert events[shop["guest"]]["body"]["email"] == CLAIRE_WORK_EMAIL
    assert events[shop["bad_email"]]["body"] is None and "CLAIRE.Martin" in events[shop["bad_email"]]["raw"]
    assert events[shop["paid"]]["received_at"] == RECEIVED.isoformat()


def test_a_replayed_data_request_is_answered_once(engine, settings, sessions, store, shop):
    request = deliver(engine, store.id, "customers/data_request", data_request())
    apply(sessions, settings, request)
    assert "already" in apply(sessions, settings, request, now=NOW + timedelta(hours=1))
    with sessions() as session:
        [row] = session.scalars(select(PrivacyRequest)).all()
    assert row.completed_at == NOW and row.summary["orders"] == 2  # by id and email: the guest order is not hers


def test_a_data_request_for_a_customer_the_connector_never_saw_is_an_empty_export(engine, settings, sessions, store,
                                                                                    shop):
    request = deliver(engine, store.id, "customers/data_request",
                      data_request(customer_id=123, email="nobody@example.net", request_id=1))
    apply(sessions, settings, request)
    with sessions() as session:
        row = session.scalar(select(PrivacyRequest))
    assert row.summary == {"orders": 0, "events": 0, "conversions": 0}
    assert row.export["orders"] == [] and row.export["events"] == []


# -- customers/redact -----------------------------------------------------------------------------


def _texts_about_customers(sessions) -> list[str]:
    """Every stored event body, every orders row, every privacy request's customer and export: as text, queried."""
    with sessions() as session:
        texts = [bytes(body).decode("utf-8", errors="replace") for body in session.scalars(select(Event.body))]
        texts += [repr(tuple(row)) for row in session.execute(select(Order.__table__))]
        texts += [json.dumps(row.export) + repr(row.customer_id) for row in session.scalars(select(PrivacyRequest))]
        texts += [json.dumps(signals) for signals in session.scalars(select(AttributionRecord.signals))]
    return texts


def _found(texts: list[str], needles: list[str]) -> set[str]:
    """The needles some text holds, case-insensitively; a number only as a whole number (not inside a longer one)."""
    patterns = {n: re.compile(rf"(?<![0-9]){re.escape(n)}(?![0-9])", re.IGNORECASE) for n in needles}
    return {needle for needle in needles for text in texts if patterns[needle].search(text)}


CLAIRE_NEEDLES = [CLAIRE_EMAIL, CLAIRE_WORK_EMAIL, "Claire", "Martin", CLAIRE_PHONE, str(CLAIRE_ID),
                  email_sha256(CLAIRE_EMAIL)]


def test_a_customer_redact_erases_them_everywhere_and_leaves_others_alone(engine, settings, sessions, store, shop):
    apply(sessions, settings, deliver(engine, store.id, "customers/data_request", data_request(orders=[GUEST])))
    waiting = deliver(engine, store.id, "orders/updated", claire(UNPAID))  # not handled yet
    with sessions() as session:
        conversion_bodies = {c.id: c.body for c in session.scalars(select(Conversion))}
        event_count = session.scalar(select(func.count()).select_from(Event))
    assert _found(_texts_about_customers(sessions), CLAIRE_NEEDLES) == set(CLAIRE_NEEDLES)  # there before
    redact = deliver(engine, store.id, "customers/redact", redact_request(orders=[GUEST]))

    note = apply(sessions, settings, redact)

    assert _found(_texts_about_customers(sessions), CLAIRE_NEEDLES) == set()
    with sessions() as session:
        # The rows stay (their delivery ids keep deduplicating); their bodies are the marker.
        assert session.scalar(select(func.count()).select_from(Event)) == event_count + 1
        assert session.get(Event, shop["paid"]).body == REDACTED_CUSTOMER
        assert session.get(Event, redact).body == REDACTED_CUSTOMER
        assert session.get(Event, redact).error is None  # its status is the worker's to set, not "redacted"
        closed = session.get(Event, waiting)
        assert (closed.status, closed.error, closed.body) == ("handled", "redacted", REDACTED_CUSTOMER)
        # Zoé is untouched.
        assert ZOE_EMAIL in session.get(Event, shop["zoe"]).body.decode()
        assert session.get(Event, shop["bad_other"]).body.startswith(b'{"id": 7')
        zoes = session.scalar(select(Order).where(Order.platform_order_id == str(ZOES)))
        assert (zoes.customer_id, zoes.customer_email_sha256) == (str(ZOE_ID), email_sha256(ZOE_EMAIL))
        # Conversions keep their body, which never held more than the email's hash.
        assert {c.id: c.body for c in session.scalars(select(Conversion))} == conversion_bodies
        exported, erased = session.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id)).all()
    assert (exported.export, exported.customer_id, exported.summary["orders"]) == (None, None, 3)
    assert (erased.kind, erased.customer_id, erased.request_id, erased.export) == ("customer_redact", None, None, None)
    assert erased.summary == {"orders": 3, "events": 8, "exports": 1, "signups": 0}
    assert "3 orders and 8 events erased" in note and "1 of those events were still pending" in note
    for body in conversion_bodies.values():
        assert not _found([body], [CLAIRE_EMAIL, "Claire", "Martin", CLAIRE_PHONE, str(CLAIRE_ID)])


def test_a_replayed_customer_redact_does_not_fail_and_changes_nothing_more(engine, settings, sessions, store, shop):
    redact = deliver(engine, store.id, "customers/redact", redact_request())
    apply(sessions, settings, redact)
    bodies = dict(_all_bodies(sessions))
    with transaction(sessions) as session:
        row = session.get(Event, redact)
        again = apply_lifecycle(session, session.get(Store, store.id), normalise_lifecycle(
            "customers/redact", samples.encode(redact_request())), now=NOW, current_event_id=redact,
            secret_key=settings.secret_key)
        assert row.body == REDACTED_CUSTOMER
    assert "0 orders and 0 events erased" in again
    assert dict(_all_bodies(sessions)) == bodies


def _all_bodies(sessions):
    with sessions() as session:
        return session.execute(select(Event.id, Event.body)).all()


def test_a_redacted_self_referral_no_longer_says_who_the_customer_was(engine, settings, sessions, store):
    # alice buys with her own code; carol's landing ref is credited instead.
    body = shopper_order(PAID, customer_id=4343, email="alice@creators.example", first="Alice", last="Creator",
                         phone="+1 555 0100", codes=("ALICE15",))
    body["landing_site"] = "/?ref=carol"
    deliver(engine, store.id, "orders/paid", body)
    handle(settings, sessions)
    with sessions() as session:
        before = session.scalar(select(AttributionRecord.signals))
    assert [(s["tracking_id"], s["status"]) for s in before] == [("alice", "ignored"), ("carol", "won")]

    apply(sessions, settings, deliver(engine, store.id, "customers/redact",
                                      redact_request(customer_id=4343, email="Alice@Creators.example")))

    with sessions() as session:
        after = session.scalar(select(AttributionRecord.signals))
        order = session.scalar(select(Order))
    assert after[1] == before[1]
    assert (after[0]["tracking_id"], after[0]["value"], after[0]["status"]) == (None, None, "ignored")
    assert "self-referral" in after[0]["reason"] and "alice" not in json.dumps(after[0]).lower()
    assert (order.customer_id, order.customer_email_sha256) == (None, None)


# -- shop/redact ----------------------------------------------------------------------------------

OTHER_SHOP = "other-shop.myshopify.com"


def _counts(session, store_id: int, order_ids, conversion_ids) -> dict[str, int]:
    def count(model, *criteria):
        return session.scalar(select(func.count()).select_from(model).where(*criteria))

    return {
        "events": count(Event, Event.store_id == store_id),
        "orders": count(Order, Order.store_id == store_id),
        "attribution_records": count(AttributionRecord, AttributionRecord.order_id.in_(order_ids)),
        "conversions": count(Conversion, Conversion.store_id == store_id),
        "delivery_attempts": count(DeliveryAttempt, DeliveryAttempt.conversion_id.in_(conversion_ids)),
        "influencers": count(Influencer, Influencer.store_id == store_id),
        "privacy_requests": count(PrivacyRequest, PrivacyRequest.store_id == store_id),
    }


def _ids(session, store_id: int):
    return (session.scalars(select(Order.id).where(Order.store_id == store_id)).all(),
            session.scalars(select(Conversion.id).where(Conversion.store_id == store_id)).all())


def test_a_shop_redact_erases_everything_of_the_store_and_nothing_of_others(
        engine, settings, delivering_settings, sessions, store, shop):
    with transaction(sessions) as session:
        other = directory.add_store(session, settings.secret_key, "shopify", OTHER_SHOP, access_token="shpat_other")
        directory.add_influencer(session, other, "dora", code="DORA5")
    deliver(engine, other.id, "orders/paid", zoe(ZOES, codes=("DORA5",)))
    apply(sessions, settings, deliver(engine, other.id, "customers/data_request", data_request(customer_id=ZOE_ID)))
    apply(sessions, settings, deliver(engine, store.id, "customers/data_request", data_request()))
    drain(delivering_settings, sessions)  # handles the other store's order and delivers every conversion
    with sessions() as session:
        ours, theirs = _ids(session, store.id), _ids(session, other.id)
        before = _counts(session, store.id, *ours)
        others_before = _counts(session, other.id, *theirs)
    assert all(before.values()) and all(others_before.values())  # something of each kind to erase
    redact = deliver(engine, store.id, "shop/redact", {"shop_id": 954889, "shop_domain": SHOP})

    note = apply(sessions, settings, redact)

    with sessions() as session:
        assert _counts(session, store.id, *ours) == {**{name: 0 for name in before}, "events": 1}
        assert session.get(Event, redact).body == REDACTED_STORE
        assert _counts(session, other.id, *theirs) == others_before
        tombstone = session.get(Store, store.id)
    assert (tombstone.platform, tombstone.domain, tombstone.status, tombstone.status_reason) == (
        "shopify", SHOP, "redacted", "shop/redact")
    assert tombstone.access_token_encrypted is None and tombstone.refresh_token_encrypted is None
    assert f"{before['orders']} orders" in note and f"{before['events']} events" in note

    assert "0 orders" in apply(sessions, settings, redact)  # a replay does not fail
    with transaction(sessions) as session:
        again = directory.add_store(session, settings.secret_key, "shopify", SHOP, access_token="shpat_new")
        assert (again.id, again.status) == (store.id, "active")  # a reinstall reuses the row


def test_a_refund_after_a_customer_redact_does_not_send_their_email_hash_again(engine, settings, sessions, store,
                                                                                shop):
    apply(sessions, settings, deliver(engine, store.id, "customers/redact", redact_request(orders=[PAID])))
    later = samples.refund(refund_id=509562970, order_id=PAID)
    deliver(engine, store.id, "refunds/create", later)
    handle(settings, sessions)
    with sessions() as session:
        reversals = [json.loads(c.body)["data"] for c in session.scalars(select(Conversion))
                     if json.loads(c.body)["type"] != "conversion.purchase"]
    assert len(reversals) == 2
    hashes = {r["customer"]["email_sha256"] for r in reversals}
    assert None in hashes and email_sha256(CLAIRE_EMAIL) in hashes  # the one sent before keeps it, by contract


def test_a_shop_redact_for_a_store_installed_again_since_is_ignored(engine, settings, sessions, store, shop):
    """Uninstalled, installed again the next day; the redaction that follows the uninstall 48 h later must not
    erase the store in use. One whose install is older than that (the uninstall webhook missed) applies."""
    with transaction(sessions) as session:
        session.get(Store, store.id).installed_at = RECEIVED + timedelta(days=1)
    redact_at = RECEIVED + timedelta(days=2)
    note = apply(sessions, settings, deliver(engine, store.id, "shop/redact", {"shop_domain": SHOP}, at=redact_at))
    assert "installed again" in note
    with sessions() as session:
        assert session.get(Store, store.id).status == "active"
        assert session.scalar(select(func.count()).select_from(Order)) > 0
    with transaction(sessions) as session:
        session.get(Store, store.id).installed_at = RECEIVED - timedelta(days=30)
    apply(sessions, settings, deliver(engine, store.id, "shop/redact", {"shop_domain": SHOP}, at=redact_at))
    with sessions() as session:
        assert session.get(Store, store.id).status == "redacted"
        assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_an_uninstall_retried_after_a_reinstall_leaves_the_new_installation_alone(engine, settings, sessions, store):
    """Shopify retries a failed delivery for hours; its trigger time, not its arrival, says which install it ends."""
    from datetime import timedelta as _td

    with transaction(sessions) as session:
        session.get(Store, store.id).installed_at = RECEIVED + _td(hours=1)  # reinstalled an hour after
    raw = samples.encode({"id": 1, "name": "Shop"})
    store_delivery(engine, store_id=store.id, platform="shopify", delivery_id="retried", topic="app/uninstalled",
                   body=raw, now=RECEIVED + _td(hours=3), triggered_at=RECEIVED)
    with engine.connect() as connection:
        event_id = connection.scalar(select(Event.id).where(Event.delivery_id == "retried"))
    assert "ignored" in apply(sessions, settings, event_id)
    with sessions() as session:
        assert session.get(Store, store.id).status == "active"
