"""The influencer batch (POST /api/v1/stores/{id}/influencers/batch, connector.campaigns.batch) in a few statements:
the same answers and the same rows as registering its entries one by one, whatever the batch holds.

The statements are counted by an engine event; a racing writer is a real second connection; the property
test compares the set-based batch with the entry-by-entry loop the endpoint used to run, on copies of
one database.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, insert, select
from sqlalchemy.exc import IntegrityError

from connector import create_app
from connector.campaigns import directory
from connector.campaigns.batch import Draft, register_batch
from connector.campaigns.influencers import (Conflict, InfluencerSpec, InvalidField, discount_terms,
                                             remove_influencer, upsert_influencer)
from connector.db import make_engine, make_sessionmaker, transaction
from connector.models import Influencer, Store

from .conftest import SHOP

TOKEN = "api-token-for-the-batch-tests-0123"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def batch(settings, engine, store):
    """POST a batch to the store through the real app; returns its results."""
    client = create_app(settings.with_overrides(api_token=TOKEN), engine=engine).test_client()

    def post(entries: list) -> list[dict]:
        answer = client.post(f"/api/v1/stores/{store.id}/influencers/batch", json={"influencers": entries},
                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.get_json()["results"]

    return post


@pytest.fixture
def statements(engine):
    """The SQL statements the engine sends, as a list that tests clear and read."""
    sent: list[str] = []
    listener = lambda _conn, _cursor, statement, *_rest: sent.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    yield sent
    event.remove(engine, "before_cursor_execute", listener)


def row(sessions, store, tracking_id: str) -> Influencer | None:
    with sessions() as session:
        return session.scalar(select(Influencer).where(Influencer.store_id == store.id,
                                                       Influencer.tracking_key == tracking_id.lower()))


def people(count: int, *, start: int = 0, changed: bool = False) -> list[dict]:
    """Influencers with campaign, email and a discounted code; `changed`: every other one with a new code, and
    every third with a new campaign."""
    return [{"tracking_id": f"p{n}", "email": f"p{n}@creators.example",
             "campaign_id": "summer" if changed and n % 3 == 0 else "launch",
             "promo_code": f"P{n}NEW" if changed and n % 2 == 0 else f"P{n}OFF",
             "discount": {"type": "percentage", "value": "10"}} for n in range(start, start + count)]


# -- a constant number of statements ----------------------------------------------------------------------


def test_the_statements_do_not_grow_with_the_batch(batch, statements, sessions, store):
    counts = {}
    for size, start in ((10, 0), (200, 1000)):
        with transaction(sessions) as session:
            session.get(Store, store.id).codes_due_at = None  # each size queues the store's code work alike
        statements.clear()
        assert {r["outcome"] for r in batch(people(size, start=start))} == {"created"}
        first = len(statements)
        statements.clear()
        outcomes = [r["outcome"] for r in batch(people(size, start=start, changed=True)
                                                + [{"tracking_id": "alice", "promo_code": "ALICE15"}])]
        assert set(outcomes) == {"updated", "unchanged"} and outcomes.count("updated") >= size // 2
        counts[size] = (first, len(statements))
    assert counts[10] == counts[200], counts
    # the store, the rows, a savepoint around the writes, the writes, the store's code queue: a handful
    assert max(counts[200]) <= 8, statements


# -- per entry, as before ---------------------------------------------------------------------------------


def test_a_mixed_batch_reports_each_bad_entry_and_stores_the_good_ones(batch, sessions, store):
    results = batch([
        {"tracking_id": "gus", "promo_code": "GUS10", "discount": {"type": "percentage", "value": "10"}},
        {"tracking_id": "batch"},  # the endpoint's own name
        {"tracking_id": "hal", "promo_code": "HAL5", "discount": {"type": "fixed_amount", "value": "5",
                                                                  "starts_at": "2026-12-01T00:00:00Z",
                                                                  "ends_at": "2026-11-01T00:00:00Z"}},
        {"tracking_id": "ida", "promo_code": "carol10"},  # carol's, in another case
        {"tracking_id": "jo", "promo_code": "GUS10"},  # gus's, from two entries before
        {"tracking_id": "kim", "discount": {"type": "percentage", "value": "10"}},  # a discount needs a code
        {"tracking_id": "lou", "campaign_id": "spring-26", "email": "Lou@Creators.example", "customer_id": "77"},
        # as she is, but for her email (a PUT replaces): her code, given by hand, is now the backend's too
        {"tracking_id": "alice", "promo_code": "ALICE15", "campaign_id": "spring-26"},
        42,
    ])
    assert [(r["tracking_id"], r["outcome"]) for r in results] == [
        ("gus", "created"), ("batch", "error"), ("hal", "error"), ("ida", "error"), ("jo", "error"),
        ("kim", "error"), ("lou", "created"), ("alice", "updated"), (None, "error")]
    errors = [(r["error"]["code"], r["error"]["field"], r["error"]["message"]) for r in results if "error" in r]
    assert errors == [
        ("validation_error", "tracking_id", "'batch' is reserved (the API's batch endpoint has that path)"),
        ("validation_error", "discount.ends_at", "ends_at must be after starts_at"),
        ("conflict", "promo_code", "code 'carol10' already belongs to carol in this store"),
        ("conflict", "promo_code", "code 'GUS10' already belongs to gus in this store"),
        ("validation_error", "promo_code", "a discount needs a promo_code"),
        ("validation_error", None, "an entry is a JSON object")]
    assert results[0]["influencer"]["promo_code"] == {"status": "pending", "code": "GUS10", "requested": "GUS10",
                                                      "error": None, "synced_at": None}
    assert results[6]["influencer"]["has_email"] and results[6]["influencer"]["customer_id"] == "77"
    assert results[7]["influencer"]["promo_code"]["status"] == "existing" and not results[7]["influencer"]["has_email"]
    assert row(sessions, store, "gus").code_status == "pending"
    assert row(sessions, store, "lou").campaign_id == "spring-26"
    assert not any(row(sessions, store, t) for t in ("batch", "hal", "ida", "jo", "kim"))
    with sessions() as session:
        assert session.get(Store, store.id).codes_due_at is not None  # gus's code is the worker's to make


def test_the_same_influencer_twice_in_a_batch_is_applied_in_order(batch, sessions, store):
    results = batch([{"tracking_id": "max", "campaign_id": "a"}, {"tracking_id": "MAX", "campaign_id": "b"},
                     {"tracking_id": "max", "campaign_id": "b"}])
    assert [r["outcome"] for r in results] == ["created", "updated", "unchanged"]
    # each result shows the influencer as its own entry left it; the first spelling of the id stays
    assert [(r["influencer"]["tracking_id"], r["influencer"]["campaign_id"]) for r in results] == [
        ("max", "a"), ("max", "b"), ("max", "b")]
    assert row(sessions, store, "max").campaign_id == "b"


def test_codes_change_hands_within_a_batch_in_the_order_given(batch, sessions, store):
    results = batch([
        {"tracking_id": "bob", "promo_code": "ALICE15"},  # still alice's: refused
        {"tracking_id": "alice", "promo_code": "ALICE20"},  # alice gives ALICE15 up (both codes exist in the store)
        {"tracking_id": "bob", "promo_code": "alice15"},  # now free
        {"tracking_id": "nia", "promo_code": "ALICE20"},  # alice's since two entries ago
        {"tracking_id": "carol", "promo_code": "CAROL11"},  # carol moves to another code
        {"tracking_id": "ned", "promo_code": "CAROL10"},  # a new influencer takes it
    ])
    assert [r["outcome"] for r in results] == ["error", "updated", "updated", "error", "updated", "created"]
    assert results[0]["error"]["message"] == "code 'ALICE15' already belongs to alice in this store"
    assert results[3]["error"]["message"] == "code 'ALICE20' already belongs to alice in this store"
    final = {t: row(sessions, store, t) for t in ("alice", "bob", "carol", "ned")}
    assert {t: (i.promo_code, i.promo_code_key, i.code_status) for t, i in final.items()} == {
        "alice": ("ALICE20", "alice20", "existing"), "bob": ("alice15", "alice15", "existing"),
        "carol": ("CAROL11", "carol11", "existing"), "ned": ("CAROL10", "carol10", "existing")}


def test_a_batch_sent_again_changes_nothing(batch, sessions, store, statements):
    entries = people(5) + [{"tracking_id": "alice", "promo_code": "ALICE15", "campaign_id": "spring-26"}]
    batch(entries)
    before = row(sessions, store, "p1").updated_at
    statements.clear()
    assert {r["outcome"] for r in batch(entries)} == {"unchanged"}
    assert not [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE INFLUENCERS"))]
    assert row(sessions, store, "p1").updated_at == before


@pytest.mark.only_database("postgresql")
def test_a_writer_racing_the_batch_costs_only_the_entries_it_touched(batch, sessions, store, engine, database_url):
    """Another connection commits a tracking id and a code between the batch's read and its write."""
    other = create_engine(database_url, isolation_level="AUTOCOMMIT")
    raced = []

    def race(_conn, _cursor, statement, *_rest):
        if statement.startswith("INSERT INTO influencers") and not raced:
            raced.append(statement)
            with other.connect() as connection:
                for tracking_id, code in (("newbie", None), ("racer", "race10")):
                    connection.execute(insert(Influencer).values(
                        store_id=store.id, tracking_id=tracking_id, tracking_key=tracking_id, promo_code=code,
                        promo_code_key=code, created_at=NOW, code_status="existing" if code else "none"))

    event.listen(engine, "before_cursor_execute", race)
    try:
        results = batch([{"tracking_id": "newbie", "campaign_id": "launch"},
                         {"tracking_id": "coder", "promo_code": "RACE10"}, {"tracking_id": "quiet"}])
    finally:
        event.remove(engine, "before_cursor_execute", race)
        other.dispose()
    assert raced
    # applied again entry by entry: the new row is updated, the code is someone else's, the rest goes in
    assert [r["outcome"] for r in results] == ["updated", "error", "created"]
    assert results[1]["error"]["message"] == "code 'RACE10' already belongs to racer in this store"
    assert row(sessions, store, "newbie").campaign_id == "launch" and row(sessions, store, "quiet")
    assert row(sessions, store, "coder") is None


# -- the property: the batch is its entries applied one by one -------------------------------------------


TERMS = [None, discount_terms("percentage", "10"), discount_terms("fixed_amount", "5.50"),
         discount_terms("percentage", "10", ends_at=NOW + timedelta(days=30), usage_limit=100)]
SPECS = st.builds(
    InfluencerSpec,
    tracking_id=st.sampled_from(["alice", "Alice", "bob", "carol", "dora", "erin", "fay", "Fay", "gil", "batch"]),
    campaign_id=st.sampled_from([None, "spring-26", "autumn-26", "-bad"]),
    email=st.sampled_from([None, "alice@creators.example", "x@example.com"]),
    promo_code=st.sampled_from([None, "ALICE15", "alice15", "CAROL10", "DORA10", "ERIN5", "NEW1", "new1", "NEW2",
                                "bad code"]),
    discount=st.sampled_from(TERMS),
    customer_id=st.sampled_from([None, "4242"]),
)


def _store_with_history(sessions) -> int:
    """alice (a code in the store), bob, carol (a code being made), dora (removed), erin (a code the connector
    made, live), fay (a code the store refused)."""
    with transaction(sessions) as session:
        store = directory.add_store(session, "k" * 32, "shopify", SHOP, access_token="shpat_test")
        directory.add_influencer(session, store, "alice", code="ALICE15", campaign_id="spring-26")
        directory.add_influencer(session, store, "bob", customer_id="4242")
        for tracking_id, code in (("carol", "CAROL10"), ("dora", "DORA10"), ("erin", "ERIN5"), ("fay", "FAY1")):
            upsert_influencer(session, store, InfluencerSpec(tracking_id, "autumn-26", None, code, TERMS[1]), NOW)
        session.flush()
        rows = {i.tracking_id: i for i in session.scalars(select(Influencer))}
        remove_influencer(session, store, rows["dora"], NOW)
        erin, fay = rows["erin"], rows["fay"]
        erin.code_status, erin.code_remote_id, erin.promo_code_key = "active", "gid://1", "erin5"
        fay.code_status, fay.code_error = "failed", "refused by the store"
        return store.id


def _one_by_one(session, store, specs, now):
    """The endpoint's loop before it was set-based: each entry in its own savepoint."""
    results = []
    for spec in specs:
        try:
            with session.begin_nested():
                influencer, outcome = upsert_influencer(session, store, spec, now)
            results.append((outcome, _columns(influencer)))
        except (InvalidField, Conflict, IntegrityError) as exc:
            results.append(("error", _refused(exc)))
    return results


def _batched(session, store, specs, now):
    return [(r.outcome, _columns(r.influencer)) if r.error is None else ("error", _refused(r.error))
            for r in register_batch(session, store, specs, now)]


def _refused(exc: Exception) -> tuple:
    return type(exc).__name__, str(exc), getattr(exc, "field", None)


def _columns(influencer) -> dict:
    """Every column but the id (rows made by a batch are numbered by the database)."""
    return {name: value for name, value in Draft.of(influencer).values().items() if name != "id"}


def _state(session, store_id: int):
    """The store's rows and its code queue, as the database holds them in this transaction."""
    session.flush()
    session.expire_all()
    rows = sorted((_columns(i) for i in session.scalars(select(Influencer).where(Influencer.store_id == store_id))),
                  key=lambda r: r["tracking_key"])
    return rows, session.get(Store, store_id).codes_due_at


def _both_ways(sessions, store_id: int, specs) -> list:
    """(results, state) of the set-based batch and of the one-by-one loop, each from the same rows, rolled back.

    The batch must not have fallen back to the loop (which would hide a write it got wrong): a handful of
    statements, whatever it held."""
    engine, found, sent = sessions.kw["bind"], [], []
    count = lambda *_args: sent.append(1)  # noqa: E731
    for apply in (_batched, _one_by_one):
        with sessions() as session:
            store = session.get(Store, store_id)
            sent.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                results = apply(session, store, specs, NOW)
            finally:
                event.remove(engine, "before_cursor_execute", count)
            if apply is _batched:
                assert len(sent) <= 6, f"{len(sent)} statements: the batch fell back to one by one"
            found.append((results, _state(session, store_id)))
            session.rollback()
    return found


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(SPECS, min_size=1, max_size=12))
def test_a_batch_ends_as_its_entries_applied_one_by_one(sqlite_template, tmp_path_factory, specs):
    path = tmp_path_factory.mktemp("batch") / "db.sqlite"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        sessions = make_sessionmaker(engine)
        batched, one_by_one = _both_ways(sessions, _store_with_history(sessions), specs)
    finally:
        engine.dispose()
    assert batched[0] == one_by_one[0]  # each entry's outcome and row, or its error
    assert batched[1] == one_by_one[1]  # the rows and the store's code queue


def test_codes_freed_taken_and_made_again_end_as_one_by_one(sessions):
    """One batch that frees, takes and remakes codes, compared with the loop on the database at hand. bob takes
    the live code erin gives up: bob's row is written first, and a code's unique key is checked row by row, so
    erin's row lets go of it before (bulk.release_codes)."""
    specs = [InfluencerSpec("erin", promo_code="ERIN6", discount=TERMS[3]), InfluencerSpec("bob", promo_code="erin5"),
             InfluencerSpec("alice", promo_code="NEW1"), InfluencerSpec("gil", promo_code="ALICE15"),
             InfluencerSpec("carol", "autumn-26", promo_code="NEW2", discount=TERMS[2]),
             InfluencerSpec("fay", promo_code="FAY1", discount=TERMS[1]),
             InfluencerSpec("dora", promo_code="DORA10", discount=TERMS[1]), InfluencerSpec("Gil", email="g@x.example")]
    batched, one_by_one = _both_ways(sessions, _store_with_history(sessions), specs)
    assert [outcome for outcome, _ in batched[0]] == ["updated", "updated", "updated", "created", "updated",
                                                      "updated", "updated", "updated"]
    assert batched == one_by_one
    codes = {r["tracking_key"]: (r["promo_code_key"], r["code_status"]) for r in batched[1][0]}
    assert codes == {"alice": ("new1", "existing"), "bob": ("erin5", "existing"), "carol": (None, "pending"),
                     "dora": (None, "pending"), "erin": (None, "pending"), "fay": (None, "pending"),
                     "gil": (None, "none")}  # the second entry for gil names no code: a PUT replaces
