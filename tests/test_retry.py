"""Retry policy (pure): the default schedule keeps the contract's promises whatever the jitter."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.retry import JITTER, MAX_RETRY_AFTER, next_attempt_at
from connector.settings import DEFAULT_RETRY_SCHEDULE

NOW = datetime(2026, 11, 22, 14, 3, 7, tzinfo=timezone.utc)
DAY = timedelta(hours=24)


def waits(schedule, rng) -> list[timedelta]:
    """Every wait the schedule allows, attempt after attempt, until it says stop."""
    result, attempts = [], 1
    while (due := next_attempt_at(attempts, NOW, schedule, rng)) is not None:
        result.append(due - NOW)
        attempts += 1
    return result


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**64))
def test_default_schedule_retries_first_within_10s_and_keeps_trying_for_24h(seed):
    spent = waits(DEFAULT_RETRY_SCHEDULE, random.Random(seed))
    assert len(spent) == len(DEFAULT_RETRY_SCHEDULE)
    assert timedelta(0) < spent[0] <= timedelta(seconds=10)
    assert sum(spent, timedelta(0)) >= DAY
    assert all(wait >= timedelta(seconds=scheduled) for wait, scheduled in zip(spent, DEFAULT_RETRY_SCHEDULE))


def test_default_schedule_backs_off():
    assert list(DEFAULT_RETRY_SCHEDULE) == sorted(DEFAULT_RETRY_SCHEDULE)
    assert DEFAULT_RETRY_SCHEDULE[-1] > DEFAULT_RETRY_SCHEDULE[0]


def test_jitter_spreads_retries_of_different_workers():
    dues = {next_attempt_at(3, NOW, DEFAULT_RETRY_SCHEDULE, random.Random(seed)) for seed in range(20)}
    assert len(dues) > 1


@pytest.mark.parametrize("schedule", [DEFAULT_RETRY_SCHEDULE, (1.0,), (5, 10)])
def test_none_once_the_schedule_is_exhausted(schedule):
    rng = random.Random(1)
    assert next_attempt_at(len(schedule), NOW, schedule, rng) is not None
    assert next_attempt_at(len(schedule) + 1, NOW, schedule, rng) is None
    assert next_attempt_at(len(schedule) + 50, NOW, schedule, rng) is None


def test_empty_schedule_never_retries():
    assert next_attempt_at(1, NOW, (), random.Random(1)) is None


def test_retry_after_lengthens_a_wait():
    due = next_attempt_at(1, NOW, DEFAULT_RETRY_SCHEDULE, random.Random(1), retry_after=120)
    assert due == NOW + timedelta(seconds=120)


def test_retry_after_never_shortens_a_wait():
    for retry_after in (1, 0, -30):
        due = next_attempt_at(10, NOW, DEFAULT_RETRY_SCHEDULE, random.Random(1), retry_after=retry_after)
        assert due - NOW >= timedelta(seconds=DEFAULT_RETRY_SCHEDULE[9])


def test_retry_after_is_capped():
    """A backend asking for a week (or forever) gets at most MAX_RETRY_AFTER, a few hours."""
    assert MAX_RETRY_AFTER <= DAY.total_seconds()
    for retry_after in (7 * 86400, 1e12):
        due = next_attempt_at(1, NOW, DEFAULT_RETRY_SCHEDULE, random.Random(1), retry_after=retry_after)
        assert due == NOW + timedelta(seconds=MAX_RETRY_AFTER)


@settings(max_examples=100, deadline=None)
@given(
    attempts=st.integers(1, len(DEFAULT_RETRY_SCHEDULE)),
    retry_after=st.floats(min_value=0.001, max_value=1e9),
    seed=st.integers(0, 2**32),
)
def test_retry_after_wait_lies_between_its_bounds(attempts, retry_after, seed):
    wait = (next_attempt_at(attempts, NOW, DEFAULT_RETRY_SCHEDULE, random.Random(seed), retry_after) - NOW).total_seconds()
    scheduled = DEFAULT_RETRY_SCHEDULE[attempts - 1]
    assert wait >= min(retry_after, MAX_RETRY_AFTER) - 1e-6
    assert wait >= scheduled - 1e-6
    assert wait <= max(scheduled * (1 + JITTER), MAX_RETRY_AFTER) + 1e-6


@pytest.mark.parametrize("attempts_made", [0, -1])
def test_attempts_made_below_one_is_an_error(attempts_made):
    with pytest.raises(ValueError):
        next_attempt_at(attempts_made, NOW, DEFAULT_RETRY_SCHEDULE, random.Random(1))
