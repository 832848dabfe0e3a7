"""The demo's waits follow the state they wait for, and say what they waited for when they give up."""

from __future__ import annotations

import itertools
import time

from standins.waiting import wait_until


def test_a_wait_returns_as_soon_as_the_state_is_reached():
    polls = itertools.count(1)
    waited = wait_until(lambda: next(polls) >= 3, "three polls", interval=0.01)
    assert waited.done and waited.reason is None
    assert next(polls) == 4  # polled exactly until it held


def test_a_wait_gives_up_at_its_limit_naming_what_it_waited_for():
    started = time.monotonic()
    waited = wait_until(lambda: False, "the codes to be made", limit=0.1, interval=0.01)
    assert not waited.done
    assert waited.reason == "gave up waiting for the codes to be made after 0 s"
    assert 0.1 <= time.monotonic() - started < 2


def test_a_wait_gives_up_at_once_when_nobody_works_on_it():
    waited = wait_until(lambda: False, "5 conversions", limit=60, interval=0.01, working=lambda: False)
    assert not waited.done and waited.seconds < 1
    assert waited.reason == "gave up waiting for 5 conversions: the worker has stopped"
