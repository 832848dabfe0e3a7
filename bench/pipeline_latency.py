"""Pipeline latency: a code order's webhook to the tracking backend, with the worker woken by NOTIFY or by its poll.

The Procfile's two processes: the app under gunicorn (its web settings) and a worker process, against
standins.backend.StandinBackend (in this process). Paid ALICE15 orders (credited at once: a promo code needs no
wait for the browser's report) are sent signed, at a steady rate; an order's latency is from just before its
webhook POST to the backend recording the verified conversion whose data.order_id is that order.

Worker modes, in alternating rounds on one database and one app:
  notify  `connector worker` as shipped: on PostgreSQL it LISTENs, and the edge's insert NOTIFYs it
  poll    the same worker with its listener switched off (connector.worker.runner.listen replaced in that
          process): it finds each event at its next poll (CONNECTOR_POLL_INTERVAL, 0.2 s)
SQLite has no NOTIFY: only poll runs there (`--databases postgresql,sqlite` runs both).

Floor, measured in the same run at the same rate: the bare webhook round trip (bench/bare_app.py under the same
gunicorn settings, the same signed bodies) plus the bare backend round trip (a signed conversion POSTed straight
to the stand-in backend); the floor's p50 is the sum of their p50s.

    python bench/pipeline_latency.py                         # PostgreSQL, 200 orders per mode at 10/s
    python bench/pipeline_latency.py --databases postgresql,sqlite --orders 100
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402

from _common import (  # noqa: E402
    BACKEND_SECRET,
    BENCH,
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
from latency import WARM_COUNT, paced, run_direct, signed_orders  # noqa: E402

# The worker with LISTEN switched off in its own process, otherwise `connector worker` exactly.
POLL_ONLY_WORKER = ("import connector.worker.runner as runner; runner.listen = lambda *_a, **_k: None; "
                    "from connector.cli import main; main(['worker'])")
FIRST_ORDER = 7_200_000_000_000


def start_worker(mode: str, url: str, backend_url: str, folder: Path, log_name: str) -> subprocess.Popen:
    env = connector_env(url, TRACKING_BACKEND_URL=backend_url, TRACKING_BACKEND_SECRET=BACKEND_SECRET)
    argv = ([str(VENV_BIN / "connector"), "worker"] if mode == "notify"
            else [sys.executable, "-c", POLL_ONLY_WORKER])
    with open(folder / log_name, "ab") as log:
        return subprocess.Popen(argv, env=env, cwd=folder, stdout=log, stderr=log, start_new_session=True)


class Round:
    """One worker process, warmed up, then `count` orders through it at the rate."""

    def __init__(self, app_url: str, backend, rate: float, timeout: float):
        self.app_url, self.backend, self.rate, self.timeout = app_url, backend, rate, timeout
        self.http = requests.Session()
        self.sent: dict[str, float] = {}
        self.acks: list[float] = []

    def _send(self, item) -> None:
        order_id, body, headers = item
        self.sent[order_id] = time.time()
        started = time.perf_counter()
        answer = self.http.post(self.app_url + "/webhooks/shopify", data=body, headers=headers, timeout=10)
        self.acks.append(time.perf_counter() - started)
        if answer.status_code != 200 or answer.json().get("outcome") != "stored":
            raise RuntimeError(f"webhook answered {answer.status_code} {answer.text[:200]}")

    def run(self, first: int, count: int) -> dict:
        expected = len(self.backend.delivered())
        paced(signed_orders(first, WARM_COUNT), self.rate, self._send)
        if len(self.backend.wait_for(expected + WARM_COUNT, timeout=self.timeout)) < expected + WARM_COUNT:
            raise RuntimeError("warm-up conversions did not arrive")
        self.sent.clear()
        self.acks.clear()
        paced(signed_orders(first + WARM_COUNT, count), self.rate, self._send)
        self.backend.wait_for(expected + WARM_COUNT + count, timeout=self.timeout)
        time.sleep(0.3)  # a duplicate delivery would show up now
        arrived: dict[str, list[float]] = {}
        for received in self.backend.delivered():
            order_id = (received.body or {}).get("data", {}).get("order_id")
            if order_id in self.sent:
                arrived.setdefault(order_id, []).append(received.received_at)
        return {"e2e": [min(times) - self.sent[o] for o, times in arrived.items()], "acks": list(self.acks),
                "missing": len(self.sent) - len(arrived), "doubled": sum(len(t) > 1 for t in arrived.values())}


def measure_database(args, database: str, folder: Path, backend, first: int) -> dict[str, dict]:
    """Every mode of one database, in alternating rounds; results by mode."""
    modes = ["notify", "poll"] if database == "postgresql" else ["poll"]
    results = {mode: {"e2e": [], "acks": [], "missing": 0, "doubled": 0, "listened": False} for mode in modes}
    with bench_database(database, "pipeline", folder) as url:
        add_store(url)
        port = free_port()
        app = Gunicorn(procfile_web_argv("connector:create_app()", port), connector_env(url), folder,
                       folder / f"web-{database}.log", port).start()
        try:
            per_round = -(-args.orders // args.rounds)
            for number in range(args.rounds):
                for mode in modes:
                    log_name = f"worker-{database}-{mode}-{number}.log"
                    worker = start_worker(mode, url, backend.url, folder, log_name)
                    try:
                        got = Round(app.url, backend, args.rate, args.timeout).run(first, per_round)
                    except RuntimeError as exc:
                        raise RuntimeError(f"{database} {mode}: {exc}\n{tail(folder / log_name)}") from None
                    finally:
                        stop_process(worker)
                    first += WARM_COUNT + per_round
                    for key in ("e2e", "acks"):
                        results[mode][key] += got[key]
                    results[mode]["missing"] += got["missing"]
                    results[mode]["doubled"] += got["doubled"]
                    results[mode]["listened"] |= "listening for work" in (folder / log_name).read_text()
        finally:
            app.stop()
    return results


def bare_webhook_round_trips(args, folder: Path) -> list[float]:
    """The floor's first half: the same signed bodies POSTed to bench/bare_app.py under the same gunicorn."""
    port = free_port()
    app = Gunicorn([*procfile_web_argv("bare_app:app", port), "--pythonpath", str(BENCH)], connector_env("sqlite://"),
                   folder, folder / "bare.log", port).start()
    http, times = requests.Session(), []

    def send(item) -> None:
        _order_id, body, headers = item
        started = time.perf_counter()
        http.post(app.url + "/webhooks/shopify", data=body, headers=headers, timeout=10)
        times.append(time.perf_counter() - started)

    try:
        paced(signed_orders(1, WARM_COUNT), args.rate, send)
        times.clear()
        paced(signed_orders(1 + WARM_COUNT, args.orders), args.rate, send)
    finally:
        app.stop()
    return times


def ms(values: list[float], p: float) -> float:
    return percentile([v * 1000 for v in values], p)


def report(label: str, values: list[float]) -> str:
    return (f"  {label:<40} p50 {ms(values, 50):7.1f} ms  p95 {ms(values, 95):7.1f} ms  "
            f"p99 {ms(values, 99):7.1f} ms  (n={len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200, help="orders measured per mode (default 200)")
    # Well inside one worker's throughput (bench/worker_throughput.py), so the figure is the pipeline's latency,
    # not a queue's.
    parser.add_argument("--rate", type=float, default=10.0, help="webhooks per second (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds the orders are split into")
    parser.add_argument("--databases", default="postgresql", help="postgresql, sqlite, or both comma-separated")
    parser.add_argument("--timeout", type=float, default=30.0, help="how long to wait for the last conversions")
    args = parser.parse_args()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not 0 < args.rate <= 100 or not 1 <= args.orders <= 2000 or not 1 <= args.rounds <= 10:
        parser.error("--rate must be in (0, 100], --orders 1..2000, --rounds 1..10")
    if not databases or set(databases) - {"postgresql", "sqlite"}:
        parser.error("--databases takes postgresql and/or sqlite")
    exit_cleanly_on_sigterm()

    print(f"pipeline latency: {args.orders} paid ALICE15 orders per mode at {args.rate:g}/s in {args.rounds} "
          f"alternating rounds; gunicorn (Procfile web) + 1 worker process + stand-in backend")
    results: dict[str, dict] = {}
    with temporary_folder("bench-pipeline-") as folder:
        backend = start_standin_backend()
        try:
            first = FIRST_ORDER
            for database in databases:
                for mode, got in measure_database(args, database, folder, backend, first).items():
                    results[f"{database} {mode}"] = got
                first += 1_000_000
            bare = bare_webhook_round_trips(args, folder)
            direct = run_direct(args, backend)
        finally:
            backend.stop()

    floor50 = ms(bare, 50) + ms(direct, 50)
    floor95 = ms(bare, 95) + ms(direct, 95)
    print()
    ok = True
    for label, got in results.items():
        print(report(f"{label}: webhook -> backend", got["e2e"]))
        print(report(f"{label}:   of which the webhook's answer", got["acks"]))
        print(f"    conversions missing {got['missing']}, delivered twice {got['doubled']}; worker listened: "
              f"{'yes' if got['listened'] else 'no'}")
        ok &= got["missing"] == 0 and got["doubled"] == 0 and got["listened"] == label.endswith("notify")
    print(report("floor: bare webhook round trip", bare))
    print(report("floor: bare backend round trip", direct))
    print(f"  floor (sum of the two)                   p50 {floor50:7.1f} ms  p95 {floor95:7.1f} ms")
    print()
    parts = []
    for label, got in results.items():
        p50, p95 = ms(got["e2e"], 50), ms(got["e2e"], 95)
        parts.append(f"{label} p50 {p50:.1f} ms p95 {p95:.1f} ms ({p50 / floor50:.1f}x floor)")
    if "postgresql notify" in results:
        notify, poll = ms(results["postgresql notify"]["e2e"], 50), ms(results["postgresql poll"]["e2e"], 50)
        parts.append(f"poll/notify p50 {poll / notify:.1f}x")
    parts.append(f"floor p50 {floor50:.1f} ms")
    parts.append("all delivered once" if ok else "MISMATCH (missing, doubled or listener state)")
    print("RESULT pipeline_latency: " + " | ".join(parts))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
