"""What the edge's trust checks cost: CPU per `POST /webhooks/shopify`, with them and without, in one run.

Since signatures alone do not say which shop or topic a body belongs to, the edge parses each signed body
and binds it (adapters/shopify/binding.py). This measures that work where it runs: the real app (Flask's
test client, no network) storing realistic signed ~10 KiB orders in the real database, one request at a
time, in rounds that alternate between the app as it is and the same app with the body check switched
off (the floor). The figure is the process CPU per request, checked / unchecked; the database's own CPU
is the same either way and not counted.

On a shared machine even CPU time moves by 10-20 % from one round to the next, which is more than the
checks cost. `--instructions` therefore also counts instructions with valgrind's callgrind, which gives
the same count for the same work whatever else the machine is doing: three runs of the app (floor with
N and 2N requests, checked with 2N) give the floor's instructions per request and what the checks add.

    python bench/edge_checks.py                     # PostgreSQL, CPU time
    python bench/edge_checks.py --instructions      # and instruction counts (valgrind; a few minutes)
    python bench/edge_checks.py --database sqlite --requests 2000
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    SHOP, SHOPIFY_SECRET, add_store, bench_database, exit_cleanly_on_sigterm, temporary_folder,
)


def _bodies(samples, count: int, first: int) -> list[tuple[bytes, dict]]:
    out = []
    for n in range(first, first + count):
        body = samples.encode(samples.order(shop=SHOP, order_id=n, name=f"#{n % 100000}", codes=("ALICE15",)))
        out.append((body, samples.headers(body, shop=SHOP, topic="orders/paid", secret=SHOPIFY_SECRET)))
    return out


def _round(client, requests_) -> float:
    """CPU seconds of this process per request for one round."""
    started = time.process_time()
    for body, headers in requests_:
        answer = client.post("/webhooks/shopify", data=body, headers=headers)
        if answer.status_code != 200 or answer.json["outcome"] != "stored":
            raise SystemExit(f"unexpected answer {answer.status_code} {answer.json}")
    return (time.process_time() - started) / len(requests_)


def _app(url: str):
    from connector import create_app
    from connector.settings import DEV_SECRET_KEY, Settings

    add_store(url)
    return create_app(Settings(database_url=url, secret_key=DEV_SECRET_KEY, shopify_api_secrets=(SHOPIFY_SECRET,)))


def _child(database: str, kind: str, count: int) -> None:
    """One run of `count` requests of one kind, for callgrind to count (bodies are built before the app)."""
    from adapters.shopify import adapter
    from standins.shopify import samples

    warm, measured = _bodies(samples, 50, 5_000_000_000_000), _bodies(samples, count, 5_100_000_000_000)
    with temporary_folder("edge") as folder, bench_database(database, "edge", folder) as url:
        client = _app(url).test_client()
        if kind == "unchecked":
            adapter.check_body = lambda *_args: None
        _round(client, warm)
        _round(client, measured)


def _instructions(database: str, kind: str, count: int) -> int:
    answer = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                             __file__, "--database", database, "--child", kind, "--requests", str(count)],
                            capture_output=True, text=True, timeout=3600)
    found = re.search(r"Collected\s*:\s*(\d+)", answer.stderr)
    if answer.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run failed ({answer.returncode}):\n{answer.stderr[-2000:]}")
    return int(found.group(1))


def _count_instructions(database: str, count: int) -> None:
    floor_n, floor_2n = _instructions(database, "unchecked", count), _instructions(database, "unchecked", 2 * count)
    checked_2n = _instructions(database, "checked", 2 * count)
    per_request = (floor_2n - floor_n) / count
    added = (checked_2n - floor_2n) / (2 * count)
    print(f"  instructions (callgrind): floor {per_request:,.0f} per request; the checks add {added:,.0f} "
          f"({floor_n:,} / {floor_2n:,} / {checked_2n:,} for {count} / {2 * count} / {2 * count} requests)")
    print(f"\nRESULT edge checks, instructions ({database}): {per_request + added:,.0f} vs {per_request:,.0f} per "
          f"request | ratio {(per_request + added) / per_request:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="postgresql", choices=("postgresql", "sqlite"))
    parser.add_argument("--requests", type=int, default=1000, help="requests per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each kind, alternating (default 5)")
    parser.add_argument("--instructions", action="store_true", help="also count instructions with callgrind")
    parser.add_argument("--child", choices=("checked", "unchecked"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    exit_cleanly_on_sigterm()
    if args.child:
        _child(args.database, args.child, args.requests)
        return

    from adapters.shopify import adapter
    from standins.shopify import samples

    with temporary_folder("edge") as folder, bench_database(args.database, "edge", folder) as url:
        client = _app(url).test_client()
        checked_body = adapter.check_body
        batches = iter(range(6_000_000_000_000, 7_000_000_000_000, args.requests))
        _round(client, _bodies(samples, 200, next(batches)))  # warm-up: connections, caches, prepared statements
        checked, unchecked = [], []
        for _ in range(args.rounds):
            for kind, target in (("checked", checked), ("unchecked", unchecked)):
                requests_ = _bodies(samples, args.requests, next(batches))
                adapter.check_body = checked_body if kind == "checked" else (lambda *_args: None)
                try:
                    target.append(_round(client, requests_))
                finally:
                    adapter.check_body = checked_body
        with_checks, floor = statistics.median(checked), statistics.median(unchecked)
        print(f"edge checks benchmark: {args.database}, {args.rounds} x {args.requests} signed ~10 KiB orders per kind")
        print(f"  with the body checks    CPU per request {with_checks * 1000:.3f} ms  "
              f"(rounds: {', '.join(f'{c * 1000:.3f}' for c in checked)})")
        print(f"  without (the floor)     CPU per request {floor * 1000:.3f} ms  "
              f"(rounds: {', '.join(f'{c * 1000:.3f}' for c in unchecked)})")
        print(f"\nRESULT edge checks ({args.database}): {with_checks * 1000:.3f} ms vs {floor * 1000:.3f} ms of app CPU "
              f"per request | ratio {with_checks / floor:.3f}")
    if args.instructions:
        _count_instructions(args.database, min(args.requests, 300))


if __name__ == "__main__":
    main()
