"""`connector backfill STORE --days N [--commit]`: what the store's orders of the last N days would credit (a dry
run: nothing is sent or kept that changes later crediting), then, with --commit, credit them, oldest first, each
once. A run stopped half-way (killed, an outage) goes on where it stopped when the same command is run again."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from datetime import datetime, timezone

import click

from connector.backfill import engine, figures, runs
from connector.campaigns import directory
from connector.cli.shared import Context, fail_on_connector_errors, pass_context, progress
from connector.db import transaction
from connector.errors import PlatformError
from connector.models import BackfillRun


def _worker_id() -> str:
    return f"cli:{socket.gethostname()}:{os.getpid()}"


def _dead_here(claimed_by: str | None) -> bool:
    """The run is held by a `connector backfill` of this machine that is no longer running (it was killed)."""
    host, _, pid = (claimed_by or "").removeprefix("cli:").rpartition(":")
    if not claimed_by or not claimed_by.startswith("cli:") or host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _take_over_dead(obj: Context, run_id: int) -> None:
    with transaction(obj.sessions) as session:
        run = session.get(BackfillRun, run_id)
        if run is not None and _dead_here(run.claimed_by):
            runs.release(session, run_id, run.claimed_by)


def _report(view: runs.RunView, restated: dict | None) -> list[str]:
    committed = view.mode == runs.COMMIT
    out = figures.lines(view.figures, committed)
    if restated is not None:
        out.append(f"the dry run it commits said: {restated['credited']} orders, "
                   f"{figures.amounts_text(restated['amount'])}")
    out.append(f"calls to the store while reading: {view.calls}")
    if not committed:
        out.append(f"nothing was sent or kept; `--days {view.days} --commit` within the hour credits exactly these "
                   "orders (later, it reads the store again)")
    return out


@click.command("backfill")
@click.argument("store")
@click.option("--days", type=click.IntRange(1, runs.MAX_DAYS), default=30, show_default=True,
              help="Read the orders placed in the last N days.")
@click.option("--commit", is_flag=True, help="Credit them (without it: a dry run that reports and sends nothing).")
@click.option("--json", "as_json", is_flag=True, help="Print the run and its figures as JSON.")
@pass_context
@fail_on_connector_errors
def backfill(obj: Context, store: str, days: int, commit: bool, as_json: bool) -> None:
    """Report (or, with --commit, credit) STORE's orders of the last N days as if their webhooks had come."""
    with obj.sessions() as session:
        found = directory.find_store(session, store)
        store_id, domain = found.id, found.domain
    now = datetime.now(timezone.utc)
    mode = runs.COMMIT if commit else runs.DRY_RUN
    with obj.sessions() as session:
        waiting = runs.active_run(session, store_id)
    if waiting is not None:
        _take_over_dead(obj, waiting.id)
    view = engine.begin(obj.sessions, store_id, days=days, mode=mode, runner=runs.CLI, now=now)
    restated = engine.current(obj.sessions, view.of_run_id).figures if view.of_run_id else None
    if not as_json:
        if view.orders_done or (view.orders_read and view.status == runs.READING):
            click.echo(f"{domain}: resuming the {mode.replace('_', ' ')} started {view.requested_at:%Y-%m-%d %H:%M} "
                       f"UTC ({view.orders_done} of {view.orders_read} orders done)", err=True)
        elif view.of_run_id:
            click.echo(f"{domain}: crediting the {view.orders_read} orders of the dry run of "
                       f"{view.requested_at:%H:%M} UTC", err=True)
    try:
        view = engine.drive(obj.settings, obj.sessions, view.id, _worker_id(), lambda: datetime.now(timezone.utc),
                            bars=progress)
    except PlatformError as exc:
        raise click.ClickException(f"{domain}: {exc}; run the same command again to go on where it stopped") from None
    if as_json:
        document = {key: (value.isoformat() if isinstance(value, datetime) else value)
                    for key, value in dataclasses.asdict(view).items()}
        click.echo(json.dumps({"store": domain, **document, "restated": restated}, indent=2))
    if view.status == runs.FAILED:
        raise click.ClickException(f"{domain}: {view.error}")
    if view.status != runs.DONE:
        raise click.ClickException(f"{domain}: the backfill is {view.status}; run the same command again")
    if not as_json:
        click.echo(f"{domain}: {'backfill' if commit else 'dry run'} of orders placed since "
                   f"{view.since:%Y-%m-%d %H:%M} UTC ({view.days} days)")
        for line in _report(view, restated):
            click.echo(line)
