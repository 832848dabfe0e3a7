"""Engine and session set-up for PostgreSQL and SQLite, and the dialect-neutral insert-if-absent."""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from typing import Callable, Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, pre_ping: bool = True, **kwargs) -> Engine:
    """An engine; on SQLite, WAL, a busy timeout and write transactions that take the lock up front.

    `pre_ping` tests each pooled connection before use (one round trip); the web app turns it off on
    its hot path and answers 503 instead when a connection turns out to be dead.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _serialise_sqlite_writers(engine)
        return engine
    if "poolclass" not in kwargs:
        kwargs = {"pool_size": 10, "max_overflow": 10, **kwargs}
    return create_engine(url, pool_pre_ping=pre_ping, **kwargs)


def _serialise_sqlite_writers(engine: Engine) -> None:
    # pysqlite's own transaction handling starts a DEFERRED transaction lazily; two workers that both
    # read then write would deadlock on the upgrade to a write lock. Taking the lock at BEGIN
    # (IMMEDIATE) makes writers queue behind each other instead, which is the SQLite stand-in for
    # row locks. Recipe from SQLAlchemy's pysqlite "serializable isolation" notes.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Erased rows (customers/redact, shop/redact) are overwritten in the file, not just unlinked.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session] | Callable[[], Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session:
        with session.begin():
            yield session


@contextmanager
def one_connection(factory: sessionmaker[Session]) -> Iterator[Callable[[], Session]]:
    """A session factory whose sessions share one pooled connection, each in a transaction of its own.

    For a run of short transactions (a batch of the worker's events, one transaction each): one checkout
    from the pool, with its liveness ping, for the run rather than one per transaction. A connection lost
    in one transaction is replaced at the next one's start (SQLAlchemy reconnects an invalidated one).
    """
    engine = factory.kw.get("bind")
    if not isinstance(engine, Engine):
        yield factory
        return
    with engine.connect() as connection:
        yield partial(factory, bind=connection)


def insert(engine_or_session, table):
    """An INSERT that can do `ON CONFLICT DO NOTHING` on the dialect in use."""
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return insert_for(bind.dialect.name, table)


def insert_for(dialect: str, table):
    """The INSERT (with ON CONFLICT) of the dialect named."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
