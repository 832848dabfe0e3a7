"""Latency benchmark: from sending a Shopify webhook to the tracking backend receiving the conversion.

The app runs under gunicorn with the Procfile's web settings, one `connector worker` process runs as
the Procfile's worker does, and standins.backend.StandinBackend plays the tracking backend
(in this process). Paid orders with promo code ALICE15 (influencer alice) are sent at a steady rate;
each one's latency is the time from just before its webhook POST to the backend recording the
verified conversion whose data.order_id is that order.

Baseline: the same round trip without the connector, i.e. a signed conversion POSTed straight to
the stand-in backend at the same rate, timed the same way.

    python bench/latency.py                     # PostgreSQL, 200 orders at 20/s
    python bench/latency.py --database sqlite --orders 100
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402

from _common import (  # noqa: E402
    BACKEND_SECRET,
    SHOP,
    SHOPIFY_SECRET,
    VENV_BIN,
    Gunicorn,
    add_store,
    bench_database,
    connector_env,
    exit_cleanly_on_sigterm,
    free_port,
    percentile,
    procfile_web_argv,
    start_standin_backend,
    stop_process,
    tail,
    temporary_folder,
)


def signed_orders(first_order_id: int, count: int) -> list[tuple[str, bytes, dict]]:
    from standins.shopify import samples

    out = []
    for n in range(first_order_id, first_order_id + count):
        body = samples.encode(samples.order(shop=SHOP, order_id=n, name=f"#{n % 100000}", codes=("ALICE15",),
                                            financial_status="paid"))
        out.append((str(n), body, samples.headers(body, shop=SHOP, topic="orders/paid", secret=SHOPIFY_SECRET)))
    return out


def paced(items, rate: float, send) -> float:
    """Call send(item) for each item at a steady rate; returns the worst lateness against the schedule (s)."""
    start, worst = time.monotonic(), 0.0
    for i, item in enumerate(items):
        due = start + i / rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        worst = max(worst, -wait)
        send(item)
    return worst


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {"p50": percentile(ms, 50), "p90": percentile(ms, 90), "p99": percentile(ms, 99),
            "max": max(ms) if ms else float("nan"), "n": len(ms)}


def line(label: str, s: dict[str, float]) -> str:
    return (f"  {label:<34} p50 {s['p50']:7.1f} ms  p90 {s['p90']:7.1f} ms  p99 {s['p99']:7.1f} ms  "
            f"max {s['max']:7.1f} ms  (n={s['n']})")


def conversion_like_body(n: int) -> tuple[str, str]:
    """A body shaped like a purchase conversion, for the direct baseline."""
    from connector.core.payload import PURCHASE, conversion_body
    from connector.core.platform import Money
    from decimal import Decimal

    now = datetime.now(timezone.utc)
    conversion_id = f"cv_direct_{n:08d}"
    body = conversion_body(
        type=PURCHASE, conversion_id=conversion_id, created_at=now, platform="shopify", store=SHOP,
        order_id=f"direct-{n}", order_name=f"#{n}", occurred_at=now, amount=Money(Decimal("199.00"), "USD"),
        presentment=None, tracking_id="alice", campaign_id="spring-26", method="promo_code", promo_code="ALICE15",
        click_id=None, credits=[("alice", Decimal(1))], customer_email_sha256=None, first_order=True, reverses=None,
        test=False,
    )
    return conversion_id, body


WARM_COUNT = 10


def run_connector(args, url: str, folder: Path, backend, poll: float) -> dict:
    """The app, one worker, M orders at a steady rate; each order's latency to the backend's receipt."""
    app = worker = None
    try:
        env = connector_env(url)
        port = free_port()
        app = Gunicorn(procfile_web_argv("connector:create_app()", port), env, folder, folder / "web.log", port)
        app.start()
        worker_env = connector_env(url, TRACKING_BACKEND_URL=backend.url, TRACKING_BACKEND_SECRET=BACKEND_SECRET)
        if args.poll_interval:
            worker_env["CONNECTOR_POLL_INTERVAL"] = str(args.poll_interval)
        with open(folder / "worker.log", "ab") as log:
            worker = subprocess.Popen([str(VENV_BIN / "connector"), "worker"], env=worker_env, cwd=folder,
                                      stdout=log, stderr=log, start_new_session=True)
        print(f"latency benchmark: {args.database}, {args.orders} paid ALICE15 orders at {args.rate:g}/s; "
              f"gunicorn (Procfile web) + 1 `connector worker` (poll interval {poll:g} s) + stand-in backend")

        http = requests.Session()
        sent: dict[str, float] = {}
        acks: list[float] = []
        outcomes: dict[str, int] = {}

        def send_order(item) -> None:
            order_id, body, headers = item
            sent[order_id] = time.time()
            started = time.perf_counter()
            answer = http.post(app.url + "/webhooks/shopify", data=body, headers=headers, timeout=10)
            acks.append(time.perf_counter() - started)
            outcome = f"{answer.status_code} {answer.json().get('outcome')}"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

        # Warm-up: a few orders all the way through (connections, imports, caches).
        paced(signed_orders(7_000_000_000_000, WARM_COUNT), args.rate, send_order)
        if len(backend.wait_for(WARM_COUNT, timeout=args.timeout)) < WARM_COUNT:
            raise RuntimeError(f"warm-up conversions did not arrive:\n{tail(folder / 'worker.log')}")
        sent.clear()
        acks.clear()
        outcomes.clear()

        lateness = paced(signed_orders(7_100_000_000_000, args.orders), args.rate, send_order)
        backend.wait_for(WARM_COUNT + args.orders, timeout=args.timeout)
        time.sleep(0.3)  # a duplicate delivery would show up now
    finally:
        stop_process(worker)
        if app is not None:
            app.stop()

    arrived: dict[str, list[float]] = {}
    for received in backend.delivered():
        order_id = (received.body or {}).get("data", {}).get("order_id")
        if order_id in sent:
            arrived.setdefault(order_id, []).append(received.received_at)
    return {
        "end_to_end": [min(times) - sent[order_id] for order_id, times in arrived.items()],
        "acks": acks,
        "outcomes": outcomes,
        "missing": len(sent) - len(arrived),
        "doubled": sum(len(times) > 1 for times in arrived.values()),
        "lateness": lateness,
    }


def run_direct(args, backend) -> list[float]:
    """Baseline: signed conversion bodies POSTed straight to the stand-in backend at the same rate."""
    from standardwebhooks import Webhook

    signer = Webhook(BACKEND_SECRET)
    http = requests.Session()
    sent: dict[str, float] = {}

    def send_direct(item) -> None:
        conversion_id, body = item
        now = datetime.now(timezone.utc)
        headers = {"content-type": "application/json", "webhook-id": conversion_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": signer.sign(conversion_id, now, body)}
        sent[conversion_id] = time.time()
        http.post(backend.url, data=body.encode(), headers=headers, timeout=10)

    paced([conversion_like_body(n) for n in range(WARM_COUNT)], args.rate, send_direct)
    sent.clear()
    paced([conversion_like_body(n) for n in range(WARM_COUNT, WARM_COUNT + args.orders)], args.rate, send_direct)
    time.sleep(0.2)
    return [r.received_at - sent[r.webhook_id] for r in backend.delivered() if r.webhook_id in sent]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200, help="orders measured (default 200)")
    parser.add_argument("--rate", type=float, default=20.0, help="webhooks per second (default 20, at most 200)")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--poll-interval", type=float, default=None,
                        help="CONNECTOR_POLL_INTERVAL for the worker (default: the connector's own, 0.2 s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="how long to wait for the last conversions")
    args = parser.parse_args()
    if not 0 < args.rate <= 200 or not 1 <= args.orders <= 5000 or args.orders / args.rate > 60:
        parser.error("--rate must be in (0, 200], --orders 1..5000, and orders/rate at most 60 s")
    exit_cleanly_on_sigterm()

    from connector.settings import Settings

    poll = args.poll_interval or Settings.poll_interval
    with temporary_folder("bench-latency-") as folder, bench_database(args.database, "latency", folder) as url:
        add_store(url)
        backend = start_standin_backend()
        try:
            run = run_connector(args, url, folder, backend, poll)
            direct = run_direct(args, backend)
        finally:
            backend.stop()

    e2e, ack, base = summary(run["end_to_end"]), summary(run["acks"]), summary(direct)
    missing, doubled = run["missing"], run["doubled"]
    print()
    print(line("webhook -> backend receipt", e2e))
    print(line("  of which: webhook answer (ack)", ack))
    print(line("baseline: direct POST -> receipt", base))
    print(f"  webhook answers: {run['outcomes']}; conversions missing {missing}, delivered twice {doubled}; "
          f"sender fell behind schedule by at most {run['lateness'] * 1000:.1f} ms")
    print(f"  floor from polling alone: an idle worker looks for work every {poll * 1000:.0f} ms "
          f"(~{poll * 500:.0f} ms average wait)")
    ratio50 = e2e["p50"] / base["p50"] if base["p50"] else float("nan")
    ratio99 = e2e["p99"] / base["p99"] if base["p99"] else float("nan")
    ok = missing == 0 and doubled == 0
    print()
    print(f"RESULT latency ({args.database}): webhook->backend p50 {e2e['p50']:.1f} ms p90 {e2e['p90']:.1f} ms "
          f"p99 {e2e['p99']:.1f} ms max {e2e['max']:.1f} ms | baseline direct POST p50 {base['p50']:.1f} ms "
          f"p99 {base['p99']:.1f} ms | ratio p50 {ratio50:.0f}x p99 {ratio99:.0f}x | "
          f"{'all delivered once' if ok else f'{missing} missing, {doubled} doubled'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
