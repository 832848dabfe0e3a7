"""Outbound calls against hostile peers on real sockets: a total deadline, a read cap, no redirects."""

from __future__ import annotations

import threading
import time
import tracemalloc

import pytest
import requests

from connector import outbound

from .hostile import HostileServer, answer, drip, drip_body, gzip_bomb, huge, redirect, tls_drip


def test_a_server_dripping_its_headers_is_cut_off_at_the_deadline():
    stop = threading.Event()
    with HostileServer(drip(0.2, stop)) as peer:
        started = time.monotonic()
        with pytest.raises(outbound.DeadlineExceeded):
            outbound.BoundedSession(deadline=1.0).get(peer.url)
        took = time.monotonic() - started
        stop.set()
    # requests' own timeout (per socket read) would have waited for ever: every read gets a byte in 0.2 s.
    assert 0.9 < took < 2.0


def test_a_server_dripping_its_body_is_cut_off_at_the_deadline():
    with HostileServer(drip_body(0.1)) as peer:
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            outbound.BoundedSession(deadline=1.0).get(peer.url)
        assert time.monotonic() - started < 2.0


def test_the_deadline_is_a_requests_timeout_so_callers_retry_it():
    assert issubclass(outbound.DeadlineExceeded, requests.Timeout)


def test_a_huge_answer_is_refused_once_the_cap_is_read():
    with HostileServer(huge(50 * 1024 * 1024, chunked=True)) as peer:
        with pytest.raises(outbound.ResponseTooLarge):
            outbound.BoundedSession(max_bytes=64 * 1024).get(peer.url)


def test_a_declared_length_over_the_cap_is_refused_before_reading():
    with HostileServer(huge(300 * 1024 * 1024)) as peer:
        started = time.monotonic()
        with pytest.raises(outbound.ResponseTooLarge):
            outbound.BoundedSession(max_bytes=1024).get(peer.url)
        assert time.monotonic() - started < 1.0


def test_truncate_keeps_a_short_excerpt_of_a_huge_answer_and_its_status():
    with HostileServer(huge(300 * 1024 * 1024, status=503)) as peer:
        tracemalloc.start()
        try:
            answered = outbound.BoundedSession(max_bytes=4096, truncate=True).post(peer.url, data=b"{}")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert answered.status_code == 503
    assert len(answered.content) == 4096
    assert peak < 2 * 1024 * 1024  # 300 MB were offered; a few KiB were read


def test_a_tls_handshake_dripped_a_byte_at_a_time_ends_within_the_deadline():
    stop = threading.Event()
    with HostileServer(tls_drip(0.2, stop), raw=True) as peer:
        started = time.monotonic()
        with pytest.raises(requests.RequestException):
            outbound.BoundedSession(deadline=1.5).get(peer.url.replace("http://", "https://"))
        took = time.monotonic() - started
        stop.set()
    assert took < 2.5


def test_the_pool_still_serves_after_a_call_was_cut_off():
    stop = threading.Event()
    with HostileServer(answer(200, b'{"ok": true}')) as good, HostileServer(drip_body(0.1)) as slow:
        session = outbound.BoundedSession(deadline=0.8)
        assert session.get(good.url).json() == {"ok": True}
        with pytest.raises(requests.Timeout):
            session.get(slow.url)
        for _ in range(5):
            assert session.get(good.url).json() == {"ok": True}
        stop.set()


def test_no_cookie_is_kept_from_one_store_for_another():
    def play(conn, _seen):
        conn.sendall(b"HTTP/1.1 200 OK\r\nSet-Cookie: session=store-a; Path=/\r\nContent-Length: 2\r\n\r\n{}")
        return True

    with HostileServer(play) as store_a:
        session = outbound.BoundedSession()
        session.get(store_a.url)
        session.get(store_a.url)
    assert len(session.cookies) == 0 and "cookie" not in store_a.seen[1].headers


def test_a_name_that_never_resolves_is_given_up_on_at_the_calls_deadline(monkeypatch):
    real = outbound.socket.getaddrinfo
    released = threading.Event()

    def slow(host, *args, **kwargs):
        if host == "slow-dns.example":
            released.wait(5)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", slow)
    started = time.monotonic()
    with pytest.raises(requests.RequestException):
        outbound.BoundedSession(deadline=0.5).get("http://slow-dns.example/")
    released.set()
    assert time.monotonic() - started < 1.5


def test_a_gzip_bomb_is_never_inflated_whole():
    with HostileServer(gzip_bomb(200 * 1024 * 1024)) as peer:
        with pytest.raises(outbound.ResponseTooLarge):
            outbound.BoundedSession(max_bytes=1024 * 1024).get(peer.url)


def test_redirects_are_never_followed():
    with HostileServer(answer(200, b'{"stolen": true}')) as elsewhere:
        with HostileServer(redirect(elsewhere.url + "/collect", status=307)) as peer:
            answered = outbound.BoundedSession().post(peer.url, data=b"secret", allow_redirects=True)
        assert answered.status_code == 307
        assert elsewhere.seen == []  # the body went nowhere else


def test_a_web_request_budget_caps_every_call_inside_it():
    stop = threading.Event()
    with HostileServer(drip(0.2, stop)) as peer:
        started = time.monotonic()
        with outbound.budget(0.8):
            with pytest.raises(outbound.DeadlineExceeded):
                outbound.BoundedSession(deadline=30).get(peer.url)
            with pytest.raises(outbound.DeadlineExceeded):
                outbound.BoundedSession(deadline=30).get(peer.url)  # the budget is spent: at once
        stop.set()
        assert time.monotonic() - started < 1.8


def test_a_kept_alive_connection_still_answers_after_many_calls():
    with HostileServer(answer(200, b'{"ok": true}')) as peer:
        session = outbound.BoundedSession(deadline=2)
        for _ in range(20):
            assert session.get(peer.url).json() == {"ok": True}
    assert len(peer.seen) == 20


def test_inline_calls_refuse_beyond_their_limit():
    calls = outbound.InlineCalls(1, wait=0.05)
    with calls.slot():
        with pytest.raises(outbound.Busy):
            with calls.slot():
                pass
    with calls.slot():
        pass


def test_a_resolver_that_does_not_answer_is_given_up_on(monkeypatch):
    released = threading.Event()

    def slow_getaddrinfo(*_args, **_kwargs):
        released.wait(5)
        return []

    monkeypatch.setattr(outbound.socket, "getaddrinfo", slow_getaddrinfo)
    started = time.monotonic()
    with pytest.raises(OSError, match="took longer"):
        outbound.resolve("slow.example", 443, timeout=0.3)
    assert time.monotonic() - started < 1.0
    released.set()
