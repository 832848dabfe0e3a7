"""Transport to the tracking backend: sign with Standard Webhooks, POST, and report a result. Never raises.

The backend is trusted with conversions, not with our time or memory: every attempt has a total
deadline, reads at most a short excerpt of the answer, and never follows a redirect (a 3xx would
have the signed body re-sent to wherever it points; it is a failed attempt, retried like any other).
Several secrets may sign at once (Standard Webhooks allows a list of signatures), so the backend can
rotate its secret without a delivery failing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Sequence

import requests
from standardwebhooks import Webhook

from connector import outbound

TIMEOUT_SECONDS = 10.0
EXCERPT_CHARS = 300
#: what is read of an answer at most; the rest is never read (the connection is dropped)
READ_BYTES = 4096


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

    def __init__(self, url: str, secrets: str | Sequence[str], *, timeout: float = TIMEOUT_SECONDS,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.url, self.timeout, self._clock = url, timeout, clock
        self._signers = [Webhook(secret) for secret in ([secrets] if isinstance(secrets, str) else secrets)]
        if not self._signers:
            raise ValueError("a sender needs at least one secret")

    def _session(self) -> requests.Session:
        return outbound.thread_session("backend", deadline=self.timeout, max_bytes=READ_BYTES, truncate=True)

    def headers(self, conversion_id: str, body: str) -> dict[str, str]:
        """Fresh timestamp and signatures for this attempt; the id and body never change."""
        now = self._clock()
        return {
            "content-type": "application/json",
            "webhook-id": conversion_id,
            "webhook-timestamp": str(int(now.timestamp())),
            # Space-separated, one per secret: a verifier accepts the delivery when any one matches.
            "webhook-signature": " ".join(signer.sign(conversion_id, now, body) for signer in self._signers),
            "user-agent": "influencer-connector/0.1",
        }

    def send(self, conversion_id: str, body: str) -> DeliveryResult:
        attempted_at, started = self._clock(), time.monotonic()
        try:
            response = self._session().post(self.url, data=body.encode(), headers=self.headers(conversion_id, body),
                                            deadline=self.timeout)
        except Exception as exc:  # noqa: BLE001 - transport errors of every kind become a result
            return DeliveryResult(None, _ms(started), error=f"{type(exc).__name__}: {exc}"[:500],
                                  attempted_at=attempted_at)
        return DeliveryResult(
            response.status_code,
            _ms(started),
            excerpt=_excerpt(response.content),
            retry_after=_retry_after(response),
            attempted_at=attempted_at,
        )


def _excerpt(content: bytes) -> str:
    # Kept in a text column: NUL is the one character PostgreSQL's text cannot hold.
    return content[:EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS].replace("\x00", "\ufffd")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
