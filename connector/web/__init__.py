"""HTTP surfaces, one blueprint each."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask import current_app

from connector import outbound


def services():
    """The app's shared Services (see connector.create_app)."""
    return current_app.extensions["connector"]


@contextmanager
def calling_out() -> Iterator[None]:
    """Around the part of a request that calls another server (an install): one of the process's few
    slots for that, and one deadline for all its calls. Raises outbound.Busy when no slot is free, so
    a flood of slow installs can never take every thread from webhooks and health checks."""
    svc = services()
    with svc.inline_calls.slot(), outbound.budget(svc.settings.request_budget):
        yield
