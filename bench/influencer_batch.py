"""Influencer batch benchmark: 1,000 influencers registered in one request, against one hand-written transaction.

The connector's side is the real route, `POST /api/v1/stores/<id>/influencers/batch`, through Flask's test
client with the bearer token and a JSON body of 1,000 entries (campaign, email, a code with a 10 % discount,
as the backend sends them): first the registration of 1,000 new influencers in a fresh store, then the same
batch sent again with a tenth of it changed (50 new codes, 50 new campaigns; the rest unchanged). Each
answer is checked (1,000 created; then 100 updated, 900 unchanged) and the SQL statements of each request
are counted (an engine event on before_cursor_execute).

The floor is the same rows written in one set-based transaction straight through the driver, in the same
run, in its own fresh store: psycopg for PostgreSQL, sqlite3 for SQLite. It reads the batch's rows (by
tracking key and by code) in one SELECT, inserts the new rows in one INSERT ... RETURNING id, updates the
changed ones in one statement, queues the store's code work and commits. On PostgreSQL each column is one
array parameter in psycopg's binary format (INSERT ... SELECT FROM unnest, UPDATE ... FROM unnest), the
fastest way we know through psycopg: a multi-row VALUES list of 15,000 placeholders takes psycopg longer to
parse than PostgreSQL takes to insert. On SQLite, one multi-row INSERT ... VALUES and an executemany UPDATE.
Its rows are made before the clock starts: it has no JSON to read, no entries to validate and no answer to
write, and the ratio is what those cost on top of the database's work.

Rounds alternate connector and floor; the figures are medians.

    python bench/influencer_batch.py                       # PostgreSQL
    python bench/influencer_batch.py --database sqlite --runs 9
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_database, exit_cleanly_on_sigterm, temporary_folder  # noqa: E402

TOKEN = "bench-api-token-0123456789abcdef"
COLUMNS = ("store_id", "tracking_id", "tracking_key", "promo_code", "requested_code", "campaign_id",
           "email_sha256", "active", "created_at", "updated_at", "discount_kind", "discount_value",
           "once_per_customer", "code_status", "code_attempts")
#: what the set-based upsert must read to tell created, updated and unchanged apart
READ = ("id, tracking_key, campaign_id, email_sha256, customer_id, requested_code, promo_code_key, discount_kind, "
        "discount_value, discount_starts_at, discount_ends_at, usage_limit, once_per_customer, code_status, "
        "removed_at, code_remote_id, code_discount_id")


def entries(size: int, changed: bool) -> list[dict]:
    """The batch as the backend sends it; `changed`: every tenth entry with a new code or a new campaign."""
    batch = []
    for n in range(size):
        entry = {"tracking_id": f"inf{n:04d}", "campaign_id": "launch", "promo_code": f"INF{n:04d}OFF",
                 "email": f"inf{n}@creators.example", "discount": {"type": "percentage", "value": "10"}}
        if changed and n % 20 == 0:
            entry["promo_code"] = f"INF{n:04d}NEW"
        elif changed and n % 20 == 10:
            entry["campaign_id"] = "summer"
        batch.append(entry)
    return batch


# -- the connector ---------------------------------------------------------------------------------------


class Counted:
    """The SQL statements an engine sends (set `count` to 0 before a request, read it after)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args) -> None:
        self.count += 1


def connector_round(client, counter: Counted, store_id: int, first: bytes, again: bytes) -> dict:
    path = f"/api/v1/stores/{store_id}/influencers/batch"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    figures = {}
    for label, body, expected in (("first", first, {"created": 1}), ("again", again, {"updated": 0.1,
                                                                                        "unchanged": 0.9})):
        counter.count = 0
        started = time.perf_counter()
        answer = client.post(path, data=body, headers=headers)
        figures[label] = time.perf_counter() - started
        figures[f"{label}_statements"] = counter.count
        results = answer.get_json()["results"] if answer.status_code == 200 else None
        if results is None:
            raise SystemExit(f"the batch answered {answer.status_code}: {answer.get_data(as_text=True)[:500]}")
        outcomes = {o: sum(r["outcome"] == o for r in results) for o in {r["outcome"] for r in results}}
        wanted = {o: round(share * len(results)) for o, share in expected.items()}
        if outcomes != wanted:
            raise SystemExit(f"{label}: outcomes {outcomes}, expected {wanted}")
    return figures


# -- the floor -------------------------------------------------------------------------------------------


def floor_rows(store_id: int, batch: list[dict], now: datetime) -> list[tuple]:
    """The influencer rows the batch stands for, made before the clock starts."""
    return [(store_id, e["tracking_id"], e["tracking_id"].lower(), e["promo_code"], e["promo_code"],
             e["campaign_id"], hashlib.sha256(e["email"].strip().lower().encode()).hexdigest(), True, now, now,
             "percentage", Decimal("10"), False, "pending", 0) for e in batch]


def _keys(rows: list[tuple]) -> tuple[list[str], list[str]]:
    return [r[2] for r in rows], [r[4].lower() for r in rows]


def _changes(first: list[tuple], again: list[tuple]) -> list[tuple]:
    """(id placeholder index, promo_code, requested_code, campaign_id) of the rows the re-send changes."""
    return [(i, b[3], b[4], b[5]) for i, (a, b) in enumerate(zip(first, again)) if a != b]


#: the floor's column types, as the migrations make them (arrays of these, sent in psycopg's binary format)
PG_TYPES = ("int", "varchar", "varchar", "varchar", "varchar", "varchar", "varchar", "bool", "timestamptz",
            "timestamptz", "varchar", "numeric", "bool", "varchar", "int")


def postgres_floor(url: str, store_id: int, first: list[tuple], again: list[tuple], now: datetime) -> dict:
    """Each column one array (unnest), in binary: no placeholder per value to parse, no VALUES list to plan."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    insert = (f"INSERT INTO influencers ({', '.join(COLUMNS)}) SELECT * FROM unnest("
              + ", ".join(f"%b::{t}[]" for t in PG_TYPES) + ") RETURNING id")
    update = ("UPDATE influencers AS i SET promo_code = v.code, requested_code = v.requested, "
              "campaign_id = v.campaign, updated_at = %b, code_status = 'pending', code_attempts = 0 "
              "FROM unnest(%b::int[], %b::varchar[], %b::varchar[], %b::varchar[]) AS v(id, code, requested, campaign) "
              "WHERE i.id = v.id")
    figures = {}
    with psycopg.connect(conninfo) as connection:
        ids = []
        for label, rows in (("first", first), ("again", again)):
            started = time.perf_counter()
            with connection.transaction(), connection.cursor() as cursor:
                tracking_keys, code_keys = _keys(rows)
                # As the connector reads them (connector/campaigns/bulk.py says why not `= ANY(%b)`).
                cursor.execute(f"SELECT {READ} FROM influencers WHERE store_id = %b AND (tracking_key IN "
                               "(SELECT unnest(%b::varchar[])) OR promo_code_key IN (SELECT unnest(%b::varchar[])) "
                               "OR (lower(requested_code) IN (SELECT unnest(%b::varchar[])) AND removed_at IS NULL))",
                               (store_id, tracking_keys, code_keys, code_keys))
                cursor.fetchall()
                if label == "first":
                    cursor.execute(insert, [list(column) for column in zip(*rows)])
                    ids = [row[0] for row in cursor.fetchall()]
                else:
                    changes = _changes(first, again)
                    cursor.execute(update, [now, [ids[i] for i, *_ in changes], *[list(c) for c in zip(
                        *[change[1:] for change in changes])]])
                cursor.execute("UPDATE stores SET codes_due_at = %s WHERE id = %s AND (codes_due_at IS NULL OR "
                               "codes_due_at > %s)", (now, store_id, now))
            figures[label] = time.perf_counter() - started
    return figures


def sqlite_floor(path: str, store_id: int, first: list[tuple], again: list[tuple], now: datetime) -> dict:
    import sqlite3

    connection = sqlite3.connect(path, isolation_level=None)
    # As the connector's engine opens its connections (connector/db.py).
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000", "secure_delete=ON"):
        connection.execute(f"PRAGMA {pragma}")
    figures, ids = {}, []
    # As the connector's column types store them: naive UTC times, decimals as text (connector/models/base.py).
    stored = lambda row: tuple(v.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ")  # noqa: E731
                               if isinstance(v, datetime) else str(v) if isinstance(v, Decimal) else v for v in row)
    try:
        for label, rows in (("first", first), ("again", again)):
            started = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            tracking_keys, code_keys = _keys(rows)
            marks = ", ".join("?" * len(rows))
            connection.execute(f"SELECT {READ} FROM influencers WHERE store_id = ? AND (tracking_key IN ({marks}) "
                               f"OR promo_code_key IN ({marks}) OR (lower(requested_code) IN ({marks}) "
                               "AND removed_at IS NULL))",
                               (store_id, *tracking_keys, *code_keys, *code_keys)).fetchall()
            if label == "first":
                one = "(" + ", ".join("?" * len(COLUMNS)) + ")"
                ids = [r[0] for r in connection.execute(
                    f"INSERT INTO influencers ({', '.join(COLUMNS)}) VALUES " + ", ".join([one] * len(rows))
                    + " RETURNING id", [v for row in rows for v in stored(row)]).fetchall()]
            else:
                connection.executemany(
                    "UPDATE influencers SET promo_code = ?, requested_code = ?, campaign_id = ?, updated_at = ?, "
                    "code_status = 'pending', code_attempts = 0 WHERE id = ?",
                    [(code, requested, campaign, stored((now,))[0], ids[i])
                     for i, code, requested, campaign in _changes(first, again)])
            connection.execute("UPDATE stores SET codes_due_at = ? WHERE id = ? AND (codes_due_at IS NULL OR "
                               "codes_due_at > ?)", (stored((now,))[0], store_id, stored((now,))[0]))
            connection.execute("COMMIT")
            figures[label] = time.perf_counter() - started
    finally:
        connection.close()
    return figures


# -- the run ---------------------------------------------------------------------------------------------


def _new_store(sessions, n: int, label: str) -> int:
    from connector.campaigns import directory
    from connector.db import transaction
    from connector.settings import DEV_SECRET_KEY

    with transaction(sessions) as session:
        return directory.add_store(session, DEV_SECRET_KEY, "shopify", f"bench-{label}-{n}.myshopify.com",
                                   access_token="shpat_bench").id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--runs", type=int, default=7, help="measured rounds (default 7; one more to warm up)")
    parser.add_argument("--size", type=int, default=1000, help="influencers per batch (at most 1,000)")
    args = parser.parse_args()
    exit_cleanly_on_sigterm()

    from connector import create_app
    from connector.db import make_engine, make_sessionmaker
    from connector.settings import Settings

    first_body = json.dumps({"influencers": entries(args.size, changed=False)}).encode()
    again_body = json.dumps({"influencers": entries(args.size, changed=True)}).encode()
    results: dict[str, list[float]] = {}
    with temporary_folder("influencer_batch") as folder, \
            bench_database(args.database, "influencer_batch", folder) as url:
        engine = make_engine(url, pre_ping=False)  # as the web app makes its own (connector.Services)
        sessions = make_sessionmaker(engine)
        app = create_app(Settings(database_url=url, api_token=TOKEN), engine=engine)
        client, counter = app.test_client(), Counted(engine)
        for n in range(args.runs + 1):
            figures = connector_round(client, counter, _new_store(sessions, n, "app"), first_body, again_body)
            store_id, now = _new_store(sessions, n, "floor"), datetime.now(timezone.utc)
            first = floor_rows(store_id, entries(args.size, changed=False), now)
            again = floor_rows(store_id, entries(args.size, changed=True), now)
            floor = (postgres_floor(url, store_id, first, again, now) if args.database == "postgresql"
                     else sqlite_floor(url.removeprefix("sqlite:///"), store_id, first, again, now))
            if n == 0:
                continue  # the warm-up: connections, statement caches, first imports
            for key, value in figures.items():
                results.setdefault(key, []).append(value)
            for key, value in floor.items():
                results.setdefault(f"floor_{key}", []).append(value)
        engine.dispose()

    median = {key: statistics.median(values) for key, values in results.items()}
    print(f"\n{args.database}, batches of {args.size} influencers, medians of {args.runs} runs")
    for label, what in (("first", "first registration"), ("again", "re-sent, a tenth changed")):
        print(f"  {what:<26} connector {median[label] * 1000:8.1f} ms ({median[f'{label}_statements']:.0f} "
              f"statements), floor {median[f'floor_{label}'] * 1000:7.1f} ms, "
              f"ratio {median[label] / median[f'floor_{label}']:5.1f}x")
    print(f"RESULT influencer_batch {args.database}: {args.size} influencers first "
          f"{median['first'] * 1000:.0f} ms vs floor {median['floor_first'] * 1000:.1f} ms = "
          f"{median['first'] / median['floor_first']:.1f}x; re-sent {median['again'] * 1000:.0f} ms vs floor "
          f"{median['floor_again'] * 1000:.1f} ms = {median['again'] / median['floor_again']:.1f}x; statements "
          f"{median['first_statements']:.0f} and {median['again_statements']:.0f}")


if __name__ == "__main__":
    main()
