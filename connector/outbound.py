"""Every call the connector makes to someone else (stores, token endpoints, the backend) goes through here.

A peer may be slow on purpose. `requests` only bounds each socket operation, so a server that sends
one byte every few seconds holds a call for as long as it likes, and one that sends 300 MB is read
into memory whole. A `BoundedSession` gives each call:

- a **total deadline**: the name is resolved under it (connector.outbound.resolve), and a watchdog
  thread shuts the call's socket down when it passes, whatever the call is waiting for (the headers,
  the body; the TLS handshake is bounded as a whole by the connect timeout); the call then raises
  `DeadlineExceeded`, a `requests.Timeout`;
- a **cap on what it reads**: the body is read in pieces up to `max_bytes`; beyond that the call
  raises `ResponseTooLarge` (or, with `truncate`, keeps the first `max_bytes` and drops the rest);
- **no redirects**, whatever the caller asks: a 3xx is handed back as it is, and the caller's
  credentials never travel to wherever it points.

A web request that calls out (an install) also runs under `budget()`, one deadline for all of its
calls, and `InlineCalls` bounds how many requests of one process may wait on a peer at once, so
webhooks and health checks keep finding a free thread. Name resolution happens before there is a socket
to shut down: `resolve` runs it on a few threads of its own and stops waiting at its deadline. Proxies
from the environment, .netrc credentials and cookies are not used.
"""

from __future__ import annotations

import contextlib
import contextvars
import http.cookiejar
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
import heapq
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, ReadTimeoutError

from connector.errors import ConnectorError

#: seconds to open the TCP connection (one address); the total deadline still applies
CONNECT_TIMEOUT = 3.05
CHUNK = 16 * 1024


class DeadlineExceeded(requests.Timeout):
    """The call did not finish within its total deadline."""


class ResponseTooLarge(requests.RequestException):
    """The answer is longer than the call may read."""


class Busy(ConnectorError):
    """Too many requests of this process are waiting on a peer; try again shortly."""


# -- the watchdog ---------------------------------------------------------------------------------


@dataclass(eq=False)
class _Call:
    """One call's deadline and the sockets it used; the watchdog shuts them down when it passes."""

    at: float
    sockets: list = field(default_factory=list)
    fired: bool = False
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, sock) -> None:
        with self.lock:
            if self.done:
                return
            self.sockets.append(sock)
            expired = self.fired
        if expired:
            _shut(sock)

    def expire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.fired = True
            sockets = list(self.sockets)
        for sock in sockets:
            _shut(sock)

    def finish(self) -> None:
        with self.lock:
            self.done = True
            self.sockets.clear()

    def left(self) -> float:
        return self.at - time.monotonic()


def _shut(sock) -> None:
    # socket.socket's own shutdown, not SSLSocket's (which would drop its TLS state under the reader's
    # feet): the blocked recv in the caller's thread returns at once with an error.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError, ValueError):
        pass


class _Watchdog:
    """One thread for every deadline in the process (a thread per call would cost more than the call)."""

    def __init__(self):
        self._heap: list[tuple[float, int, _Call]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, call: _Call) -> None:
        with self._wake:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (call.at, next(self._order), call))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbound-deadlines", daemon=True)
                self._thread.start()
            # Deadlines mostly come in order (now + the same timeout): the thread is already waiting for an
            # earlier one, and waking it for every call would cost a context switch each.
            if earliest is None or call.at < earliest:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                _, _, call = heapq.heappop(self._heap)
            call.expire()


_WATCHDOG = _Watchdog()
_current = threading.local()


def _watch(sock) -> None:
    call = getattr(_current, "call", None)
    if call is not None and sock is not None:
        call.watch(sock)


def _connect(connection) -> socket.socket:
    """A new connection's socket: the name resolved under the call's deadline, then each address tried.

    urllib3 would resolve on the caller's thread, with no socket yet for the watchdog to shut, so a name
    server that never answers would hold the call for ever. The TLS handshake that follows is bounded as a
    whole by the connect timeout (CPython applies a socket's timeout to the entire handshake), and the
    wrapped socket is watched from `request` on.
    """
    call = getattr(_current, "call", None)
    host = connection._dns_host
    left = call.left() if call is not None else RESOLVE_TIMEOUT
    addresses = [info[4][0] for info in resolve(host, connection.port, type=socket.SOCK_STREAM,
                                                timeout=max(0.0, min(RESOLVE_TIMEOUT, left)))]
    error: Exception | None = None
    for address in dict.fromkeys(addresses):
        connection._dns_host = address
        try:
            sock = super(connection.__class__, connection)._new_conn()
        except Exception as exc:  # noqa: BLE001 - urllib3's connect errors: try the next address
            error = exc
            continue
        finally:
            connection._dns_host = host
        if call is not None:
            call.watch(sock)
        return sock
    raise error or OSError(f"{host} resolved to no address")


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self):
        return _connect(self)

    def request(self, *args, **kwargs):
        _watch(self.sock)  # a pooled connection, used again
        return super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        return _connect(self)

    def request(self, *args, **kwargs):
        _watch(self.sock)
        return super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


# -- the budget of one web request ----------------------------------------------------------------

_budget: contextvars.ContextVar[float | None] = contextvars.ContextVar("outbound_budget", default=None)


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Every call made inside shares one deadline, `seconds` from now (the shorter of it and the call's own)."""
    until = time.monotonic() + seconds
    outer = _budget.get()
    token = _budget.set(until if outer is None else min(outer, until))
    try:
        yield
    finally:
        _budget.reset(token)


def remaining_budget() -> float | None:
    """Seconds left of the current budget, None outside one."""
    until = _budget.get()
    return None if until is None else until - time.monotonic()


class InlineCalls:
    """At most `limit` requests of this process wait on a peer at once; the others are told to come back."""

    def __init__(self, limit: int, wait: float = 0.25):
        self._slots, self._wait = threading.BoundedSemaphore(limit), wait

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self._wait):
            raise Busy("too many requests are waiting on other servers; try again in a few seconds")
        try:
            yield
        finally:
            self._slots.release()


# -- the session ----------------------------------------------------------------------------------


class BoundedSession(requests.Session):
    """A requests.Session whose every call has a total deadline, a read cap and no redirects."""

    def __init__(self, *, deadline: float = 10.0, max_bytes: int = 1024 * 1024, truncate: bool = False):
        super().__init__()
        self.deadline, self.max_bytes, self.truncate = deadline, max_bytes, truncate
        adapter = _WatchedAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        # No proxy from the environment (its pools would not be watched) and no .netrc credentials; and no
        # cookies: one thread's session calls many stores, and none of them may set anything for the others.
        self.trust_env = False
        self.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        # Asked not to compress, so the cap is on what was sent; an answer compressed anyway is still
        # decoded a piece at a time (urllib3 >= 2.6 bounds each piece), never whole.
        self.headers["Accept-Encoding"] = "identity"

    def request(self, method, url, *args, deadline: float | None = None, max_bytes: int | None = None,
                truncate: bool | None = None, **kwargs) -> requests.Response:
        # `timeout`, as the WooCommerce library passes it, is taken as the call's total deadline.
        timeout = kwargs.pop("timeout", None)
        if deadline is None:
            deadline = _seconds(timeout) or self.deadline
        limit = self.max_bytes if max_bytes is None else max_bytes
        cut = self.truncate if truncate is None else truncate
        left = remaining_budget()
        if left is not None:
            deadline = min(deadline, left)
        if deadline <= 0:
            raise DeadlineExceeded(f"no time left for {method} {_where(url)}")
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        call = _Call(at=time.monotonic() + deadline)
        _WATCHDOG.add(call)
        outer, _current.call = getattr(_current, "call", None), call
        try:
            response = super().request(method, url, *args, timeout=(min(CONNECT_TIMEOUT, deadline), deadline),
                                       **kwargs)
            try:
                response._content, response._content_consumed = _read(response, limit, cut)
            finally:
                # After a whole answer this hands the connection back to the pool; after a cut one it
                # closes it, since the rest of that answer is still on the wire.
                response.close()
        except requests.RequestException as exc:
            if call.fired and not isinstance(exc, ResponseTooLarge):
                raise DeadlineExceeded(f"{method} {_where(url)} took longer than {deadline:.1f} s") from None
            raise
        finally:
            call.finish()
            _current.call = outer
        return response


def _seconds(timeout) -> float | None:
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return float(timeout)
    if isinstance(timeout, tuple) and timeout and all(isinstance(t, (int, float)) for t in timeout):
        return float(sum(timeout))
    return None


def _where(url: str) -> str:
    # The host and path, never the query (it may carry keys: WooCommerce's query-string auth).
    return str(url).split("?", 1)[0]


def _read(response: requests.Response, limit: int, truncate: bool) -> tuple[bytes, bool]:
    """(the body, up to `limit` bytes; whether that is all of it)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit and not truncate:
        raise ResponseTooLarge(f"the answer is {declared} bytes; at most {limit} are read")
    pieces, size = [], 0
    while size <= limit:
        try:
            piece = response.raw.read(min(CHUNK, limit + 1 - size), decode_content=True)
        except ReadTimeoutError as exc:
            raise requests.ReadTimeout(str(exc)) from None
        except (HTTPError, OSError) as exc:  # a dropped connection, or a socket the watchdog shut
            raise requests.ConnectionError(f"{type(exc).__name__}: {exc}") from None
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
    body = b"".join(pieces)
    if len(body) > limit:
        if not truncate:
            raise ResponseTooLarge(f"the answer is longer than {limit} bytes")
        return body[:limit], False
    return body, True


#: a name a resolver is slow to answer holds one of these threads until the resolver gives up, never a caller
_RESOLVERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")
#: lookups running or queued at most; beyond that a lookup is refused at once rather than queued behind them
_LOOKUPS = threading.BoundedSemaphore(16)
RESOLVE_TIMEOUT = 5.0


def resolve(host: str, port: int, *, type: int = 0, timeout: float = RESOLVE_TIMEOUT) -> list:  # noqa: A002
    """socket.getaddrinfo, given up on after `timeout` seconds (or what is left of the request's budget)."""
    left = remaining_budget()
    wait = timeout if left is None else max(0.0, min(timeout, left))
    if not _LOOKUPS.acquire(blocking=False):
        raise OSError(f"too many name lookups are waiting; {host} was not resolved")
    future = _RESOLVERS.submit(socket.getaddrinfo, host, port, type=type)
    future.add_done_callback(lambda _done: _LOOKUPS.release())
    try:
        return future.result(timeout=wait)
    except FutureTimeout:
        future.cancel()  # if it is still queued it never runs, and its done callback gives its slot back
        raise OSError(f"resolving {host} took longer than {wait:.1f} s") from None


_sessions = threading.local()


def thread_session(name: str, **limits) -> BoundedSession:
    """This thread's session called `name` (requests' Session is not thread-safe; connections are kept)."""
    found = getattr(_sessions, name, None)
    if found is None:
        found = BoundedSession(**limits)
        setattr(_sessions, name, found)
    return found
