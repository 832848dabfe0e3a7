"""Transport to the tracking backend: sign with Standard Webhooks, POST, and report a result. Never raises."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import requests
from standardwebhooks import Webhook

TIMEOUT_SECONDS = 10.0
EXCERPT_CHARS = 300


@dataclass(frozen=True)
class DeliveryResult:
    status_code: int | None
    duration_ms: int
    excerpt: str | None = None
    error: str | None = None
    retry_after: float | None = None
    attempted_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def describe(self) -> str:
        if self.error:
            return self.error
        return f"HTTP {self.status_code}: {self.excerpt or ''}".strip()


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None  # an HTTP date: rare from a backend, and the schedule's own wait applies


class Sender:
    """Posts signed conversions; one keep-alive HTTP session per thread (requests' Session is not thread-safe)."""

    def __init__(self, url: str, secret: str, *, timeout: float = TIMEOUT_SECONDS,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.url, self.timeout, self._clock = url, timeout, clock
        self._signer = Webhook(secret)
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def headers(self, conversion_id: str, body: str) -> dict[str, str]:
        """Fresh timestamp and signature for this attempt; the id and body never change."""
        now = self._clock()
        return {
            "content-type": "application/json",
            "webhook-id": conversion_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(conversion_id, now, body),
            "user-agent": "influencer-connector/0.1",
        }

    def send(self, conversion_id: str, body: str) -> DeliveryResult:
        attempted_at, started = self._clock(), time.monotonic()
        try:
            response = self._session().post(
                self.url, data=body.encode(), headers=self.headers(conversion_id, body), timeout=self.timeout
            )
        except Exception as exc:  # noqa: BLE001 - transport errors of every kind become a result
            return DeliveryResult(None, _ms(started), error=f"{type(exc).__name__}: {exc}"[:500],
                                  attempted_at=attempted_at)
        return DeliveryResult(
            response.status_code,
            _ms(started),
            excerpt=response.text[:EXCERPT_CHARS],
            retry_after=_retry_after(response),
            attempted_at=attempted_at,
        )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
