"""Peers that misbehave on purpose, on real sockets: slow drips, endless or huge bodies, redirects.

Each connection reads the request (headers and a Content-Length body), then plays its part. Used to
attack the connector's outbound calls (stores, token endpoints, the backend) the way a hostile or broken
server would.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Seen:
    """One request a hostile peer received."""

    request_line: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HostileServer:
    """A TCP server answering every request with `play(conn, seen)`; `seen` records the requests."""

    play: Callable[[socket.socket, Seen], None]
    seen: list[Seen] = field(default_factory=list)
    #: play at once on connecting, without reading a request (a TLS peer, say)
    raw: bool = False

    def __post_init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.listen(64)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="hostile")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> "HostileServer":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stopped.set()
        try:
            self._listener.close()
        except OSError:
            pass

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            if self.raw:
                self.play(conn, Seen("", {}, b""))
                return
            while not self._stopped.is_set():
                seen = _read_request(conn)
                if seen is None:
                    return
                self.seen.append(seen)
                if self.play(conn, seen) is not True:  # True keeps the connection for another request
                    return
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


def _read_request(conn: socket.socket) -> Seen | None:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        rest += piece
    return Seen(lines[0], headers, rest[:length])


# -- the parts they play ----------------------------------------------------------------------------


def drip(every: float, stop: threading.Event | None = None) -> Callable:
    """Headers and body one byte every `every` seconds, for ever (until the peer gives up)."""

    def play(conn, _seen):
        message = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + b" " * 100000
        for byte in message:
            if stop is not None and stop.is_set():
                return
            conn.sendall(bytes([byte]))
            time.sleep(every)

    return play


def tls_drip(every: float, stop: threading.Event) -> Callable:
    """A TLS server that answers the ClientHello with a handshake record whose bytes come one at a time."""

    def play(conn, _seen):
        conn.recv(65536)  # the ClientHello
        conn.sendall(b"\x16\x03\x03\x30\x00")  # a handshake record of 12,288 bytes is on its way
        for _ in range(12288):
            if stop.is_set():
                return
            conn.sendall(b"\x02")
            time.sleep(every)

    return play


def drip_body(every: float, status: int = 200) -> Callable:
    """Headers at once, then the body one byte every `every` seconds."""

    def play(conn, _seen):
        conn.sendall(f"HTTP/1.1 {status} OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n".encode())
        for _ in range(100000):
            conn.sendall(b"x")
            time.sleep(every)

    return play


def huge(size: int, status: int = 500, chunked: bool = False) -> Callable:
    """An answer of `size` bytes (an error page, say), sent as fast as the reader takes it."""

    def play(conn, _seen):
        block = b"e" * 65536
        if chunked:
            conn.sendall(f"HTTP/1.1 {status} Oops\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
            sent = 0
            while sent < size:
                conn.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                sent += len(block)
            conn.sendall(b"0\r\n\r\n")
            return
        conn.sendall(f"HTTP/1.1 {status} Oops\r\nContent-Length: {size}\r\n\r\n".encode())
        sent = 0
        while sent < size:
            conn.sendall(block)
            sent += len(block)

    return play


def gzip_bomb(size: int) -> Callable:
    """A small gzip answer that inflates to `size` bytes, sent although the client asked for identity."""
    packed = gzip.compress(b"\0" * size, compresslevel=9)

    def play(conn, _seen):
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(packed)}\r\n\r\n".encode()
                     + packed)

    return play


def redirect(location: str, status: int = 307) -> Callable:
    def play(conn, _seen):
        conn.sendall(f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())
        return True

    return play


def answer(status: int = 200, body: bytes = b"{}", content_type: str = "application/json") -> Callable:
    def play(conn, _seen):
        conn.sendall(f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                     "\r\n".encode() + body)
        return True

    return play
