"""`connector prune`: erase now what the worker erases every hour (clicks and reports that can match nothing
any more; raw bodies and attempt excerpts past CONNECTOR_RETENTION_DAYS), or say what would go."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from connector.cli.shared import Context, pass_context, progress
from connector.db import transaction
from connector.worker import prune as pruning
from connector.worker import retention


@click.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would be erased, and erase nothing.")
@pass_context
def prune(obj: Context, dry_run: bool) -> None:
    """Erase what is past keeping (the worker does it every hour)."""
    now, days = datetime.now(timezone.utc), obj.settings.retention_days
    if dry_run:
        with obj.sessions() as session:
            pruned, erased = pruning.due(session, now), retention.due(session, now, days)
        click.echo(f"would erase: {pruned}; {erased} older than {days} days (nothing erased: --dry-run)")
        return
    with transaction(obj.sessions) as session:
        pruned = pruning.prune(session, now)
    with obj.sessions() as session:
        waiting = retention.due(session, now, days)
    with progress("erasing past retention", waiting.bodies + waiting.excerpts) as advance:
        erased = retention.erase(obj.sessions, now, days, progress=advance)
    click.echo(f"erased: {pruned}; {erased} older than {days} days")
