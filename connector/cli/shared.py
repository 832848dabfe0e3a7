"""What every command group shares: the lazily made settings and sessions, and our errors as one clean line.

The group modules import this one and this one imports none of them, so no group needs `connector.cli` back.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import sys
from datetime import datetime
from typing import Callable, Iterator

import click

from sqlalchemy.exc import DBAPIError

from connector.core.times import NotATime, parse_time
from connector.db import make_engine, make_sessionmaker
from connector.logs import configure as configure_logs
from connector.migrate import schema_problem
from connector.errors import ConfigurationError, ConnectorError
from connector.settings import Settings, load_settings


class Context:
    """Settings and database handles, made on first use so `--help` needs no configuration."""

    def __init__(self):
        self._settings: Settings | None = None
        self._sessions = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigurationError as exc:
                raise click.ClickException(f"configuration: {exc}") from None
            configure_logs(self._settings)  # every command logs as the deployment's app does
        return self._settings

    @property
    def sessions(self):
        """Sessions on a database at the code's schema; one clear line otherwise (not a traceback about a table)."""
        if self._sessions is None:
            engine = make_engine(self.settings.database_url)
            try:
                with engine.connect() as connection:
                    problem = schema_problem(connection)
            except DBAPIError as exc:
                engine.dispose()
                raise click.ClickException(f"the database cannot be reached: {exc.orig or exc}") from None
            if problem:
                engine.dispose()
                raise click.ClickException(problem)
            self._sessions = make_sessionmaker(engine)
        return self._sessions


pass_context = click.make_pass_decorator(Context, ensure=True)


def fail_on_connector_errors(function):
    """Turn our own errors into one clear line and exit code 1, never a traceback."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ConnectorError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def log_to_stderr(settings: Settings) -> None:
    """The long-running commands (`serve`, `worker`) log to stderr as the deployment's app does
    (connector/logs.py: JSON lines in production, text in development)."""
    configure_logs(settings)


class IsoTime(click.ParamType):
    """A time option in the one form the connector takes (core/times.py): RFC 3339 with Z or an offset."""

    name = "time"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(value)
        except NotATime as exc:
            self.fail(str(exc), param, ctx)


TIME = IsoTime()


def lines_wanted(listing: list[dict], as_json: bool, nothing: str) -> bool:
    """A `list` command's common part: --json prints the listing whole; else an empty one says `nothing`.

    True when the caller should go on and print its one line per entry.
    """
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return False
    if not listing:
        click.echo(nothing)
    return True


#: rows queued per transaction by a replay of many: each batch commits on its own, so a large replay never
#: holds thousands of rows locked, and one interrupted half-way has queued what it reported
REPLAY_BATCH = 500


def no_progress(_advanced: int = 1) -> None:
    """What long work calls when nobody watches it."""


@contextlib.contextmanager
def progress(label: str, length: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (click's) for work that takes a while; yields `advance(n)`.

    Drawn only when stderr is a terminal, so piped output, logs and `--json` stay what they were. With an
    unknown length (orders read page after page) it counts instead of filling.
    """
    if not sys.stderr.isatty():
        yield no_progress
        return
    # click's bar needs an iterable or a length; a length-less one is given an endless iterable it never reads.
    with click.progressbar(iterable=None if length is not None else itertools.repeat(None), length=length,
                           label=label, file=sys.stderr, show_pos=True, show_eta=length is not None) as bar:
        yield bar.update


def in_batches(items: list, size: int = REPLAY_BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
