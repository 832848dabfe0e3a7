"""What every loop of the worker shares: its settings, sessions, clock, identity and stop signal."""

from __future__ import annotations

import random
import threading
from datetime import datetime
from typing import Callable

from sqlalchemy.orm import Session, sessionmaker

from connector.delivery.forwarder import Sender
from connector.settings import Settings


class WorkerBase:
    """The state the loops' steps read; `connector.worker.runner.Worker` sets it up and runs the loops."""

    settings: Settings
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    rng: random.Random
    worker_id: str
    sender: Sender | None
    _stop: threading.Event
