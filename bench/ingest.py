"""Ingest benchmark: throughput and latency of POST /webhooks/shopify against a bare Flask endpoint.

Both apps are served by gunicorn with the Procfile's web settings (gthread, same --workers/--threads,
access log on), one after the other in the same run, and driven by the same load generator (`wrk`
with a Lua script when installed, else bench/_loadgen.py in its own process) with the same number of
keep-alive connections. The connector gets realistic signed Shopify order bodies, each with its own
X-Shopify-Webhook-Id, so every request is a real insert (not the cheaper duplicate path).

At the end the number of stored events is checked against the 200 answers with outcome "stored".

    python bench/ingest.py                      # PostgreSQL, 10 s each
    python bench/ingest.py --database sqlite --seconds 5
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BENCH,
    SHOP,
    SHOPIFY_SECRET,
    Gunicorn,
    add_store,
    bench_database,
    cpu_by_kind,
    connector_env,
    exit_cleanly_on_sigterm,
    free_port,
    procfile_option,
    procfile_web_argv,
    temporary_folder,
)

# wrk script: each wrk thread takes every n-th pre-built raw request from the data file and sends them
# in order; it counts 200 answers and those whose outcome is "stored"; done() prints one JSON line.
WRK_LUA = r"""
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  reqs = {}
  local f = assert(io.open(path, "rb"))
  local i = 0
  while true do
    local line = f:read("*l")
    if not line then break end
    local raw = f:read(tonumber(line))
    if i % nthreads == tid then reqs[#reqs + 1] = raw end
    i = i + 1
  end
  f:close()
  idx, sent, wrapped, ok, stored, other = 0, 0, 0, 0, 0, 0
end

function request()
  idx = idx + 1
  if idx > #reqs then idx = 1 end
  sent = sent + 1
  if sent > #reqs then wrapped = wrapped + 1 end
  return reqs[idx]
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    if body and string.find(body, '"stored"', 1, true) then stored = stored + 1 end
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t = {ok = 0, stored = 0, other = 0, sent = 0, wrapped = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,' ..
    '"errors_status":%d,"errors_timeout":%d,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"max_us":%.1f,' ..
    '"mean_us":%.1f,"ok":%d,"stored":%d,"other":%d,"sent":%d,"wrapped":%d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, t.ok, t.stored, t.other, t.sent, t.wrapped))
end
"""


class Bodies:
    """Signed Shopify order deliveries, every one a different order with its own webhook id."""

    def __init__(self):
        from standins.shopify import samples

        self.samples = samples
        self.next_order = 5_000_000_000_000

    def raw_requests(self, count: int) -> list[bytes]:
        topics = ("orders/create", "orders/paid", "orders/updated")
        out = []
        for _ in range(count):
            self.next_order += 1
            n = self.next_order
            body = self.samples.encode(self.samples.order(
                shop=SHOP, order_id=n, name=f"#{n % 1_000_000}", codes=("ALICE15",) if n % 3 else (),
                financial_status="paid" if n % 4 else "pending",
            ))
            headers = self.samples.headers(body, shop=SHOP, topic=topics[n % 3], secret=SHOPIFY_SECRET)
            out.append(raw_http(body, headers))
        return out


def raw_http(body: bytes, headers: dict[str, str]) -> bytes:
    lines = ["POST /webhooks/shopify HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def write_requests(path: Path, raws: list[bytes]) -> Path:
    with open(path, "wb") as handle:
        for raw in raws:
            handle.write(b"%d\n" % len(raw))
            handle.write(raw)
    return path


class LoadGenerator:
    def __init__(self, kind: str, folder: Path, connections: int, wrk_threads: int):
        self.kind, self.connections, self.wrk_threads = kind, connections, min(wrk_threads, connections)
        self.script = folder / "ingest.lua"
        self.script.write_text(WRK_LUA)

    def describe(self) -> str:
        if self.kind == "wrk":
            return f"wrk -t{self.wrk_threads} -c{self.connections} (Lua script, pre-built requests)"
        return f"bench/_loadgen.py in its own process, {self.connections} keep-alive connections (threads)"

    def run(self, url: str, data: Path, seconds: int) -> dict:
        if self.kind == "wrk":
            argv = ["wrk", f"-t{self.wrk_threads}", f"-c{self.connections}", f"-d{seconds}s", "--timeout", "10s",
                    "-s", str(self.script), url + "/webhooks/shopify", "--", str(data), str(self.wrk_threads)]
        else:
            argv = [sys.executable, str(BENCH / "_loadgen.py"), url + "/webhooks/shopify", str(data), str(seconds),
                    str(self.connections)]
        before = cpu_by_kind()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
        after = cpu_by_kind()
        for line in done.stdout.splitlines():
            if line.startswith("WRKJSON "):
                result = json.loads(line[len("WRKJSON "):])
                # Exited processes (wrk itself) are not in /proc any more: its CPU shows as 0.
                result["cpu"] = {kind: after[kind] - before[kind] for kind in after}
                result["seconds"] = result["duration_us"] / 1e6
                result["rps"] = result["requests"] / result["seconds"] if result["seconds"] else 0.0
                result["unanswered"] = result["sent"] - result["ok"] - result["other"]
                return result
        raise RuntimeError(f"load generator failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def show(label: str, r: dict, *, reuse_expected: bool = False) -> None:
    errors = sum(r[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout"))
    print(f"  {label:<10} {r['rps']:8.0f} req/s  p50 {r['p50_us'] / 1000:6.1f} ms  p90 {r['p90_us'] / 1000:6.1f} ms  "
          f"p99 {r['p99_us'] / 1000:6.1f} ms  max {r['max_us'] / 1000:6.1f} ms  "
          f"({r['requests']} answers in {r['seconds']:.1f} s, non-200 {r['other']}, socket errors {errors}"
          f"{', requests reused ' + str(r['wrapped']) if r['wrapped'] and not reuse_expected else ''})")


def count_events(url: str) -> int:
    from sqlalchemy import func, select

    from connector.db import make_engine
    from connector.models import Event

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(Event)).scalar_one()
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="measured duration per app (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up duration per app (default 3)")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--connections", type=int, default=None,
                        help="keep-alive connections (default: the Procfile's workers x threads)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                        help="wrk when installed (auto), or the Python fallback")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1; the machine is small)")
    parser.add_argument("--max-requests", type=int, default=40_000,
                        help="cap on distinct connector requests built for the measured run (default 40000)")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 120 or not 1 <= args.warmup <= 30:
        parser.error("--seconds must be 1..120 and --warmup 1..30")
    exit_cleanly_on_sigterm()

    kind = args.loadgen
    if kind == "auto":
        kind = "wrk" if shutil.which("wrk") else "python"
    if kind == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install -y wrk), use --loadgen python")

    with temporary_folder("bench-ingest-") as folder, bench_database(args.database, "ingest", folder) as url:
        add_store(url)
        port = free_port()
        sample_argv = procfile_web_argv("APP", port)
        workers = int(procfile_option(sample_argv, "--workers", "-w", default="1"))
        threads = int(procfile_option(sample_argv, "--threads", default="1"))
        connections = args.connections or workers * threads
        load = LoadGenerator(kind, folder, connections, args.wrk_threads)
        print(f"ingest benchmark: {args.database}, {args.seconds} s measured after {args.warmup} s warm-up, each app")
        print(f"  server: {' '.join(procfile_web_argv('<app>', port)[1:])}")
        print(f"  load:   {load.describe()}")

        bodies = Bodies()
        # The bare app stores nothing, so a few thousand requests sent round and round are enough.
        bare_data = write_requests(folder / "bare.req", bodies.raw_requests(2000))

        # -- bare Flask --------------------------------------------------------------------------
        env = connector_env(url)
        bare = Gunicorn([*procfile_web_argv("bare_app:app", port), "--pythonpath", str(BENCH)], env, folder,
                        folder / "bare.log", port)
        try:
            bare.start()
            load.run(bare.url, bare_data, args.warmup)
            bare_result = load.run(bare.url, bare_data, args.seconds)
        finally:
            bare.stop()

        # -- the connector -----------------------------------------------------------------------
        port = free_port()
        app = Gunicorn(procfile_web_argv("connector:create_app()", port), env, folder, folder / "connector.log", port)
        try:
            app.start()
            warm_data = write_requests(folder / "warm.req", bodies.raw_requests(1500 * args.warmup))
            warm = load.run(app.url, warm_data, args.warmup)
            # Enough distinct deliveries for the measured run at the warm-up rate and then some.
            needed = min(args.max_requests, int(math.ceil(max(warm["rps"], 200) * args.seconds * 1.5)) + 500)
            started = time.monotonic()
            data = write_requests(folder / "connector.req", bodies.raw_requests(needed))
            print(f"  built {needed} distinct signed order deliveries in {time.monotonic() - started:.1f} s "
                  f"(~{data.stat().st_size / needed / 1024:.1f} KiB each)")
            result = load.run(app.url, data, args.seconds)
            time.sleep(1.0)  # requests cut off at the deadline are still being finished by the server
        finally:
            app.stop()
        events = count_events(url)

    print()
    show("bare", bare_result, reuse_expected=True)
    show("connector", result)
    for label, r in (("bare", bare_result), ("connector", result)):
        per_request = {kind: used / max(r["requests"], 1) * 1000 for kind, used in r["cpu"].items()}
        print(f"  cpu per request, {label:<9}: app {per_request['app']:.3f} ms, "
              f"postgres {per_request['postgres']:.3f} ms")
    ratio = result["rps"] / bare_result["rps"] if bare_result["rps"] else float("nan")
    p99_ratio = result["p99_us"] / bare_result["p99_us"] if bare_result["p99_us"] else float("nan")
    print(f"  throughput connector/bare {ratio:.2f}   p99 connector/bare {p99_ratio:.2f}")

    # Every connector request was a new delivery id, so every 200 should say "stored", and each one is a row.
    stored = warm["stored"] + result["stored"]
    cut_off = warm["unanswered"] + result["unanswered"]
    non_stored_200 = warm["ok"] - warm["stored"] + result["ok"] - result["stored"]
    reused = warm["wrapped"] + result["wrapped"]
    check = "OK" if events == stored + cut_off else ("OK (within requests cut off in flight)"
                                                     if stored <= events <= stored + cut_off else "MISMATCH")
    print(f"  check: {events} stored events; {stored} answers 200 'stored' + {cut_off} requests cut off in flight "
          f"at the deadlines (the server finishes them) -> {check}")
    if non_stored_200 or reused or warm["other"] or result["other"]:
        print(f"  note: {non_stored_200} 200 answers were not 'stored' (duplicates); requests sent twice: "
              f"{warm['wrapped']} in the warm-up, {result['wrapped']} in the measured run (raise --max-requests "
              f"if not 0); non-200: {warm['other'] + result['other']}")
        if non_stored_200 > reused:
            check = "MISMATCH"
    print()
    print(f"RESULT ingest ({args.database}): connector {result['rps']:.0f} req/s p50 {result['p50_us'] / 1000:.1f} ms "
          f"p99 {result['p99_us'] / 1000:.1f} ms | bare {bare_result['rps']:.0f} req/s "
          f"p50 {bare_result['p50_us'] / 1000:.1f} ms p99 {bare_result['p99_us'] / 1000:.1f} ms | "
          f"ratio {ratio:.2f} (p99 ratio {p99_ratio:.2f}) | stored check {check}")
    return 0 if check.startswith("OK") else 1


if __name__ == "__main__":
    sys.exit(main())
