"""A local stand-in for the tracking backend: verifies Standard Webhooks signatures and records what it got.

Used by `connector demo`, the end-to-end tests and the benchmarks. It can be told to answer with
other statuses or to hold requests, to play a backend that is down or slow.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    body: dict | None
    verified: bool
    error: str | None
    received_at: float
    status: int


@dataclass
class Behaviour:
    """How the stand-in answers: a status per request (by arrival number), and an optional hold."""

    status_for: Callable[[int, str], int] = lambda number, webhook_id: 200
    #: seconds to hold a request before answering (a slow or hung backend)
    hold: Callable[[int, str], float] = lambda number, webhook_id: 0.0


class StandinBackend:
    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 0, behaviour: Behaviour | None = None):
        self.webhook = Webhook(secret)
        self.behaviour = behaviour or Behaviour()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._count = 0
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/conversions"

    def start(self) -> "StandinBackend":
        self._thread = threading.Thread(target=self._server.serve_forever, name="standin-backend", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "StandinBackend":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def delivered(self) -> list[Received]:
        """Verified requests that were answered 2xx."""
        with self._lock:
            return [r for r in self.received if r.verified and 200 <= r.status < 300]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until `count` verified deliveries were answered 2xx (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                done = [r for r in self.received if r.verified and 200 <= r.status < 300]
                remaining = deadline - time.monotonic()
                if len(done) >= count or remaining <= 0:
                    return done
                self._arrived.wait(remaining)

    def _record(self, entry: Received) -> None:
        with self._arrived:
            self.received.append(entry)
            self._arrived.notify_all()

    def _next_number(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def _handler(self):
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the forwarder's session expects
            # Headers and body go out in two writes; without TCP_NODELAY the second waits ~40 ms for the
            # client's delayed ACK, and every figure measured against this stand-in would be that stall.
            disable_nagle_algorithm = True

            def log_message(self, *_args) -> None:  # quiet: the demo prints its own story
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                number = backend._next_number()
                webhook_id = self.headers.get("webhook-id", "")
                hold = backend.behaviour.hold(number, webhook_id)
                if hold:
                    time.sleep(hold)
                try:
                    body = backend.webhook.verify(raw, dict(self.headers.items()))
                    verified, error = True, None
                except (WebhookVerificationError, ValueError) as exc:  # binascii.Error is a ValueError
                    body, verified, error = None, False, f"{type(exc).__name__}: {exc}"
                status = backend.behaviour.status_for(number, webhook_id) if verified else 401
                reply = json.dumps({"ok": 200 <= status < 300, "error": error}).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    return  # the client gave up (timeout or killed): it did not see this answer
                backend._record(Received(webhook_id, body, verified, error, time.time(), status))

        return Handler
