"""The commands that run the connector's work: the web app, the worker, and one store's reconciliation."""

from __future__ import annotations

import signal
from datetime import datetime, timezone

import click

from connector.campaigns import directory
from connector.cli.shared import TIME, Context, fail_on_connector_errors, log_to_stderr, pass_context, progress
from connector.errors import PlatformError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@pass_context
def serve(obj: Context, host: str, port: int) -> None:
    """Run the web app (development server; production runs gunicorn from the Procfile)."""
    from connector import create_app

    from connector.web.request_log import PathOnlyLog

    log_to_stderr(obj.settings)
    # Request lines carry OAuth codes, HMACs and session tokens in their queries: logged as method, path and
    # status only, without the client's address, as the Procfile's gunicorn does.
    create_app(obj.settings).run(host=host, port=port, threaded=True, request_handler=PathOnlyLog)


@click.command()
@click.option("--burst", is_flag=True, help="Do everything that is due now, then exit.")
@pass_context
def worker(obj: Context, burst: bool) -> None:
    """Handle stored events and deliver due conversions (several may run at once on PostgreSQL)."""
    from connector.worker import Worker

    log_to_stderr(obj.settings)
    if not obj.settings.delivery_enabled:
        click.echo("TRACKING_BACKEND_URL is not set: conversions are created and queue up undelivered.", err=True)
    runner = Worker(obj.settings, obj.sessions)
    # SIGTERM: finish the delivery in hand, release the claims, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    signal.signal(signal.SIGINT, lambda *_: runner.stop())
    runner.run(burst=burst)


@click.command()
@click.argument("store")
@click.option("--since", type=TIME,
              help="Read from this time, e.g. 2026-11-01T00:00:00Z (default: where the last reconciliation got to).")
@pass_context
@fail_on_connector_errors
def reconcile(obj: Context, store: str, since: datetime | None) -> None:
    """Read STORE's orders updated since a time and queue those not seen in that state (webhooks get missed)."""
    from connector.intake.reconcile import reconcile_store

    with obj.sessions() as session:
        found = directory.find_store(session, store)
        store_id, domain = found.id, found.domain
    try:
        with progress(f"reading {domain}'s orders") as advance:
            result = reconcile_store(obj.settings, obj.sessions, store_id, datetime.now(timezone.utc),
                                     since=since, progress=advance)
    except PlatformError as exc:
        raise click.ClickException(f"{domain}: {exc}") from None
    click.echo(f"{domain}: {result}; `connector worker` handles them like webhooks")
