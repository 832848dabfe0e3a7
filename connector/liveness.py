"""Which worker processes are alive: the heartbeats workers write, read by /readyz and `connector workers`.

A worker beats when it starts and then every HEARTBEAT seconds from its events loop, and says when it
stops as asked. One that has not beaten for STALE is taken for gone (crashed, or its machine lost).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connector.db import insert
from connector.models import WorkerBeat

HEARTBEAT = 30.0
#: no beat for this long: the worker is taken for gone (the contract's five minutes)
STALE = timedelta(minutes=5)
#: rows of workers unseen this long are dropped, so the list stays the deployment's recent ones
FORGOTTEN = timedelta(days=7)


def beat(session: Session, worker_id: str, now: datetime, started_at: datetime) -> None:
    """Record that `worker_id` is alive now (insert or update, in the caller's transaction)."""
    values = {"hostname": socket.gethostname()[:255], "pid": os.getpid(), "started_at": started_at,
              "last_seen_at": now, "stopped_at": None}
    session.execute(insert(session, WorkerBeat.__table__).values(worker_id=worker_id[:100], **values)
                    .on_conflict_do_update(index_elements=["worker_id"], set_={"last_seen_at": now, "stopped_at": None}))
    session.execute(delete(WorkerBeat).where(WorkerBeat.last_seen_at < now - FORGOTTEN))


def stopped(session: Session, worker_id: str, now: datetime) -> None:
    found = session.get(WorkerBeat, worker_id[:100])
    if found is not None:
        found.last_seen_at, found.stopped_at = now, now


@dataclass(frozen=True)
class WorkerState:
    worker_id: str
    hostname: str
    pid: int
    started_at: datetime
    last_seen_at: datetime
    stopped_at: datetime | None
    #: running (beat within STALE), stopped (said so), or gone (stopped beating without saying)
    state: str


def workers(session: Session, now: datetime) -> list[WorkerState]:
    """Every worker seen in the last FORGOTTEN, most recently seen first."""
    found = []
    for row in session.scalars(select(WorkerBeat).order_by(WorkerBeat.last_seen_at.desc(), WorkerBeat.worker_id)):
        state = "stopped" if row.stopped_at else "running" if now - row.last_seen_at <= STALE else "gone"
        found.append(WorkerState(row.worker_id, row.hostname, row.pid, row.started_at, row.last_seen_at,
                                 row.stopped_at, state))
    return found
