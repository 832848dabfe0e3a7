"""Worker throughput: stored order events drained by one, then two, worker processes on PostgreSQL, in orders/s.

N paid ALICE15 order events (realistic signed Shopify bodies, one order each) are put in the inbox in one
transaction that also NOTIFYs, while `connector worker` processes (the Procfile's worker: events and deliveries
loops, LISTEN) already run and are warmed up. Timed from that commit until every event is handled ("handled")
and until every conversion was delivered to standins.backend.StandinBackend in its own process ("delivered":
the whole pipeline, delivery included). Two workers are two processes: threads would share one GIL.

Then one worker drains N more under cProfile (its main thread, the events loop; deliveries run in threads of
their own and are not in it), and the top of the profile by cumulative time is printed.

Floor, same run: the database round trips alone. Per order, one transaction over a bare psycopg connection with
as many round trips as the worker's transaction for a new code order makes (BEGIN, ROUND_TRIPS statements, of
which one a real insert, COMMIT, so the commit flushes the WAL as the worker's does), in this process; and, for
scale, the adapter's `normalise` of the same bodies (the one pure step, no database).

    python bench/worker_throughput.py                 # 2000 orders per run
    python bench/worker_throughput.py --orders 500 --top 40
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BACKEND_SECRET,
    SHOP,
    VENV_BIN,
    add_store,
    bench_database,
    connector_env,
    exit_cleanly_on_sigterm,
    stop_process,
    tail,
    temporary_folder,
)
from forwarder import BackendProcess  # noqa: E402

WARM_COUNT = 40
#: statements in the worker's transaction for a new code order: the store, the order's lock, the order made, its
#: reports, its influencers, the record, the conversion, its credits, the order's update, the store's
#: last_event_at, the event settled
ROUND_TRIPS = 11
# `connector worker` under cProfile (main thread), the profile written when SIGTERM ends it.
PROFILED_WORKER = ("import cProfile, sys; from connector.cli import main; profile = cProfile.Profile(); "
                   "profile.enable()\ntry:\n    main(['worker'], standalone_mode=False)\nfinally:\n"
                   "    profile.disable(); profile.dump_stats(sys.argv[1])")


def order_bodies(first: int, count: int) -> list[tuple[str, bytes]]:
    from standins.shopify import samples

    out = []
    for n in range(first, first + count):
        body = samples.encode(samples.order(shop=SHOP, order_id=n, name=f"#{n % 100000}", codes=("ALICE15",),
                                            financial_status="paid", cart_ref="", landing_site="/",
                                            landing_site_ref=""))
        out.append((str(n), body))
    return out


def store_events(sessions, store_id: int, bodies: list[tuple[str, bytes]]) -> None:
    """The events as the edge stores them, in one transaction that NOTIFYs listening workers on commit."""
    from sqlalchemy import insert

    from connector.db import transaction
    from connector.intake import inbox
    from connector.models import Event

    now = datetime.now(timezone.utc)
    # Each its own arrival time, as at the edge (so each event moves the store's last_event_at on, as in use).
    rows = [inbox.delivery_row(store_id=store_id, platform="shopify", delivery_id=f"bench-{order_id}",
                               topic="orders/paid", body=body, now=now + timedelta(microseconds=n))
            for n, (order_id, body) in enumerate(bodies)]
    with transaction(sessions) as session:
        session.execute(insert(Event), rows)
        inbox.announce_events(session)


def counts(sessions) -> tuple[int, int]:
    """(events not handled yet, conversions not delivered yet)."""
    from sqlalchemy import func, select

    from connector.models import Conversion, Event

    with sessions() as session:
        events = session.scalar(select(func.count()).select_from(Event).where(Event.status != "handled"))
        conversions = session.scalar(select(func.count()).select_from(Conversion)
                                     .where(Conversion.status != "delivered"))
    return events, conversions


def wait_until_drained(sessions, timeout: float, workers) -> tuple[float, float]:
    """Seconds until every event was handled, and until every conversion was delivered."""
    started = time.perf_counter()
    handled_at = None
    while time.perf_counter() - started < timeout:
        events, conversions = counts(sessions)
        now = time.perf_counter() - started
        if events == 0 and handled_at is None:
            handled_at = now
        if events == 0 and conversions == 0:
            return handled_at, now
        if any(w.poll() is not None for w in workers):
            raise RuntimeError("a worker exited early")
        time.sleep(0.02)
    raise RuntimeError(f"not drained within {timeout:.0f} s: {counts(sessions)} left (events, conversions)")


class Workers:
    """`connector worker` processes (optionally the first under cProfile), stopped with SIGTERM."""

    def __init__(self, count: int, env: dict, folder: Path, label: str, profile: Path | None = None):
        self.processes, self.logs = [], []
        for number in range(count):
            log = folder / f"worker-{label}-{number}.log"
            argv = ([sys.executable, "-c", PROFILED_WORKER, str(profile)] if profile and number == 0
                    else [str(VENV_BIN / "connector"), "worker"])
            with open(log, "ab") as out:
                self.processes.append(subprocess.Popen(argv, env=env, cwd=folder, stdout=out, stderr=out,
                                                       start_new_session=True))
            self.logs.append(log)

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process, timeout=60)

    def tails(self) -> str:
        return "\n".join(tail(log) for log in self.logs)


def cpu_seconds(pids=None) -> float:
    """CPU seconds used so far by these processes, or (None) by every PostgreSQL process (Linux /proc)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids or [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            if pids is None:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    if not handle.read().startswith(b"postgres"):
                        continue
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run(args, sessions, store_id: int, env: dict, folder: Path, workers: int, first: int,
        profile: Path | None = None) -> dict:
    """Warm the workers up, then time N events to handled and to delivered; with CPU seconds per order."""
    label = f"{workers}{'-profiled' if profile else ''}"
    pool = Workers(workers, env, folder, label, profile)
    try:
        store_events(sessions, store_id, order_bodies(first, WARM_COUNT))  # imports, connections, caches
        wait_until_drained(sessions, 60, pool.processes)
        bodies = order_bodies(first + WARM_COUNT, args.orders)
        pids = [p.pid for p in pool.processes]
        worker_cpu, postgres_cpu = cpu_seconds(pids), cpu_seconds()
        store_events(sessions, store_id, bodies)
        handled, delivered = wait_until_drained(sessions, args.timeout, pool.processes)
        return {"handled": handled, "delivered": delivered,
                "worker_cpu_ms": (cpu_seconds(pids) - worker_cpu) / args.orders * 1000,
                "postgres_cpu_ms": (cpu_seconds() - postgres_cpu) / args.orders * 1000}
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}\n{pool.tails()}") from None
    finally:
        pool.stop()


def normalise_rate(count: int) -> float:
    from connector import registry

    adapter = registry.get("shopify")
    bodies = order_bodies(9_000_000, count)
    started = time.perf_counter()
    for _order_id, body in bodies:
        adapter.normalise("orders/paid", body)
    return count / (time.perf_counter() - started)


def round_trip_rate(url: str, count: int) -> float:
    """Orders per second if an order cost only its round trips (see ROUND_TRIPS), on one bare connection."""
    import psycopg
    from sqlalchemy import make_url

    from connector.db import make_engine

    engine = make_engine(url)
    _args, params = engine.dialect.create_connect_args(make_url(url))
    engine.dispose()
    with psycopg.connect(**params) as connection:
        connection.execute("CREATE TABLE bench_floor (n integer)")
        connection.commit()
        started = time.perf_counter()
        for n in range(count):
            connection.execute("INSERT INTO bench_floor VALUES (%s)", (n,))  # BEGIN goes out first
            for _ in range(ROUND_TRIPS - 1):
                connection.execute("SELECT 1").fetchall()
            connection.commit()
        return count / (time.perf_counter() - started)


def top_of(profile: Path, lines: int) -> str:
    """The profile's top lines by cumulative time: all of them, then the project's own functions only."""
    out = io.StringIO()
    pstats.Stats(str(profile), stream=out).sort_stats("cumulative").print_stats(r"/(connector|adapters)/", lines)
    own = out.getvalue()
    out = io.StringIO()
    pstats.Stats(str(profile), stream=out).strip_dirs().sort_stats("cumulative").print_stats(lines)
    return out.getvalue() + "\n  the project's own functions only:\n" + own.split("\n\n", 1)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000, help="order events per run (default 2000)")
    parser.add_argument("--top", type=int, default=25, help="profile lines printed (default 25)")
    parser.add_argument("--timeout", type=float, default=300.0, help="how long a run may take at most")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled run")
    args = parser.parse_args()
    if not 1 <= args.orders <= 20000:
        parser.error("--orders must be 1..20000")
    exit_cleanly_on_sigterm()

    from connector.db import make_engine, make_sessionmaker

    print(f"worker throughput: postgresql, {args.orders} stored paid ALICE15 order events per run, drained by "
          f"`connector worker` processes (LISTEN, poll 0.2 s), delivering to the stand-in backend in its own process")
    with temporary_folder("bench-throughput-") as folder, bench_database("postgresql", "throughput", folder) as url:
        store_id = add_store(url)
        backend = BackendProcess()
        engine = make_engine(url)
        try:
            sessions = make_sessionmaker(engine)
            env = connector_env(url, TRACKING_BACKEND_URL=backend.url, TRACKING_BACKEND_SECRET=BACKEND_SECRET)
            first = 8_000_000_000_000
            results = {}
            for workers in (1, 2):
                results[workers] = run(args, sessions, store_id, env, folder, workers, first)
                first += WARM_COUNT + args.orders
            profile = folder / "worker.prof"
            profiled = None if args.no_profile else run(args, sessions, store_id, env, folder, 1, first, profile)
            verified, unique, requests_seen = backend.ask("count")
        finally:
            backend.stop()
            engine.dispose()
        floor = round_trip_rate(url, min(args.orders, 1000))
        normalised = normalise_rate(min(args.orders, 1000))
        profile_text = top_of(profile, args.top) if profiled else ""

    print()
    for workers, got in results.items():
        handled, delivered = got["handled"], got["delivered"]
        print(f"  {workers} worker{'s' if workers > 1 else ' '}  handled {args.orders / handled:5.0f} orders/s "
              f"({args.orders / handled / workers:4.0f} per worker), delivered {args.orders / delivered:5.0f} "
              f"orders/s ({args.orders / delivered / workers:4.0f} per worker) [{delivered:.1f} s]; CPU per order: "
              f"workers {got['worker_cpu_ms']:.1f} ms, PostgreSQL {got['postgres_cpu_ms']:.1f} ms")
    print(f"  floor: round trips alone {floor:5.0f} orders/s (one connection, BEGIN + {ROUND_TRIPS} statements + "
          f"COMMIT per order); the adapter's normalise alone {normalised:.0f} orders/s")
    print(f"  backend verified {verified} conversions, {unique} distinct ids, of {requests_seen} requests")
    if profiled:
        print(f"\n  profiled run (1 worker under cProfile): handled {args.orders / profiled['handled']:.0f} orders/s; "
              f"its events loop, top {args.top} by cumulative time:\n")
        print(profile_text)
    one, two = (args.orders / results[n]["delivered"] for n in (1, 2))
    ok = verified == unique
    print(f"RESULT worker_throughput (postgresql): 1 worker {one:.0f} orders/s delivered "
          f"({args.orders / results[1]['handled']:.0f} handled) | 2 workers {two:.0f} orders/s ({two / 2:.0f} per "
          f"worker, {two / one:.2f}x one) | floor round trips {floor:.0f}/s | one worker/floor {one / floor:.2f} | "
          f"{'each delivered once' if ok else 'DUPLICATES'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
