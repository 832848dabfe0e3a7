"""`connector events`: the stored webhook deliveries, and handling them again."""

from __future__ import annotations

from datetime import datetime, timezone

import click
from sqlalchemy import select

from connector.cli.shared import Context, in_batches, lines_wanted, pass_context, progress
from connector.core.times import format_time
from connector.db import transaction
from connector.intake import inbox
from connector.models import Event


@click.group()
def events() -> None:
    """Stored webhook deliveries."""


EVENT_STATUSES = ["pending", "handled", "rejected", "failed", "skipped"]


@events.command("list")
@click.option("--status", type=click.Choice(EVENT_STATUSES))
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_context
def events_list(obj: Context, status, limit: int, as_json: bool) -> None:
    """Newest stored deliveries first; rejected and failed ones show their error."""
    with obj.sessions() as session:
        query = select(Event.id, Event.platform, Event.topic, Event.delivery_id, Event.status, Event.error,
                       Event.received_at)
        if status:
            query = query.where(Event.status == status)
        rows = session.execute(query.order_by(Event.id.desc()).limit(limit)).all()
    listing = [{"id": r.id, "platform": r.platform, "topic": r.topic, "delivery_id": r.delivery_id,
                "status": r.status, "error": r.error, "received_at": format_time(r.received_at)} for r in rows]
    if not lines_wanted(listing, as_json, "no events"):
        return
    for row in rows:
        click.echo(f"{row.id:>6}  {row.received_at:%Y-%m-%d %H:%M:%S}  {row.platform:<11} {row.topic:<18} "
                   f"{row.status:<9} {row.error or ''}")


@events.command("replay")
@click.argument("event_ids", nargs=-1, type=int)
@click.option("--failed", is_flag=True, help="Every event that failed (gave up after retries).")
@click.option("--rejected", is_flag=True, help="Every event that was rejected as malformed (after a fix).")
@click.option("--skipped", is_flag=True, help="Every event skipped because its store was not active.")
@pass_context
def events_replay(obj: Context, event_ids: tuple[int, ...], failed: bool, rejected: bool, skipped: bool) -> None:
    """Handle stored events again: the named ones, or those in the chosen states. Nothing is credited twice."""
    statuses = tuple(name for name, chosen in (("failed", failed), ("rejected", rejected), ("skipped", skipped))
                     if chosen)
    if bool(event_ids) == bool(statuses):
        raise click.UsageError("name event ids or choose --failed, --rejected or --skipped (not both)")
    with obj.sessions() as session:
        wanted = list(event_ids) or list(session.scalars(select(Event.id).where(Event.status.in_(statuses))
                                                         .order_by(Event.id)))
    replayed: list[int] = []
    with progress("queueing events", len(wanted)) as advance:
        for batch in in_batches(wanted):
            with transaction(obj.sessions) as session:
                replayed += inbox.replay_events(session, batch, statuses, datetime.now(timezone.utc))
            advance(len(batch))
    missing = set(event_ids) - set(replayed)
    click.echo(f"queued {len(replayed)} events" + (f": {', '.join(map(str, replayed))}" if replayed else ""))
    if missing:
        raise click.ClickException(f"no event {', '.join(map(str, sorted(missing)))} to replay (none such, or its "
                                   "body was erased: past CONNECTOR_RETENTION_DAYS or by a privacy request)")
