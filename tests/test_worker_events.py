"""The events loop's claims: an event whose lease ran out mid-handling is left to the worker that holds it now,
and a batch's shared connection survives being cut."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from standins.shopify import samples
from connector.db import one_connection, transaction
from connector.models import AttributionRecord, Conversion, Event, Order
from connector.worker import Worker

from .helpers import conversions, drain, events, post_shopify


def _order(number: int, **fields) -> dict:
    return samples.order(order_id=70_000 + number, name=f"#{70_000 + number}", codes=("ALICE15",), cart_ref="",
                         landing_site="/", landing_site_ref="", **fields)


class _OvertakenWorker(Worker):
    """A worker whose claim is taken over (its lease ran out, another worker claimed the event) while it prepares."""

    def _prepare(self, event):
        prepared = super()._prepare(event)
        with transaction(self.sessions) as session:
            session.execute(update(Event).where(Event.id == event.id).values(claimed_by="the-other-worker"))
        return prepared


def test_an_event_whose_claim_was_taken_over_is_left_to_the_new_holder(client, settings, sessions, store):
    post_shopify(client, "orders/paid", _order(1))
    worker = _OvertakenWorker(settings, sessions, worker_id="overtaken")
    assert worker.handle_events() == 1
    [event] = events(sessions)
    assert (event.status, event.claimed_by, event.attempts, event.error) == ("pending", "the-other-worker", 0, None)
    assert conversions(sessions) == [], "what the overtaken worker did was rolled back"
    with sessions() as session:
        assert session.scalars(select(Order)).all() == []
    with transaction(sessions) as session:  # the new holder's lease runs out too: anyone may take it
        session.execute(update(Event).values(claimed_by=None, lease_until=None))
    drain(settings, sessions)
    assert [c.type for c in conversions(sessions)] == ["conversion.purchase"]


def test_an_order_credited_on_the_shorter_path_has_its_row_its_record_and_one_purchase(client, settings, sessions,
                                                                                     store):
    """Fewer statements per event, the same rows: the order made by its first event, the record written when the
    order is first seen and rewritten in place when it is paid, the order's row updated once per event."""
    post_shopify(client, "orders/create", _order(2, financial_status="pending"))
    drain(settings, sessions)
    with sessions() as session:
        [record] = session.scalars(select(AttributionRecord)).all()
    assert conversions(sessions) == [] and record.outcome != "credit"
    post_shopify(client, "orders/paid", _order(2))
    drain(settings, sessions)
    with sessions() as session:
        [order] = session.scalars(select(Order)).all()
        [record] = session.scalars(select(AttributionRecord)).all()
        [purchase] = session.scalars(select(Conversion)).all()
    assert order.purchase_conversion_id == purchase.id and order.credited_at is not None
    assert order.order_name == "#70002" and order.commission_base == purchase.amount
    assert order.last_event_id == max(e.id for e in events(sessions))
    assert (record.method, record.outcome) == ("promo_code", "credit")
    assert record.credits == [{"tracking_id": "alice", "share": "1"}]
    post_shopify(client, "orders/updated", _order(2))  # a redelivery: nothing doubles
    drain(settings, sessions)
    assert [c.type for c in conversions(sessions)] == ["conversion.purchase"]


@pytest.mark.only_database("postgresql")
def test_a_batch_connection_cut_between_transactions_is_replaced(sessions, engine):
    with one_connection(sessions) as batch:
        with transaction(batch) as session:
            pid = session.scalar(text("SELECT pg_backend_pid()"))
        with engine.begin() as other:
            assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(Exception):
            with transaction(batch) as session:
                session.execute(text("SELECT 1"))
        with transaction(batch) as session:
            assert session.scalar(text("SELECT pg_backend_pid()")) != pid


def test_the_store_keeps_when_its_last_event_arrived_to_the_second(client, settings, sessions, store):
    from datetime import timedelta

    from connector.models import Store

    def arrived(seconds: float) -> None:
        with transaction(sessions) as session:  # as if the pending event arrived that long after the first
            session.execute(update(Event).where(Event.status == "pending", Event.id != first.id)
                            .values(received_at=first.received_at + timedelta(seconds=seconds)))

    def last_event_at():
        with sessions() as session:
            return session.get(Store, store.id).last_event_at

    post_shopify(client, "orders/paid", _order(3))
    [first] = events(sessions)
    post_shopify(client, "orders/paid", _order(4))
    arrived(0.5)
    drain(settings, sessions)
    assert last_event_at() == first.received_at  # moved on by less than a second: the store's row is left alone
    post_shopify(client, "orders/paid", _order(5))
    arrived(2)
    drain(settings, sessions)
    assert last_event_at() == first.received_at + timedelta(seconds=2)
