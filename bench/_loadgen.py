"""The Python load generator bench/ingest.py falls back to when `wrk` is not installed.

Run as its own process (so it does not share a GIL with the servers): one thread per keep-alive
connection, each sending pre-built raw requests from the data file in turn, for a fixed duration.
Requests already sent when the time is up are still answered and counted, so the totals are exact.
Prints one line `WRKJSON {...}` with the same fields as bench/ingest.py's wrk script.

    python bench/_loadgen.py URL DATA_FILE SECONDS CONNECTIONS
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import sys
import threading
import time
from urllib.parse import urlsplit


def read_requests(path: str) -> list[bytes]:
    requests = []
    with open(path, "rb") as handle:
        while True:
            line = handle.readline()
            if not line:
                return requests
            requests.append(handle.read(int(line)))


def main(url: str, data_file: str, seconds: float, connections: int) -> None:
    parts = urlsplit(url)
    requests = read_requests(data_file)
    counter = itertools.count()  # next() on it is atomic under the GIL
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    totals = {"ok": 0, "stored": 0, "other": 0, "sent": 0, "wrapped": 0, "errors": 0}
    latencies: list[float] = []

    def run() -> None:
        mine = {key: 0 for key in totals}
        times: list[float] = []
        sock = None
        while time.monotonic() < deadline:
            number = next(counter)
            raw = requests[number % len(requests)]
            mine["sent"] += 1
            mine["wrapped"] += number >= len(requests)
            try:
                if sock is None:
                    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                started = time.perf_counter()
                sock.sendall(raw)
                response = http.client.HTTPResponse(sock, method="POST")
                response.begin()
                body = response.read()
                times.append(time.perf_counter() - started)
                if response.status == 200:
                    mine["ok"] += 1
                    mine["stored"] += b'"stored"' in body
                else:
                    mine["other"] += 1
                if response.will_close:
                    sock.close()
                    sock = None
            except OSError:
                mine["errors"] += 1
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()
        with lock:
            for key, value in mine.items():
                totals[key] += value
            latencies.extend(times)

    started = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, max(0, int(-(-p * len(latencies) // 100)) - 1))] * 1e6

    answered = totals["ok"] + totals["other"]
    print("WRKJSON " + json.dumps({
        "requests": answered,
        "duration_us": elapsed * 1e6,
        "errors_connect": 0, "errors_read": totals["errors"], "errors_write": 0,
        "errors_status": totals["other"], "errors_timeout": 0,
        "p50_us": pct(50), "p90_us": pct(90), "p99_us": pct(99),
        "max_us": latencies[-1] * 1e6 if latencies else float("nan"),
        "mean_us": sum(latencies) / len(latencies) * 1e6 if latencies else float("nan"),
        "ok": totals["ok"], "stored": totals["stored"], "other": totals["other"],
        "sent": totals["sent"], "wrapped": totals["wrapped"],
    }), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
