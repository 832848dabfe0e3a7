"""The worker's maintenance: setup retried until it is done, reconciliation on a schedule, one worker per store,
and stores added with --no-setup left alone. Shopify is faked with `responses`; the database is real."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import responses
from sqlalchemy import select

from connector.campaigns import directory
from connector.db import transaction
from connector.models import Store
from connector.intake.reconcile import claim_store_for_maintenance
from connector.worker import Worker

SHOP = "maint-shop.myshopify.com"
GRAPHQL = f"https://{SHOP}/admin/api/2026-10/graphql.json"
EMPTY_PAGE = {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


def _graphql(request):
    query = json.loads(request.body)["query"]
    if "webhookSubscriptionCreate" in query:
        data = {"webhookSubscriptionCreate": {"webhookSubscription": {"id": "gid://x/1"}, "userErrors": []}}
    elif "webhookSubscriptions" in query:
        data = {"webhookSubscriptions": EMPTY_PAGE}
    else:
        data = {"orders": EMPTY_PAGE}
    return 200, {}, json.dumps({"data": data})


def _store(sessions, settings, *, pending: bool) -> int:
    with transaction(sessions) as session:
        store = directory.add_store(session, settings.secret_key, "shopify", SHOP, access_token="shpat_custom")
        store.setup_pending = pending
        return store.id


def _load(sessions, store_id) -> Store:
    with sessions() as session:
        return session.get(Store, store_id)


def test_a_pending_setup_is_retried_by_the_worker_until_it_is_done(sessions, settings):
    store_id = _store(sessions, settings, pending=True)
    clock = [datetime.now(timezone.utc)]
    worker = Worker(settings, sessions, clock=lambda: clock[0])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add(responses.POST, GRAPHQL, status=503, headers={"Retry-After": "0"})
        worker.maintain()
        store = _load(sessions, store_id)
        assert store.setup_pending and "503" in store.setup_error
        calls = len(mocked.calls)
        assert worker.maintain() == 0 and len(mocked.calls) == calls  # it waits out its lease, not a loop

        clock[0] += timedelta(minutes=10)
        mocked.remove(responses.POST, GRAPHQL)
        mocked.add_callback(responses.POST, GRAPHQL, callback=_graphql)
        assert worker.maintain() == 1
    store = _load(sessions, store_id)
    assert not store.setup_pending and store.setup_error is None and store.setup_at is not None


def test_a_set_up_store_is_reconciled_on_schedule(sessions, settings):
    store_id = _store(sessions, settings, pending=False)
    now = datetime.now(timezone.utc)
    with transaction(sessions) as session:
        session.get(Store, store_id).setup_at = now
    worker = Worker(settings.with_overrides(reconcile_interval=3600), sessions, clock=lambda: now)
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, GRAPHQL, callback=_graphql)
        assert worker.maintain() == 1  # never reconciled: due at once
        assert _load(sessions, store_id).reconciled_at == now
        assert worker.maintain() == 0  # not due again within the hour
        assert len(mocked.calls) == 1


def test_a_store_added_with_no_setup_is_never_called_by_the_worker(sessions, settings):
    _store(sessions, settings, pending=False)  # setup_at stays empty: never set up by the connector
    with responses.RequestsMock() as mocked:
        Worker(settings, sessions).run(burst=True)
        assert len(mocked.calls) == 0


def test_only_one_worker_maintains_a_store_at_a_time(sessions, settings):
    store_id = _store(sessions, settings, pending=True)
    now = datetime.now(timezone.utc)
    with transaction(sessions) as first:
        assert claim_store_for_maintenance(first, now, settings) == store_id
    with transaction(sessions) as second:
        assert claim_store_for_maintenance(second, now, settings) is None
    later = now + timedelta(seconds=max(settings.lease_seconds, 300) + 1)
    with transaction(sessions) as third:  # the lease ran out (a crashed worker): another may take it
        assert claim_store_for_maintenance(third, later, settings) == store_id
    with sessions() as session:
        assert session.scalar(select(Store.maintenance_lease_until)) > later


def test_a_store_that_refuses_its_credentials_during_reconciliation_needs_reauthorisation(sessions, settings):
    store_id = _store(sessions, settings, pending=False)
    now = datetime.now(timezone.utc)
    with transaction(sessions) as session:
        session.get(Store, store_id).setup_at = now
    with responses.RequestsMock() as mocked:
        mocked.add(responses.POST, GRAPHQL, status=403)
        assert Worker(settings, sessions, clock=lambda: now).maintain() == 1
    store = _load(sessions, store_id)
    assert store.status == "needs_reauth" and "403" in store.status_reason


def test_a_manual_reconcile_from_a_later_time_does_not_skip_the_scheduled_window(sessions, settings):
    from connector.intake.reconcile import reconcile_store

    store_id = _store(sessions, settings, pending=False)
    now = datetime.now(timezone.utc)
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, GRAPHQL, callback=_graphql)
        reconcile_store(settings, sessions, store_id, now, since=now - timedelta(minutes=1))
        assert _load(sessions, store_id).reconciled_at is None  # the window before it is still unread
        reconcile_store(settings, sessions, store_id, now, since=now - timedelta(days=30))
        assert _load(sessions, store_id).reconciled_at == now
