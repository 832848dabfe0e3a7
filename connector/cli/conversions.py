"""`connector conversions`: conversions, their delivery attempts, and sending them again."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click
from sqlalchemy import select

from connector.campaigns import directory
from connector.cli.shared import Context, fail_on_connector_errors, in_batches, lines_wanted, pass_context, progress
from connector.core.backend_events import is_conversion
from connector.db import transaction
from connector.delivery import outbox
from connector.models import AttributionRecord, Conversion, DeliveryAttempt, Store


@click.group()
def conversions() -> None:
    """Conversions and their delivery to the tracking backend."""


@conversions.command("list")
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]))
@click.option("--store", "store_key")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_context
@fail_on_connector_errors
def conversions_list(obj: Context, status, store_key, limit: int, as_json: bool) -> None:
    """Newest first, with their delivery state: conversions, and the backend's events (CONNECTOR_BACKEND_EVENTS)."""
    with obj.sessions() as session:
        query = select(Conversion, Store.domain).join(Store, Store.id == Conversion.store_id)
        if status:
            query = query.where(Conversion.status == status)
        if store_key:
            query = query.where(Conversion.store_id == directory.find_store(session, store_key).id)
        rows = session.execute(query.order_by(Conversion.created_at.desc(), Conversion.id.desc()).limit(limit)).all()
    listing = [
        {
            # The backend's other events (store.installed, code.created, ...) are rows here too, without an amount.
            "id": c.id, "type": c.type, "store": domain, "amount": str(c.amount) if is_conversion(c.type) else None,
            "currency": c.currency if is_conversion(c.type) else None,
            "tracking_id": c.tracking_id, "status": c.status, "attempts": c.attempts, "reverses": c.reverses,
            "next_attempt_at": c.next_attempt_at.isoformat() if c.status == "pending" else None,
            "last_error": c.last_error,
        }
        for c, domain in rows
    ]
    if not lines_wanted(listing, as_json, "no conversions"):
        return
    for c in listing:
        click.echo(f"{c['id']}  {c['type']:<23} {c['amount'] or '-':>10} {c['currency'] or '-':<3}  "
                   f"{c['tracking_id'] or '-':<14} "
                   f"{c['status']:<9} attempts {c['attempts']}" + (f"  last error: {c['last_error'][:60]}" if c["last_error"] else ""))


@conversions.command("show")
@click.argument("conversion_id")
@pass_context
def conversions_show(obj: Context, conversion_id: str) -> None:
    """One conversion: its body, its attempts and the attribution record of its order."""
    with obj.sessions() as session:
        conversion = session.get(Conversion, conversion_id)
        if conversion is None:
            raise click.ClickException(f"no conversion {conversion_id}")
        attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.conversion_id == conversion_id)
                                   .order_by(DeliveryAttempt.id)).all()
        record = session.get(AttributionRecord, conversion.order_id) if conversion.order_id else None
    click.echo(json.dumps({
        "status": conversion.status,
        "body": json.loads(conversion.body),
        "attempts": [{"at": a.attempted_at.isoformat(), "status_code": a.status_code, "error": a.error,
                      "excerpt": a.excerpt, "duration_ms": a.duration_ms} for a in attempts],
        "attribution": {"outcome": record.outcome, "method": record.method, "credits": record.credits,
                        "signals": record.signals} if record else None,
    }, indent=2))


@conversions.command("replay")
@click.argument("conversion_ids", nargs=-1)
@click.option("--failed", is_flag=True, help="Replay every failed conversion.")
@pass_context
def conversions_replay(obj: Context, conversion_ids: tuple[str, ...], failed: bool) -> None:
    """Send conversions again, same id and body: the named ones, or --failed."""
    if bool(conversion_ids) == failed:
        raise click.UsageError("name conversion ids or pass --failed (not both)")
    with obj.sessions() as session:
        wanted = list(conversion_ids) or list(session.scalars(select(Conversion.id).where(
            Conversion.status == "failed").order_by(Conversion.id)))
    replayed: list[str] = []
    with progress("queueing conversions", len(wanted)) as advance:
        for batch in in_batches(wanted):
            with transaction(obj.sessions) as session:
                replayed += outbox.replay(session, batch, datetime.now(timezone.utc), only_failed=failed)
            advance(len(batch))
    missing = set(conversion_ids) - set(replayed)
    for conversion_id in replayed:
        click.echo(f"queued {conversion_id}")
    if missing:
        raise click.ClickException(f"no conversion {', '.join(sorted(missing))}")
    if not replayed:
        click.echo("nothing to replay")
