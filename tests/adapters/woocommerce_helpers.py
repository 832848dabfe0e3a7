"""A tiny local HTTP receiver for the WooCommerce tests: it records what the stand-in store sends it.

It plays the connector's side of the wire (the wc-auth callback, the webhook ping, webhook deliveries)
without the connector, so the stand-in and the adapter can be tested on their own. Also: a store row with
REST keys, for the tests that call a stand-in site through the adapter.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from adapters.woocommerce import adapter
from connector import crypto
from connector.db import transaction
from connector.models import Store


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, status: int = 200):
        #: the status every request is answered with; tests change it
        self.status = status
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "Receiver":
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def posts(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.method == "POST" and (path is None or r.path == path)]

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    receiver.received.append(Received("POST", self.path, dict(self.headers.items()), body))
                reply = b"ok"
                self.send_response(receiver.status)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        return Handler


def add_woocommerce_store(sessions, settings, url: str, keys: str) -> int:
    """A WooCommerce store row with these REST keys ("ck_…:cs_…"), as an install leaves it."""
    with transaction(sessions) as session:
        store = Store(platform="woocommerce", domain=adapter.normalise_store_key(url) or url)
        session.add(store)
        session.flush()
        store.access_token_encrypted = crypto.encrypt(settings.secret_key, store.id, keys)
        return store.id
