"""`connector workers`: the worker processes and when each was last seen."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from connector import liveness
from connector.cli.shared import Context, lines_wanted, pass_context
from connector.core.times import format_time


@click.command("workers")
@click.option("--json", "as_json", is_flag=True, help="The list as JSON.")
@pass_context
def workers(obj: Context, as_json: bool) -> None:
    """The workers seen in the last week, with when each was last seen (running, stopped, or gone)."""
    now = datetime.now(timezone.utc)
    with obj.sessions() as session:
        seen = liveness.workers(session, now)
    rows = [{"worker": w.worker_id, "state": w.state, "host": w.hostname, "pid": w.pid,
             "started_at": format_time(w.started_at), "last_seen_at": format_time(w.last_seen_at),
             "stopped_at": format_time(w.stopped_at)} for w in seen]
    if lines_wanted(rows, as_json, "no worker has run in the last week: start one with `connector worker`"):
        for row, w in zip(rows, seen):
            ago = int((now - w.last_seen_at).total_seconds())
            click.echo(f"{row['worker']:<40} {row['state']:<8} last seen {row['last_seen_at']} ({ago} s ago), "
                       f"started {row['started_at']}")
    if seen and not any(w.state == "running" for w in seen):
        click.secho("no worker seen in the last five minutes: nothing is being handled or sent", fg="yellow", err=True)
