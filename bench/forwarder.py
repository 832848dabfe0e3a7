"""Forwarder benchmark: how fast one Worker drains pending conversions to the tracking backend.

K pending conversions (bodies from connector.core.payload.conversion_body) are inserted straight into the
outbox; then one connector.worker.Worker (delivery_concurrency 8 unless told) runs in burst mode,
timed from start to "nothing due", against standins.backend.StandinBackend running in its
own process (so it does not share this process's GIL).

Baseline: the same K ids and bodies signed (Standard Webhooks) and POSTed to the same backend from
the same number of threads, each with its own keep-alive requests.Session, and no database.

    python bench/forwarder.py                   # PostgreSQL, 2000 conversions
    python bench/forwarder.py --database sqlite --conversions 1000
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BACKEND_SECRET,
    SHOP,
    add_store,
    bench_database,
    exit_cleanly_on_sigterm,
    start_standin_backend,
    temporary_folder,
)

WARM_COUNT = 64


def serve_backend(connection) -> None:
    """Child process: the stand-in backend, answering 'count', 'reset' and 'stop' over a pipe."""
    backend = start_standin_backend()
    connection.send(backend.url)
    try:
        while True:
            message = connection.recv()
            if message == "count":
                delivered = backend.delivered()
                connection.send((len(delivered), len({r.webhook_id for r in delivered}), len(backend.received)))
            elif message == "reset":
                with backend._lock:
                    backend.received.clear()
                connection.send("ok")
            else:
                break
    finally:
        backend.stop()


class BackendProcess:
    def __init__(self):
        context = multiprocessing.get_context("spawn")
        self._here, there = context.Pipe()
        self.process = context.Process(target=serve_backend, args=(there,), name="standin-backend",
                                       daemon=True)
        self.process.start()
        if not self._here.poll(30):
            raise RuntimeError("the stand-in backend process did not start")
        self.url = self._here.recv()

    def ask(self, message: str):
        self._here.send(message)
        return self._here.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self._here.send("stop")
            except OSError:
                pass
            self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


def make_conversions(store_id: int, first: int, count: int) -> list[dict]:
    from connector.core.payload import PURCHASE, conversion_body, new_conversion_id
    from connector.core.platform import Money

    now = datetime.now(timezone.utc)
    rows = []
    for n in range(first, first + count):
        conversion_id = new_conversion_id()
        amount = Decimal(100 + n % 400) + Decimal("0.95")
        body = conversion_body(
            type=PURCHASE, conversion_id=conversion_id, created_at=now, platform="shopify", store=SHOP,
            order_id=str(6_000_000_000_000 + n), order_name=f"#{n}", occurred_at=now, amount=Money(amount, "USD"),
            presentment=Money(amount, "USD"), tracking_id="alice", campaign_id="spring-26", method="promo_code",
            promo_code="ALICE15", click_id=None, credits=[("alice", Decimal(1))],
            customer_email_sha256="0" * 64, first_order=n % 2 == 0, reverses=None, test=False,
        )
        rows.append(dict(id=conversion_id, store_id=store_id, order_id=None, dedupe_key=f"purchase:{n}",
                         type=PURCHASE, amount=amount, currency="USD", tracking_id="alice", reverses=None,
                         test=False, body=body, created_at=now, status="pending", attempts=0, next_attempt_at=now))
    return rows


def insert_conversions(sessions, rows: list[dict]) -> None:
    from sqlalchemy import insert

    from connector.db import transaction
    from connector.models import Conversion

    with transaction(sessions) as session:
        session.execute(insert(Conversion), rows)


def delivered_count(sessions) -> int:
    from sqlalchemy import func, select

    from connector.models import Conversion

    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Conversion).where(Conversion.status == "delivered"))


def drain(settings, sessions) -> float:
    """One Worker in burst mode until nothing is due; returns the seconds it took."""
    from connector.worker import Worker

    worker = Worker(settings, sessions, worker_id="bench-forwarder")
    started = time.perf_counter()
    worker.run(burst=True)
    return time.perf_counter() - started


def post_directly(url: str, rows: list[dict], threads: int) -> tuple[float, int]:
    """Sign and POST each (id, body) from `threads` threads with a requests.Session each; (seconds, 2xx)."""
    import requests
    from standardwebhooks import Webhook

    signer = Webhook(BACKEND_SECRET)
    items = iter(rows)
    lock = threading.Lock()
    ok = [0]

    def run() -> None:
        http = requests.Session()
        good = 0
        while True:
            with lock:
                row = next(items, None)
            if row is None:
                break
            now = datetime.now(timezone.utc)
            headers = {"content-type": "application/json", "webhook-id": row["id"],
                       "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": signer.sign(row["id"], now, row["body"]),
                       "user-agent": "bench-baseline"}
            answer = http.post(url, data=row["body"].encode(), headers=headers, timeout=10)
            good += 200 <= answer.status_code < 300
        with lock:
            ok[0] += good

    started = time.perf_counter()
    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started, ok[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversions", type=int, default=2000, help="pending conversions to drain (default 2000)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="the worker's delivery_concurrency and the baseline's threads (default: the "
                             "connector's own, 8)")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    if not 1 <= args.conversions <= 20000:
        parser.error("--conversions must be 1..20000")
    exit_cleanly_on_sigterm()

    from connector.db import make_engine, make_sessionmaker
    from connector.settings import Settings

    concurrency = args.concurrency or Settings.delivery_concurrency
    if not 1 <= concurrency <= 32:
        parser.error("--concurrency must be 1..32")
    with temporary_folder("bench-forwarder-") as folder, bench_database(args.database, "forwarder", folder) as url:
        store_id = add_store(url, influencers=False)
        # As `connector worker` does: INFO logs (one line per delivery), here to a file.
        logging.basicConfig(level=logging.INFO, filename=folder / "worker.log",
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        backend = BackendProcess()
        engine = make_engine(url)
        try:
            sessions = make_sessionmaker(engine)
            settings = Settings(database_url=url, tracking_backend_url=backend.url,
                                tracking_backend_secret=BACKEND_SECRET, delivery_concurrency=concurrency)
            print(f"forwarder benchmark: {args.database}, {args.conversions} pending conversions, one Worker "
                  f"(delivery_concurrency {concurrency}) -> stand-in backend in its own process")

            warm_rows = make_conversions(store_id, 0, WARM_COUNT)
            rows = make_conversions(store_id, WARM_COUNT, args.conversions)

            # Warm-up both paths (connections, pools, imports).
            insert_conversions(sessions, warm_rows)
            drain(settings, sessions)
            post_directly(backend.url, warm_rows, concurrency)
            backend.ask("reset")

            insert_conversions(sessions, rows)
            worker_seconds = drain(settings, sessions)
            delivered = delivered_count(sessions) - WARM_COUNT
            got, unique_ids, requests_seen = backend.ask("count")
            backend.ask("reset")

            direct_seconds, direct_ok = post_directly(backend.url, rows, concurrency)
            direct_got, _, _ = backend.ask("count")
        finally:
            backend.stop()
            engine.dispose()
            logging.shutdown()

    worker_rate = args.conversions / worker_seconds
    direct_rate = args.conversions / direct_seconds
    ratio = worker_rate / direct_rate
    ok = delivered == unique_ids == args.conversions and direct_ok == direct_got == args.conversions
    print()
    print(f"  worker    {worker_rate:8.0f} conversions/s  ({args.conversions} in {worker_seconds:.2f} s; "
          f"{delivered} marked delivered, backend verified {got} ({unique_ids} distinct ids) of "
          f"{requests_seen} requests)")
    print(f"  baseline  {direct_rate:8.0f} conversions/s  ({args.conversions} in {direct_seconds:.2f} s; "
          f"sign + POST from {concurrency} threads, no database; {direct_ok} answered 2xx)")
    print(f"  worker/baseline {ratio:.2f}")
    print()
    print(f"RESULT forwarder ({args.database}): worker {worker_rate:.0f} conversions/s | baseline sign+POST "
          f"{direct_rate:.0f} conversions/s | ratio {ratio:.2f} | {'all delivered once' if ok else 'COUNT MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
