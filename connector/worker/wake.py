"""Waking the worker's loops when PostgreSQL announces work (LISTEN/NOTIFY), rather than at their next poll.

The edge's insert NOTIFYs `connector_events` as it commits (connector/intake/inbox.py). One thread per worker
holds a connection of its own that LISTENs and sets the loops' wake events on each notification from its own
schema (the payload: deployments sharing a database in schemas of their own never wake each other). The poll
stays: it finds the work nothing announces (a lease run out, a retry or a browser report's wait come due) and
covers the gaps while the listener reconnects. SQLite has no NOTIFY, so nothing listens there.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from typing import Mapping, Sequence

import psycopg
from psycopg import sql
from sqlalchemy.engine import Engine

log = logging.getLogger("connector.worker")

#: seconds before the first reconnection; doubled after each failure, up to MAX_BACKOFF
FIRST_BACKOFF, MAX_BACKOFF = 0.5, 30.0
# An idle LISTEN connection sends nothing of its own, so a peer gone without a word (a dropped network) would
# never be noticed; TCP keepalives notice it within about a minute (the poll covers that minute). A connection
# attempt to a host that does not answer gives up after connect_timeout rather than the system's minutes.
# The database URL's own values of these win.
CONNECTION_DEFAULTS = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
                       "connect_timeout": 10, "application_name": "connector worker (listening)"}


class Listener:
    """A thread LISTENing on some channels, setting each channel's wake events when a notification comes."""

    def __init__(self, engine: Engine, wakes: Mapping[str, Sequence[threading.Event]], *, name: str = "listener"):
        # The engine's own translation of its URL (host, database, options such as a search_path), so the
        # listener reaches the database the engine does; psycopg's own connection, outside the pool.
        _args, params = engine.dialect.create_connect_args(engine.url)
        self._params = {**CONNECTION_DEFAULTS, **params, "autocommit": True}
        self._wakes = {channel: tuple(events) for channel, events in wakes.items()}
        self._stopping = threading.Event()
        #: set while the connection is LISTENing (tests wait for it)
        self.listening = threading.Event()
        #: the server process of the current connection (pg_stat_activity's pid)
        self.backend_pid: int | None = None
        self._schema: str | None = None
        # Written to by stop(), so the thread's wait on the connection ends at once.
        self._interrupt, self._interrupter = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "Listener":
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and wait for the thread (it closes its connection)."""
        self._stopping.set()
        try:
            self._interrupter.send(b"\0")
        except OSError:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._interrupt.close()
        self._interrupter.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                with psycopg.connect(**self._params) as connection:
                    self.backend_pid = connection.info.backend_pid
                    self._subscribe(connection)
                    log.info("listening for work (LISTEN %s)%s", ", ".join(self._wakes),
                             f" again after {failures} failed attempt(s)" if failures else "")
                    failures = 0
                    self._wait_for_notifications(connection)
            except Exception as exc:  # noqa: BLE001 - whatever happens here, the worker polls on
                self.listening.clear()
                if self._stopping.is_set():
                    break
                failures += 1
                pause = min(FIRST_BACKOFF * 2 ** (failures - 1), MAX_BACKOFF)
                reason = next(iter(str(exc).strip().splitlines()), "")
                log.warning("not listening for work (%s: %s); polling, trying again in %.1f s",
                            type(exc).__name__, reason, pause)
                self._stopping.wait(pause)
        self.listening.clear()

    def _subscribe(self, connection: psycopg.Connection) -> None:
        for channel in self._wakes:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        self._schema = connection.execute("SELECT current_schema()").fetchone()[0]
        self.listening.set()
        # Whatever was announced while nobody listened (at start, or while reconnecting) is looked for now.
        for events in self._wakes.values():
            for event in events:
                event.set()

    def _wait_for_notifications(self, connection: psycopg.Connection) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(connection.fileno(), selectors.EVENT_READ)
            selector.register(self._interrupt, selectors.EVENT_READ)
            while not self._stopping.is_set():
                selector.select()
                if self._stopping.is_set():
                    return
                # Reads what arrived without waiting; a connection the server closed raises here.
                for notify in connection.notifies(timeout=0):
                    if notify.payload == self._schema:
                        for event in self._wakes.get(notify.channel, ()):
                            event.set()


def listen(engine: Engine | None, wakes: Mapping[str, Sequence[threading.Event]]) -> Listener | None:
    """A started Listener on PostgreSQL; None on any other database (the loops poll)."""
    if engine is None or engine.dialect.name != "postgresql":
        return None
    return Listener(engine, wakes).start()
