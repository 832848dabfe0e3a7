"""The demo's waits: each follows the state it waits for, and says what it was waiting for when it gives up.

A fixed sleep is either too short on a loaded machine (the test suite running beside the demo) or too
long everywhere else. These poll the state instead, return as soon as it is reached, and give up only at a
generous overall limit, or at once when the thing doing the work (the worker) has stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

#: seconds any one wait of the demo may take before it gives up (a loaded CI machine is slow, not stuck)
LIMIT = 180.0


@dataclass(frozen=True)
class Waited:
    done: bool
    seconds: float
    #: why the wait ended without the state being reached, naming what it waited for
    reason: str | None = None


def wait_until(reached: Callable[[], bool], what: str, *, limit: float = LIMIT, interval: float = 0.2,
               working: Callable[[], bool] = lambda: True) -> Waited:
    """Poll `reached` until it holds; give up after `limit` seconds, or once `working` says nobody works on it."""
    started = time.monotonic()
    while True:
        if reached():
            return Waited(True, time.monotonic() - started)
        waited = time.monotonic() - started
        if not working():
            return Waited(False, waited, f"gave up waiting for {what}: the worker has stopped")
        if waited >= limit:
            return Waited(False, waited, f"gave up waiting for {what} after {limit:.0f} s")
        time.sleep(interval)
